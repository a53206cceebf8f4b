// The router's ONE configuration file (`localmax serve --router-config FILE`), JSON:
//
//   {"offline": false,
//    "providers": [...],                 // router::parse_providers (provider.h)
//    "policy": {"rules": [...], ...},    // router::Policy::parse (policy.h); absent: default policy
//    "detectors": {...},                 // detect::DetectorConfig JSON (detect.h); absent: all kinds
//    "audit": {"path": "~/.localmax/audit.jsonl", "hmac_key_file": "", "fsync": "always"|
//              "periodic"|"never", "fsync_every": 64},   // absent path: audit::default_log_path()
//    "prices": {...}, "local_cost": {...}, "budgets": [...]}   // audit::parse_cost_config parts
//
// Every section is handed to its owner's parser; errors name the file and the JSON path
// ("router.json: policy.rules[2].when: ..."). API keys never appear in the file: providers name
// the environment variable that holds them (api_key_env).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "audit/cost.h"
#include "core/result.h"
#include "detect/detect.h"
#include "router/policy.h"
#include "router/provider.h"

namespace lm::router {

struct AuditSettings {
  std::string path{};           // "" = audit::default_log_path()
  std::string hmac_key_file{};  // "" = $LOCALMAX_AUDIT_KEY or a plain SHA-256 chain
  audit::FsyncPolicy fsync = audit::FsyncPolicy::always;
  int fsync_every = 64;
};

struct RouterConfig {
  std::string source{};         // the file it came from ("" when parsed from memory)
  bool offline = false;
  std::vector<ProviderConfig> providers{};
  Policy policy = Policy::default_policy();
  detect::DetectorConfig detectors{};
  AuditSettings audit{};
  audit::CostConfig costs{};    // prices (defaults + overrides), local cost model, budgets
};

// root: the whole file's JSON. source names the file in errors.
Result<RouterConfig> parse_router_config(const nlohmann::json& root, const std::string& source);
Result<RouterConfig> load_router_config(const std::string& path);

// "~/x" -> "$HOME/x"; other paths unchanged.
std::string expand_home(const std::string& path);

}  // namespace lm::router
