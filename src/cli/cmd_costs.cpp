// `localmax costs`: spend from the audit log, local vs hosted, grouped, and what the local work
// would have cost on a hosted model.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "audit/audit_log.h"
#include "audit/cost.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace lm::cli {

namespace {

nlohmann::json row_json(const audit::CostRow& r, bool compare) {
  nlohmann::json j = {{"group", r.group},         {"requests", r.requests},
                      {"tokens_in", r.tokens_in}, {"tokens_cached", r.tokens_cached},
                      {"tokens_out", r.tokens_out}, {"cost_usd", r.cost_usd}};
  if (compare) j["compare_usd"] = r.compare_usd;
  return j;
}

void print_row(const audit::CostRow& r, bool compare) {
  fmt::print("{:<28}  {:>8}  {:>12}  {:>10}  {:>12}  {:>12.6f}", r.group, r.requests, r.tokens_in,
             r.tokens_cached, r.tokens_out, r.cost_usd);
  if (compare) fmt::print("  {:>14.6f}", r.compare_usd);
  fmt::print("\n");
}

void print_report(const audit::CostReport& rep) {
  bool cmp = !rep.compare_model.empty();
  fmt::print("{:<28}  {:>8}  {:>12}  {:>10}  {:>12}  {:>12}", rep.by.empty() ? "" : rep.by, "REQUESTS",
             "TOKENS IN", "CACHED", "TOKENS OUT", "COST USD");
  if (cmp) fmt::print("  {:>14}", "AS " + rep.compare_model);
  fmt::print("\n");
  for (const auto& r : rep.rows) print_row(r, cmp);
  if (!rep.by.empty()) fmt::print("\n");
  print_row(rep.local, cmp);
  print_row(rep.hosted, cmp);
  print_row(rep.total, cmp);
  if (cmp) {
    fmt::print("\nlocal work ({} requests) would have cost {:.6f} USD on {}; it cost {:.6f} USD locally "
               "(saved {:.6f} USD)\n", rep.local.requests, rep.local.compare_usd, rep.compare_model,
               rep.local.cost_usd, rep.local.compare_usd - rep.local.cost_usd);
  }
}

}  // namespace

int cmd_costs(const Args& args) {
  CLI::App app{"Spend recorded in the audit log: local vs hosted, tokens, grouped.", "localmax costs"};
  std::string log, since, until, by, compare, config;
  bool json_out = false;
  app.add_option("--log", log, "audit log (default: $LOCALMAX_AUDIT_LOG or <home>/audit/audit.jsonl)");
  app.add_option("--since", since, "entries at or after this UTC time (YYYY-MM-DD[THH:MM:SS[.mmm]Z])");
  app.add_option("--until", until, "entries before this UTC time");
  app.add_option("--by", by, "group by model, key, route or day")
      ->check(CLI::IsMember({"model", "key", "route", "day"}));
  app.add_option("--compare", compare, "price the local work at this hosted model (e.g. gpt-5.5)");
  app.add_option("--config", config, "costs config JSON (prices overrides, local model, budgets)");
  app.add_flag("--json", json_out, "JSON instead of a table");
  if (auto rc = parse_args(app, args)) return *rc;
  if (log.empty()) {
    auto p = audit::default_log_path();
    if (!p.ok()) return fail(p.error());
    log = *p;
  }
  audit::AuditFilter f;
  for (auto [text, slot, name] : {std::tuple{&since, &f.since_ms, "--since"}, std::tuple{&until, &f.until_ms, "--until"}}) {
    if (text->empty()) continue;
    auto t = audit::parse_time(*text);
    if (!t.ok()) return fail(std::move(t).error().wrap(name));
    *slot = *t;
  }
  audit::CostConfig cfg;
  if (!config.empty()) {
    auto c = audit::load_cost_config(config);
    if (!c.ok()) return fail(c.error());
    cfg = std::move(*c);
  }
  auto entries = audit::read_entries(log);
  if (!entries.ok()) return fail(entries.error());
  std::vector<audit::AuditEntry> picked;
  for (auto& e : *entries)
    if (audit::matches(e, f)) picked.push_back(std::move(e));
  auto rep = audit::build_cost_report(picked, by, compare, cfg.prices);
  if (!rep.ok()) return fail(rep.error());
  if (json_out) {
    bool cmp = !compare.empty();
    nlohmann::json j = {{"by", by}, {"rows", nlohmann::json::array()}, {"local", row_json(rep->local, cmp)},
                        {"hosted", row_json(rep->hosted, cmp)}, {"total", row_json(rep->total, cmp)}};
    if (cmp) j["compare_model"] = compare;
    for (const auto& r : rep->rows) j["rows"].push_back(row_json(r, cmp));
    fmt::print("{}\n", j.dump(2));
  } else {
    print_report(*rep);
  }
  return 0;
}

}  // namespace lm::cli
