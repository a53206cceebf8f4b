// Policy::parse: the "policy" section of the router config into rules. Every error names the
// JSON path of the offending value ("policy.rules[2].when.detected[0]: unknown detector kind
// 'emial'"), so a user can find it in a long file. Reference: docs/router.md.
#include <algorithm>
#include <set>

#include "router/policy.h"
#include "router/policy_internal.h"

namespace lm::router {
namespace {

using nlohmann::json;
using detail::join;

Error at(const std::string& path, std::string msg) { return Error(path + ": " + msg); }

Error wrong_type(const std::string& path, const char* expected, const json& j) {
  return at(path, fmt::format("expected {}, got {}", expected, j.type_name()));
}

Result<bool> get_bool(const json& j, const std::string& path) {
  if (!j.is_boolean()) return wrong_type(path, "a boolean", j);
  return j.get<bool>();
}

Result<std::string> get_string(const json& j, const std::string& path, bool allow_empty = false) {
  if (!j.is_string()) return wrong_type(path, "a string", j);
  std::string s = j.get<std::string>();
  if (s.empty() && !allow_empty) return at(path, "must not be empty");
  return s;
}

Result<double> get_number(const json& j, const std::string& path, double lo, double hi) {
  if (!j.is_number()) return wrong_type(path, "a number", j);
  double v = j.get<double>();
  if (!(v >= lo && v <= hi)) return at(path, fmt::format("{} is out of range [{}, {}]", v, lo, hi));
  return v;
}

// A string or a non-empty array of strings.
Result<std::vector<std::string>> get_string_list(const json& j, const std::string& path,
                                                 bool allow_empty_strings = false) {
  std::vector<std::string> out;
  if (j.is_string()) {
    LM_TRY(auto s, get_string(j, path, allow_empty_strings));
    out.push_back(std::move(s));
    return out;
  }
  if (!j.is_array()) return wrong_type(path, "a string or an array of strings", j);
  if (j.empty()) return at(path, "must not be an empty array");
  for (size_t i = 0; i < j.size(); ++i) {
    LM_TRY(auto s, get_string(j[i], fmt::format("{}[{}]", path, i), allow_empty_strings));
    out.push_back(std::move(s));
  }
  return out;
}

std::string known_kinds() {
  std::vector<std::string> names;
  for (int k = 0; k < detect::kNumKinds; ++k) names.push_back(detect::kind_name(detect::Kind(k)));
  return join(names, ", ");
}

Status check_kind(const std::string& name, const std::string& path, const PolicyContext& ctx, bool allow_any) {
  if (name == "any") {
    if (allow_any) return Ok{};
    return at(path, "\"any\" is not allowed here: name each kind that may leave the machine");
  }
  for (const char* family : {"custom", "keyword"}) {
    std::string prefix = std::string(family) + ":";
    if (name.rfind(prefix, 0) != 0) continue;
    std::string sub = name.substr(prefix.size());
    if (sub.empty()) return at(path, fmt::format("'{}' needs a name after the colon", name));
    if (!ctx.detectors) return Ok{};
    bool found = false;
    if (family[0] == 'c') {
      for (const auto& p : ctx.detectors->patterns) found = found || p.name == sub;
    } else {
      for (const auto& k : ctx.detectors->keywords) found = found || k.name == sub;
    }
    if (!found) return at(path, fmt::format("no {} detector named '{}' in \"detectors\"", family, sub));
    return Ok{};
  }
  if (!detect::kind_from_name(name)) {
    return at(path, fmt::format("unknown detector kind '{}' (known: any, {}, custom:NAME, keyword:NAME)",
                                name, known_kinds()));
  }
  return Ok{};
}

Result<std::vector<std::string>> get_kinds(const json& j, const std::string& path, const PolicyContext& ctx,
                                           bool allow_any) {
  LM_TRY(auto kinds, get_string_list(j, path));
  for (size_t i = 0; i < kinds.size(); ++i) {
    std::string p = j.is_array() ? fmt::format("{}[{}]", path, i) : path;
    LM_TRY_STATUS(check_kind(kinds[i], p, ctx, allow_any));
  }
  return kinds;
}

Result<Condition> parse_detected(const json& j, const std::string& path, const PolicyContext& ctx) {
  Condition c;
  c.kind = ConditionKind::detected;
  if (!j.is_object()) {
    LM_TRY(c.patterns, get_kinds(j, path, ctx, true));
    return c;
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string p = path + "." + it.key();
    if (it.key() == "kinds") {
      LM_TRY(c.patterns, get_kinds(it.value(), p, ctx, true));
    } else if (it.key() == "min_count") {
      if (!it.value().is_number_integer()) return wrong_type(p, "an integer", it.value());
      LM_TRY(double n, get_number(it.value(), p, 1, 1e9));
      c.min_count = static_cast<int>(n);
    } else {
      return at(p, "unknown member (expected \"kinds\" or \"min_count\")");
    }
  }
  if (c.patterns.empty()) c.patterns = {"any"};
  return c;
}

Status parse_header(const json& j, const std::string& path, std::vector<Condition>& out) {
  if (!j.is_object()) return wrong_type(path, "an object of header name -> pattern(s)", j);
  if (j.empty()) return at(path, "must name at least one header");
  for (auto it = j.begin(); it != j.end(); ++it) {
    Condition c;
    c.kind = ConditionKind::header;
    c.header = it.key();
    std::transform(c.header.begin(), c.header.end(), c.header.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (c.header.empty()) return at(path, "empty header name");
    if (it.value().is_null()) {
      c.header_absent = true;
    } else {
      LM_TRY(c.patterns, get_string_list(it.value(), path + "." + it.key(), true));
    }
    out.push_back(std::move(c));
  }
  return Ok{};
}

Result<std::pair<Route, Target>> parse_target(const json& j, const std::string& path, const PolicyContext& ctx);

Status parse_condition(const std::string& key, const json& v, const std::string& path,
                       const PolicyContext& ctx, std::vector<Condition>& out) {
  Condition c;
  if (key == "detected") {
    LM_TRY(c, parse_detected(v, path, ctx));
  } else if (key == "not_detected") {
    c.kind = ConditionKind::not_detected;
    LM_TRY(c.patterns, get_kinds(v, path, ctx, true));
  } else if (key == "model" || key == "key") {
    c.kind = key == "model" ? ConditionKind::model : ConditionKind::key;
    LM_TRY(c.patterns, get_string_list(v, path, key == "key"));
  } else if (key == "header") {
    return parse_header(v, path, out);
  } else if (key == "prompt_tokens_over") {
    c.kind = ConditionKind::prompt_tokens_over;
    if (!v.is_number_integer()) return wrong_type(path, "an integer", v);
    LM_TRY(c.number, get_number(v, path, 0, 1e15));
  } else if (key == "budget_exceeded" && v.is_object()) {
    // {"provider": P, "model": M}: the budget for that upstream, whatever the rule's own target.
    c.kind = ConditionKind::budget_exceeded;
    LM_TRY(auto rt, parse_target(v, path, ctx));
    if (rt.first != Route::upstream) return at(path, "expected a boolean or an upstream {\"provider\", \"model\"}");
    c.target = rt.second;
  } else if (key == "max_cost_usd") {
    c.kind = ConditionKind::max_cost_usd;
    LM_TRY(c.number, get_number(v, path, 0, 1e9));
  } else {
    static const std::pair<const char*, ConditionKind> kBools[] = {
        {"prompt_tokens_over_local_ctx", ConditionKind::prompt_tokens_over_local_ctx},
        {"local_unavailable", ConditionKind::local_unavailable},
        {"budget_exceeded", ConditionKind::budget_exceeded},
        {"latency_budget_exceeded", ConditionKind::latency_budget_exceeded},
    };
    auto b = std::find_if(std::begin(kBools), std::end(kBools), [&](auto& e) { return key == e.first; });
    if (b == std::end(kBools)) {
      return at(path, "unknown condition (known: detected, not_detected, model, header, key, "
                      "prompt_tokens_over_local_ctx, prompt_tokens_over, local_unavailable, "
                      "budget_exceeded, max_cost_usd, latency_budget_exceeded)");
    }
    c.kind = b->second;
    LM_TRY(c.flag, get_bool(v, path));
  }
  out.push_back(std::move(c));
  return Ok{};
}

Status check_provider(const Target& t, const std::string& path, const PolicyContext& ctx) {
  auto it = ctx.providers.find(t.provider);
  if (it == ctx.providers.end()) {
    std::vector<std::string> names;
    for (const auto& [n, _] : ctx.providers) names.push_back(n);
    return at(path + ".provider", fmt::format("unknown provider '{}' (configured: {})", t.provider,
                                names.empty() ? "none" : join(names, ", ")));
  }
  const auto& models = it->second;
  if (!t.model.empty() && !models.empty() && std::find(models.begin(), models.end(), t.model) == models.end()) {
    return at(path + ".model", fmt::format("provider '{}' has no model '{}' (its models: {})", t.provider, t.model,
                                join(models, ", ")));
  }
  return Ok{};
}

// "local" | "refuse" | {"local": "qwen3"} | {"provider": "openai", "model": "gpt-5"}.
Result<std::pair<Route, Target>> parse_target(const json& j, const std::string& path, const PolicyContext& ctx) {
  if (j.is_string()) {
    std::string s = j.get<std::string>();
    if (s == "local") return std::pair{Route::local, Target{}};
    if (s == "refuse") return std::pair{Route::refuse, Target{}};
    return at(path, fmt::format("unknown route '{}' (expected \"local\", \"refuse\", {{\"local\": MODEL}} "
                                "or {{\"provider\": NAME, \"model\": MODEL}})", s));
  }
  if (!j.is_object()) return wrong_type(path, "a route (string or object)", j);
  if (j.contains("local")) {
    if (j.size() != 1) return at(path, "{\"local\": MODEL} takes no other member");
    LM_TRY(auto m, get_string(j["local"], path + ".local"));
    return std::pair{Route::local, Target{"", m}};
  }
  Target t;
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string p = path + "." + it.key();
    if (it.key() == "provider") {
      LM_TRY(t.provider, get_string(it.value(), p));
    } else if (it.key() == "model") {
      LM_TRY(t.model, get_string(it.value(), p));
    } else {
      return at(p, "unknown member (expected \"provider\" and \"model\", or \"local\")");
    }
  }
  if (t.provider.empty()) return at(path, "an upstream route needs \"provider\"");
  LM_TRY_STATUS(check_provider(t, path, ctx));
  return std::pair{Route::upstream, t};
}

Status parse_rule_member(Rule& r, const std::string& key, const json& v, const std::string& p,
                         const PolicyContext& ctx, std::set<std::string>& seen) {
  seen.insert(key);
  if (key == "name") {
    LM_TRY(r.name, get_string(v, p));
  } else if (key == "description") {
    if (!v.is_string()) return wrong_type(p, "a string", v);
  } else if (key == "when") {
    if (!v.is_object()) return wrong_type(p, "an object of conditions", v);
    for (auto it = v.begin(); it != v.end(); ++it) {
      LM_TRY_STATUS(parse_condition(it.key(), it.value(), p + "." + it.key(), ctx, r.when));
    }
  } else if (key == "route") {
    LM_TRY(auto rt, parse_target(v, p, ctx));
    r.route = rt.first;
    r.target = rt.second;
  } else if (key == "fallback") {
    if (!v.is_array()) return wrong_type(p, "an array of routes", v);
    for (size_t i = 0; i < v.size(); ++i) {
      std::string pi = fmt::format("{}[{}]", p, i);
      LM_TRY(auto rt, parse_target(v[i], pi, ctx));
      if (rt.first == Route::refuse) return at(pi, "\"refuse\" is not a fallback (a refusal is what happens when none is left)");
      r.fallbacks.push_back(rt.second);
    }
  } else if (key == "redact") {
    LM_TRY(r.redact, get_bool(v, p));
  } else if (key == "allow_detected") {
    LM_TRY(r.allow_detected, get_kinds(v, p, ctx, false));
  } else if (key == "must_stay_local") {
    LM_TRY(r.must_stay_local, get_bool(v, p));
  } else if (key == "status") {
    if (!v.is_number_integer()) return wrong_type(p, "an integer HTTP status", v);
    LM_TRY(double s, get_number(v, p, 400, 599));
    r.status = static_cast<int>(s);
  } else if (key == "message") {
    LM_TRY(r.message, get_string(v, p));
  } else {
    return at(p, "unknown member (known: name, description, when, route, fallback, redact, "
                 "allow_detected, must_stay_local, status, message)");
  }
  return Ok{};
}

// Combinations that cannot mean what the author wants are errors, not silent no-ops.
Status check_rule(const Rule& r, const std::string& path, const std::set<std::string>& seen) {
  if (!seen.count("route")) return at(path, "missing \"route\"");
  if (r.must_stay_local && r.route == Route::upstream) {
    return at(path + ".must_stay_local", "a must-stay-local rule cannot route upstream");
  }
  if (!r.allow_detected.empty() && !r.redact) {
    return at(path + ".allow_detected", "needs \"redact\": true (detected spans only leave redacted)");
  }
  if (r.route != Route::refuse && (seen.count("status") || seen.count("message"))) {
    return at(path, "\"status\" and \"message\" apply only to \"route\": \"refuse\"");
  }
  if (r.route == Route::refuse && !r.fallbacks.empty()) {
    return at(path + ".fallback", "a refusing rule has no fallbacks");
  }
  return Ok{};
}

Result<Rule> parse_rule(const json& j, const std::string& path, const PolicyContext& ctx) {
  if (!j.is_object()) return wrong_type(path, "a rule object", j);
  Rule r;
  std::set<std::string> seen;
  for (auto it = j.begin(); it != j.end(); ++it) {
    LM_TRY_STATUS(parse_rule_member(r, it.key(), it.value(), path + "." + it.key(), ctx, seen));
  }
  if (!seen.count("name")) return at(path, "missing \"name\"");
  LM_TRY_STATUS(check_rule(r, path, seen));
  return r;
}

Result<LocalLatency> parse_latency(const json& j, const std::string& path) {
  if (!j.is_object()) return wrong_type(path, "an object", j);
  LocalLatency l;
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string p = path + "." + it.key();
    double* field = it.key() == "base_ms"               ? &l.base_ms
                    : it.key() == "per_prompt_token_ms" ? &l.per_prompt_token_ms
                    : it.key() == "per_output_token_ms" ? &l.per_output_token_ms
                                                        : nullptr;
    if (!field) return at(p, "unknown member (expected base_ms, per_prompt_token_ms, per_output_token_ms)");
    LM_TRY(*field, get_number(it.value(), p, 0, 1e9));
  }
  return l;
}

}  // namespace

