// Internal: the built-in scanners behind Detector::scan and the byte classes they share. Each
// scanner appends its spans (possibly overlapping other kinds) to `out`; Detector resolves
// overlaps. `lower` is the ASCII-lowercased copy of `text` (same length), for keyword look-ups.
#pragma once

#include <string_view>
#include <vector>

#include "detect/detect.h"

namespace lm::detect::scan {

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
inline bool is_alpha(char c) { return is_upper(c) || is_lower(c); }
inline bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
inline bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
inline bool is_word(char c) { return is_alnum(c) || c == '_'; }
inline char to_lower(char c) { return is_upper(c) ? static_cast<char>(c + 32) : c; }

// The byte before `i`, or a space at the start of the text.
inline char before(std::string_view t, size_t i) { return i == 0 ? ' ' : t[i - 1]; }
// The byte at `i`, or a space past the end.
inline char at(std::string_view t, size_t i) { return i < t.size() ? t[i] : ' '; }

// True when one of the context words (already lowercase) ends within `window` bytes before `pos`.
bool has_context(std::string_view lower, size_t pos, size_t window,
                 const std::vector<std::string_view>& words);

// Shannon entropy of the bytes of s, in bits per byte.
double entropy_bits(std::string_view s);

void scan_email(std::string_view text, std::vector<Span>& out);
void scan_phone(std::string_view text, std::string_view lower, std::vector<Span>& out);
void scan_card(std::string_view text, std::vector<Span>& out);
void scan_iban(std::string_view text, std::vector<Span>& out);
void scan_ssn(std::string_view text, std::string_view lower, std::vector<Span>& out);
void scan_nino(std::string_view text, std::vector<Span>& out);
void scan_ip(std::string_view text, std::vector<Span>& out);
void scan_secrets(std::string_view text, std::string_view lower, std::vector<Span>& out);
void scan_private_keys(std::string_view text, std::vector<Span>& out);

// Checksums, exposed for the unit tests.
bool luhn_ok(std::string_view digits);
bool iban_ok(std::string_view compact);  // upper-case letters and digits, no spaces

}  // namespace lm::detect::scan
