// Policy::parse: every accepted form, and errors that name the JSON path of the bad value.
#include <gtest/gtest.h>

#include "router/policy.h"

namespace lm::router {
namespace {

using nlohmann::json;

PolicyContext ctx() {
  PolicyContext c;
  c.providers = {{"openai", {"gpt-5.5"}}, {"any-model", {}}};
  return c;
}

std::string error_of(const std::string& text, const PolicyContext& c = ctx()) {
  auto r = Policy::parse(json::parse(text), c);
  if (r.ok()) return "<ok>";
  return r.error().message();
}

struct Case {
  const char* json;
  const char* error;
};

TEST(PolicyParse, ErrorsNameTheJsonPath) {
  const Case cases[] = {
      {R"([])", "policy: expected an object, got array"},
      {R"({"rule": []})", "policy.rule: unknown member (known: rules, default, local_latency, assumed_max_tokens)"},
      {R"({"rules": {}})", "policy.rules: expected an array of rules, got object"},
      {R"({"rules": [{"name": "a", "route": "local"}, {"name": "b", "route": "local"},
          {"name": "c", "when": {"detected": ["email", "emial"]}, "route": "local"}]})",
       "policy.rules[2].when.detected[1]: unknown detector kind 'emial' (known: any, email, phone, card, iban, ssn, "
       "nino, secret, private_key, ip, custom, keyword, custom:NAME, keyword:NAME)"},
      {R"({"rules": [{"name": "a", "when": {"detected": "emial"}, "route": "local"}]})",
       "policy.rules[0].when.detected: unknown detector kind 'emial' (known: any, email, phone, card, iban, ssn, "
       "nino, secret, private_key, ip, custom, keyword, custom:NAME, keyword:NAME)"},
      {R"({"rules": [{"name": "a", "when": {"detected": {"kinds": ["ip"], "min_count": 0}}, "route": "local"}]})",
       "policy.rules[0].when.detected.min_count: 0 is out of range [1, 1000000000]"},
      {R"({"rules": [{"name": "a", "when": {"detected": {"kind": "ip"}}, "route": "local"}]})",
       "policy.rules[0].when.detected.kind: unknown member (expected \"kinds\" or \"min_count\")"},
      {R"({"rules": [{"name": "a", "when": {"detected": ["custom:"]}, "route": "local"}]})",
       "policy.rules[0].when.detected[0]: 'custom:' needs a name after the colon"},
      {R"({"rules": [{"name": "a", "when": {"modle": "x"}, "route": "local"}]})",
       "policy.rules[0].when.modle: unknown condition (known: detected, not_detected, model, header, key, "
       "prompt_tokens_over_local_ctx, prompt_tokens_over, local_unavailable, budget_exceeded, max_cost_usd, "
       "latency_budget_exceeded)"},
      {R"({"rules": [{"name": "a", "when": {"model": []}, "route": "local"}]})",
       "policy.rules[0].when.model: must not be an empty array"},
      {R"({"rules": [{"name": "a", "when": {"model": ["x", 3]}, "route": "local"}]})",
       "policy.rules[0].when.model[1]: expected a string, got number"},
      {R"({"rules": [{"name": "a", "when": {"header": {"x-tenant": 5}}, "route": "local"}]})",
       "policy.rules[0].when.header.x-tenant: expected a string or an array of strings, got number"},
      {R"({"rules": [{"name": "a", "when": {"header": {}}, "route": "local"}]})",
       "policy.rules[0].when.header: must name at least one header"},
      {R"({"rules": [{"name": "a", "when": {"local_unavailable": "yes"}, "route": "local"}]})",
       "policy.rules[0].when.local_unavailable: expected a boolean, got string"},
      {R"({"rules": [{"name": "a", "when": {"budget_exceeded": {"local": "q"}}, "route": "local"}]})",
       "policy.rules[0].when.budget_exceeded: expected a boolean or an upstream {\"provider\", \"model\"}"},
      {R"({"rules": [{"name": "a", "when": {"budget_exceeded": {"provider": "x"}}, "route": "local"}]})",
       "policy.rules[0].when.budget_exceeded.provider: unknown provider 'x' (configured: any-model, openai)"},
      {R"({"rules": [{"name": "a", "when": {"prompt_tokens_over": 1.5}, "route": "local"}]})",
       "policy.rules[0].when.prompt_tokens_over: expected an integer, got number"},
      {R"({"rules": [{"name": "a", "when": {"max_cost_usd": -1}, "route": "local"}]})",
       "policy.rules[0].when.max_cost_usd: -1 is out of range [0, 1000000000]"},
      {R"({"rules": [{"name": "a", "when": [], "route": "local"}]})",
       "policy.rules[0].when: expected an object of conditions, got array"},
      {R"({"rules": [{"route": "local"}]})", "policy.rules[0]: missing \"name\""},
      {R"({"rules": [{"name": "a"}]})", "policy.rules[0]: missing \"route\""},
      {R"({"rules": [{"name": "a", "route": "local"}, {"name": "a", "route": "refuse"}]})",
       "policy.rules[1].name: duplicate rule name 'a'"},
      {R"({"rules": [{"name": "a", "route": "cloud"}]})",
       "policy.rules[0].route: unknown route 'cloud' (expected \"local\", \"refuse\", {\"local\": MODEL} or "
       "{\"provider\": NAME, \"model\": MODEL})"},
      {R"({"rules": [{"name": "a", "route": {"provider": "opnai", "model": "gpt-5.5"}}]})",
       "policy.rules[0].route.provider: unknown provider 'opnai' (configured: any-model, openai)"},
      {R"({"rules": [{"name": "a", "route": {"provider": "openai", "model": "gpt5"}}]})",
       "policy.rules[0].route.model: provider 'openai' has no model 'gpt5' (its models: gpt-5.5)"},
      {R"({"rules": [{"name": "a", "route": {"model": "gpt-5.5"}}]})",
       "policy.rules[0].route: an upstream route needs \"provider\""},
      {R"({"rules": [{"name": "a", "route": {"local": "q", "model": "x"}}]})",
       "policy.rules[0].route: {\"local\": MODEL} takes no other member"},
      {R"({"rules": [{"name": "a", "route": "local", "fallback": ["refuse"]}]})",
       "policy.rules[0].fallback[0]: \"refuse\" is not a fallback (a refusal is what happens when none is left)"},
      {R"({"rules": [{"name": "a", "route": "local", "fallback": [{"provider": "nope"}]}]})",
       "policy.rules[0].fallback[0].provider: unknown provider 'nope' (configured: any-model, openai)"},
      {R"({"rules": [{"name": "a", "route": {"provider": "openai"}, "must_stay_local": true}]})",
       "policy.rules[0].must_stay_local: a must-stay-local rule cannot route upstream"},
      {R"({"rules": [{"name": "a", "route": {"provider": "openai"}, "allow_detected": ["email"]}]})",
       "policy.rules[0].allow_detected: needs \"redact\": true (detected spans only leave redacted)"},
      {R"({"rules": [{"name": "a", "route": {"provider": "openai"}, "redact": true, "allow_detected": ["any"]}]})",
       "policy.rules[0].allow_detected[0]: \"any\" is not allowed here: name each kind that may leave the machine"},
      {R"({"rules": [{"name": "a", "route": "local", "message": "x"}]})",
       "policy.rules[0]: \"status\" and \"message\" apply only to \"route\": \"refuse\""},
      {R"({"rules": [{"name": "a", "route": "refuse", "status": 200}]})",
       "policy.rules[0].status: 200 is out of range [400, 599]"},
      {R"({"rules": [{"name": "a", "route": "refuse", "fallback": ["local"]}]})",
       "policy.rules[0].fallback: a refusing rule has no fallbacks"},
      {R"({"rules": [{"name": "a", "route": "local", "redcat": true}]})",
       "policy.rules[0].redcat: unknown member (known: name, description, when, route, fallback, redact, "
       "allow_detected, must_stay_local, status, message)"},
      {R"({"default": {"provider": "openai"}})", "policy.default: expected a string, got object"},
      {R"({"default": "openai"})", "policy.default: 'openai': the default is \"local\" or \"refuse\" (egress needs a rule)"},
      {R"({"local_latency": {"base": 1}})",
       "policy.local_latency.base: unknown member (expected base_ms, per_prompt_token_ms, per_output_token_ms)"},
  };
  for (const Case& c : cases) EXPECT_EQ(error_of(c.json), c.error) << c.json;
}

