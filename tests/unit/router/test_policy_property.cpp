// Property tests of the policy's safety invariants over seeded random policies and requests:
// whatever the rules say (including combinations parse() would reject), decide() never sends a
// request with detections upstream unless its rule redacts and allows every detected kind, never
// lets a must-stay-local request leave, never routes upstream without a rule, and agrees with
// explain() about which rule fired.
#include <gtest/gtest.h>

#include <random>

#include "router/policy.h"

namespace lm::router {
namespace {

using nlohmann::json;
using Rng = std::mt19937_64;

const char* const kKinds[] = {"email", "phone", "card", "iban", "ssn", "nino", "secret",
                              "private_key", "ip", "custom:emp", "keyword:proj"};
const char* const kModels[] = {"frontier", "gpt-5.5", "gpt-5.4-mini", "qwen3", "llama3", "", "o3", "claude-sonnet-4-6"};
const char* const kSensitiveMarker = "SENSITIVE";

template <typename T, size_t N>
const T& pick(Rng& rng, const T (&arr)[N]) {
  return arr[rng() % N];
}
bool coin(Rng& rng, int percent) { return static_cast<int>(rng() % 100) < percent; }

PolicyContext context() {
  PolicyContext c;
  c.providers = {{"openai", {"gpt-5.5", "gpt-5.4-mini"}}, {"claude", {}}};
  return c;
}

json random_kinds(Rng& rng, bool allow_any) {
  json a = json::array();
  int n = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < n; ++i) {
    if (allow_any && coin(rng, 15)) a.push_back("any");
    else if (coin(rng, 10)) a.push_back(coin(rng, 50) ? "custom" : "keyword");
    else a.push_back(pick(rng, kKinds));
  }
  return a;
}

json random_target(Rng& rng, bool allow_refuse) {
  switch (rng() % (allow_refuse ? 6 : 5)) {
    case 0: return "local";
    case 1: return {{"local", coin(rng, 50) ? "qwen3" : "llama3"}};
    case 2: return {{"provider", "openai"}, {"model", coin(rng, 50) ? "gpt-5.5" : "gpt-5.4-mini"}};
    case 3: return {{"provider", "openai"}};
    case 4: return {{"provider", "claude"}, {"model", "claude-sonnet-4-6"}};
    default: return "refuse";
  }
}

json random_when(Rng& rng) {
  json w = json::object();
  if (coin(rng, 30)) w["detected"] = coin(rng, 50) ? random_kinds(rng, true) : json{{"kinds", random_kinds(rng, true)}, {"min_count", 1 + rng() % 3}};
  if (coin(rng, 20)) w["not_detected"] = random_kinds(rng, true);
  if (coin(rng, 40)) w["model"] = coin(rng, 50) ? json(pick(rng, kModels)) : json{"gpt-*", "frontier", "@local"};
  if (w.contains("model") && w["model"] == "") w["model"] = "*";
  if (coin(rng, 25)) w["header"] = {{"x-tenant", coin(rng, 50) ? json("acme") : json{"beta*", "hr"}}};
  if (coin(rng, 10)) w["header"] = {{"x-tenant", nullptr}};
  if (coin(rng, 20)) w["key"] = coin(rng, 50) ? json("team-*") : json{"", "svc-x"};
  if (coin(rng, 15)) w["prompt_tokens_over_local_ctx"] = coin(rng, 70);
  if (coin(rng, 10)) w["prompt_tokens_over"] = rng() % 5000;
  if (coin(rng, 15)) w["local_unavailable"] = coin(rng, 70);
  if (coin(rng, 15)) w["budget_exceeded"] = coin(rng, 50);
  if (coin(rng, 5)) w["budget_exceeded"] = {{"provider", "openai"}, {"model", "gpt-5.5"}};
  if (coin(rng, 10)) w["max_cost_usd"] = static_cast<double>(rng() % 100) / 100.0;
  if (coin(rng, 10)) w["latency_budget_exceeded"] = coin(rng, 70);
  return w;
}

// A valid policy (parse() must accept it).
json random_policy(Rng& rng) {
  json rules = json::array();
  int n = static_cast<int>(rng() % 7);
  for (int i = 0; i < n; ++i) {
    json r = {{"name", "r" + std::to_string(i)}, {"route", random_target(rng, true)}};
    if (coin(rng, 85)) r["when"] = random_when(rng);
    bool refuse = r["route"] == "refuse";
    bool upstream = r["route"].is_object() && r["route"].contains("provider");
    if (!refuse && coin(rng, 50)) {
      json fb = json::array();
      for (int k = 0, m = 1 + static_cast<int>(rng() % 3); k < m; ++k) fb.push_back(random_target(rng, false));
      r["fallback"] = fb;
    }
    if (coin(rng, 40)) r["redact"] = true;
    if (r.value("redact", false) && coin(rng, 70)) r["allow_detected"] = random_kinds(rng, false);
    if (!upstream && coin(rng, 30)) r["must_stay_local"] = true;
    if (refuse && coin(rng, 50)) r["status"] = 400 + rng() % 200;
    rules.push_back(r);
  }
  json p = {{"rules", rules}};
  if (coin(rng, 15)) p["default"] = "refuse";
  return p;
}

// parse() rejects some combinations; decide() must be safe even with them.
void make_careless(Rng& rng, std::vector<Rule>& rules) {
  for (Rule& r : rules) {
    if (coin(rng, 20)) r.must_stay_local = true;  // even on upstream routes
    if (coin(rng, 20)) r.allow_detected = {pick(rng, kKinds), "any"};  // without redact, with "any"
    if (coin(rng, 10)) r.redact = !r.redact;
  }
}

RequestFacts random_facts(Rng& rng) {
  RequestFacts f;
  f.model = pick(rng, kModels);
  if (coin(rng, 50)) f.headers["x-tenant"] = coin(rng, 50) ? "acme" : (coin(rng, 50) ? "beta-eu" : "hr");
  if (coin(rng, 50)) f.headers["x-openwebui-user-email"] = std::string(kSensitiveMarker) + "-" + std::to_string(rng() % 100) + "@corp.example";
  if (coin(rng, 30)) f.headers["x-localmax-latency-budget-ms"] = std::to_string(rng() % 20000);
  const char* keys[] = {"", "team-a", "team-b", "svc-x"};
  f.key = pick(rng, keys);
  if (coin(rng, 60)) {
    for (int i = 0, n = 1 + static_cast<int>(rng() % 3); i < n; ++i) f.detections[pick(rng, kKinds)] = static_cast<int>(rng() % 4);
  }
  f.prompt_tokens = static_cast<int64_t>(rng() % 10000);
  f.max_tokens = static_cast<int64_t>(rng() % 3000);
  f.local_available = coin(rng, 75);
  const int64_t ctxs[] = {0, 2048, 8192};
  f.local_n_ctx = pick(rng, ctxs);
  if (coin(rng, 70)) f.local_models = {"qwen3"};
  if (coin(rng, 50)) f.local_models.push_back("llama3");
  f.upstream_models = {"openai/gpt-5.5", "openai/gpt-5.4-mini", "claude/claude-sonnet-4-6"};
  return f;
}

// Independent re-statement of "may this kind leave under allow_detected" (no "any").
bool allowed_kind(const std::vector<std::string>& allow, const std::string& kind) {
  for (const std::string& a : allow) {
    if (a == kind) return true;
    if ((a == "custom" || a == "keyword") && kind.rfind(a + ":", 0) == 0) return true;
  }
  return false;
}

const Rule* find_rule(const Policy& p, const std::string& name) {
  for (const Rule& r : p.rules()) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

bool local_serves(const RequestFacts& f, const Target& t) {
  if (!f.local_available) return false;
  if (t.model.empty() || f.local_models.empty()) return true;
  return std::find(f.local_models.begin(), f.local_models.end(), t.model) != f.local_models.end();
}

// Every invariant of policy.h, checked on one decision. Returns "" or what broke.
std::string check(const Policy& p, const RequestFacts& f, const Decision& d, const BudgetFn& budget) {
  bool sensitive = false;
  for (const auto& [k, n] : f.detections) sensitive = sensitive || n > 0;
  bool leaves = d.route == Route::upstream;
  for (const Target& t : d.fallbacks) leaves = leaves || !t.is_local();
  const Rule* rule = find_rule(p, d.rule);
  if (!d.rule.empty() && !rule) return "decision names an unknown rule";
  if (leaves && !rule) return "egress without a rule";
  if (leaves && d.must_stay_local) return "must-stay-local decision holds an upstream target";
  if (leaves && rule->must_stay_local) return "upstream under a must_stay_local rule";
  if (leaves && sensitive) {
    if (!rule->redact || !d.redact) return "detections leave unredacted";
    for (const auto& [k, n] : f.detections) {
      if (n > 0 && !allowed_kind(rule->allow_detected, k)) return "detected kind " + k + " leaves without allow_detected";
    }
  }
  if (sensitive && !leaves && !d.redact && d.route != Route::refuse && !d.must_stay_local) return "sensitive local decision not marked must-stay-local";
  if (d.route == Route::local && !local_serves(f, d.target)) return "local route while the local model is unavailable";
  for (const Target& t : d.fallbacks) {
    if (t.is_local() && !local_serves(f, t)) return "unavailable local fallback";
  }
  if (d.route == Route::upstream && budget && !budget(f.key, d.target, f.prompt_tokens)) return "upstream target over budget";
  if (d.route == Route::refuse && !d.fallbacks.empty()) return "refusal with fallbacks";
  if (d.route != Route::refuse && d.target.is_local() != (d.route == Route::local)) return "route and target disagree";
  if (!d.rule.empty() && d.reason.find("rule '" + d.rule + "'") != 0) return "reason does not start with the rule";
  if (d.reason.find(kSensitiveMarker) != std::string::npos) return "reason holds a header value";
  if (rule && (rule->must_stay_local || (sensitive && !leaves)) && !f.local_available && d.route != Route::refuse) {
    return "must-stay-local request not refused while local is down";
  }
  if (d.route == Route::refuse && d.must_stay_local) return "refusal flagged must-stay-local";
  return "";
}

BudgetFn random_budget(uint64_t seed) {
  return [seed](const std::string& key, const Target& t, int64_t) {
    return std::hash<std::string>{}(key + "|" + t.provider + "|" + std::to_string(seed)) % 4 != 0;
  };
}

void run_properties(uint64_t seed, bool careless, int n_policies, int n_facts, int* n_up, int* n_sensitive_up) {
  Rng rng(seed);
  for (int ip = 0; ip < n_policies; ++ip) {
    json pj = random_policy(rng);
    auto parsed = Policy::parse(pj, context());
    ASSERT_TRUE(parsed.ok()) << parsed.error().message() << "\n" << pj.dump();
    Policy policy = std::move(parsed).value();
    if (careless) {
      std::vector<Rule> rules = policy.rules();
      make_careless(rng, rules);
      policy = Policy(std::move(rules), policy.default_refuse());
    }
    BudgetFn budget = coin(rng, 50) ? random_budget(rng()) : BudgetFn{};
    for (int i = 0; i < n_facts; ++i) {
      RequestFacts f = random_facts(rng);
      Decision d = policy.decide(f, budget);
      std::string broken = check(policy, f, d, budget);
      ASSERT_EQ(broken, "") << "seed " << seed << " policy " << ip << " facts " << i << "\n"
                            << pj.dump() << "\n" << policy.explain(f, budget).to_text();
      Explanation e = policy.explain(f, budget);
      std::string selected;
      for (const RuleTrace& t : e.rules) {
        if (t.selected) selected = t.name;
      }
      ASSERT_EQ(selected, d.rule) << "explain and decide disagree on the first match";
      bool sensitive = false;
      for (const auto& [k, n] : f.detections) sensitive = sensitive || n > 0;
      *n_up += d.route == Route::upstream;
      *n_sensitive_up += d.route == Route::upstream && sensitive;
    }
  }
}

TEST(PolicyProperty, ValidPoliciesKeepTheInvariants) {
  int up = 0, sensitive_up = 0;
  run_properties(20261122, false, 2000, 25, &up, &sensitive_up);  // 50,000 decisions
  // The generator must exercise the interesting cases, not only refusals.
  EXPECT_GT(up, 2000);
  EXPECT_GT(sensitive_up, 50);
}

TEST(PolicyProperty, CarelessRulesKeepTheInvariants) {
  int up = 0, sensitive_up = 0;
  run_properties(7, true, 2000, 25, &up, &sensitive_up);
  EXPECT_GT(up, 1000);
}

TEST(PolicyProperty, DefaultPolicyNeverLeaves) {
  Policy p = Policy::default_policy();
  Rng rng(99);
  for (int i = 0; i < 20000; ++i) {
    RequestFacts f = random_facts(rng);
    Decision d = p.decide(f);
    ASSERT_NE(d.route, Route::upstream);
    for (const Target& t : d.fallbacks) ASSERT_TRUE(t.is_local());
    ASSERT_EQ(check(p, f, d, {}), "");
    bool sensitive = false;
    for (const auto& [k, n] : f.detections) sensitive = sensitive || n > 0;
    if (sensitive) {
      ASSERT_EQ(d.rule, "sensitive-stays-local");
      ASSERT_EQ(d.route, f.local_available ? Route::local : Route::refuse);
      if (!f.local_available) {
        ASSERT_EQ(d.http_status, 503);
      }
    }
  }
}

}  // namespace
}  // namespace lm::router
