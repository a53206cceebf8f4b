// Policy::decide: the first matching rule becomes a Decision, then the safety invariants are
// applied (policy.h): detections leave only redacted and explicitly allowed, must-stay-local
// requests never leave (refused when local is down), and no match never means egress.
#include <algorithm>

#include "router/policy.h"
#include "router/policy_internal.h"

namespace lm::router {

using detail::has_detections;
using detail::join;

namespace {

using detail::local_target_ok;
using detail::resolve_target;

Decision refusal(std::string rule, int status, std::string message, std::string reason) {
  Decision d;
  d.route = Route::refuse;
  d.rule = std::move(rule);
  d.http_status = status;
  d.message = std::move(message);
  d.reason = std::move(reason);
  return d;
}

// The last line of defence, independent of how the decision was reached: a request with
// detections that is not redacted must stay local, and a must-stay-local decision holds no
// upstream target and no unavailable local one.
void enforce_invariants(Decision& d, const RequestFacts& f) {
  if (d.route == Route::refuse) {
    d.fallbacks.clear();
    return;
  }
  if (has_detections(f.detections) && !d.redact) d.must_stay_local = true;
  if (!d.must_stay_local) return;
  d.redact = false;
  std::erase_if(d.fallbacks, [](const Target& t) { return !t.is_local(); });
  if (d.route == Route::upstream || !local_target_ok(d.target, f)) {
    d = refusal(d.rule, 503, "the request must stay on this machine and no local model is available",
                d.reason + "; refused: must stay local and no local model is available (fail closed)");
  }
}

// Candidate targets of a matched rule, filtered by what this request may use.
struct Candidates {
  std::vector<Target> usable;
  std::vector<std::string> notes;
  bool budget_refused = false;
};

Candidates filter_candidates(const Rule& rule, const RequestFacts& f, const BudgetFn& budget_ok, bool may_leave) {
  Candidates c;
  std::vector<Target> all{resolve_target(rule.target, f)};
  for (const Target& t : rule.fallbacks) all.push_back(resolve_target(t, f));
  bool any_local = false, dropped_up = false;
  for (const Target& t : all) {
    if (t.is_local()) {
      any_local = true;
      if (local_target_ok(t, f)) c.usable.push_back(t);
      else c.notes.push_back(t.describe() + " is unavailable");
    } else if (!may_leave) {
      dropped_up = true;
    } else if (budget_ok && !budget_ok(f.key, t, f.prompt_tokens)) {
      c.budget_refused = true;
      c.notes.push_back(fmt::format("budget of key '{}' exceeded for {}", f.key, t.describe()));
    } else {
      c.usable.push_back(t);
    }
  }
  if (dropped_up && !any_local) {  // "else it is local"
    Target l = resolve_target(Target{}, f);
    if (local_target_ok(l, f)) c.usable.push_back(l);
    else c.notes.push_back("the local model is unavailable");
  }
  std::vector<Target> unique;
  for (const Target& t : c.usable) {
    if (std::find(unique.begin(), unique.end(), t) == unique.end()) unique.push_back(t);
  }
  c.usable = std::move(unique);
  return c;
}

std::string sentence(const std::string& head, const std::vector<std::string>& notes, const std::string& tail) {
  std::string s = head;
  for (const std::string& n : notes) s += "; " + n;
  return s + "; " + tail;
}

}  // namespace

Decision Policy::apply_rule(const Rule& rule, const RequestFacts& f, const BudgetFn& budget_ok) const {
  std::vector<ConditionTrace> trace;
  rule_matches(rule, f, budget_ok, &trace);
  std::vector<std::string> whys;
  for (const ConditionTrace& t : trace) whys.push_back(t.why);
  std::string head = fmt::format("rule '{}': {}", rule.name, whys.empty() ? "matches every request" : join(whys, ", "));
  if (rule.route == Route::refuse) {
    std::string msg = rule.message.empty() ? fmt::format("refused by policy rule '{}'", rule.name) : rule.message;
    return refusal(rule.name, rule.status, msg, head + "; refused");
  }
  bool sens = has_detections(f.detections);
  bool allowed = rule.redact && detail::detections_allowed(f.detections, rule.allow_detected);
  bool may_leave = !rule.must_stay_local && (!sens || allowed);
  bool names_upstream = !rule.target.is_local() ||
                        std::any_of(rule.fallbacks.begin(), rule.fallbacks.end(), [](const Target& t) { return !t.is_local(); });

  Candidates c = filter_candidates(rule, f, budget_ok, may_leave);
  if (sens && !may_leave && names_upstream) {
    std::string kinds = detail::summarize_detections(f.detections, {"any"}, nullptr);
    c.notes.insert(c.notes.begin(), fmt::format("detected {} may not leave under this rule (it needs redact and "
                                                "allow_detected naming each kind): kept local", kinds));
  }
  if (c.usable.empty()) {
    if (!may_leave) {
      return refusal(rule.name, 503, "the request must stay on this machine and no local model is available",
                     sentence(head, c.notes, "refused: must stay local and no local model is available (fail closed)"));
    }
    if (c.budget_refused) {
      return refusal(rule.name, 429, fmt::format("budget exceeded for key '{}' (policy rule '{}')", f.key, rule.name),
                     sentence(head, c.notes, "refused: no target within budget"));
    }
    return refusal(rule.name, 503, fmt::format("no target of policy rule '{}' is available", rule.name),
                   sentence(head, c.notes, "refused: no target available"));
  }
  Decision d;
  d.rule = rule.name;
  d.target = c.usable.front();
  d.fallbacks.assign(c.usable.begin() + 1, c.usable.end());
  d.route = d.target.is_local() ? Route::local : Route::upstream;
  d.must_stay_local = !may_leave;
  d.redact = rule.redact && may_leave;
  std::string tail = "routed to " + d.target.describe();
  if (d.route == Route::upstream && d.redact) tail += " (redacted)";
  d.reason = sentence(head, c.notes, tail);
  return d;
}

Decision Policy::no_match(const RequestFacts& f) const {
  if (default_refuse_) {
    return refusal("", 403, "no policy rule allows this request (the policy's default is \"refuse\")",
                   "no rule matched; the policy's default is refuse");
  }
  Target t = resolve_target(Target{}, f);
  if (!local_target_ok(t, f)) {
    return refusal("", 503, "no local model is available and no policy rule allows another route",
                   "no rule matched and the local model is unavailable; refused (egress needs an explicit rule)");
  }
  Decision d;
  d.route = Route::local;
  d.target = t;
  d.must_stay_local = true;  // deny-by-default: only a rule opens a way out
  d.reason = "no rule matched: local by default (egress needs an explicit rule)";
  return d;
}

Decision Policy::decide(const RequestFacts& f, const BudgetFn& budget_ok) const {
  Decision d;
  auto it = std::find_if(rules_.begin(), rules_.end(), [&](const Rule& r) { return rule_matches(r, f, budget_ok, nullptr); });
  d = it == rules_.end() ? no_match(f) : apply_rule(*it, f, budget_ok);
  enforce_invariants(d, f);
  return d;
}

Explanation Policy::explain(const RequestFacts& f, const BudgetFn& budget_ok) const {
  Explanation e;
  bool selected = false;
  for (const Rule& r : rules_) {
    RuleTrace t;
    t.name = r.name;
    t.matched = rule_matches(r, f, budget_ok, &t.conditions);
    t.selected = t.matched && !selected;
    selected = selected || t.matched;
    e.rules.push_back(std::move(t));
  }
  e.decision = decide(f, budget_ok);
  return e;
}

std::string Explanation::to_text() const {
  std::string s;
  for (size_t i = 0; i < rules.size(); ++i) {
    const RuleTrace& r = rules[i];
    s += fmt::format("{}. rule '{}': {}\n", i + 1, r.name, r.selected ? "MATCHED (selected)" : r.matched ? "matched (shadowed by an earlier rule)" : "not matched");
    if (r.conditions.empty()) s += "     (no conditions: matches every request)\n";
    for (const ConditionTrace& c : r.conditions) s += fmt::format("     [{}] {}: {}\n", c.held ? "x" : " ", c.key, c.why);
  }
  const Decision& d = decision;
  s += fmt::format("decision: {}", d.route == Route::refuse ? fmt::format("refuse ({})", d.http_status) : d.target.describe());
  for (const Target& t : d.fallbacks) s += ", fallback " + t.describe();
  if (d.redact) s += ", redacted";
  if (d.must_stay_local) s += ", must stay local";
  return s + "\nreason: " + d.reason + "\n";
}

nlohmann::json Explanation::to_json() const {
  nlohmann::json rs = nlohmann::json::array();
  for (const RuleTrace& r : rules) {
    nlohmann::json cs = nlohmann::json::array();
    for (const ConditionTrace& c : r.conditions) cs.push_back({{"condition", c.key}, {"held", c.held}, {"why", c.why}});
    rs.push_back({{"name", r.name}, {"matched", r.matched}, {"selected", r.selected}, {"conditions", cs}});
  }
  return {{"rules", rs}, {"decision", decision_to_json(decision)}};
}

namespace {
Condition condition(ConditionKind kind, std::vector<std::string> patterns) {
  Condition c;
  c.kind = kind;
  c.patterns = std::move(patterns);
  return c;
}
}  // namespace

Policy Policy::default_policy() {
  Rule sensitive;
  sensitive.name = "sensitive-stays-local";
  sensitive.when.push_back(condition(ConditionKind::detected, {"any"}));
  sensitive.route = Route::local;
  sensitive.must_stay_local = true;

  Rule frontier;
  frontier.name = "frontier-needs-upstream";
  frontier.when.push_back(condition(ConditionKind::model, {"frontier"}));
  frontier.route = Route::refuse;
  frontier.status = 403;
  frontier.message =
      "model 'frontier' is an alias for a hosted model and no upstream provider is configured: add one "
      "under \"providers\" in the router config (e.g. {\"name\": \"openai\", \"type\": \"openai\", "
      "\"api_key_env\": \"OPENAI_API_KEY\", \"models\": [\"gpt-5.5\"]}) and a policy rule "
      "{\"name\": \"frontier\", \"when\": {\"model\": \"frontier\"}, \"route\": {\"provider\": \"openai\", "
      "\"model\": \"gpt-5.5\"}} (see docs/router.md)";

  Rule rest;
  rest.name = "default-local";
  rest.route = Route::local;
  return Policy({sensitive, frontier, rest});
}

}  // namespace lm::router