TEST(PolicyParse, NoProvidersConfiguredMeansNoUpstream) {
  EXPECT_EQ(error_of(R"({"rules": [{"name": "a", "route": {"provider": "openai", "model": "gpt-5.5"}}]})", {}),
            "policy.rules[0].route.provider: unknown provider 'openai' (configured: none)");
}

TEST(PolicyParse, CustomNamesCheckedAgainstDetectors) {
  detect::DetectorConfig dc;
  dc.patterns.push_back({"employee_id", "EMP-\\d{6}", false});
  dc.keywords.push_back({"projects", {"falcon"}});
  PolicyContext c = ctx();
  c.detectors = &dc;
  const char* ok = R"({"rules": [{"name": "a", "when": {"detected": ["custom:employee_id", "keyword:projects", "custom"]}, "route": "local"}]})";
  EXPECT_EQ(error_of(ok, c), "<ok>");
  EXPECT_EQ(error_of(R"({"rules": [{"name": "a", "when": {"detected": ["custom:emp"]}, "route": "local"}]})", c),
            "policy.rules[0].when.detected[0]: no custom detector named 'emp' in \"detectors\"");
  EXPECT_EQ(error_of(R"({"rules": [{"name": "a", "when": {"not_detected": "keyword:x"}, "route": "local"}]})", c),
            "policy.rules[0].when.not_detected: no keyword detector named 'x' in \"detectors\"");
}