Result<Policy> Policy::parse(const json& section, const PolicyContext& ctx) {
  const std::string root = "policy";
  if (!section.is_object()) return wrong_type(root, "an object", section);
  std::vector<Rule> rules;
  bool default_refuse = false;
  LocalLatency latency;
  int64_t assumed_max_tokens = 1024;
  for (auto it = section.begin(); it != section.end(); ++it) {
    std::string p = root + "." + it.key();
    const json& v = it.value();
    if (it.key() == "rules") {
      if (!v.is_array()) return wrong_type(p, "an array of rules", v);
      std::set<std::string> names;
      for (size_t i = 0; i < v.size(); ++i) {
        std::string pi = fmt::format("{}[{}]", p, i);
        LM_TRY(Rule r, parse_rule(v[i], pi, ctx));
        if (!names.insert(r.name).second) return at(pi + ".name", fmt::format("duplicate rule name '{}'", r.name));
        rules.push_back(std::move(r));
      }
    } else if (it.key() == "default") {
      LM_TRY(auto d, get_string(v, p));
      if (d != "local" && d != "refuse") {
        return at(p, fmt::format("'{}': the default is \"local\" or \"refuse\" (egress needs a rule)", d));
      }
      default_refuse = d == "refuse";
    } else if (it.key() == "local_latency") {
      LM_TRY(latency, parse_latency(v, p));
    } else if (it.key() == "assumed_max_tokens") {
      if (!v.is_number_integer()) return wrong_type(p, "an integer", v);
      LM_TRY(double n, get_number(v, p, 0, 1e9));
      assumed_max_tokens = static_cast<int64_t>(n);
    } else {
      return at(p, "unknown member (known: rules, default, local_latency, assumed_max_tokens)");
    }
  }
  Policy policy(std::move(rules), default_refuse);
  policy.set_local_latency(latency);
  policy.set_assumed_max_tokens(assumed_max_tokens);
  return policy;
}

}  // namespace lm::router
