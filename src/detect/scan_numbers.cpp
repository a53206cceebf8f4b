// Number-shaped personal data: payment cards, IBANs, US SSNs, UK NINOs, and the shared helpers.
// Every scanner walks the text once, skipping past each candidate it examined (linear time).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "detect/scanners.h"

namespace lm::detect::scan {

bool has_context(std::string_view lower, size_t pos, size_t window,
                 const std::vector<std::string_view>& words) {
  size_t from = pos > window ? pos - window : 0;
  std::string_view w = lower.substr(from, pos - from);
  for (std::string_view word : words) {
    if (w.find(word) != std::string_view::npos) return true;
  }
  return false;
}

double entropy_bits(std::string_view s) {
  if (s.empty()) return 0.0;
  std::array<int, 256> counts{};
  for (char c : s) counts[static_cast<unsigned char>(c)]++;
  double h = 0.0;
  for (int c : counts) {
    if (c == 0) continue;
    double p = static_cast<double>(c) / static_cast<double>(s.size());
    h -= p * std::log2(p);
  }
  return h;
}

bool luhn_ok(std::string_view digits) {
  int sum = 0;
  bool dbl = false;
  for (size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (dbl) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
    dbl = !dbl;
  }
  return !digits.empty() && sum % 10 == 0;
}

namespace {

int prefix_num(std::string_view d, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n && i < d.size(); ++i) v = v * 10 + (d[i] - '0');
  return v;
}

// The card network whose IIN range and lengths fit `d` (digits only), or nullptr.
const char* card_network(std::string_view d) {
  size_t n = d.size();
  int p1 = prefix_num(d, 1), p2 = prefix_num(d, 2), p3 = prefix_num(d, 3), p4 = prefix_num(d, 4),
      p6 = prefix_num(d, 6);
  if (p1 == 4 && (n == 13 || n == 16 || n == 19)) return "visa";
  if (((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) && n == 16) return "mastercard";
  if ((p2 == 34 || p2 == 37) && n == 15) return "amex";
  if ((p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925)) &&
      n >= 16 && n <= 19) {
    return "discover";
  }
  if (p4 >= 3528 && p4 <= 3589 && n >= 16 && n <= 19) return "jcb";
  if (((p3 >= 300 && p3 <= 305) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39) && n >= 14 && n <= 19) {
    return "diners";
  }
  if (p4 >= 2200 && p4 <= 2204 && n == 16) return "mir";
  if (p2 == 62 && n >= 16 && n <= 19) return "unionpay";
  if ((p2 == 50 || (p2 >= 56 && p2 <= 69)) && n >= 13 && n <= 19) return "maestro";
  return nullptr;
}

}  // namespace

namespace {

struct DigitGroup {
  size_t begin, end;  // byte range of the digits
  char sep_after;     // ' ' or '-' before the next group; '\0' for the last
};

// The first window of whole groups (13-19 digits, valid IIN and Luhn) in a run; appends it and
// returns the index of the group after it, or groups.size() when there is none.
// left_ok / right_ok: whether the run itself is bounded on that side (windows inside the run are
// bounded by its separators). One separator character throughout a window.
size_t card_in_groups(std::string_view t, const std::vector<DigitGroup>& groups, size_t first,
                      bool left_ok, bool right_ok, std::vector<Span>& out) {
  char digits[20];
  for (size_t g = first; g < groups.size(); ++g) {
    if (g == 0 && !left_ok) continue;
    size_t nd = 0;
    for (size_t h = g; h < groups.size(); ++h) {
      size_t len = groups[h].end - groups[h].begin;
      if (nd + len > 19 || (h > g && groups[h - 1].sep_after != groups[g].sep_after)) break;
      if (h + 1 == groups.size() && !right_ok) break;
      for (size_t k = groups[h].begin; k < groups[h].end; ++k) digits[nd++] = t[k];
      if (nd < 13) continue;
      std::string_view d(digits, nd);
      const char* net = card_network(d);
      if (net && luhn_ok(d)) {
        out.push_back({Kind::CARD, groups[g].begin, groups[h].end, 0.97f, net});
        return h + 1;
      }
    }
  }
  return groups.size();
}

}  // namespace

// 13-19 digits, single spaces or dashes between digits allowed, bounded by non-alphanumerics. A
// longer run of groups ("card 4111 1111 1111 1111 10 EUR") is searched for a window of whole groups.
void scan_card(std::string_view t, std::vector<Span>& out) {
  std::vector<DigitGroup> groups;
  size_t i = 0;
  while (i < t.size()) {
    if (!is_digit(t[i])) { ++i; continue; }
    size_t start = i;
    groups.clear();
    while (i < t.size()) {
      size_t g = i;
      while (i < t.size() && is_digit(t[i])) ++i;
      bool more = (at(t, i) == ' ' || at(t, i) == '-') && is_digit(at(t, i + 1));
      groups.push_back({g, i, more ? t[i] : '\0'});
      if (more) ++i; else break;
    }
    char prev = before(t, start), next = at(t, i);
    bool left_ok = !is_alnum(prev) && prev != '.' && prev != '+';  // +49... is a phone number
    bool right_ok = !is_alnum(next) && !(next == '.' && is_digit(at(t, i + 1)));
    size_t g = 0;
    while (g < groups.size()) g = card_in_groups(t, groups, g, left_ok, right_ok, out);
  }
}

