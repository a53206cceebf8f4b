// Contact data and addresses: email, phone numbers, IPv4 and IPv6.
#include <algorithm>
#include <cstring>

#include "detect/scanners.h"

namespace lm::detect::scan {
namespace {

bool is_local_char(char c) { return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'; }

}  // namespace

// local@domain.tld: the local part expands left from each '@', the domain right; both stop at
// the next '@', so the whole scan is linear.
void scan_email(std::string_view t, std::vector<Span>& out) {
  size_t at_pos = 0;
  while ((at_pos = t.find('@', at_pos)) != std::string_view::npos) {
    size_t l = at_pos;
    while (l > 0 && is_local_char(t[l - 1])) --l;
    while (l < at_pos && (t[l] == '.' || t[l] == '-' || t[l] == '+')) ++l;
    size_t r = at_pos + 1, labels = 0, last_label = r;
    bool tld_alpha = false;
    while (true) {
      size_t s = r;
      while (r < t.size() && (is_alnum(t[r]) || t[r] == '-')) ++r;
      if (r == s) break;
      ++labels, last_label = s, tld_alpha = true;
      for (size_t k = s; k < r; ++k) tld_alpha = tld_alpha && is_alpha(t[k]);
      if (at(t, r) == '.' && is_alnum(at(t, r + 1))) { ++r; continue; }
      break;
    }
    if (l < at_pos && t[at_pos - 1] != '.' && labels >= 2 && tld_alpha && r - last_label >= 2) {
      out.push_back({Kind::EMAIL, l, r, 0.98f, "email"});
    }
    at_pos = std::max(at_pos + 1, r);
  }
}

namespace {

const std::vector<std::string_view> kPhoneContext = {
    "phone", "tel", "call", "mobile", "cell", "fax", "contact", "reach", "my number", "whatsapp",
    "sms", "text me", "ring", "dial", "hotline", "handy", "nummer", "numéro", "número", "telefon",
    "téléphone", "teléfono", "celular", "portable", "ruf", "kontakt", "móvil", "mobil"};

struct PhoneShape {
  size_t end = 0;
  int digits = 0;
  int groups = 0;
  int len[4] = {0, 0, 0, 0};  // the first four group lengths
  int last_group = 0, max_group = 0, min_group = 99;
  bool plus = false, paren = false, dots_only = true, thousands = true;
};

bool is_phone_sep(char c) { return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')'; }

// Consumes digit groups separated by at most two of " -.()" (e.g. ") " or " ("), from `i`.
PhoneShape read_phone(std::string_view t, size_t i) {
  PhoneShape s;
  if (t[i] == '+') s.plus = true, ++i;
  if (at(t, i) == '(') s.paren = true, ++i;
  while (i < t.size() && s.digits <= 16) {
    size_t g = i;
    while (i < t.size() && is_digit(t[i])) ++i;
    int len = static_cast<int>(i - g);
    if (len == 0) break;
    if (s.groups < 4) s.len[s.groups] = len;
    s.digits += len, ++s.groups, s.end = i, s.last_group = len;
    s.max_group = std::max(s.max_group, len);
    s.min_group = std::min(s.min_group, len);
    if (s.groups > 1 && len != 3) s.thousands = false;
    size_t k = i;
    int nsep = 0;
    while (k < t.size() && nsep < 2 && is_phone_sep(t[k])) {
      if (t[k] == '(' || t[k] == ')') s.paren = true;
      if (t[k] != '.') s.dots_only = false;
      ++k, ++nsep;
    }
    if (nsep == 0 || !is_digit(at(t, k))) break;
    i = k;
  }
  if (s.groups < 2) s.dots_only = false, s.thousands = false;
  return s;
}

// A date leads the groups: 2024-01-15, 15.01.2024, 01 15 2024 (year first or third).
bool looks_like_date(const PhoneShape& s) {
  return s.groups >= 3 && ((s.len[0] == 4 && s.len[1] <= 2 && s.len[2] <= 2) ||
                           (s.len[0] <= 2 && s.len[1] <= 2 && s.len[2] == 4));
}

// A national number (no +): trunk prefix 0, the NANP shape, an area code in parentheses, a cue
// word nearby, or at least three groups that are not a thousands grouping.
template <typename Cue>
bool national_ok(std::string_view t, size_t i, const PhoneShape& s, Cue cue) {
  if (s.digits < 9 || s.digits > 13 || s.len[0] > 6 || s.last_group < 2 || looks_like_date(s)) return false;
  if (s.dots_only && s.groups == 2) return false;                       // a decimal: 6838.270913
  if (s.dots_only && s.groups == 4 && s.max_group <= 3) return false;  // an IPv4 address
  if (s.dots_only && s.min_group == 1) return false;                    // a version: 10.0.19041.1234
  if (s.groups == 3 && s.len[0] == 3 && s.len[1] == 2 && s.len[2] == 4) return false;  // SSN-shaped
  if (s.paren) return true;
  if (s.thousands) return cue();
  char first = t[i];
  auto shape = [&](int a, int b, int c, int d) {
    return s.len[0] == a && s.len[1] == b && s.len[2] == c && s.len[3] == d && s.groups == (d ? 4 : c ? 3 : 2);
  };
  bool nanp = (first >= '2' && (shape(3, 3, 4, 0) || shape(3, 7, 0, 0))) || (first == '1' && shape(1, 3, 3, 4));
  return first == '0' || nanp || (s.groups >= 3 && s.max_group <= 4) || cue();
}

}  // namespace

// E.164 (+ then 8-15 digits, separators allowed) and national formats (9-13 digits in groups, or
// a bare run of 9-11 digits after a phone cue such as "call" or "tel").
void scan_phone(std::string_view t, std::string_view lower, std::vector<Span>& out) {
  size_t i = 0;
  while (i < t.size()) {
    char c = t[i];
    bool start = is_digit(c) || ((c == '+' || c == '(') && is_digit(at(t, i + 1)));
    char prev = before(t, i);
    if (!start || is_alnum(prev) || std::strchr("._/:-+@#$,=&\\", prev) != nullptr) {
      ++i;
      while (i < t.size() && is_digit(t[i]) && is_digit(t[i - 1])) ++i;
      continue;
    }
    PhoneShape s = read_phone(t, i);
    size_t end = s.end;
    char next = at(t, end);
    bool bounded = end > i && !is_alnum(next) && !(next == '.' && is_digit(at(t, end + 1))) &&
                   next != '/' && next != '%' && next != '-' && next != ':' && next != '@' && next != '_';
    // The cue-word look-up is the costly part: done only for shapes that need it.
    auto cue = [&] {
      return has_context(lower, i, 40, kPhoneContext) ||
             has_context(lower, std::min(lower.size(), s.end + 16), 16, kPhoneContext);
    };
    bool ok = false;
    float conf = 0.7f;
    if (!bounded || s.digits > 15) {
      ok = false;
    } else if (s.plus) {
      ok = s.digits >= 8 && t[i + 1] != '0';
      conf = 0.9f;
    } else if (s.groups == 1) {
      ok = s.digits >= 9 && s.digits <= 11 && (cue() || (t[i] == '0' && s.digits >= 10));
    } else {
      ok = national_ok(t, i, s, cue);
    }
    if (ok) out.push_back({Kind::PHONE, i, end, conf, s.plus ? "e164" : "national"});
    i = std::max(end, i + 1);
  }
}

namespace {

// Parses one IPv4 address at i; returns its end, or 0.
size_t read_ipv4(std::string_view t, size_t i) {
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (at(t, i) != '.') return 0;
      ++i;
    }
    size_t s = i;
    int v = 0;
    while (i < t.size() && is_digit(t[i]) && i - s < 3) v = v * 10 + (t[i++] - '0');
    if (i == s || v > 255 || (i - s > 1 && t[s] == '0') || is_digit(at(t, i))) return 0;
  }
  return i;
}

// Parses the IPv6 address in t[b, e) (all of it); true when valid.
bool ipv6_ok(std::string_view t, size_t b, size_t e) {
  std::string_view s = t.substr(b, e - b);
  size_t dc = s.find("::");
  if (dc != std::string_view::npos && s.find("::", dc + 1) != std::string_view::npos) return false;
  if (s.find(":::") != std::string_view::npos) return false;
  if ((s.front() == ':' && dc != 0) || (s.back() == ':' && dc != s.size() - 2)) return false;
  int groups = 0;
  bool has_digit = false;
  size_t k = 0;
  while (k < s.size()) {
    if (s[k] == ':') { ++k; continue; }
    size_t g = k;
    while (k < s.size() && s[k] != ':') ++k;
    std::string_view grp = s.substr(g, k - g);
    if (grp.find('.') != std::string_view::npos) {  // an IPv4 tail
      if (k != s.size() || read_ipv4(grp, 0) != grp.size()) return false;
      groups += 2, has_digit = true;
      continue;
    }
    if (grp.size() > 4) return false;
    for (char c : grp) {
      if (!is_hex(c)) return false;
      has_digit = has_digit || is_digit(c);
    }
    ++groups;
  }
  bool compressed = dc != std::string_view::npos;
  return has_digit && (compressed ? groups <= 7 : groups == 8);
}

}  // namespace

