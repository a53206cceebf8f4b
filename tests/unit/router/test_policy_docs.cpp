// The worked examples of docs/router.md are real: each parses, and decides as the text says.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "router/policy.h"

namespace lm::router {
namespace {

using nlohmann::json;

// The ```json blocks after "## Worked examples".
std::vector<json> worked_examples() {
  std::ifstream in(std::string(LM_SOURCE_DIR) + "/docs/router.md");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string doc = ss.str();
  std::vector<json> out;
  size_t pos = doc.find("## Worked examples");
  while (pos != std::string::npos) {
    size_t b = doc.find("```json\n", pos);
    if (b == std::string::npos) break;
    size_t e = doc.find("```\n", b + 8);
    out.push_back(json::parse(doc.substr(b + 8, e - b - 8)));
    pos = e + 4;
  }
  return out;
}

Policy policy_of(const json& cfg) {
  if (!cfg.contains("policy")) return Policy::default_policy();
  PolicyContext ctx;
  for (const json& p : cfg.value("providers", json::array())) {
    ctx.providers[p["name"]] = p.value("models", std::vector<std::string>{});
  }
  auto r = Policy::parse(cfg["policy"], ctx);
  EXPECT_TRUE(r.ok()) << r.error().message();
  return std::move(r).value();
}

RequestFacts facts(const std::string& model) {
  RequestFacts f;
  f.model = model;
  f.local_models = {"qwen3", "llama3"};
  f.local_n_ctx = 8192;
  f.prompt_tokens = 1000;
  f.max_tokens = 500;
  return f;
}

TEST(PolicyDocs, WorkedExamplesParseAndDecideAsDescribed) {
  std::vector<json> ex = worked_examples();
  ASSERT_EQ(ex.size(), 3u) << "docs/router.md should hold three worked examples";

  Policy all_local = policy_of(ex[0]);
  EXPECT_EQ(all_local.decide(facts("frontier")).http_status, 403);
  EXPECT_EQ(all_local.decide(facts("qwen3")).route, Route::local);

  Policy frontier = policy_of(ex[1]);
  RequestFacts f = facts("frontier");
  Decision d = frontier.decide(f);
  EXPECT_EQ(d.target.describe(), "openai/gpt-5.5");
  ASSERT_EQ(d.fallbacks.size(), 1u);
  f.detections = {{"email", 1}};
  EXPECT_TRUE(frontier.decide(f).redact);
  f.detections = {{"card", 1}};
  EXPECT_EQ(frontier.decide(f).rule, "secrets-stay-local");
  f = facts("frontier");
  f.max_tokens = 100000;  // 3 USD of output at gpt-5.5
  EXPECT_EQ(frontier.decide(f).http_status, 402);
  f = facts("qwen3");
  f.prompt_tokens = 9000;
  EXPECT_EQ(frontier.decide(f).target.describe(), "openai/gpt-5.4-mini");

  Policy tenants = policy_of(ex[2]);
  f = facts("frontier");
  f.headers["x-tenant"] = "hr";
  EXPECT_EQ(tenants.decide(f).target.describe(), "local:qwen3");
  f.local_available = false;
  EXPECT_EQ(tenants.decide(f).http_status, 503);
  f = facts("frontier");
  f.headers["x-tenant"] = "acme-eu";
  EXPECT_EQ(tenants.decide(f).target.describe(), "openrouter/openai/gpt-5.5");
  BudgetFn spent = [](const std::string&, const Target& t, int64_t) { return t.is_local(); };
  EXPECT_EQ(tenants.decide(f, spent).http_status, 429);
  f = facts("qwen3");
  f.key = "svc-batch";
  f.headers["x-localmax-latency-budget-ms"] = "2000";
  EXPECT_EQ(tenants.decide(f).target.describe(), "openrouter/meta-llama/llama-3.3-70b-instruct");
}

}  // namespace
}  // namespace lm::router
