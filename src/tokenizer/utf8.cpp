#include "tokenizer/utf8.h"

#include <cstdint>

namespace lm::tokenizer {
namespace {

struct Range {
  uint8_t lo, hi;
};

// For a lead byte: the number of continuation bytes and the allowed range of the first one
// (the later ones are always 80..BF). Ranges exclude overlongs, surrogates and > U+10FFFF.
bool lead_info(uint8_t b, int* n_cont, Range* first) {
  if (b >= 0xC2 && b <= 0xDF) { *n_cont = 1; *first = {0x80, 0xBF}; return true; }
  if (b == 0xE0) { *n_cont = 2; *first = {0xA0, 0xBF}; return true; }
  if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
    *n_cont = 2; *first = {0x80, 0xBF}; return true;
  }
  if (b == 0xED) { *n_cont = 2; *first = {0x80, 0x9F}; return true; }
  if (b == 0xF0) { *n_cont = 3; *first = {0x90, 0xBF}; return true; }
  if (b >= 0xF1 && b <= 0xF3) { *n_cont = 3; *first = {0x80, 0xBF}; return true; }
  if (b == 0xF4) { *n_cont = 3; *first = {0x80, 0x8F}; return true; }
  return false;
}

}  // namespace

Utf8Step utf8_step(std::string_view s, size_t pos) {
  const auto b0 = static_cast<uint8_t>(s[pos]);
  if (b0 < 0x80) return {Utf8Status::kValid, 1};
  int n_cont = 0;
  Range range{};
  if (!lead_info(b0, &n_cont, &range)) return {Utf8Status::kInvalid, 1};
  for (int k = 1; k <= n_cont; ++k) {
    if (pos + k >= s.size()) return {Utf8Status::kIncomplete, s.size() - pos};
    const auto b = static_cast<uint8_t>(s[pos + k]);
    if (b < range.lo || b > range.hi) return {Utf8Status::kInvalid, static_cast<size_t>(k)};
    range = {0x80, 0xBF};
  }
  return {Utf8Status::kValid, static_cast<size_t>(n_cont + 1)};
}

bool is_valid_utf8(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    Utf8Step st = utf8_step(s, pos);
    if (st.status != Utf8Status::kValid) return false;
    pos += st.len;
  }
  return true;
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) {
    Utf8Step st = utf8_step(s, pos);
    if (st.status == Utf8Status::kValid) {
      out.append(s.substr(pos, st.len));
    } else {
      out.append(kReplacementChar);
    }
    pos += st.len;
  }
  return out;
}

}  // namespace lm::tokenizer