TEST(PolicyParse, FullRuleRoundTrip) {
  auto r = Policy::parse(json::parse(R"({
    "default": "refuse", "assumed_max_tokens": 2048,
    "rules": [{"name": "frontier", "description": "hosted for the hard ones",
      "when": {"model": ["frontier", "gpt-*"], "header": {"X-Tenant": "acme"}, "key": "team-*",
               "detected": {"kinds": ["email"], "min_count": 1}, "budget_exceeded": false, "max_cost_usd": 1.5},
      "route": {"provider": "openai", "model": "gpt-5.5"},
      "fallback": [{"provider": "any-model", "model": "whatever"}, {"local": "qwen3"}, "local"],
      "redact": true, "allow_detected": ["email", "custom"]},
     {"name": "no", "route": "refuse", "status": 451, "message": "not here"}]})"), ctx());
  ASSERT_TRUE(r.ok()) << r.error().message();
  const Policy& p = *r;
  EXPECT_TRUE(p.default_refuse());
  ASSERT_EQ(p.rules().size(), 2u);
  const Rule& a = p.rules()[0];
  EXPECT_EQ(a.name, "frontier");
  ASSERT_EQ(a.when.size(), 6u);  // model, header (one per header), key, detected, budget, cost
  bool saw_header = false;
  for (const Condition& c : a.when) {
    if (c.kind == ConditionKind::header) {
      saw_header = true;
      EXPECT_EQ(c.header, "x-tenant");  // lower-cased
    }
  }
  EXPECT_TRUE(saw_header);
  EXPECT_EQ(a.route, Route::upstream);
  EXPECT_EQ(a.target.describe(), "openai/gpt-5.5");
  ASSERT_EQ(a.fallbacks.size(), 3u);
  EXPECT_EQ(a.fallbacks[0].describe(), "any-model/whatever");
  EXPECT_EQ(a.fallbacks[1].describe(), "local:qwen3");
  EXPECT_EQ(a.fallbacks[2].describe(), "local");
  EXPECT_TRUE(a.redact);
  EXPECT_EQ(a.allow_detected, (std::vector<std::string>{"email", "custom"}));
  EXPECT_EQ(p.rules()[1].status, 451);
  EXPECT_EQ(p.rules()[1].message, "not here");
  EXPECT_EQ(error_of(R"({})"), "<ok>");  // no rules: everything local
}

}  // namespace
}  // namespace lm::router
