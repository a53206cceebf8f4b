// Secrets: API keys with well-known prefixes, AWS access key pairs, JWTs, `password=`-style
// assignments with high-entropy values, and PEM / OpenSSH / PGP private key blocks.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "detect/scanners.h"

namespace lm::detect::scan {
namespace {

enum Body : uint8_t { ALNUM, ALNUM_DASH, ALNUM_UNDERSCORE, UPPER_DIGIT };

bool body_char(Body b, char c) {
  switch (b) {
    case ALNUM: return is_alnum(c);
    case ALNUM_DASH: return is_alnum(c) || c == '-' || c == '_';
    case ALNUM_UNDERSCORE: return is_alnum(c) || c == '_';
    case UPPER_DIGIT: return is_upper(c) || is_digit(c);
  }
  return false;
}

struct KeyShape {
  const char* prefix;
  Body body;
  uint16_t min_len, max_len;  // of the body after the prefix
  const char* label;
};

// Longer prefixes first where one extends another (sk-ant- before sk-).
constexpr KeyShape kKeys[] = {
    {"sk-ant-", ALNUM_DASH, 32, 300, "anthropic"},
    {"sk-proj-", ALNUM_DASH, 32, 300, "openai"},
    {"sk-svcacct-", ALNUM_DASH, 32, 300, "openai"},
    {"sk-admin-", ALNUM_DASH, 32, 300, "openai"},
    {"sk-", ALNUM_DASH, 20, 300, "openai"},
    {"ghp_", ALNUM, 36, 255, "github"},
    {"gho_", ALNUM, 36, 255, "github"},
    {"ghu_", ALNUM, 36, 255, "github"},
    {"ghs_", ALNUM, 36, 255, "github"},
    {"ghr_", ALNUM, 36, 255, "github"},
    {"github_pat_", ALNUM_UNDERSCORE, 50, 255, "github"},
    {"xoxb-", ALNUM_DASH, 20, 255, "slack"},
    {"xoxp-", ALNUM_DASH, 20, 255, "slack"},
    {"xoxa-", ALNUM_DASH, 20, 255, "slack"},
    {"xoxr-", ALNUM_DASH, 20, 255, "slack"},
    {"xoxs-", ALNUM_DASH, 20, 255, "slack"},
    {"xoxe-", ALNUM_DASH, 20, 255, "slack"},
    {"xapp-", ALNUM_DASH, 20, 255, "slack"},
    {"sk_live_", ALNUM, 20, 255, "stripe"},
    {"rk_live_", ALNUM, 20, 255, "stripe"},
    {"sk_test_", ALNUM, 20, 255, "stripe"},
    {"rk_test_", ALNUM, 20, 255, "stripe"},
    {"whsec_", ALNUM, 24, 255, "stripe"},
    {"AIza", ALNUM_DASH, 35, 35, "google"},
    {"glpat-", ALNUM_DASH, 20, 255, "gitlab"},
    {"hf_", ALNUM, 30, 255, "huggingface"},
    {"npm_", ALNUM, 36, 36, "npm"},
    {"AKIA", UPPER_DIGIT, 16, 16, "aws_access_key_id"},
    {"ASIA", UPPER_DIGIT, 16, 16, "aws_access_key_id"},
    {"AROA", UPPER_DIGIT, 16, 16, "aws_access_key_id"},
    {"AIDA", UPPER_DIGIT, 16, 16, "aws_access_key_id"},
    {"AGPA", UPPER_DIGIT, 16, 16, "aws_access_key_id"},
    {"ANPA", UPPER_DIGIT, 16, 16, "aws_access_key_id"},
};

bool has_digit_and_alpha(std::string_view s) {
  bool d = false, a = false;
  for (char c : s) d = d || is_digit(c), a = a || is_alpha(c);
  return d && a;
}

// Random-looking: digits and letters, or both letter cases ("glpat-BTGPQcQYTUmbGeUeeoId").
bool mixed_classes(std::string_view s) {
  bool u = false, l = false;
  for (char c : s) u = u || is_upper(c), l = l || is_lower(c);
  return has_digit_and_alpha(s) || (u && l);
}

// A 40-character AWS secret access key (base64 alphabet, mixed classes) within 200 bytes of an
// access key id [b, e).
void aws_secret_near(std::string_view t, size_t b, size_t e, std::vector<Span>& out) {
  size_t from = b > 200 ? b - 200 : 0, to = std::min(t.size(), e + 200);
  size_t i = from;
  while (i < to) {
    auto sc = [](char c) { return is_alnum(c) || c == '/' || c == '+'; };
    if (!sc(t[i])) { ++i; continue; }
    size_t s = i;
    while (i < t.size() && sc(t[i])) ++i;
    std::string_view tok = t.substr(s, i - s);
    if (tok.size() == 40 && has_digit_and_alpha(tok) && entropy_bits(tok) > 4.0) {
      out.push_back({Kind::SECRET, s, i, 0.9f, "aws_secret_access_key"});
    }
  }
}

void scan_prefixed(std::string_view t, std::vector<Span>& out) {
  // "sk-" also finds "sk-ant-..." keys: the duplicate span is dropped by Detector's overlap pass.
  for (const KeyShape& k : kKeys) {
    std::string_view prefix(k.prefix);
    size_t pos = 0;
    while ((pos = t.find(prefix, pos)) != std::string_view::npos) {
      size_t b = pos, e = pos + prefix.size();
      pos = e;
      char prev = before(t, b);
      if (is_alnum(prev) || prev == '_' || prev == '-') continue;
      while (e < t.size() && body_char(k.body, t[e]) && e - b - prefix.size() < k.max_len + 1u) ++e;
      size_t n = e - b - prefix.size();
      if (n < k.min_len || n > k.max_len || is_alnum(at(t, e))) continue;
      std::string_view body = t.substr(b + prefix.size(), n);
      if (!mixed_classes(body) && k.body != UPPER_DIGIT) continue;
      out.push_back({Kind::SECRET, b, e, 0.95f, k.label});
      if (k.body == UPPER_DIGIT) aws_secret_near(t, b, e, out);
      pos = e;
    }
  }
}

bool b64url(char c) { return is_alnum(c) || c == '-' || c == '_'; }

// header.payload.signature, the header a base64url JSON object ("eyJ").
void scan_jwt(std::string_view t, std::vector<Span>& out) {
  size_t pos = 0;
  while ((pos = t.find("eyJ", pos)) != std::string_view::npos) {
    size_t b = pos, e = pos;
    pos += 3;
    if (b64url(before(t, b))) continue;
    size_t seg_len[3] = {0, 0, 0};
    int seg = 0;
    while (seg < 3) {
      size_t s = e;
      while (e < t.size() && b64url(t[e])) ++e;
      seg_len[seg++] = e - s;
      if (seg < 3 && at(t, e) == '.') ++e; else break;
    }
    if (seg == 3 && seg_len[0] >= 10 && seg_len[1] >= 10 && t.substr(b + seg_len[0] + 1, 3) == "eyJ") {
      out.push_back({Kind::SECRET, b, e, 0.95f, "jwt"});
    }
    pos = std::max(pos, e);
  }
}

constexpr const char* kSecretNames[] = {
    "password", "passwd", "pwd", "passphrase", "secret", "api_key", "apikey", "api-key",
    "access_key", "access_token", "auth_token", "token", "private_key", "client_secret", "credentials",
};

// The value after `name` [=:] (quoted or bare), or an empty view.
std::string_view assigned_value(std::string_view t, size_t& i) {
  auto at = [](std::string_view s, size_t k) { return k < s.size() ? s[k] : '\0'; };  // NUL past the end: loops stop
  size_t name_end = std::min(t.size(), i + 40);  // bounded, so "tokentoken..." stays linear
  while (i < name_end && (is_alnum(t[i]) || t[i] == '_' || t[i] == '-')) ++i;  // rest of the name
  if (at(t, i) == '"' || at(t, i) == '\'') ++i;
  while (at(t, i) == ' ' || at(t, i) == '\t') ++i;
  if (at(t, i) == ':' && at(t, i + 1) == '=') ++i;
  if (at(t, i) != '=' && at(t, i) != ':') return {};
  ++i;
  if (at(t, i) == '>') ++i;
  while (at(t, i) == ' ' || at(t, i) == '\t') ++i;
  char q = at(t, i);
  size_t s = i;
  if (q == '"' || q == '\'' || q == '`') {
    s = ++i;
    while (i < t.size() && t[i] != q && t[i] != '\n' && i - s < 256) ++i;
    return at(t, i) == q ? t.substr(s, i - s) : std::string_view{};
  }
  while (i < t.size() && !std::strchr(" \t\r\n,;)}]\"'<>", t[i]) && t[i] != '\0' && i - s < 256) ++i;
  return t.substr(s, i - s);
}

// A value that looks like a real secret, not code or a placeholder.
bool secret_value_ok(std::string_view v) {
  if (v.size() < 8 || v.size() > 200) return false;
  if (std::strchr("$%<{[(*#", v[0]) || v.find_first_of("([ ") != std::string_view::npos) return false;
  int lower = 0, upper = 0, digit = 0, other = 0;
  for (char c : v) {
    if (is_lower(c)) lower = 1;
    else if (is_upper(c)) upper = 1;
    else if (is_digit(c)) digit = 1;
    else if (c != '_' && c != '.') other = 1;
  }
  // Short random values cannot reach 3 bits per byte (10 bytes: at most log2(10) = 3.3).
  double min_bits = std::min(3.0, 0.8 * std::log2(static_cast<double>(v.size())));
  if (entropy_bits(v) < min_bits || lower + upper + digit + other < 2) return false;
  if (digit || other) return true;
  // Letters only: random mixed case changes case often; camelCase identifiers rarely do.
  int changes = 0;
  for (size_t k = 1; k < v.size(); ++k) changes += is_upper(v[k]) != is_upper(v[k - 1]) && is_alpha(v[k]) && is_alpha(v[k - 1]);
  return v.size() >= 10 && v.find('.') == std::string_view::npos && changes * 4 >= static_cast<int>(v.size());
}

void scan_assignments(std::string_view t, std::string_view lower, std::vector<Span>& out) {
  for (const char* name : kSecretNames) {
    std::string_view n(name);
    size_t pos = 0;
    while ((pos = lower.find(n, pos)) != std::string_view::npos) {
      size_t i = pos + n.size();
      pos = i;
      std::string_view v = assigned_value(t, i);
      if (v.empty() || !secret_value_ok(v)) continue;
      size_t b = static_cast<size_t>(v.data() - t.data());
      out.push_back({Kind::SECRET, b, b + v.size(), 0.8f, "assignment"});
      pos = std::max(pos, b + v.size());
    }
  }
}

}  // namespace

void scan_secrets(std::string_view t, std::string_view lower, std::vector<Span>& out) {
  scan_prefixed(t, out);
  scan_jwt(t, out);
  scan_assignments(t, lower, out);
}

// -----BEGIN <label> PRIVATE KEY----- ... -----END <label> PRIVATE KEY----- (or to the first blank
// line or the end of the text when the END line is missing: a truncated key is still a secret).
void scan_private_keys(std::string_view t, std::vector<Span>& out) {
  constexpr std::string_view kBegin = "-----BEGIN ", kEnd = "-----END ";
  // The next END line and blank line are cached: each search moves forward only (linear time).
  size_t next_end = 0, next_blank = 0;
  bool end_valid = false, blank_valid = false;
  size_t pos = 0;
  while ((pos = t.find(kBegin, pos)) != std::string_view::npos) {
    size_t b = pos, l = pos + kBegin.size();
    pos = l;
    size_t le = t.find("-----", l);
    if (le == std::string_view::npos || le - l > 40) continue;
    std::string_view label = t.substr(l, le - l);
    if (label.find("PRIVATE KEY") == std::string_view::npos) continue;
    if (!end_valid || (next_end != std::string_view::npos && next_end < le)) {
      next_end = t.find(kEnd, le), end_valid = true;
    }
    size_t e = std::string_view::npos;
    if (next_end != std::string_view::npos) {
      std::string_view rest = t.substr(next_end + kEnd.size());
      if (rest.substr(0, label.size()) == label && rest.substr(label.size(), 5) == "-----") {
        e = next_end + kEnd.size() + label.size() + 5;
      }
    }
    if (e == std::string_view::npos) {
      if (!blank_valid || (next_blank != std::string_view::npos && next_blank < le)) {
        next_blank = t.find("\n\n", le), blank_valid = true;
      }
      e = next_blank == std::string_view::npos ? t.size() : next_blank;
    }
    const char* sub = label.find("OPENSSH") != std::string_view::npos ? "openssh"
                      : label.find("RSA") != std::string_view::npos   ? "rsa"
                      : label.find("EC") != std::string_view::npos    ? "ec"
                      : label.find("PGP") != std::string_view::npos   ? "pgp"
                                                                      : "pkcs8";
    out.push_back({Kind::PRIVATE_KEY, b, e, 0.99f, sub});
    pos = std::max(pos, e);
  }
}

}  // namespace lm::detect::scan
