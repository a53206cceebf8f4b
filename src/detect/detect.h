// Sensitivity detectors: find spans of personal data and secrets in text, for the router
// (issue 5), which decides per request whether text may leave the machine.
//
//   LM_TRY(auto cfg, detect::DetectorConfig::from_json(json_text));   // or DetectorConfig{} = all kinds
//   LM_TRY(auto det, detect::Detector::create(cfg));
//   std::vector<detect::Span> spans = det.scan(text);                  // sorted, non-overlapping
//   for (const auto& s : spans) audit.count(detect::kind_name(s.kind));  // never log the text
//
// Kinds: email; phone (E.164 and national formats); card (13-19 digits, IIN ranges, Luhn); iban
// (country length table, mod-97); ssn (US, area/group/serial rules); nino (UK National Insurance
// number, prefix rules); secret (known API-key prefixes, AWS key pairs, JWTs, `password=`-style
// assignments with high-entropy values); private_key (PEM / OpenSSH / PGP private key blocks);
// ip (IPv4, IPv6 incl. compressed); custom (PCRE2 patterns from the config); keyword
// (case-insensitive word lists from the config).
//
// Matching is hand-written and linear in the input for the built-in kinds; custom regexes run
// under PCRE2's match limit (a pattern that hits it stops for that text and is counted in
// ScanStats, so a caller can fail closed). Offsets are bytes into the scanned text; the text is
// treated as bytes (UTF-8 passes through; non-ASCII letters never form part of a built-in match).
//
// Thread safety: a Detector is immutable after create(); scan() may be called concurrently.
// Span::label points into static storage or into the Detector (custom/keyword names): it is
// valid while the Detector lives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace lm::detect {

enum class Kind : uint8_t {
  EMAIL,
  PHONE,
  CARD,
  IBAN,
  SSN,
  NINO,
  SECRET,
  PRIVATE_KEY,
  IP,
  CUSTOM,
  KEYWORD,
};
inline constexpr int kNumKinds = 11;

// "email", "phone", "card", "iban", "ssn", "nino", "secret", "private_key", "ip", "custom", "keyword".
const char* kind_name(Kind kind);
std::optional<Kind> kind_from_name(std::string_view name);

struct Span {
  Kind kind;
  size_t begin = 0;  // byte offsets into the scanned text, [begin, end)
  size_t end = 0;
  float confidence = 1.0f;  // 0..1: checksum-validated matches are near 1, context-free guesses lower
  std::string_view label;   // sub-kind: card network, secret provider, custom pattern name, ...
};

struct CustomPattern {
  std::string name;
  std::string regex;  // PCRE2 syntax, matched over bytes
  bool ignore_case = false;
};

struct KeywordList {
  std::string name;
  std::vector<std::string> words;  // matched case-insensitively (ASCII) at word boundaries
};

// Which detectors run. The default enables every built-in kind and no custom patterns.
//
// JSON form (every field optional):
//   {"kinds": ["email", "card", ...],      // the built-in kinds to enable (default: all)
//    "disable": ["ip"],                     // removed from the enabled set
//    "patterns": [{"name": "employee_id", "regex": "EMP-\\d{6}", "ignore_case": false}],
//    "keywords": [{"name": "projects", "words": ["Project Falcon", "bluebird"]}],
//    "match_limit": 100000}                 // PCRE2 match limit per custom pattern and text
struct DetectorConfig {
  bool enabled[kNumKinds] = {true, true, true, true, true, true, true, true, true, true, true};
  std::vector<CustomPattern> patterns;
  std::vector<KeywordList> keywords;
  uint32_t match_limit = 100000;

  static Result<DetectorConfig> from_json(std::string_view json_text);
  bool is_enabled(Kind k) const { return enabled[static_cast<int>(k)]; }
};

struct ScanStats {
  int regex_limit_hits = 0;  // custom patterns stopped by the match limit (text partly unscanned)
};

class Detector {
 public:
  // Compiles the custom patterns (PCRE2 with JIT when available). An invalid regex gives an error
  // naming the pattern and the offset: "custom pattern 'x': PCRE2 error at offset 3: ...".
  static Result<Detector> create(const DetectorConfig& config);

  Detector(Detector&&) noexcept;
  Detector& operator=(Detector&&) noexcept;
  ~Detector();

  // All spans of the enabled kinds, sorted by begin; overlaps are resolved in favour of the more
  // specific kind (private key > secret > iban > card > ssn > nino > email > ip > phone, custom and
  // keyword last), then the longer span. Cost: a few passes over the text, O(n) for built-ins.
  std::vector<Span> scan(std::string_view text, ScanStats* stats = nullptr) const;

  const DetectorConfig& config() const;

 private:
  struct Impl;
  explicit Detector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lm::detect
