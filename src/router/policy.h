// Router policy: an ordered list of declarative rules that decides, per request, whether it runs
// on a local model, goes to a named upstream, or is refused (issue 5, item 2).
//
//   LM_TRY(auto policy, router::Policy::parse(cfg["policy"], ctx));  // errors name the JSON path
//   router::RequestFacts f;  f.model = "frontier";  f.detections = router::detection_counts(spans);
//   router::Decision d = policy.decide(f, budget_ok);   // d.route, d.target, d.reason, ...
//
// Evaluation: the first rule whose conditions all hold wins. decide() then enforces the safety
// invariants whatever the rules say (a misordered or careless rule list cannot break them):
//  - egress is deny-by-default: no matching rule means local (or a 503 refusal when local is down);
//  - a request with any detection goes upstream only if the rule has `redact: true` AND lists
//    every detected kind in `allow_detected`; otherwise it is kept local and must stay local;
//  - a must-stay-local request whose local model is unavailable is refused (503, fail closed);
//    upstream fallbacks are dropped from must-stay-local decisions.
// The full configuration reference is docs/router.md.
//
// Thread safety: a Policy is immutable after parse(); decide()/explain() may run concurrently.
// Cost: O(rules x conditions) short string matches per request; ~2 us of CPU for a six-rule
// policy (bench/bench_router.cpp, BM_decide_only).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "audit/cost.h"
#include "core/result.h"
#include "detect/detect.h"

namespace lm::router {

// What the router knows about one request when it decides. Never holds sensitive text.
struct RequestFacts {
  std::string model;                           // as requested ("frontier", "qwen3", "gpt-5", "")
  std::map<std::string, std::string> headers;  // lower-case names (x-openwebui-user-email, ...)
  std::string key;                             // API key NAME (never the secret), "" if none
  std::map<std::string, int> detections;       // kind name -> count ("custom:NAME", "keyword:NAME")
  int64_t prompt_tokens = 0, max_tokens = 0;   // prompt estimate; requested output limit (0: none)
  bool local_available = true;
  int64_t local_n_ctx = 0;                     // 0: unknown (never counts as "too long")
  std::vector<std::string> local_models;       // names the local side serves (empty: unknown)
  std::vector<std::string> upstream_models;    // "provider/model" pairs known from config
};

// Counts spans per kind name: built-in kinds by detect::kind_name, custom patterns as
// "custom:NAME" and keyword lists as "keyword:NAME" (the keys RequestFacts::detections uses).
std::map<std::string, int> detection_counts(const std::vector<detect::Span>& spans);

enum class Route { local, upstream, refuse };
const char* route_name(Route r);  // "local", "upstream", "refuse"

struct Target {
  std::string provider;  // "" = local
  std::string model;     // local: "" = the server's default model; upstream: the provider's model
  bool is_local() const { return provider.empty(); }
  std::string describe() const;  // "local:qwen3", "local", "openai/gpt-5"
  bool operator==(const Target&) const = default;
};

struct Decision {
  Route route = Route::refuse;
  std::string rule;               // the rule that fired ("" when none matched)
  Target target;                  // meaningful for local and upstream
  std::vector<Target> fallbacks;  // tried in order if the target fails (upstream errors)
  bool redact = false;            // replace detected spans before the request leaves
  bool must_stay_local = false;
  int http_status = 403;          // for refusals
  std::string message;            // for refusals: what the client is told
  std::string reason;             // one sentence naming the rule and why; never sensitive text
};
// {"route", "rule", "target", "fallbacks", "redact", "must_stay_local", "status", "message", "reason"}.
nlohmann::json decision_to_json(const Decision& d);

// budget_ok(key, target, prompt_tokens): may this key spend on `target`? (The router owns the
// BudgetLedger; the policy only asks.) An empty function means "no budgets".
using BudgetFn = std::function<bool(const std::string& key, const Target&, int64_t prompt_tokens)>;

// One condition of a rule's "when" (docs/router.md lists them). Plain data; evaluated by Policy.
enum class ConditionKind {
  detected, not_detected, model, header, key, prompt_tokens_over_local_ctx, prompt_tokens_over,
  local_unavailable, budget_exceeded, max_cost_usd, latency_budget_exceeded,
};
struct Condition {
  ConditionKind kind = ConditionKind::detected;
  std::vector<std::string> patterns;  // kinds ("any", "custom", "custom:x"), model/key/header globs
  std::string header;                 // header conditions: the lower-case header name
  bool header_absent = false;         // header: null -> holds when the header is missing
  int min_count = 1;                  // detected: total count of the listed kinds
  bool flag = true;                   // boolean conditions: the value that makes them hold
  double number = 0;                  // prompt_tokens_over, max_cost_usd
  Target target;                      // budget_exceeded: {"provider": ...} form; "" = the rule's target
};

// One parsed rule. Public so tests can build policies directly; parse() is the normal way in.
struct Rule {
  std::string name;
  std::vector<Condition> when;  // all must hold; empty = every request
  Route route = Route::local;
  Target target;                // for local (model may be "") and upstream routes
  std::vector<Target> fallbacks;
  bool redact = false;
  std::vector<std::string> allow_detected;  // kinds that may leave (redacted); "custom" = any custom:*
  bool must_stay_local = false;
  int status = 403;             // refusals
  std::string message;          // refusals
};

// What parse() checks names against. Providers: name -> its models (empty list: any model).
// An upstream target naming a provider not listed here is an error (deny-by-default).
struct PolicyContext {
  std::map<std::string, std::vector<std::string>> providers;
  const detect::DetectorConfig* detectors = nullptr;  // if set, custom:/keyword: names are checked
};

// The local latency estimate for `latency_budget_exceeded`: base + per-token costs.
struct LocalLatency {
  double base_ms = 200;
  double per_prompt_token_ms = 0.5;
  double per_output_token_ms = 25;
  double estimate_ms(int64_t prompt_tokens, int64_t output_tokens) const {
    return base_ms + per_prompt_token_ms * double(prompt_tokens) + per_output_token_ms * double(output_tokens);
  }
};

// One rule's evaluation, for `localmax route --explain`.
struct ConditionTrace {
  std::string key;  // "detected", "model", ...
  bool held = false;
  std::string why;  // "detected email x2", "model 'qwen3' is not one of frontier, gpt-*"
};
struct RuleTrace {
  std::string name;
  bool matched = false;   // every condition held
  bool selected = false;  // the first match: the rule decide() used
  std::vector<ConditionTrace> conditions;
};
struct Explanation {
  std::vector<RuleTrace> rules;
  Decision decision;
  std::string to_text() const;
  nlohmann::json to_json() const;
};

class Policy {
 public:
  // `policy_section` is the config's "policy" object: {"rules": [...], "default": "local"|"refuse",
  // "local_latency": {...}, "assumed_max_tokens": N}. Errors name the path ("policy.rules[2]...").
  static Result<Policy> parse(const nlohmann::json& policy_section, const PolicyContext& ctx = {});
  // Sensitive -> local (must stay); model "frontier" -> refused with how to configure an
  // upstream; everything else local. No provider is configured by default.
  static Policy default_policy();
  Policy(std::vector<Rule> rules, bool default_refuse = false);

