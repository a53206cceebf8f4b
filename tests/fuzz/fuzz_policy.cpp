// Fuzzes the router policy: arbitrary bytes as the "policy" section must give a Policy or a clean
// error (never a crash), and every Policy that parses must keep the egress invariants on a fixed
// set of requests (sensitive/clean, local up/down, every model the rules may name).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "router/policy.h"

namespace {

using lm::router::Decision;
using lm::router::Route;

void fail(const char* what, const std::string& reason) {
  std::fprintf(stderr, "fuzz_policy: %s (%s)\n", what, reason.c_str());
  std::abort();
}

void check(const lm::router::Policy& p, lm::router::RequestFacts f) {
  bool budget = f.prompt_tokens % 2 == 0;
  auto budget_ok = [budget](const std::string&, const lm::router::Target& t, int64_t) { return budget || t.is_local(); };
  Decision d = p.decide(f, budget_ok);
  bool leaves = d.route == Route::upstream;
  for (const auto& t : d.fallbacks) leaves = leaves || !t.is_local();
  bool sensitive = !f.detections.empty();
  if (leaves && d.must_stay_local) fail("must-stay-local decision holds an upstream", d.reason);
  if (leaves && sensitive && !d.redact) fail("detections leave unredacted", d.reason);
  if (leaves && d.rule.empty()) fail("egress without a rule", d.reason);
  if (d.route == Route::local && !f.local_available) fail("local route while local is down", d.reason);
  if (d.route == Route::upstream && !budget) fail("upstream over budget", d.reason);
  if (d.reason.find("SECRET-HEADER") != std::string::npos) fail("header value in the reason", d.reason);
  (void)p.explain(f).to_text();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, false);
  if (j.is_discarded()) return 0;
  lm::router::PolicyContext ctx;
  ctx.providers = {{"openai", {"gpt-5.5", "gpt-5.4-mini"}}, {"claude", {}}};
  auto r = lm::router::Policy::parse(j, ctx);
  if (!r.ok()) {
    if (r.error().message().rfind("policy", 0) != 0) fail("error without a JSON path", r.error().message());
    return 0;
  }
  for (const char* model : {"frontier", "gpt-5.5", "qwen3", ""}) {
    for (int variant = 0; variant < 4; ++variant) {
      lm::router::RequestFacts f;
      f.model = model;
      f.headers = {{"x-tenant", "acme"}, {"x-openwebui-user-email", "SECRET-HEADER@corp.example"},
                   {"x-localmax-latency-budget-ms", "500"}};
      f.key = "team-a";
      if (variant & 1) f.detections = {{"email", 1}, {"custom:emp", 2}};
      f.local_available = (variant & 2) == 0;
      f.prompt_tokens = 3000 + variant;
      f.max_tokens = 2000;
      f.local_n_ctx = 4096;
      f.local_models = {"qwen3"};
      f.upstream_models = {"openai/gpt-5.5", "openai/gpt-5.4-mini"};
      check(*r, f);
    }
  }
  return 0;
}