namespace {

struct IbanCountry {
  char cc[3];
  uint8_t len;
};
// IBAN lengths per country (SWIFT IBAN registry).
constexpr IbanCountry kIban[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
    {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
    {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
    {"GT", 28}, {"HN", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26},
    {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20},
    {"LU", 20}, {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20},
    {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24},
    {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24},
    {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25},
    {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20},
    {"YE", 30},
};

int iban_length(char a, char b) {
  for (const auto& c : kIban) {
    if (c.cc[0] == a && c.cc[1] == b) return c.len;
  }
  return 0;
}

}  // namespace

bool iban_ok(std::string_view s) {
  if (s.size() < 15 || s.size() > 34) return false;
  int rem = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    char c = s[(k + 4) % s.size()];  // the first four characters move to the end
    if (is_digit(c)) rem = (rem * 10 + (c - '0')) % 97;
    else if (is_upper(c)) rem = (rem * 100 + (c - 'A' + 10)) % 97;
    else return false;
  }
  return rem == 1;
}

// CCdd then the country's length of upper-case letters and digits, optionally in groups of four
// separated by single spaces.
void scan_iban(std::string_view t, std::vector<Span>& out) {
  char buf[40];
  for (size_t i = 0; i + 4 <= t.size(); ++i) {
    if (!is_upper(t[i]) || !is_upper(t[i + 1]) || !is_digit(t[i + 2]) || !is_digit(t[i + 3]) ||
        is_alnum(before(t, i))) {
      continue;
    }
    int len = iban_length(t[i], t[i + 1]);
    if (len == 0) continue;
    size_t j = i, n = 0;
    while (j < t.size() && n < static_cast<size_t>(len)) {
      char c = t[j];
      if (is_upper(c) || is_digit(c)) {
        buf[n++] = c, ++j;
      } else if (c == ' ' && n % 4 == 0 && n > 0 && is_alnum(at(t, j + 1))) {
        ++j;
      } else {
        break;
      }
    }
    if (n != static_cast<size_t>(len) || is_alnum(at(t, j))) continue;
    if (!iban_ok(std::string_view(buf, n))) continue;
    out.push_back({Kind::IBAN, i, j, 0.99f, "iban"});
    i = j - 1;
  }
}

namespace {

bool ssn_parts_ok(int area, int group, int serial) {
  return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

int digits_at(std::string_view t, size_t i, size_t n) {
  int v = 0;
  for (size_t k = 0; k < n; ++k) {
    if (!is_digit(at(t, i + k))) return -1;
    v = v * 10 + (t[i + k] - '0');
  }
  return v;
}

const std::vector<std::string_view> kSsnContext = {"ssn", "social security", "social sec", "ss#", "ss #"};

}  // namespace

// ddd-dd-dddd or ddd dd dddd (one separator throughout); bare ddddddddd only after an SSN cue.
void scan_ssn(std::string_view t, std::string_view lower, std::vector<Span>& out) {
  for (size_t i = 0; i + 9 <= t.size(); ++i) {
    if (!is_digit(t[i])) continue;
    char prev = before(t, i);
    if (is_alnum(prev) || prev == '-' || prev == '.' || prev == '/' || prev == '+') {
      while (i + 1 < t.size() && is_digit(t[i + 1])) ++i;
      continue;
    }
    char sep = t[i + 3];
    bool separated = (sep == '-' || sep == ' ') && at(t, i + 6) == sep;
    size_t end = separated ? i + 11 : i + 9;
    int area = digits_at(t, i, 3);
    int group = digits_at(t, i + (separated ? 4 : 3), 2);
    int serial = digits_at(t, i + (separated ? 7 : 5), 4);
    char next = at(t, end);
    bool bounded = !is_alnum(next) && !((next == '-' || next == '.' || next == ' ' || next == '/') &&
                                        is_digit(at(t, end + 1)));
    if (area >= 0 && group >= 0 && serial >= 0 && bounded && ssn_parts_ok(area, group, serial) &&
        (separated || has_context(lower, i, 24, kSsnContext))) {
      out.push_back({Kind::SSN, i, end, separated ? 0.9f : 0.8f, "us_ssn"});
      i = end - 1;
    } else {
      while (i + 1 < t.size() && is_digit(t[i + 1])) ++i;
    }
  }
}

namespace {

bool nino_prefix_ok(char a, char b) {
  if (std::strchr("DFIQUV", a) || std::strchr("DFIOQUV", b)) return false;
  static constexpr const char* kBad[] = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"};
  for (const char* p : kBad) {
    if (p[0] == a && p[1] == b) return false;
  }
  return true;
}

}  // namespace

// UK National Insurance number: two prefix letters, six digits (optionally "12 34 56"), A-D.
void scan_nino(std::string_view t, std::vector<Span>& out) {
  for (size_t i = 0; i + 9 <= t.size(); ++i) {
    if (!is_upper(t[i]) || !is_upper(t[i + 1]) || is_alnum(before(t, i))) continue;
    if (!nino_prefix_ok(t[i], t[i + 1])) continue;
    size_t j = i + 2;
    bool spaced = at(t, j) == ' ';
    int nd = 0;
    for (int g = 0; g < 3; ++g) {
      if (spaced) {
        if (at(t, j) != ' ') break;
        ++j;
      }
      if (!is_digit(at(t, j)) || !is_digit(at(t, j + 1))) break;
      j += 2, nd += 2;
    }
    if (nd != 6) continue;
    if (spaced && at(t, j) == ' ') ++j;
    char suffix = at(t, j);
    if (suffix < 'A' || suffix > 'D' || is_alnum(at(t, j + 1))) continue;
    out.push_back({Kind::NINO, i, j + 1, 0.9f, "uk_nino"});
    i = j;
  }
}

}  // namespace lm::detect::scan
