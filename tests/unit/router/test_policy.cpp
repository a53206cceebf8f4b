// Policy evaluation: every condition, first-match order, the invariants on hand-picked cases,
// reasons, explain, and the default policy.
#include <gtest/gtest.h>

#include "router/policy.h"

namespace lm::router {
namespace {

using nlohmann::json;

PolicyContext ctx() {
  PolicyContext c;
  c.providers = {{"openai", {"gpt-5.5", "gpt-5.4-mini"}}, {"claude", {}}};
  return c;
}

Policy parse(const char* text) {
  auto r = Policy::parse(json::parse(text), ctx());
  EXPECT_TRUE(r.ok()) << r.error().message();
  return std::move(r).value();
}

RequestFacts facts(const std::string& model = "qwen3") {
  RequestFacts f;
  f.model = model;
  f.local_models = {"qwen3", "llama3"};
  f.upstream_models = {"openai/gpt-5.5", "openai/gpt-5.4-mini", "claude/claude-sonnet-4-6"};
  f.local_n_ctx = 4096;
  return f;
}

// A policy whose single conditional rule sends matching requests to openai/gpt-5.5.
Policy one_rule(const std::string& when) {
  std::string text = R"({"rules": [{"name": "up", "when": )" + when +
                     R"(, "route": {"provider": "openai", "model": "gpt-5.5"}}]})";
  return parse(text.c_str());
}

bool goes_up(const Policy& p, const RequestFacts& f, const BudgetFn& b = {}) {
  return p.decide(f, b).route == Route::upstream;
}

TEST(Policy, DetectedAnyKindAndMinCount) {
  // Tested through a refusing rule, so the detections invariant does not interfere.
  Policy r = parse(R"({"rules": [{"name": "many", "when": {"detected": {"kinds": ["email", "phone"], "min_count": 2}},
                                  "route": "refuse"}]})");
  RequestFacts f = facts();
  EXPECT_EQ(r.decide(f).route, Route::local);  // no detection: no match -> local default
  f.detections = {{"email", 1}};
  EXPECT_EQ(r.decide(f).route, Route::local);  // 1 < 2
  f.detections = {{"email", 1}, {"phone", 1}};
  Decision d = r.decide(f);
  EXPECT_EQ(d.route, Route::refuse);
  EXPECT_EQ(d.rule, "many");
  f.detections = {{"card", 5}};
  EXPECT_NE(r.decide(f).route, Route::refuse);  // other kinds do not count
  Policy any = parse(R"({"rules": [{"name": "a", "when": {"detected": "any"}, "route": "refuse"}]})");
  EXPECT_EQ(any.decide(f).route, Route::refuse);
  f.detections = {{"card", 0}};  // zero counts are no detection
  EXPECT_EQ(any.decide(f).route, Route::local);
}

TEST(Policy, CustomAndKeywordFamilies) {
  Policy p = parse(R"({"rules": [{"name": "c", "when": {"detected": ["custom"]}, "route": "refuse"},
                                 {"name": "k", "when": {"detected": "keyword:projects"}, "route": "refuse", "status": 451}]})");
  RequestFacts f = facts();
  f.detections = {{"custom:employee_id", 1}};
  EXPECT_EQ(p.decide(f).rule, "c");
  f.detections = {{"keyword:projects", 1}};
  Decision d = p.decide(f);
  EXPECT_EQ(d.rule, "k");
  EXPECT_EQ(d.http_status, 451);
  f.detections = {{"keyword:other", 1}};
  EXPECT_EQ(p.decide(f).rule, "");
}

TEST(Policy, NotDetected) {
  Policy p = one_rule(R"({"not_detected": "any"})");
  RequestFacts f = facts("gpt-5.5");
  EXPECT_TRUE(goes_up(p, f));
  f.detections = {{"ip", 1}};
  EXPECT_FALSE(goes_up(p, f));
  Policy q = parse(R"({"rules": [{"name": "x", "when": {"not_detected": ["card"]}, "route": "refuse"}]})");
  EXPECT_EQ(q.decide(f).route, Route::refuse);  // ip is not card
  f.detections = {{"card", 1}};
  EXPECT_EQ(q.decide(f).route, Route::local);
}

