// Pricing lookups, the local cost model, budgets and the costs config file.
#include "audit/cost.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

namespace lm::audit {

using nlohmann::json;

double hosted_cost(const ModelPrice& p, const TokenUsage& u) {
  double uncached = static_cast<double>(u.in - u.cached);
  return (uncached * p.input_per_m + static_cast<double>(u.cached) * p.cached_input_per_m +
          static_cast<double>(u.out) * p.output_per_m) / 1e6;
}

namespace {

// A finite, non-negative number at j[name] (absent: fallback, or an error when required).
Result<double> money_field(const json& j, const char* name, std::optional<double> fallback) {
  auto it = j.find(name);
  if (it == j.end()) {
    if (fallback) return *fallback;
    return errorf("{}: missing", name);
  }
  if (!it->is_number()) return errorf("{}: expected a number, got {}", name, it->dump());
  double v = it->get<double>();
  if (!std::isfinite(v) || v < 0) return errorf("{}: expected a non-negative number, got {}", name, v);
  return v;
}

Status only_members(const json& j, std::initializer_list<const char*> allowed) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || it.key() == a;
    if (!ok) return errorf("unknown member \"{}\"", it.key());
  }
  return Ok{};
}

Result<ModelPrice> parse_price(const json& j) {
  if (!j.is_object()) return Error("expected an object {\"input\", \"cached_input\", \"output\"}");
  LM_TRY_STATUS(only_members(j, {"input", "cached_input", "output", "source"}));
  ModelPrice p;
  LM_TRY(p.input_per_m, money_field(j, "input", std::nullopt));
  LM_TRY(p.cached_input_per_m, money_field(j, "cached_input", p.input_per_m));
  LM_TRY(p.output_per_m, money_field(j, "output", std::nullopt));
  p.source = j.contains("source") && j["source"].is_string() ? j["source"].get<std::string>()
                                                               : "costs config override";
  return p;
}

Result<LocalCostModel> parse_local(const json& j) {
  if (!j.is_object()) return Error("expected an object");
  LM_TRY_STATUS(only_members(j, {"watts", "usd_per_kwh", "hardware_usd", "hardware_lifetime_hours"}));
  LocalCostModel m;
  LM_TRY(m.watts, money_field(j, "watts", 0.0));
  LM_TRY(m.usd_per_kwh, money_field(j, "usd_per_kwh", 0.0));
  LM_TRY(m.hardware_usd, money_field(j, "hardware_usd", 0.0));
  LM_TRY(m.hardware_lifetime_hours, money_field(j, "hardware_lifetime_hours", 0.0));
  if (m.hardware_usd > 0 && m.hardware_lifetime_hours <= 0)
    return Error("hardware_usd needs a positive hardware_lifetime_hours");
  return m;
}

Result<Budget> parse_budget(const json& j) {
  if (!j.is_object()) return Error("expected an object {\"key\", \"period\", \"limit_usd\"}");
  LM_TRY_STATUS(only_members(j, {"key", "period", "limit_usd"}));
  Budget b;
  if (!j.contains("key") || !j["key"].is_string() || j["key"].get<std::string>().empty())
    return Error("key: expected a non-empty string (an API key name, or \"*\" for all)");
  b.key = j["key"].get<std::string>();
  std::string period = j.value("period", std::string());
  if (period == "day") b.period = Period::day;
  else if (period == "month") b.period = Period::month;
  else return errorf("period: expected \"day\" or \"month\", got \"{}\"", period);
  LM_TRY(b.limit_usd, money_field(j, "limit_usd", std::nullopt));
  return b;
}

}  // namespace

Status PricingTable::apply_overrides(const json& prices) {
  if (!prices.is_object()) return Error("prices: expected an object of model -> price");
  for (auto it = prices.begin(); it != prices.end(); ++it) {
    auto p = parse_price(it.value());
    if (!p.ok()) return std::move(p).error().wrap(fmt::format("prices.{}", it.key()));
    prices_[it.key()] = std::move(*p);
  }
  return Ok{};
}

const ModelPrice* PricingTable::find(const std::string& model) const {
  if (auto it = prices_.find(model); it != prices_.end()) return &it->second;
  if (auto slash = model.find('/'); slash != std::string::npos) {
    if (auto it = prices_.find(model.substr(slash + 1)); it != prices_.end()) return &it->second;
  }
  return nullptr;
}

Result<double> PricingTable::cost(const std::string& model, const TokenUsage& u) const {
  const ModelPrice* p = find(model);
  if (!p) return errorf("no price for model '{}' (add it to the costs config \"prices\")", model);
  return hosted_cost(*p, u);
}

