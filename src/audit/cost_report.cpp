// build_cost_report: spend and tokens from audit entries, grouped, local vs hosted, and what
// the local work would have cost on a hosted model.
#include <map>

#include "audit/cost.h"

namespace lm::audit {

namespace {

void add(CostRow& row, const AuditEntry& e, double compare_usd) {
  const AuditRecord& r = e.record;
  row.requests += 1;
  row.tokens_in += r.tokens_in;
  row.tokens_cached += r.tokens_cached;
  row.tokens_out += r.tokens_out;
  row.cost_usd += r.cost_usd;
  row.compare_usd += compare_usd;
}

Result<std::string> group_of(const AuditEntry& e, const std::string& by) {
  if (by.empty()) return std::string("all");
  if (by == "model") return e.record.model.empty() ? std::string("(none)") : e.record.model;
  if (by == "key") return e.record.key.empty() ? std::string("(none)") : e.record.key;
  if (by == "route") return e.record.route;
  if (by == "day") return e.time.substr(0, 10);
  return errorf("--by {}: expected model, key, route or day", by);
}

}  // namespace

Result<CostReport> build_cost_report(const std::vector<AuditEntry>& entries, const std::string& by,
                                     const std::string& compare_model, const PricingTable& prices) {
  CostReport rep;
  rep.by = by;
  rep.compare_model = compare_model;
  const ModelPrice* cmp = nullptr;
  if (!compare_model.empty()) {
    cmp = prices.find(compare_model);
    if (!cmp) return errorf("--compare {}: no price for this model (known: gpt-5.5, claude-sonnet-4-6, "
                            "gemini-2.5-pro, ...; add others in the costs config)", compare_model);
  }
  std::map<std::string, CostRow> groups;
  rep.local.group = "local";
  rep.hosted.group = "hosted";
  rep.total.group = "total";
  for (const auto& e : entries) {
    // The router's "egress" entries record a send before it happens; the request's outcome
    // entry (route "upstream" or a local fallback) carries its tokens and cost.
    if (e.record.route == "egress") continue;
    LM_TRY(std::string g, group_of(e, by));
    bool local = e.record.route == "local";
    double compare = 0;
    if (cmp && local)
      compare = hosted_cost(*cmp, {e.record.tokens_in, e.record.tokens_cached, e.record.tokens_out});
    CostRow& row = groups[g];
    row.group = g;
    add(row, e, compare);
    add(rep.total, e, compare);
    if (local) add(rep.local, e, compare);
    if (e.record.route == "upstream") add(rep.hosted, e, 0);
  }
  for (auto& [g, row] : groups) rep.rows.push_back(std::move(row));
  return rep;
}

}  // namespace lm::audit