TEST(Policy, ModelNamesGlobsAndSets) {
  Policy p = one_rule(R"({"model": ["frontier", "gpt-*", "o?"]})");
  EXPECT_TRUE(goes_up(p, facts("frontier")));
  EXPECT_TRUE(goes_up(p, facts("Frontier")));  // case-insensitive
  EXPECT_TRUE(goes_up(p, facts("gpt-5.5")));
  EXPECT_TRUE(goes_up(p, facts("o3")));
  EXPECT_FALSE(goes_up(p, facts("o33")));
  EXPECT_FALSE(goes_up(p, facts("qwen3")));
  EXPECT_FALSE(goes_up(p, facts("")));
  Policy local = parse(R"({"rules": [{"name": "l", "when": {"model": "@local"}, "route": "refuse"}]})");
  EXPECT_EQ(local.decide(facts("llama3")).route, Route::refuse);
  EXPECT_EQ(local.decide(facts("gpt-5.5")).route, Route::local);
  Policy up = parse(R"({"rules": [{"name": "u", "when": {"model": "@upstream"}, "route": "refuse"}]})");
  EXPECT_EQ(up.decide(facts("claude-sonnet-4-6")).route, Route::refuse);
  EXPECT_EQ(up.decide(facts("openai/gpt-5.5")).route, Route::refuse);
  EXPECT_EQ(up.decide(facts("qwen3")).route, Route::local);
}

TEST(Policy, HeaderExactGlobListAndAbsent) {
  Policy p = one_rule(R"({"header": {"X-Tenant": ["acme", "beta-*"], "x-openwebui-user-role": "admin"}})");
  RequestFacts f = facts("gpt-5.5");
  EXPECT_FALSE(goes_up(p, f));  // headers absent
  f.headers = {{"x-tenant", "acme"}, {"x-openwebui-user-role", "admin"}};
  EXPECT_TRUE(goes_up(p, f));
  f.headers["x-tenant"] = "beta-eu";
  EXPECT_TRUE(goes_up(p, f));
  f.headers["x-openwebui-user-role"] = "user";  // both must hold
  EXPECT_FALSE(goes_up(p, f));
  Policy absent = one_rule(R"({"header": {"x-tenant": null}})");
  EXPECT_FALSE(goes_up(absent, f));
  f.headers.erase("x-tenant");
  EXPECT_TRUE(goes_up(absent, f));
}

TEST(Policy, HeaderValueNeverInReason) {
  Policy p = one_rule(R"({"header": {"x-openwebui-user-email": "*@corp.example"}})");
  RequestFacts f = facts("gpt-5.5");
  f.headers = {{"x-openwebui-user-email", "jane.doe@corp.example"}};
  Decision d = p.decide(f);
  EXPECT_EQ(d.route, Route::upstream);
  EXPECT_EQ(d.reason.find("jane.doe"), std::string::npos) << d.reason;
  EXPECT_EQ(p.explain(f).to_text().find("jane.doe"), std::string::npos);
}

TEST(Policy, KeyNames) {
  Policy p = one_rule(R"({"key": ["team-a", "svc-*"]})");
  RequestFacts f = facts("gpt-5.5");
  EXPECT_FALSE(goes_up(p, f));
  f.key = "team-a";
  EXPECT_TRUE(goes_up(p, f));
  f.key = "svc-batch";
  EXPECT_TRUE(goes_up(p, f));
  f.key = "team-b";
  EXPECT_FALSE(goes_up(p, f));
  Policy none = one_rule(R"({"key": ""})");  // requests without a key
  f.key = "";
  EXPECT_TRUE(goes_up(none, f));
}

TEST(Policy, PromptTokensOverLocalCtx) {
  Policy p = one_rule(R"({"prompt_tokens_over_local_ctx": true})");
  RequestFacts f = facts("gpt-5.5");
  f.prompt_tokens = 4000;
  f.max_tokens = 96;  // 4096: fits exactly
  EXPECT_FALSE(goes_up(p, f));
  f.max_tokens = 97;
  EXPECT_TRUE(goes_up(p, f));
  f.local_n_ctx = 0;  // unknown context never counts as too long
  EXPECT_FALSE(goes_up(p, f));
  Policy fits = one_rule(R"({"prompt_tokens_over_local_ctx": false})");
  EXPECT_TRUE(goes_up(fits, f));
}