double LocalCostModel::cost(double seconds) const {
  double per_hour = watts / 1000.0 * usd_per_kwh;
  if (hardware_usd > 0 && hardware_lifetime_hours > 0) per_hour += hardware_usd / hardware_lifetime_hours;
  return seconds / 3600.0 * per_hour;
}

std::string Budget::describe() const {
  return fmt::format("{}: {:.2f} USD per {} (UTC)", key == "*" ? "all keys" : "key " + key,
                     limit_usd, period == Period::day ? "day" : "month");
}

BudgetLedger::BudgetLedger(std::vector<Budget> budgets, Clock clock)
    : budgets_(std::move(budgets)), clock_(clock ? std::move(clock) : Clock(system_clock_ms)) {}

int64_t BudgetLedger::bucket(Period p, int64_t time_ms) {
  int64_t day = time_ms >= 0 ? time_ms / 86400000 : (time_ms - 86399999) / 86400000;
  if (p == Period::day) return day;
  std::string t = format_time_ms(time_ms);  // YYYY-MM-...
  return std::stoll(t.substr(0, 4)) * 12 + std::stoll(t.substr(5, 2)) - 1;
}

namespace {
std::string spend_key(const std::string& key, Period p, int64_t bucket) {
  return fmt::format("{}\n{}\n{}", key, p == Period::day ? 'd' : 'm', bucket);
}
}  // namespace

double BudgetLedger::spent(const Budget& b) const {
  std::lock_guard<std::mutex> g(mu_);
  auto it = spend_.find(spend_key(b.key, b.period, bucket(b.period, clock_())));
  return it == spend_.end() ? 0.0 : it->second;
}

BudgetCheck BudgetLedger::check(const std::string& key, double estimated_usd) const {
  int64_t now = clock_();
  std::lock_guard<std::mutex> g(mu_);
  BudgetCheck out;
  for (const Budget& b : budgets_) {
    if (b.key != "*" && b.key != key) continue;
    auto it = spend_.find(spend_key(b.key, b.period, bucket(b.period, now)));
    double spent = it == spend_.end() ? 0.0 : it->second;
    // A small tolerance so that sums of decimal prices that land on the limit are allowed.
    if (spent + estimated_usd > b.limit_usd + 1e-12) {
      out.allowed = false;
      out.refused_by = b;
      out.spent_usd = spent;
      out.reason = fmt::format("budget {} exceeded: {:.6f} USD spent this {}, {:.6f} USD more requested",
                               b.describe(), spent, b.period == Period::day ? "day" : "month", estimated_usd);
      return out;
    }
  }
  return out;
}

void BudgetLedger::record_locked(const std::string& key, double usd, int64_t time_ms) {
  for (Period p : {Period::day, Period::month}) {
    spend_[spend_key(key, p, bucket(p, time_ms))] += usd;
    if (key != "*") spend_[spend_key("*", p, bucket(p, time_ms))] += usd;
  }
}

void BudgetLedger::record(const std::string& key, double usd, std::optional<int64_t> time_ms) {
  int64_t t = time_ms ? *time_ms : clock_();
  std::lock_guard<std::mutex> g(mu_);
  record_locked(key, usd, t);
}

Status BudgetLedger::rebuild_from_log(const std::string& path) {
  LM_TRY(auto entries, read_entries(path).wrap("rebuilding budget totals"));
  std::lock_guard<std::mutex> g(mu_);
  spend_.clear();
  for (const auto& e : entries) record_locked(e.record.key, e.record.cost_usd, e.time_ms);
  return Ok{};
}

Result<CostConfig> parse_cost_config(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return errorf("not valid JSON ({})", e.what());
  }
  if (!j.is_object()) return Error("expected a JSON object");
  LM_TRY_STATUS(only_members(j, {"prices", "local", "budgets"}));
  CostConfig cfg;
  if (j.contains("prices")) LM_TRY_STATUS(cfg.prices.apply_overrides(j["prices"]));
  if (j.contains("local")) {
    LM_TRY(cfg.local, parse_local(j["local"]).wrap("local"));
  }
  if (j.contains("budgets")) {
    if (!j["budgets"].is_array()) return Error("budgets: expected an array");
    for (size_t i = 0; i < j["budgets"].size(); ++i) {
      LM_TRY(Budget b, parse_budget(j["budgets"][i]).wrap(fmt::format("budgets[{}]", i)));
      cfg.budgets.push_back(std::move(b));
    }
  }
  return cfg;
}

Result<CostConfig> load_cost_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errorf("costs config {}: cannot open: {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_cost_config(ss.str()).wrap("costs config " + path);
}

}  // namespace lm::audit