void scan_ip(std::string_view t, std::vector<Span>& out) {
  size_t i = 0;
  while (i < t.size()) {
    char c = t[i];
    if (!(is_hex(c) || c == ':')) { ++i; continue; }
    char prev = before(t, i);
    size_t e = i;
    while (e < t.size() && (is_hex(t[e]) || t[e] == ':' || t[e] == '.')) ++e;
    if (is_alnum(prev) || prev == '_' || prev == '.' || prev == ':' || prev == '-') {
      i = std::max(e, i + 1);
      while (i < t.size() && is_alnum(t[i])) ++i;
      continue;
    }
    size_t v4 = is_digit(c) ? read_ipv4(t, i) : 0;
    if (v4 && !is_alnum(at(t, v4)) && !(at(t, v4) == '.' && is_digit(at(t, v4 + 1)))) {
      out.push_back({Kind::IP, i, v4, 0.9f, "ipv4"});
    } else {
      // IPv6: the run of hex digits, colons and dots, less trailing punctuation.
      size_t end = e;
      while (end > i && t[end - 1] == '.') --end;
      if (end > i + 1 && t[end - 1] == ':' && t[end - 2] != ':') --end;
      size_t colons = 0;
      for (size_t k = i; k < end; ++k) colons += t[k] == ':';
      if (colons >= 2 && end - i <= 45 && !is_alnum(at(t, e)) && at(t, e) != '_' &&
          ipv6_ok(t, i, end)) {
        out.push_back({Kind::IP, i, end, 0.9f, "ipv6"});
      }
    }
    i = std::max(e, i + 1);
    while (i < t.size() && is_alnum(t[i])) ++i;
  }
}

}  // namespace lm::detect::scan
