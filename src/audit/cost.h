// Cost ledger for the router: hosted prices per model, the local cost model, budgets per API
// key and period, and the `localmax costs` report.
//
// Usage (router):
//   LM_TRY(auto cfg, audit::load_cost_config(path));      // prices + local model + budgets
//   audit::BudgetLedger ledger(cfg.budgets);
//   LM_TRY_STATUS(ledger.rebuild_from_log(audit_log_path));  // totals survive restarts
//   auto c = ledger.check(key, estimate);   // before sending: refuse when !c.allowed
//   ...; double cost = route == "local" ? cfg.local.cost(seconds) : *cfg.prices.cost(model, usage);
//   ledger.record(key, cost, now_ms);        // after, with the actual cost (also in the AuditRecord)
//
// Money is in US dollars (double); prices are per 1M tokens. Periods are UTC calendar days and
// months. PricingTable and LocalCostModel are plain values; BudgetLedger is thread-safe.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "core/result.h"

namespace lm::audit {

struct ModelPrice {
  double input_per_m = 0;         // USD per 1M uncached prompt tokens
  double cached_input_per_m = 0;  // USD per 1M prompt tokens read from the provider's cache
  double output_per_m = 0;        // USD per 1M generated tokens
  std::string source{};             // where the figure comes from, and when
};

struct TokenUsage {
  int64_t in = 0;      // prompt tokens, cached ones included
  int64_t cached = 0;  // of which served from cache
  int64_t out = 0;
};

// ((in - cached) * input + cached * cached_input + out * output) / 1e6.
double hosted_cost(const ModelPrice& p, const TokenUsage& u);

class PricingTable {
 public:
  // The built-in list prices (pricing_defaults.cpp states source and date of each).
  static PricingTable defaults();
  // Overrides or adds models: {"model": {"input": x, "cached_input": y, "output": z}}.
  // A missing cached_input defaults to input. Errors name the model and the field.
  Status apply_overrides(const nlohmann::json& prices);
  void set(const std::string& model, ModelPrice p) { prices_[model] = std::move(p); }
  // Exact name, else the name without a provider prefix ("openai/gpt-4.1" -> "gpt-4.1").
  const ModelPrice* find(const std::string& model) const;
  Result<double> cost(const std::string& model, const TokenUsage& u) const;
  const std::map<std::string, ModelPrice>& models() const { return prices_; }

 private:
  std::map<std::string, ModelPrice> prices_{};
};

// What a request served locally costs: energy plus optional hardware amortisation.
struct LocalCostModel {
  double watts = 0;                    // average draw while generating
  double usd_per_kwh = 0;              // electricity price
  double hardware_usd = 0;             // purchase price (0: not amortised)
  double hardware_lifetime_hours = 0;  // hours of use the price is spread over
  // seconds/3600 * (watts/1000 * usd_per_kwh + hardware_usd / hardware_lifetime_hours).
  double cost(double seconds) const;
};

enum class Period { day, month };

struct Budget {
  std::string key{};  // API key name, or "*" for the total over all keys
  Period period = Period::day;
  double limit_usd = 0;
  std::string describe() const;  // "key team-a: 5.00 USD per day (UTC)"
};

struct BudgetCheck {
  bool allowed = true;
  std::optional<Budget> refused_by{};  // the first budget that the estimate would exceed
  double spent_usd = 0;              // its spend so far this period
  std::string reason{};                // "" when allowed
};

// Spend per budget and period. Thread-safe (one mutex); check/record are O(budgets).
class BudgetLedger {
 public:
  explicit BudgetLedger(std::vector<Budget> budgets, Clock clock = system_clock_ms);
  // Would spending `estimated_usd` now keep every budget that applies to `key` within its
  // limit? Reaching the limit exactly is allowed; exceeding it refuses.
  BudgetCheck check(const std::string& key, double estimated_usd) const;
  // Adds an actual cost at time_ms (default: now).
  void record(const std::string& key, double usd, std::optional<int64_t> time_ms = std::nullopt);
  // Clears the totals and re-adds every entry of the audit log (cost_usd, key, time_ms).
  Status rebuild_from_log(const std::string& path);
  double spent(const Budget& b) const;  // in the current period

 private:
  static int64_t bucket(Period p, int64_t time_ms);
  void record_locked(const std::string& key, double usd, int64_t time_ms);

  std::vector<Budget> budgets_{};
  Clock clock_{};
  mutable std::mutex mu_;
  std::map<std::string, double> spend_{};  // "<key>\n<period>\n<bucket>" -> USD
};

struct CostConfig {
  PricingTable prices = PricingTable::defaults();
  LocalCostModel local;
  std::vector<Budget> budgets{};
};
// Parses {"prices": {...}, "local": {"watts", "usd_per_kwh", "hardware_usd",
// "hardware_lifetime_hours"}, "budgets": [{"key", "period": "day"|"month", "limit_usd"}]}
// (every part optional) over the defaults. Unknown members and bad values are errors.
Result<CostConfig> parse_cost_config(const std::string& text);
Result<CostConfig> load_cost_config(const std::string& path);

// ---- `localmax costs` ----
struct CostRow {
  std::string group{};
  int64_t requests = 0, tokens_in = 0, tokens_cached = 0, tokens_out = 0;
  double cost_usd = 0;
  double compare_usd = 0;  // local work priced at the compare model (0 without one)
};

struct CostReport {
  std::string by{};             // "model", "key", "route", "day" or "" (totals only)
  std::string compare_model{};  // "" when none
  std::vector<CostRow> rows{};  // sorted by group
  CostRow local, hosted, total;
};

// by: "", "model", "key", "route" or "day". compare_model must be in prices (if not "").
Result<CostReport> build_cost_report(const std::vector<AuditEntry>& entries, const std::string& by,
                                     const std::string& compare_model, const PricingTable& prices);

}  // namespace lm::audit