  Decision decide(const RequestFacts& facts, const BudgetFn& budget_ok = {}) const;
  Explanation explain(const RequestFacts& facts, const BudgetFn& budget_ok = {}) const;

  // Prices used by `max_cost_usd` (default: audit::PricingTable::defaults()).
  void set_prices(audit::PricingTable prices) { prices_ = std::move(prices); }
  void set_local_latency(LocalLatency l) { local_latency_ = l; }
  void set_assumed_max_tokens(int64_t n) { assumed_max_tokens_ = n; }
  // Estimated USD of a request at `target` (0 for local); -1 when the model has no price.
  double estimate_cost_usd(const RequestFacts& facts, const Target& target) const;

  const std::vector<Rule>& rules() const { return rules_; }
  bool default_refuse() const { return default_refuse_; }

 private:
  // Evaluates every condition of `rule` when `trace` is given (explain), else stops at the first
  // that fails.
  bool rule_matches(const Rule& rule, const RequestFacts& facts, const BudgetFn& budget_ok,
                    std::vector<ConditionTrace>* trace) const;
  bool condition_holds(const Condition& c, const Rule& rule, const RequestFacts& facts,
                       const BudgetFn& budget_ok, std::string* why) const;
  Decision apply_rule(const Rule& rule, const RequestFacts& facts, const BudgetFn& budget_ok) const;
  Decision no_match(const RequestFacts& facts) const;

  std::vector<Rule> rules_;
  bool default_refuse_ = false;
  audit::PricingTable prices_ = audit::PricingTable::defaults();
  LocalLatency local_latency_{};
  int64_t assumed_max_tokens_ = 1024;
};

}  // namespace lm::router
