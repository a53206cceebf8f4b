// Detector: runs the enabled built-in scanners, the custom PCRE2 patterns and the keyword lists,
// then resolves overlaps. Config parsing from JSON.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <map>

#include "detect/detect.h"
#include "detect/scanners.h"

namespace lm::detect {
namespace {

constexpr std::array<const char*, kNumKinds> kKindNames = {
    "email", "phone", "card", "iban", "ssn", "nino", "secret", "private_key", "ip", "custom", "keyword"};

// Overlap priority: higher wins (checksummed and prefixed kinds are the most specific).
int priority(Kind k) {
  switch (k) {
    case Kind::PRIVATE_KEY: return 10;
    case Kind::SECRET: return 9;
    case Kind::IBAN: return 8;  // "DE43 5117 8321 ..." holds card-shaped digit groups
    case Kind::CARD: return 7;
    case Kind::SSN: return 6;
    case Kind::NINO: return 5;
    case Kind::EMAIL: return 4;
    case Kind::IP: return 3;
    case Kind::PHONE: return 2;
    case Kind::CUSTOM: return 1;
    case Kind::KEYWORD: return 0;
  }
  return 0;
}

struct PatternDeleter {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};

struct Compiled {
  std::string name;
  std::unique_ptr<pcre2_code, PatternDeleter> code;
};

struct Keyword {
  std::string name;  // the list's name
  std::string word;  // lowercase
};

// Keeps the highest-priority (then longest, then earliest) spans that do not overlap a kept one.
std::vector<Span> resolve_overlaps(std::vector<Span> spans) {
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    int pa = priority(a.kind), pb = priority(b.kind);
    if (pa != pb) return pa > pb;
    if (a.end - a.begin != b.end - b.begin) return a.end - a.begin > b.end - b.begin;
    return a.begin < b.begin;
  });
  std::map<size_t, Span> kept;  // by begin; never overlapping
  for (const Span& s : spans) {
    auto it = kept.lower_bound(s.begin);
    if (it != kept.end() && it->second.begin < s.end) continue;
    if (it != kept.begin() && std::prev(it)->second.end > s.begin) continue;
    kept.emplace(s.begin, s);
  }
  std::vector<Span> out;
  out.reserve(kept.size());
  for (auto& [b, s] : kept) out.push_back(s);
  return out;
}

}  // namespace

const char* kind_name(Kind kind) { return kKindNames[static_cast<int>(kind)]; }

std::optional<Kind> kind_from_name(std::string_view name) {
  for (int k = 0; k < kNumKinds; ++k) {
    if (name == kKindNames[k]) return static_cast<Kind>(k);
  }
  return std::nullopt;
}

struct Detector::Impl {
  DetectorConfig config;
  std::vector<Compiled> patterns;
  std::vector<Keyword> keywords;
  pcre2_match_context* mctx = nullptr;

  ~Impl() { pcre2_match_context_free(mctx); }
  void scan_custom(std::string_view text, std::vector<Span>& out, ScanStats* stats) const;
  void scan_keywords(std::string_view lower, std::vector<Span>& out) const;
};

Detector::Detector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Detector::Detector(Detector&&) noexcept = default;
Detector& Detector::operator=(Detector&&) noexcept = default;
Detector::~Detector() = default;

const DetectorConfig& Detector::config() const { return impl_->config; }

Result<Detector> Detector::create(const DetectorConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->mctx = pcre2_match_context_create(nullptr);
  pcre2_set_match_limit(impl->mctx, config.match_limit);
  pcre2_set_depth_limit(impl->mctx, std::min<uint32_t>(config.match_limit, 10000));
  for (const CustomPattern& p : config.patterns) {
    int err = 0;
    PCRE2_SIZE off = 0;
    uint32_t opts = p.ignore_case ? PCRE2_CASELESS : 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.regex.data()), p.regex.size(),
                                     opts, &err, &off, nullptr);
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      return errorf("custom pattern '{}': PCRE2 error at offset {}: {}", p.name, off,
                    reinterpret_cast<const char*>(msg));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter when unavailable
    impl->patterns.push_back({p.name, std::unique_ptr<pcre2_code, PatternDeleter>(code)});
  }
  for (const KeywordList& list : config.keywords) {
    for (const std::string& w : list.words) {
      if (w.empty()) return errorf("keyword list '{}': empty keyword", list.name);
      std::string lw = w;
      for (char& c : lw) c = scan::to_lower(c);
      impl->keywords.push_back({list.name, lw});
    }
  }
  return Detector(std::move(impl));
}

void Detector::Impl::scan_custom(std::string_view text, std::vector<Span>& out, ScanStats* stats) const {
  for (const Compiled& p : patterns) {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(p.code.get(), nullptr);
    size_t start = 0;
    while (start <= text.size()) {
      int rc = pcre2_match(p.code.get(), reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), start,
                           0, md, mctx);
      if (rc < 0) {
        if (rc != PCRE2_ERROR_NOMATCH && stats) stats->regex_limit_hits++;
        break;
      }
      PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      size_t b = ov[0], e = ov[1];
      if (e > b) out.push_back({Kind::CUSTOM, b, e, 1.0f, p.name});
      start = e > b ? e : e + 1;
    }
    pcre2_match_data_free(md);
  }
}