TEST(Policy, PromptTokensOver) {
  Policy p = one_rule(R"({"prompt_tokens_over": 1000})");
  RequestFacts f = facts("gpt-5.5");
  f.prompt_tokens = 1000;
  EXPECT_FALSE(goes_up(p, f));
  f.prompt_tokens = 1001;
  EXPECT_TRUE(goes_up(p, f));
}

TEST(Policy, LocalUnavailable) {
  Policy p = one_rule(R"({"local_unavailable": true})");
  RequestFacts f = facts("gpt-5.5");
  EXPECT_FALSE(goes_up(p, f));
  f.local_available = false;
  EXPECT_TRUE(goes_up(p, f));
}

TEST(Policy, BudgetExceededAsksForTheRulesTarget) {
  Policy p = parse(R"({"rules": [
      {"name": "over", "when": {"budget_exceeded": true}, "route": "refuse", "status": 429},
      {"name": "up", "when": {"budget_exceeded": false, "model": "frontier"}, "route": {"provider": "openai", "model": "gpt-5.5"}}]})");
  RequestFacts f = facts("frontier");
  f.key = "team-a";
  f.prompt_tokens = 77;
  std::vector<std::string> asked;
  bool ok = true;
  BudgetFn budget = [&](const std::string& key, const Target& t, int64_t prompt) {
    asked.push_back(key + " " + t.describe() + " " + std::to_string(prompt));
    return ok;
  };
  EXPECT_EQ(p.decide(f, budget).route, Route::upstream);
  EXPECT_NE(std::find(asked.begin(), asked.end(), "team-a openai/gpt-5.5 77"), asked.end());
  ok = false;
  Decision d = p.decide(f, budget);
  EXPECT_EQ(d.route, Route::refuse);
  EXPECT_EQ(d.http_status, 429);
  EXPECT_EQ(d.rule, "over");
  EXPECT_TRUE(goes_up(p, f));  // no budget function: no budgets
}

TEST(Policy, BudgetExceededForANamedUpstream) {
  Policy p = parse(R"({"rules": [
      {"name": "spent", "when": {"budget_exceeded": {"provider": "openai", "model": "gpt-5.5"}}, "route": "refuse",
       "status": 429, "message": "spent"},
      {"name": "up", "route": {"provider": "claude", "model": "claude-sonnet-4-6"}}]})");
  RequestFacts f = facts("frontier");
  f.key = "team-a";
  std::vector<std::string> asked;
  BudgetFn openai_spent = [&](const std::string&, const Target& t, int64_t) {
    asked.push_back(t.describe());
    return t.provider != "openai";
  };
  Decision d = p.decide(f, openai_spent);
  EXPECT_EQ(d.rule, "spent");
  EXPECT_EQ(asked.front(), "openai/gpt-5.5");  // the named target, not the refusing rule's
  BudgetFn all_ok = [](const std::string&, const Target&, int64_t) { return true; };
  EXPECT_EQ(p.decide(f, all_ok).rule, "up");
}

TEST(Policy, UpstreamTargetOverBudgetFallsBackOrRefuses) {
  Policy p = parse(R"({"rules": [{"name": "up", "when": {"model": "frontier"},
      "route": {"provider": "openai", "model": "gpt-5.5"}, "fallback": [{"provider": "claude", "model": "claude-sonnet-4-6"}]}]})");
  RequestFacts f = facts("frontier");
  BudgetFn no_openai = [](const std::string&, const Target& t, int64_t) { return t.provider != "openai"; };
  Decision d = p.decide(f, no_openai);
  EXPECT_EQ(d.route, Route::upstream);
  EXPECT_EQ(d.target.describe(), "claude/claude-sonnet-4-6");
  EXPECT_TRUE(d.fallbacks.empty());
  BudgetFn none = [](const std::string&, const Target&, int64_t) { return false; };
  d = p.decide(f, none);
  EXPECT_EQ(d.route, Route::refuse);
  EXPECT_EQ(d.http_status, 429);
}

