// Policy evaluation: conditions, first-match rule selection, and the safety invariants that
// decide() enforces whatever the rules say (see policy.h).
#include "router/policy.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "router/policy_internal.h"

namespace lm::router {

namespace detail {

static char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool glob_match(std::string_view pat, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pat.size() && (pat[p] == '?' || (pat[p] != '*' && lower(pat[p]) == lower(text[t])))) {
      ++p, ++t;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++, mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1, t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

bool any_glob_match(const std::vector<std::string>& patterns, std::string_view text) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return glob_match(p, text); });
}

bool kind_matches(std::string_view pattern, std::string_view key) {
  if (pattern == "any" || pattern == key) return true;
  if (pattern == "custom" || pattern == "keyword") {
    return key.size() > pattern.size() && key.substr(0, pattern.size()) == pattern && key[pattern.size()] == ':';
  }
  return false;
}

static bool covered(const std::vector<std::string>& patterns, std::string_view key) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return kind_matches(p, key); });
}

std::string summarize_detections(const std::map<std::string, int>& detections,
                                 const std::vector<std::string>& patterns, int* total) {
  std::string out;
  int sum = 0;
  for (const auto& [key, n] : detections) {
    if (n <= 0 || !covered(patterns, key)) continue;
    sum += n;
    if (!out.empty()) out += ", ";
    out += fmt::format("{} x{}", key, n);
  }
  if (total) *total = sum;
  return out;
}

bool detections_allowed(const std::map<std::string, int>& detections, const std::vector<std::string>& allow) {
  // Only explicit names count: "any" never allows detected text out (parse() rejects it too).
  auto explicit_cover = [&](const std::string& key) {
    return std::any_of(allow.begin(), allow.end(), [&](const std::string& a) { return a != "any" && kind_matches(a, key); });
  };
  for (const auto& [key, n] : detections) {
    if (n > 0 && !explicit_cover(key)) return false;
  }
  return true;
}

bool has_detections(const std::map<std::string, int>& detections) {
  return std::any_of(detections.begin(), detections.end(), [](const auto& e) { return e.second > 0; });
}

const char* condition_key(ConditionKind k) {
  switch (k) {
    case ConditionKind::detected: return "detected";
    case ConditionKind::not_detected: return "not_detected";
    case ConditionKind::model: return "model";
    case ConditionKind::header: return "header";
    case ConditionKind::key: return "key";
    case ConditionKind::prompt_tokens_over_local_ctx: return "prompt_tokens_over_local_ctx";
    case ConditionKind::prompt_tokens_over: return "prompt_tokens_over";
    case ConditionKind::local_unavailable: return "local_unavailable";
    case ConditionKind::budget_exceeded: return "budget_exceeded";
    case ConditionKind::max_cost_usd: return "max_cost_usd";
    case ConditionKind::latency_budget_exceeded: return "latency_budget_exceeded";
  }
  return "?";
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

}  // namespace detail

using detail::has_detections;
using detail::join;

std::map<std::string, int> detection_counts(const std::vector<detect::Span>& spans) {
  std::map<std::string, int> out;
  for (const detect::Span& s : spans) {
    std::string key = detect::kind_name(s.kind);
    if ((s.kind == detect::Kind::CUSTOM || s.kind == detect::Kind::KEYWORD) && !s.label.empty()) {
      key.push_back(':');
      key.append(s.label.data(), s.label.size());
    }
    ++out[key];
  }
  return out;
}

const char* route_name(Route r) {
  switch (r) {
    case Route::local: return "local";
    case Route::upstream: return "upstream";
    case Route::refuse: return "refuse";
  }
  return "?";
}

std::string Target::describe() const {
  if (is_local()) return model.empty() ? "local" : "local:" + model;
  return provider + "/" + model;
}

