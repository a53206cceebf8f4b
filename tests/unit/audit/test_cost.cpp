// Cost ledger: price math, overrides, the local cost model, budgets at period boundaries,
// totals rebuilt from the log, the report, and config errors.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "audit/audit_log.h"
#include "audit/cost.h"
#include "test_util.h"

namespace lm::audit {
namespace {

constexpr double kEps = 1e-12;

int64_t at(const char* t) { return *parse_time(t); }

TEST(Pricing, HostedCostSplitsCachedInput) {
  PricingTable t = PricingTable::defaults();
  // gpt-5.5: 5 / 0.50 / 30 USD per 1M. 2M prompt tokens of which 1M cached, 100k out:
  // 1M * 5 + 1M * 0.5 + 0.1M * 30 = 5 + 0.5 + 3 = 8.5 USD.
  auto c = t.cost("gpt-5.5", {2'000'000, 1'000'000, 100'000});
  ASSERT_TRUE(c.ok());
  EXPECT_NEAR(*c, 8.5, kEps);
  // The provider prefix used by OpenRouter resolves to the same row.
  EXPECT_NEAR(*t.cost("openai/gpt-5.5", {2'000'000, 1'000'000, 100'000}), 8.5, kEps);
  EXPECT_NEAR(*t.cost("claude-sonnet-4-6", {1'000'000, 0, 1'000'000}), 18.0, kEps);
  auto unknown = t.cost("no-such-model", {1, 0, 1});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message().find("no-such-model"), std::string::npos);
  // Every default row names its source and has sane figures.
  for (const auto& [name, p] : t.models()) {
    EXPECT_FALSE(p.source.empty()) << name;
    EXPECT_GT(p.input_per_m, 0) << name;
    EXPECT_LE(p.cached_input_per_m, p.input_per_m) << name;
    EXPECT_GE(p.output_per_m, p.input_per_m) << name;
  }
  for (const char* m : {"gpt-5.5", "claude-opus-4-6", "gemini-2.5-pro", "meta-llama/llama-3.3-70b-instruct"})
    EXPECT_NE(t.find(m), nullptr) << m;
}

TEST(Pricing, OverridesReplaceAndAdd) {
  PricingTable t = PricingTable::defaults();
  auto s = t.apply_overrides(nlohmann::json::parse(
      R"({"gpt-5.5": {"input": 1, "cached_input": 0.1, "output": 2}, "my/model": {"input": 3, "output": 4}})"));
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_NEAR(*t.cost("gpt-5.5", {1'000'000, 500'000, 1'000'000}), 0.5 + 0.05 + 2, kEps);
  const ModelPrice* m = t.find("my/model");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->cached_input_per_m, 3);  // defaults to the input price
  EXPECT_EQ(m->source, "costs config override");
}

TEST(LocalCost, EnergyPlusAmortisation) {
  LocalCostModel m{.watts = 500, .usd_per_kwh = 0.30};
  EXPECT_NEAR(m.cost(3600), 0.15, kEps);  // 0.5 kWh * 0.30
  EXPECT_NEAR(m.cost(36), 0.0015, kEps);
  m.hardware_usd = 3000;
  m.hardware_lifetime_hours = 30000;  // 0.10 USD per hour of use
  EXPECT_NEAR(m.cost(3600), 0.25, kEps);
  EXPECT_NEAR(m.cost(0), 0, kEps);
}

TEST(Budget, DayBoundaryUtc) {
  int64_t now = at("2026-06-01T23:59:59.999Z");
  BudgetLedger ledger({{.key = "team-a", .period = Period::day, .limit_usd = 1.0}}, [&] { return now; });
  ledger.record("team-a", 0.6);
  EXPECT_TRUE(ledger.check("team-a", 0.4).allowed);  // exactly at the limit
  auto c = ledger.check("team-a", 0.5);
  EXPECT_FALSE(c.allowed);
  ASSERT_TRUE(c.refused_by.has_value());
  EXPECT_EQ(c.refused_by->key, "team-a");
  EXPECT_NEAR(c.spent_usd, 0.6, kEps);
  EXPECT_NE(c.reason.find("key team-a"), std::string::npos) << c.reason;
  EXPECT_TRUE(ledger.check("team-b", 5.0).allowed);  // other keys are not limited
  now = at("2026-06-02T00:00:00.000Z");               // one millisecond later: a new day
  EXPECT_TRUE(ledger.check("team-a", 0.9).allowed);
  EXPECT_NEAR(ledger.spent({.key = "team-a", .period = Period::day}), 0.0, kEps);
}

TEST(Budget, MonthBoundaryAndGlobalBudget) {
  int64_t now = at("2026-01-31T12:00:00Z");
  BudgetLedger ledger({{.key = "*", .period = Period::month, .limit_usd = 10.0},
                       {.key = "team-a", .period = Period::day, .limit_usd = 100.0}},
                      [&] { return now; });
  ledger.record("team-a", 4.0);
  ledger.record("team-b", 5.0);
  auto c = ledger.check("team-c", 1.5);  // 9 spent by all keys this month
  EXPECT_FALSE(c.allowed);
  EXPECT_EQ(c.refused_by->key, "*");
  EXPECT_TRUE(ledger.check("team-c", 1.0).allowed);
  now = at("2026-02-01");
  EXPECT_TRUE(ledger.check("team-c", 9.5).allowed);
  // A late record for January does not count against February.
  ledger.record("team-a", 3.0, at("2026-01-31T23:00:00Z"));
  EXPECT_TRUE(ledger.check("team-c", 10.0).allowed);
  now = at("2026-12-31T23:59:59Z");
  ledger.record("team-a", 10.0);
  EXPECT_FALSE(ledger.check("x", 0.01).allowed);
  now = at("2027-01-01");
  EXPECT_TRUE(ledger.check("x", 10.0).allowed);
}

// The hand-made log of the report and rebuild tests.
std::string hand_log() {
  std::string path = test::temp_path("costs.jsonl");
  std::vector<std::pair<const char*, AuditRecord>> rows(4);
  rows[0] = {"2026-06-01T10:00:00Z", {}};
  rows[0].second = {.key = "a", .route = "local", .model = "llama", .tokens_in = 1000, .tokens_out = 500,
                    .cost_usd = 0.002};
  rows[1] = {"2026-06-01T11:00:00Z", {.key = "b", .route = "upstream", .model = "gpt-5.5",
                                      .tokens_in = 2'000'000, .tokens_cached = 1'000'000,
                                      .tokens_out = 100'000, .cost_usd = 8.5}};
  rows[2] = {"2026-06-02T09:00:00Z", {.key = "b", .route = "local", .model = "llama", .tokens_in = 1'000'000,
                                      .tokens_out = 200'000, .cost_usd = 0.25}};
  rows[3] = {"2026-06-02T10:00:00Z", {.key = "a", .route = "refused"}};
  size_t i = 0;
  auto log = AuditLog::open({.path = path, .fsync = FsyncPolicy::never,
                             .clock = [&] { return at(rows[i].first); }});
  EXPECT_TRUE(log.ok());
  for (i = 0; i < rows.size(); ++i) EXPECT_TRUE((*log)->append(rows[i].second).ok());
  return path;
}

TEST(CostReport, ExactFiguresOnAHandMadeLog) {
  auto entries = read_entries(hand_log());
  ASSERT_TRUE(entries.ok());
  auto rep = build_cost_report(*entries, "day", "gpt-5.5", PricingTable::defaults());
  ASSERT_TRUE(rep.ok()) << rep.error().message();
  ASSERT_EQ(rep->rows.size(), 2u);
  EXPECT_EQ(rep->rows[0].group, "2026-06-01");
  EXPECT_EQ(rep->rows[0].requests, 2);
  EXPECT_NEAR(rep->rows[0].cost_usd, 8.502, kEps);
  EXPECT_NEAR(rep->rows[0].compare_usd, 0.02, kEps);  // 1000*5/1e6 + 500*30/1e6
  EXPECT_NEAR(rep->rows[1].cost_usd, 0.25, kEps);
  EXPECT_NEAR(rep->rows[1].compare_usd, 11.0, kEps);  // 1M*5/1e6 + 0.2M*30/1e6
  EXPECT_EQ(rep->local.requests, 2);
  EXPECT_NEAR(rep->local.cost_usd, 0.252, kEps);
  EXPECT_NEAR(rep->local.compare_usd, 11.02, kEps);
  EXPECT_EQ(rep->local.tokens_in, 1'001'000);
  EXPECT_EQ(rep->hosted.requests, 1);
  EXPECT_NEAR(rep->hosted.cost_usd, 8.5, kEps);
  EXPECT_EQ(rep->hosted.tokens_cached, 1'000'000);
  EXPECT_EQ(rep->total.requests, 4);
  EXPECT_NEAR(rep->total.cost_usd, 8.752, kEps);

  auto by_key = build_cost_report(*entries, "key", "", PricingTable::defaults());
  ASSERT_EQ(by_key->rows.size(), 2u);
  EXPECT_EQ(by_key->rows[1].group, "b");
  EXPECT_NEAR(by_key->rows[1].cost_usd, 8.75, kEps);
  EXPECT_EQ(by_key->rows[1].compare_usd, 0);
  EXPECT_FALSE(build_cost_report(*entries, "colour", "", PricingTable::defaults()).ok());
  EXPECT_FALSE(build_cost_report(*entries, "", "gpt-99", PricingTable::defaults()).ok());
}

TEST(Budget, TotalsRebuiltFromTheLog) {
  std::string path = hand_log();
  int64_t now = at("2026-06-01T23:00:00Z");
  BudgetLedger ledger({{.key = "b", .period = Period::day, .limit_usd = 9.0},
                       {.key = "a", .period = Period::month, .limit_usd = 0.01}},
                      [&] { return now; });
  ASSERT_TRUE(ledger.rebuild_from_log(path).ok());
  EXPECT_NEAR(ledger.spent({.key = "b", .period = Period::day}), 8.5, kEps);
  EXPECT_FALSE(ledger.check("b", 0.6).allowed);
  EXPECT_TRUE(ledger.check("b", 0.5).allowed);
  EXPECT_NEAR(ledger.spent({.key = "a", .period = Period::month}), 0.002, kEps);
  EXPECT_FALSE(ledger.check("a", 0.009).allowed);
  now = at("2026-06-02T12:00:00Z");
  EXPECT_NEAR(ledger.spent({.key = "b", .period = Period::day}), 0.25, kEps);
  EXPECT_FALSE(ledger.rebuild_from_log(path + ".absent").ok());
}

TEST(CostConfig, ParsesAndRejectsClearly) {
  auto cfg = parse_cost_config(R"({
    "prices": {"gpt-5.5": {"input": 4, "output": 20}},
    "local": {"watts": 300, "usd_per_kwh": 0.2, "hardware_usd": 2000, "hardware_lifetime_hours": 20000},
    "budgets": [{"key": "team-a", "period": "month", "limit_usd": 50}]})");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message();
  EXPECT_EQ(cfg->prices.find("gpt-5.5")->input_per_m, 4);
  EXPECT_NE(cfg->prices.find("claude-haiku-4-5"), nullptr);  // defaults kept
  EXPECT_NEAR(cfg->local.cost(3600), 0.06 + 0.1, kEps);
  ASSERT_EQ(cfg->budgets.size(), 1u);
  EXPECT_EQ(cfg->budgets[0].period, Period::month);

  auto error_of = [](const std::string& text) {
    auto c = parse_cost_config(text);
    return c.ok() ? std::string("(accepted)") : c.error().message();
  };
  EXPECT_NE(error_of("{oops").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(R"({"price": {}})").find("unknown member \"price\""), std::string::npos);
  EXPECT_NE(error_of(R"({"prices": {"m": {"input": -1, "output": 1}}})").find("prices.m: input"), std::string::npos);
  EXPECT_NE(error_of(R"({"prices": {"m": {"input": 1}}})").find("prices.m: output: missing"), std::string::npos);
  EXPECT_NE(error_of(R"({"prices": {"m": {"input": "1", "output": 1}}})").find("expected a number"), std::string::npos);
  EXPECT_NE(error_of(R"({"budgets": [{"key": "a", "period": "week", "limit_usd": 1}]})")
                .find("budgets[0]: period: expected \"day\" or \"month\", got \"week\""), std::string::npos);
  EXPECT_NE(error_of(R"({"budgets": [{"period": "day", "limit_usd": 1}]})").find("budgets[0]: key"), std::string::npos);
  EXPECT_NE(error_of(R"({"local": {"hardware_usd": 10}})").find("hardware_lifetime_hours"), std::string::npos);
  EXPECT_NE(error_of(R"({"local": {"watt": 10}})").find("local: unknown member \"watt\""), std::string::npos);
  auto missing = load_cost_config("/nonexistent/costs.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("/nonexistent/costs.json"), std::string::npos);
}

}  // namespace
}  // namespace lm::audit