TEST(Policy, MaxCostUsdPricesTheTarget) {
  // gpt-5.5: 5 USD/M in, 30 USD/M out (pricing_defaults.cpp).
  Policy p = one_rule(R"({"max_cost_usd": 0.05})");
  RequestFacts f = facts("frontier");
  f.prompt_tokens = 4000;  // 0.02
  f.max_tokens = 1000;     // 0.03 -> 0.05: within
  EXPECT_TRUE(goes_up(p, f));
  EXPECT_NEAR(p.estimate_cost_usd(f, Target{"openai", "gpt-5.5"}), 0.05, 1e-12);
  f.max_tokens = 1001;
  EXPECT_FALSE(goes_up(p, f));
  f.max_tokens = 0;  // assumed_max_tokens (1024) -> 0.02 + 0.03072
  EXPECT_FALSE(goes_up(p, f));
  Policy unknown = parse(R"({"rules": [{"name": "u", "when": {"max_cost_usd": 100}, "route": {"provider": "claude", "model": "no-such"}}]})");
  EXPECT_FALSE(goes_up(unknown, f));  // no price known: the guard does not hold
  EXPECT_LT(unknown.estimate_cost_usd(f, Target{"claude", "no-such"}), 0);
}

TEST(Policy, LatencyBudgetFromHeader) {
  Policy p = one_rule(R"({"latency_budget_exceeded": true})");
  RequestFacts f = facts("frontier");
  f.prompt_tokens = 1000;
  f.max_tokens = 100;  // default estimate: 200 + 0.5*1000 + 25*100 = 3200 ms
  EXPECT_FALSE(goes_up(p, f));  // no header
  f.headers["x-localmax-latency-budget-ms"] = "3200";
  EXPECT_FALSE(goes_up(p, f));
  f.headers["x-localmax-latency-budget-ms"] = "3199";
  EXPECT_TRUE(goes_up(p, f));
  f.headers["x-localmax-latency-budget-ms"] = "fast";
  EXPECT_FALSE(goes_up(p, f));
  Policy tuned = parse(R"({"local_latency": {"base_ms": 0, "per_prompt_token_ms": 0, "per_output_token_ms": 1},
      "rules": [{"name": "up", "when": {"latency_budget_exceeded": true}, "route": {"provider": "openai", "model": "gpt-5.5"}}]})");
  f.headers["x-localmax-latency-budget-ms"] = "99.5";
  EXPECT_TRUE(goes_up(tuned, f));
  f.headers["x-localmax-latency-budget-ms"] = "100";
  EXPECT_FALSE(goes_up(tuned, f));
}

TEST(Policy, FirstMatchWins) {
  Policy p = parse(R"({"rules": [
      {"name": "a", "when": {"model": "gpt-*"}, "route": "refuse", "message": "A"},
      {"name": "b", "when": {"model": "gpt-5.5"}, "route": {"provider": "openai", "model": "gpt-5.5"}},
      {"name": "c", "route": {"local": "llama3"}}]})");
  Decision d = p.decide(facts("gpt-5.5"));
  EXPECT_EQ(d.rule, "a");
  EXPECT_EQ(d.message, "A");
  d = p.decide(facts("qwen3"));
  EXPECT_EQ(d.rule, "c");
  EXPECT_EQ(d.route, Route::local);
  EXPECT_EQ(d.target.describe(), "local:llama3");
  Explanation e = p.explain(facts("gpt-5.5"));
  ASSERT_EQ(e.rules.size(), 3u);
  EXPECT_TRUE(e.rules[0].selected);
  EXPECT_TRUE(e.rules[1].matched);
  EXPECT_FALSE(e.rules[1].selected);
  EXPECT_TRUE(e.rules[2].matched);
}

TEST(Policy, UpstreamModelResolution) {
  Policy p = parse(R"({"rules": [{"name": "up", "when": {"model": "*"}, "route": {"provider": "openai"}}]})");
  EXPECT_EQ(p.decide(facts("gpt-5.4-mini")).target.describe(), "openai/gpt-5.4-mini");
  EXPECT_EQ(p.decide(facts("frontier")).target.describe(), "openai/gpt-5.5");  // the provider's first
  Decision d = parse(R"({"rules": [{"name": "l", "route": "local"}]})").decide(facts("gpt-5.5"));
  EXPECT_EQ(d.target.describe(), "local");  // not a local model: the server's default
}