void Detector::Impl::scan_keywords(std::string_view lower, std::vector<Span>& out) const {
  for (const Keyword& k : keywords) {
    size_t pos = 0;
    while ((pos = lower.find(k.word, pos)) != std::string_view::npos) {
      size_t end = pos + k.word.size();
      // Word boundaries: ASCII word bytes and UTF-8 bytes both continue a word.
      auto wordy = [](char c) { return scan::is_word(c) || static_cast<unsigned char>(c) >= 0x80; };
      bool left = !wordy(k.word.front()) || !wordy(scan::before(lower, pos));
      bool right = !wordy(k.word.back()) || !wordy(scan::at(lower, end));
      if (left && right) out.push_back({Kind::KEYWORD, pos, end, 1.0f, k.name});
      pos += 1;
    }
  }
}

std::vector<Span> Detector::scan(std::string_view text, ScanStats* stats) const {
  const DetectorConfig& c = impl_->config;
  std::string lower(text);
  for (char& ch : lower) ch = scan::to_lower(ch);
  std::vector<Span> spans;
  if (c.is_enabled(Kind::PRIVATE_KEY)) scan::scan_private_keys(text, spans);
  if (c.is_enabled(Kind::SECRET)) scan::scan_secrets(text, lower, spans);
  if (c.is_enabled(Kind::CARD)) scan::scan_card(text, spans);
  if (c.is_enabled(Kind::IBAN)) scan::scan_iban(text, spans);
  if (c.is_enabled(Kind::SSN)) scan::scan_ssn(text, lower, spans);
  if (c.is_enabled(Kind::NINO)) scan::scan_nino(text, spans);
  if (c.is_enabled(Kind::EMAIL)) scan::scan_email(text, spans);
  if (c.is_enabled(Kind::IP)) scan::scan_ip(text, spans);
  if (c.is_enabled(Kind::PHONE)) scan::scan_phone(text, lower, spans);
  if (c.is_enabled(Kind::CUSTOM)) impl_->scan_custom(text, spans, stats);
  if (c.is_enabled(Kind::KEYWORD)) impl_->scan_keywords(lower, spans);
  return resolve_overlaps(std::move(spans));
}

namespace {

Result<std::vector<std::string>> string_array(const nlohmann::json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.is_array()) return errorf("\"{}\" must be an array of strings", key);
  for (const auto& v : j) {
    if (!v.is_string()) return errorf("\"{}\" must be an array of strings", key);
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<void> set_kinds(DetectorConfig& cfg, const nlohmann::json& j, const char* key, bool on) {
  LM_TRY(auto names, string_array(j, key));
  for (const std::string& n : names) {
    auto k = kind_from_name(n);
    if (!k) return errorf("\"{}\": unknown kind '{}'", key, n);
    cfg.enabled[static_cast<int>(*k)] = on;
  }
  return Ok{};
}

Result<void> read_patterns(DetectorConfig& cfg, const nlohmann::json& j) {
  if (!j.is_array()) return Error("\"patterns\" must be an array");
  for (const auto& p : j) {
    if (!p.is_object() || !p.contains("name") || !p["name"].is_string() || !p.contains("regex") ||
        !p["regex"].is_string()) {
      return Error("\"patterns\": each entry needs a string \"name\" and \"regex\"");
    }
    bool icase = p.contains("ignore_case") && p["ignore_case"].is_boolean() && p["ignore_case"].get<bool>();
    cfg.patterns.push_back({p["name"].get<std::string>(), p["regex"].get<std::string>(), icase});
  }
  return Ok{};
}

Result<void> read_keywords(DetectorConfig& cfg, const nlohmann::json& j) {
  if (!j.is_array()) return Error("\"keywords\" must be an array");
  for (const auto& k : j) {
    if (!k.is_object() || !k.contains("name") || !k["name"].is_string() || !k.contains("words")) {
      return Error("\"keywords\": each entry needs a string \"name\" and \"words\"");
    }
    LM_TRY(auto words, string_array(k["words"], "words"));
    cfg.keywords.push_back({k["name"].get<std::string>(), std::move(words)});
  }
  return Ok{};
}

}  // namespace

Result<DetectorConfig> DetectorConfig::from_json(std::string_view json_text) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Error("detector config: expected a JSON object");
  DetectorConfig cfg;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    Result<void> r = Ok{};
    if (key == "kinds") {
      std::fill(std::begin(cfg.enabled), std::end(cfg.enabled), false);
      r = set_kinds(cfg, it.value(), "kinds", true);
    } else if (key == "disable") {
      continue;  // applied after "kinds", whatever the key order
    } else if (key == "patterns") {
      r = read_patterns(cfg, it.value());
    } else if (key == "keywords") {
      r = read_keywords(cfg, it.value());
    } else if (key == "match_limit") {
      if (!it.value().is_number_unsigned() || it.value().get<uint64_t>() == 0 ||
          it.value().get<uint64_t>() > 100000000) {
        r = Error("\"match_limit\" must be an integer in [1, 100000000]");
      } else {
        cfg.match_limit = it.value().get<uint32_t>();
      }
    } else {
      r = errorf("unknown key \"{}\"", key);
    }
    if (!r.ok()) return std::move(r).error().wrap("detector config");
  }
  if (j.contains("disable")) {
    auto r = set_kinds(cfg, j["disable"], "disable", false);
    if (!r.ok()) return std::move(r).error().wrap("detector config");
  }
  return cfg;
}

}  // namespace lm::detect