nlohmann::json decision_to_json(const Decision& d) {
  nlohmann::json fb = nlohmann::json::array();
  for (const Target& t : d.fallbacks) fb.push_back(t.describe());
  return {{"route", route_name(d.route)}, {"rule", d.rule},
          {"target", d.route == Route::refuse ? "" : d.target.describe()}, {"fallbacks", fb},
          {"redact", d.redact}, {"must_stay_local", d.must_stay_local}, {"status", d.http_status},
          {"message", d.message}, {"reason", d.reason}};
}

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool model_pattern_matches(const std::string& pattern, const RequestFacts& f) {
  if (pattern == "@local") return contains(f.local_models, f.model);
  if (pattern == "@upstream") {
    return !f.model.empty() && std::any_of(f.upstream_models.begin(), f.upstream_models.end(), [&](const std::string& pm) {
      return pm == f.model || (pm.size() > f.model.size() && pm.compare(pm.size() - f.model.size(), f.model.size(), f.model) == 0 &&
                               pm[pm.size() - f.model.size() - 1] == '/');
    });
  }
  return detail::glob_match(pattern, f.model);
}

}  // namespace

namespace detail {

Target resolve_target(const Target& t, const RequestFacts& f) {
  if (!t.model.empty()) return t;
  if (t.is_local()) return Target{"", contains(f.local_models, f.model) ? f.model : ""};
  std::string prefix = t.provider + "/";
  if (!f.model.empty() && (f.upstream_models.empty() || contains(f.upstream_models, prefix + f.model))) {
    return Target{t.provider, f.model};
  }
  for (const std::string& pm : f.upstream_models) {
    if (pm.rfind(prefix, 0) == 0) return Target{t.provider, pm.substr(prefix.size())};
  }
  return Target{t.provider, f.model};
}

bool local_target_ok(const Target& t, const RequestFacts& f) {
  return f.local_available && (t.model.empty() || f.local_models.empty() || contains(f.local_models, t.model));
}

}  // namespace detail

namespace {

int64_t output_tokens(const RequestFacts& f, int64_t assumed) { return f.max_tokens > 0 ? f.max_tokens : assumed; }

std::string list(const std::vector<std::string>& v) { return join(v, ", "); }

bool detections_hold(const Condition& c, const RequestFacts& f, std::string* why) {
  int total = 0;
  std::string s = detail::summarize_detections(f.detections, c.patterns, &total);
  if (why && total == 0) *why = fmt::format("no detection of {}", list(c.patterns));
  else if (why && total < c.min_count) *why = fmt::format("detected {}, fewer than {}", s, c.min_count);
  else if (why) *why = "detected " + s;
  return c.kind == ConditionKind::detected ? total >= c.min_count : total == 0;
}

bool header_holds(const Condition& c, const RequestFacts& f, std::string* why) {
  auto it = f.headers.find(c.header);
  bool present = it != f.headers.end();
  bool held = c.header_absent ? !present : present && detail::any_glob_match(c.patterns, it->second);
  // The value itself may be personal data (a user's email): name only the header.
  if (why && c.header_absent) *why = fmt::format("header {} is {}", c.header, present ? "present" : "absent");
  else if (why && !present) *why = fmt::format("header {} is absent", c.header);
  else if (why) *why = fmt::format("header {} {} {}", c.header, held ? "matches" : "is not one of", list(c.patterns));
  return held;
}

// x-localmax-latency-budget-ms against the local estimate; a missing or malformed header is no budget.
bool latency_holds(const Condition& c, const RequestFacts& f, double estimate_ms, std::string* why) {
  auto it = f.headers.find(detail::kLatencyHeader);
  double budget = -1;
  if (it != f.headers.end()) {
    char* end = nullptr;
    budget = std::strtod(it->second.c_str(), &end);
    if (it->second.empty() || *end != '\0' || !(budget > 0)) budget = -1;
  }
  bool exceeded = budget > 0 && estimate_ms > budget;
  if (why && budget <= 0) *why = fmt::format("no valid {} header", detail::kLatencyHeader);
  else if (why) *why = fmt::format("local estimate {:.0f} ms {} latency budget {:.0f} ms", estimate_ms, exceeded ? ">" : "<=", budget);
  return exceeded == c.flag;
}

}  // namespace

Policy::Policy(std::vector<Rule> rules, bool default_refuse) : rules_(std::move(rules)), default_refuse_(default_refuse) {}