TEST(Policy, DetectionsLeaveOnlyRedactedAndAllowed) {
  const char* base = R"({"rules": [{"name": "up", "when": {"model": "frontier"}, "route": {"provider": "openai", "model": "gpt-5.5"}%s}]})";
  auto with = [&](const char* extra) {
    char buf[512];
    snprintf(buf, sizeof buf, base, extra);
    return parse(buf);
  };
  RequestFacts f = facts("frontier");
  f.detections = {{"email", 2}};
  Decision d = with("").decide(f);
  EXPECT_EQ(d.route, Route::local);
  EXPECT_TRUE(d.must_stay_local);
  EXPECT_NE(d.reason.find("email x2"), std::string::npos) << d.reason;
  EXPECT_EQ(with(R"(, "redact": true)").decide(f).route, Route::local);  // not in allow_detected
  d = with(R"(, "redact": true, "allow_detected": ["email", "phone"])").decide(f);
  EXPECT_EQ(d.route, Route::upstream);
  EXPECT_TRUE(d.redact);
  f.detections["card"] = 1;  // one kind not allowed keeps the whole request local
  EXPECT_EQ(with(R"(, "redact": true, "allow_detected": ["email", "phone"])").decide(f).route, Route::local);
  f.local_available = false;  // ... and refuses when local is down
  d = with(R"(, "redact": true, "allow_detected": ["email"])").decide(f);
  EXPECT_EQ(d.route, Route::refuse);
  EXPECT_EQ(d.http_status, 503);
}

TEST(Policy, MustStayLocalFailsClosed) {
  Policy p = parse(R"({"rules": [{"name": "hr", "when": {"header": {"x-tenant": "hr"}}, "route": {"local": "qwen3"},
      "must_stay_local": true, "fallback": [{"provider": "openai", "model": "gpt-5.5"}, {"local": "llama3"}]}]})");
  RequestFacts f = facts("qwen3");
  f.headers["x-tenant"] = "hr";
  Decision d = p.decide(f);
  EXPECT_EQ(d.route, Route::local);
  EXPECT_TRUE(d.must_stay_local);
  ASSERT_EQ(d.fallbacks.size(), 1u);  // the upstream fallback is dropped
  EXPECT_EQ(d.fallbacks[0].describe(), "local:llama3");
  f.local_models = {"llama3"};  // qwen3 gone: the local fallback takes over
  EXPECT_EQ(p.decide(f).target.describe(), "local:llama3");
  f.local_available = false;
  d = p.decide(f);
  EXPECT_EQ(d.route, Route::refuse);
  EXPECT_EQ(d.http_status, 503);
  EXPECT_NE(d.reason.find("rule 'hr'"), std::string::npos);
  EXPECT_NE(d.reason.find("fail closed"), std::string::npos) << d.reason;
}

TEST(Policy, LocalRuleFallsBackUpstreamWhenAllowed) {
  Policy p = parse(R"({"rules": [{"name": "l", "route": "local", "fallback": [{"provider": "openai", "model": "gpt-5.5"}]}]})");
  RequestFacts f = facts("qwen3");
  Decision d = p.decide(f);
  EXPECT_EQ(d.route, Route::local);
  ASSERT_EQ(d.fallbacks.size(), 1u);
  f.local_available = false;
  d = p.decide(f);
  EXPECT_EQ(d.route, Route::upstream);
  EXPECT_NE(d.reason.find("unavailable"), std::string::npos) << d.reason;
  f.detections = {{"ssn", 1}};  // a sensitive request never takes that way out
  d = p.decide(f);
  EXPECT_EQ(d.route, Route::refuse);
  EXPECT_EQ(d.http_status, 503);
}

