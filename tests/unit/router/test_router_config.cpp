// The router's one config file: every section reaches its parser; errors name file and path.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>

#include "router/router_config.h"
#include "test_util.h"

namespace lm::router {
namespace {

using nlohmann::json;

json full_config(const std::string& audit_path) {
  return json::parse(R"({
    "offline": true,
    "providers": [{"name": "openai", "type": "openai", "base_url": "https://api.example.com/v1",
                   "api_key_env": "TEST_KEY_ENV", "models": ["gpt-x"]}],
    "policy": {"rules": [
      {"name": "sensitive", "when": {"detected": "any"}, "route": "local", "must_stay_local": true},
      {"name": "frontier", "when": {"model": "frontier"}, "route": {"provider": "openai", "model": "gpt-x"}}]},
    "detectors": {"disable": ["ip"], "patterns": [{"name": "emp", "regex": "EMP-\\d{6}"}]},
    "audit": {"path": "", "fsync": "never", "fsync_every": 8},
    "prices": {"gpt-x": {"input": 1.0, "output": 2.0}},
    "local_cost": {"watts": 100, "usd_per_kwh": 0.3},
    "budgets": [{"key": "*", "period": "day", "limit_usd": 5}]
  })").patch(json::array({{{"op", "replace"}, {"path", "/audit/path"}, {"value", audit_path}}}));
}

TEST(RouterConfig, ParsesEverySection) {
  auto cfg = parse_router_config(full_config("/tmp/x/audit.jsonl"), "router.json");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message();
  EXPECT_TRUE(cfg->offline);
  ASSERT_EQ(cfg->providers.size(), 1u);
  EXPECT_EQ(cfg->providers[0].name, "openai");
  EXPECT_EQ(cfg->policy.rules().size(), 2u);
  EXPECT_FALSE(cfg->detectors.is_enabled(detect::Kind::IP));
  EXPECT_TRUE(cfg->detectors.is_enabled(detect::Kind::EMAIL));
  ASSERT_EQ(cfg->detectors.patterns.size(), 1u);
  EXPECT_EQ(cfg->audit.path, "/tmp/x/audit.jsonl");
  EXPECT_EQ(cfg->audit.fsync, audit::FsyncPolicy::never);
  EXPECT_EQ(cfg->audit.fsync_every, 8);
  const audit::ModelPrice* p = cfg->costs.prices.find("gpt-x");
  ASSERT_NE(p, nullptr);
  EXPECT_DOUBLE_EQ(p->output_per_m, 2.0);
  EXPECT_DOUBLE_EQ(cfg->costs.local.watts, 100);
  ASSERT_EQ(cfg->costs.budgets.size(), 1u);
  EXPECT_DOUBLE_EQ(cfg->costs.budgets[0].limit_usd, 5);
}

TEST(RouterConfig, EmptyFileMeansDefaults) {
  auto cfg = parse_router_config(json::object(), "r.json");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message();
  EXPECT_FALSE(cfg->offline);
  EXPECT_TRUE(cfg->providers.empty());
  EXPECT_EQ(cfg->policy.rules().size(), Policy::default_policy().rules().size());
  EXPECT_NE(cfg->costs.prices.find("gpt-5.5"), nullptr);   // the built-in price list
}

void expect_error(json j, const std::string& needle) {
  auto cfg = parse_router_config(j, "router.json");
  ASSERT_FALSE(cfg.ok()) << "expected an error containing " << needle;
  EXPECT_NE(cfg.error().message().find("router.json: "), std::string::npos) << cfg.error().message();
  EXPECT_NE(cfg.error().message().find(needle), std::string::npos) << cfg.error().message();
}

TEST(RouterConfig, ErrorsNameFileAndPath) {
  expect_error({{"polcy", json::object()}}, "polcy: unknown section");
  expect_error({{"offline", "yes"}}, "offline: expected true or false");
  expect_error({{"audit", {{"fsync", "sometimes"}}}}, "audit.fsync");
  expect_error({{"audit", {{"pth", "x"}}}}, "audit.pth: unknown member");
  expect_error({{"detectors", {{"patterns", {{{"name", "bad"}, {"regex", "a(b"}}}}}}}, "custom pattern 'bad'");
  expect_error({{"prices", {{"m", {{"input", "free"}}}}}}, "prices");
  expect_error(json::parse(R"({"policy": {"rules": [{"name": "x", "when": {"detected": ["emial"]},
                                                      "route": "local"}]}})"), "policy.rules[0]");
  // A rule may only name a configured provider (deny-by-default).
  expect_error(json::parse(R"({"policy": {"rules": [{"name": "x", "route": {"provider": "nope", "model": "m"}}]}})"),
               "policy.rules[0]");
  expect_error(json::parse(R"({"providers": [{"name": "a", "type": "carrier-pigeon", "base_url": "http://x"}]})"),
               "providers");
}

TEST(RouterConfig, LoadsFromFileAndExpandsHome) {
  std::string path = test::temp_path("router_config.json");
  {
    std::ofstream f(path);
    f << R"({"audit": {"path": "~/audit.jsonl"}})";
  }
  auto cfg = load_router_config(path);
  ASSERT_TRUE(cfg.ok()) << cfg.error().message();
  const char* home = std::getenv("HOME");
  ASSERT_NE(home, nullptr);
  EXPECT_EQ(cfg->audit.path, std::string(home) + "/audit.jsonl");
  EXPECT_EQ(cfg->source, path);
  {
    std::ofstream f(path);
    f << "{not json";
  }
  auto bad = load_router_config(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find(path + ": not valid JSON"), std::string::npos);
  auto missing = load_router_config(path + ".absent");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace lm::router
