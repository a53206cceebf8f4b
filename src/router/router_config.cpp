// Loading the router's configuration file: each section goes to its owner's parser.
#include "router/router_config.h"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace lm::router {
namespace {

using nlohmann::json;

Result<AuditSettings> parse_audit(const json& j) {
  AuditSettings a;
  if (!j.is_object()) return Error("audit: expected an object");
  for (const auto& [k, v] : j.items()) {
    if (k == "path" || k == "hmac_key_file") {
      if (!v.is_string()) return errorf("audit.{}: expected a string", k);
      (k == "path" ? a.path : a.hmac_key_file) = expand_home(v.get<std::string>());
    } else if (k == "fsync") {
      std::string s = v.is_string() ? v.get<std::string>() : "";
      if (s == "always") a.fsync = audit::FsyncPolicy::always;
      else if (s == "periodic") a.fsync = audit::FsyncPolicy::periodic;
      else if (s == "never") a.fsync = audit::FsyncPolicy::never;
      else return Error("audit.fsync: expected \"always\", \"periodic\" or \"never\"");
    } else if (k == "fsync_every") {
      if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 100000)
        return Error("audit.fsync_every: expected an integer in [1, 100000]");
      a.fsync_every = v.get<int>();
    } else {
      return errorf("audit.{}: unknown member (expected path, hmac_key_file, fsync, fsync_every)", k);
    }
  }
  return a;
}

// prices / local_cost / budgets, in the shape audit::parse_cost_config reads.
Result<audit::CostConfig> parse_costs(const json& root) {
  json c = json::object();
  if (root.contains("prices")) c["prices"] = root["prices"];
  if (root.contains("local_cost")) c["local"] = root["local_cost"];
  if (root.contains("budgets")) c["budgets"] = root["budgets"];
  auto r = audit::parse_cost_config(c.dump());
  if (!r.ok()) return std::move(r).error().wrap("prices/local_cost/budgets");
  return r;
}

}  // namespace

std::string expand_home(const std::string& path) {
  if (path == "~" || path.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    if (home && *home) return std::string(home) + path.substr(1);
  }
  return path;
}

Result<RouterConfig> parse_router_config(const json& root, const std::string& source) {
  auto ctx = [&source](Error e) { return source.empty() ? std::move(e) : std::move(e).wrap(source); };
  if (!root.is_object()) return ctx(Error("expected a JSON object at the top level"));
  static const char* kKnown[] = {"offline", "providers", "policy", "detectors", "audit",
                                 "prices", "local_cost", "budgets", "$schema", "comment"};
  for (const auto& [k, v] : root.items()) {
    bool known = false;
    for (const char* n : kKnown) known |= k == n;
    if (!known) {
      return ctx(errorf("{}: unknown section (expected offline, providers, policy, detectors, audit, "
                        "prices, local_cost, budgets)", k));
    }
  }
  RouterConfig cfg;
  cfg.source = source;
  if (root.contains("offline")) {
    if (!root["offline"].is_boolean()) return ctx(Error("offline: expected true or false"));
    cfg.offline = root["offline"].get<bool>();
  }
  if (root.contains("providers")) {
    auto p = parse_providers(root["providers"]);
    if (!p.ok()) return ctx(std::move(p).error());
    cfg.providers = std::move(*p);
  }
  if (root.contains("detectors")) {
    auto d = detect::DetectorConfig::from_json(root["detectors"].dump());
    if (!d.ok()) return ctx(std::move(d).error().wrap("detectors"));
    cfg.detectors = std::move(*d);
    auto compiled = detect::Detector::create(cfg.detectors);   // bad regexes are config errors
    if (!compiled.ok()) return ctx(std::move(compiled).error().wrap("detectors"));
  }
  auto costs = parse_costs(root);
  if (!costs.ok()) return ctx(std::move(costs).error());
  cfg.costs = std::move(*costs);
  if (root.contains("policy")) {
    PolicyContext pc;   // the policy may name only configured providers and detectors
    for (const auto& p : cfg.providers) pc.providers[p.name] = p.models;
    pc.detectors = &cfg.detectors;
    auto p = Policy::parse(root["policy"], pc);
    if (!p.ok()) return ctx(std::move(p).error());
    cfg.policy = std::move(*p);
  }
  cfg.policy.set_prices(cfg.costs.prices);
  if (root.contains("audit")) {
    auto a = parse_audit(root["audit"]);
    if (!a.ok()) return ctx(std::move(a).error());
    cfg.audit = std::move(*a);
  }
  return cfg;
}

Result<RouterConfig> load_router_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errorf("{}: cannot open the router config", path);
  std::stringstream ss;
  ss << in.rdbuf();
  json root = json::parse(ss.str(), nullptr, false);
  if (root.is_discarded()) return errorf("{}: not valid JSON", path);
  return parse_router_config(root, path);
}

}  // namespace lm::router