double Policy::estimate_cost_usd(const RequestFacts& f, const Target& t) const {
  if (t.is_local()) return 0;
  const audit::ModelPrice* p = prices_.find(t.model);
  if (!p) p = prices_.find(t.provider + "/" + t.model);
  if (!p) return -1;
  return audit::hosted_cost(*p, audit::TokenUsage{f.prompt_tokens, 0, output_tokens(f, assumed_max_tokens_)});
}

bool Policy::condition_holds(const Condition& c, const Rule& rule, const RequestFacts& f,
                             const BudgetFn& budget_ok, std::string* why) const {
  switch (c.kind) {
    case ConditionKind::detected:
    case ConditionKind::not_detected: return detections_hold(c, f, why);
    case ConditionKind::model: {
      bool held = std::any_of(c.patterns.begin(), c.patterns.end(), [&](const auto& p) { return model_pattern_matches(p, f); });
      if (why) *why = fmt::format("model '{}' {} {}", f.model, held ? "matches" : "is not one of", list(c.patterns));
      return held;
    }
    case ConditionKind::header: return header_holds(c, f, why);
    case ConditionKind::key: {
      bool held = detail::any_glob_match(c.patterns, f.key);
      if (why) *why = fmt::format("key '{}' {} {}", f.key, held ? "matches" : "is not one of", list(c.patterns));
      return held;
    }
    case ConditionKind::prompt_tokens_over_local_ctx: {
      int64_t need = f.prompt_tokens + f.max_tokens;
      bool over = f.local_n_ctx > 0 && need > f.local_n_ctx;
      if (why) *why = f.local_n_ctx <= 0 ? "local context size unknown"
                                         : fmt::format("prompt + max_tokens = {} {} local n_ctx {}", need, over ? ">" : "<=", f.local_n_ctx);
      return over == c.flag;
    }
    case ConditionKind::prompt_tokens_over: {
      bool over = double(f.prompt_tokens) > c.number;
      if (why) *why = fmt::format("prompt_tokens {} {} {}", f.prompt_tokens, over ? ">" : "<=", int64_t(c.number));
      return over;
    }
    case ConditionKind::local_unavailable: {
      if (why) *why = f.local_available ? "the local model is available" : "the local model is unavailable";
      return !f.local_available == c.flag;
    }
    case ConditionKind::budget_exceeded: {
      Target t = detail::resolve_target(c.target.provider.empty() ? rule.target : c.target, f);
      bool exceeded = budget_ok && !budget_ok(f.key, t, f.prompt_tokens);
      if (why) *why = fmt::format("budget of key '{}' for {} is {}", f.key, t.describe(), exceeded ? "exceeded" : "within limits");
      return exceeded == c.flag;
    }
    case ConditionKind::max_cost_usd: {
      Target t = detail::resolve_target(rule.target, f);
      double usd = estimate_cost_usd(f, t);
      if (why && usd < 0) *why = fmt::format("no price known for {}", t.describe());
      else if (why) *why = fmt::format("estimated cost {:.4f} USD at {} {} max_cost_usd {}", usd, t.describe(), usd <= c.number ? "is within" : "exceeds", c.number);
      return usd >= 0 && usd <= c.number;
    }
    case ConditionKind::latency_budget_exceeded: {
      double est = local_latency_.estimate_ms(f.prompt_tokens, output_tokens(f, assumed_max_tokens_));
      return latency_holds(c, f, est, why);
    }
  }
  return false;
}

bool Policy::rule_matches(const Rule& rule, const RequestFacts& f, const BudgetFn& budget_ok,
                          std::vector<ConditionTrace>* trace) const {
  bool all = true;
  for (const Condition& c : rule.when) {
    if (!trace) {
      if (!condition_holds(c, rule, f, budget_ok, nullptr)) return false;
      continue;
    }
    ConditionTrace t;
    t.key = detail::condition_key(c.kind);
    t.held = condition_holds(c, rule, f, budget_ok, &t.why);
    all = all && t.held;
    trace->push_back(std::move(t));
  }
  return all;
}

}  // namespace lm::router