TEST(Policy, NoMatchIsLocalOrRefusal) {
  Policy p = parse(R"({"rules": [{"name": "up", "when": {"model": "frontier"}, "route": {"provider": "openai", "model": "gpt-5.5"}}]})");
  RequestFacts f = facts("qwen3");
  Decision d = p.decide(f);
  EXPECT_EQ(d.route, Route::local);
  EXPECT_EQ(d.rule, "");
  EXPECT_TRUE(d.must_stay_local);
  EXPECT_EQ(d.target.describe(), "local:qwen3");
  f.local_available = false;
  d = p.decide(f);
  EXPECT_EQ(d.route, Route::refuse);
  EXPECT_EQ(d.http_status, 503);
  Policy strict = parse(R"({"default": "refuse", "rules": []})");
  f.local_available = true;
  d = strict.decide(f);
  EXPECT_EQ(d.route, Route::refuse);
  EXPECT_EQ(d.http_status, 403);
}

TEST(Policy, ReasonNamesRuleAndKindsOnly) {
  Policy p = parse(R"({"rules": [{"name": "secrets-stay-local", "when": {"detected": ["private_key", "secret"]},
                                  "route": "local", "must_stay_local": true}]})");
  RequestFacts f = facts();
  f.detections = {{"private_key", 1}};
  Decision d = p.decide(f);
  EXPECT_EQ(d.reason, "rule 'secrets-stay-local': detected private_key x1; routed to local:qwen3");
}

TEST(Policy, DefaultPolicy) {
  Policy p = Policy::default_policy();
  RequestFacts f = facts("qwen3");
  Decision d = p.decide(f);
  EXPECT_EQ(d.route, Route::local);
  EXPECT_EQ(d.rule, "default-local");
  d = p.decide(facts("frontier"));
  EXPECT_EQ(d.route, Route::refuse);
  EXPECT_EQ(d.rule, "frontier-needs-upstream");
  EXPECT_NE(d.message.find("providers"), std::string::npos);
  EXPECT_NE(d.message.find("docs/router.md"), std::string::npos);
  f = facts("frontier");
  f.detections = {{"email", 1}};
  d = p.decide(f);
  EXPECT_EQ(d.route, Route::local);
  EXPECT_EQ(d.rule, "sensitive-stays-local");
  EXPECT_TRUE(d.must_stay_local);
  f.local_available = false;
  EXPECT_EQ(p.decide(f).http_status, 503);
  EXPECT_EQ(p.decide(facts("gpt-5.5")).route, Route::local);  // nothing ever leaves by default
}

TEST(Policy, ExplainListsEveryRuleAndWhy) {
  Policy p = Policy::default_policy();
  RequestFacts f = facts("frontier");
  Explanation e = p.explain(f);
  ASSERT_EQ(e.rules.size(), 3u);
  EXPECT_FALSE(e.rules[0].matched);
  ASSERT_EQ(e.rules[0].conditions.size(), 1u);
  EXPECT_EQ(e.rules[0].conditions[0].key, "detected");
  EXPECT_EQ(e.rules[0].conditions[0].why, "no detection of any");
  EXPECT_TRUE(e.rules[1].selected);
  EXPECT_EQ(e.rules[1].conditions[0].why, "model 'frontier' matches frontier");
  EXPECT_TRUE(e.rules[2].matched);
  EXPECT_FALSE(e.rules[2].selected);
  EXPECT_EQ(e.decision.route, Route::refuse);
  std::string text = e.to_text();
  EXPECT_NE(text.find("rule 'frontier-needs-upstream': MATCHED (selected)"), std::string::npos) << text;
  json j = e.to_json();
  EXPECT_EQ(j["decision"]["route"], "refuse");
  EXPECT_EQ(j["rules"][1]["selected"], true);
}

TEST(Policy, DetectionCountsFromSpans) {
  auto det = detect::Detector::create([] {
    detect::DetectorConfig c;
    c.patterns.push_back({"employee_id", "EMP-\\d{6}", false});
    return c;
  }());
  ASSERT_TRUE(det.ok()) << det.error().message();
  auto counts = detection_counts(det->scan("mail a.b@example.com or c.d@example.org, badge EMP-123456"));
  EXPECT_EQ(counts["email"], 2);
  EXPECT_EQ(counts["custom:employee_id"], 1);
  EXPECT_EQ(counts.size(), 2u);
}

}  // namespace
}  // namespace lm::router
