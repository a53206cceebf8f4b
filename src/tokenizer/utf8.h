// UTF-8 validation helpers (Unicode 15, Table 3-7 "well-formed byte sequences").
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lm::tokenizer {

enum class Utf8Status { kValid, kIncomplete, kInvalid };

struct Utf8Step {
  Utf8Status status;
  size_t len;   // kValid: bytes of the character; kIncomplete: bytes left in the input (a
                // well-formed prefix); kInvalid: bytes of the maximal ill-formed subpart (>= 1)
};

// Examines the character starting at s[pos] (pos < s.size()).
Utf8Step utf8_step(std::string_view s, size_t pos);

bool is_valid_utf8(std::string_view s);

// Each maximal ill-formed subpart (and a truncated sequence at the end) becomes U+FFFD, the
// practice Unicode recommends (§3.9 "U+FFFD Substitution of Maximal Subparts").
std::string sanitize_utf8(std::string_view s);

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";   // U+FFFD

}  // namespace lm::tokenizer
