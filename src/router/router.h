// Router: the per-request decision (local, upstream or refuse), the upstream call with its
// fallbacks and redaction, and the audit trail. The server asks it about every generation request
// (src/server/route_*.cpp); nothing here knows HTTP.
//
//   LM_TRY(auto cfg, router::load_router_config(path));
//   LM_TRY(auto router, router::Router::create(std::move(cfg)));
//   Routed r = router->route({body, &json, headers, key}, local);   // detect + facts + decide
//   switch (r.decision.route) {
//     case Route::refuse:   router->record(r, Outcome::refused(...)); reply r.decision.http_status
//     case Route::local:    run locally; router->record(r, outcome with tokens and time)
//     case Route::upstream: auto f = router->forward(r, json, on_chunk);  // audits each egress
//                           router->record(r, outcome_of(f));             // BEFORE sending
//   }
//
// Audit: one outcome entry per request (route "local", "upstream" or "refused"), and before each
// upstream attempt an "egress" entry (route "egress", destination, detector counts) so that what
// left the machine is on record even if the process dies mid-call. `localmax costs` skips egress
// entries (their cost is in the outcome entry). An append failure fails the request closed.
//
// Thread-safety: route/forward/record may run concurrently (Detector, Policy and the config are
// read-only; AuditLog, BudgetLedger and UpstreamClient are thread-safe). Ownership: owns all.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_log.h"
#include "audit/cost.h"
#include "detect/detect.h"
#include "detect/redact.h"
#include "router/policy.h"
#include "router/provider.h"
#include "router/router_config.h"
#include "router/upstream.h"

namespace lm::router {

// What the server knows about its local models.
struct LocalInfo {
  bool available = true;              // a local model can serve requests
  int64_t n_ctx = 0;                  // the context of the model that would serve
  std::vector<std::string> models;    // local model names
};

struct RouteRequest {
  std::string_view body;                      // the raw request body (hashed for the audit)
  const nlohmann::json* json = nullptr;       // its parsed form (an object)
  std::map<std::string, std::string> headers; // lower-case names, without Authorization
  std::string key;                            // API key NAME ("" if none), never the secret
};

// A request's decision and what went into it (never the sensitive text itself).
struct Routed {
  std::string request_id;
  Decision decision;
  std::map<std::string, int> detections;     // kind -> count, over every text of the request
  int regex_limit_hits = 0;                  // custom patterns stopped early (counted as detections)
  int64_t prompt_tokens = 0;                 // estimate: text bytes / 4
  int64_t max_tokens = 0;
  std::string model;                         // as requested
  std::string key;                           // API key name
  std::string request_sha256;
  int64_t start_ms = 0;                      // steady clock, for latency
};

// The end of a request, for record().
struct Outcome {
  std::string route;                         // "local", "upstream", "refused"
  std::string destination;                   // local model or upstream provider name
  std::string model;
  int64_t tokens_in = 0, tokens_cached = 0, tokens_out = 0;
  double seconds = -1;                       // local generation time (-1: from start_ms)
  std::string error;                         // "" on success, else "<kind>: <message>"
  std::string fallback;                      // "openai/gpt-5 rate_limited -> local:qwen3"
};

// The result of forward(): served upstream, served by a local fallback, or an error.
struct Forwarded {
  std::optional<UpstreamResult> result;      // set when an upstream answered
  std::optional<UpstreamError> error;        // the last upstream error (when nothing answered)
  bool audit_failed = false;                 // an egress entry could not be written: nothing sent
  Target served;                             // the target that answered (or was tried last)
  std::optional<std::string> local_model;    // fall back to this local model ("" = default)
  std::string fallback;                      // chain of failed targets, for the audit
  int attempts = 0;                          // upstream HTTP attempts, all targets
  bool chunks_sent = false;                  // streaming: the client already got chunks
};

// OpenAI chunk (restored) and the target sending it -> client; false when the client has gone.
using ChunkSink = std::function<bool(const nlohmann::json& chunk, const Target& served)>;

class Router {
 public:
  static Result<std::unique_ptr<Router>> create(RouterConfig config);
  ~Router();

  // Detect over every text of the request, build the facts, decide. Applies offline mode and
  // budgets on top of the policy (an upstream decision that cannot be sent becomes a local
  // fallback or a refusal naming the reason).
  Routed route(const RouteRequest& req, const LocalInfo& local) const;

  // Sends the request upstream (the decision's target, then its fallbacks when allowed), with
  // redaction when the rule asks for it and the reply restored. stream: on_chunk gets every
  // chunk; non-stream: pass nullptr. cancelled: the client went away.
  Forwarded forward(const Routed& r, const nlohmann::json& body, const ChunkSink& on_chunk,
                    const std::function<bool()>& cancelled = {});

  // Appends the request's outcome entry and records its cost in the budget ledger.
  Status record(const Routed& r, const Outcome& o);

  const RouterConfig& config() const { return cfg_; }
  const detect::Detector& detector() const { return *detector_; }
  const std::string& audit_path() const { return audit_path_; }
  // (provider, model) for /v1/models.
  std::vector<std::pair<std::string, std::string>> upstream_models() const;
  const ProviderConfig* provider(const std::string& name) const;

  // "timeout", "rate_limited", ... (the audit's error kinds).
  static std::string error_kind_name(UpstreamErrorKind k);

 private:
  explicit Router(RouterConfig cfg) : cfg_(std::move(cfg)) {}
  Status record_egress(const Routed& r, const Target& t);
  double estimate_usd(const Target& t, int64_t prompt_tokens, int64_t max_tokens) const;
  void apply_guards(Routed& r, bool local_available) const;

  RouterConfig cfg_;
  std::unique_ptr<detect::Detector> detector_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::string audit_path_;
  std::unique_ptr<audit::BudgetLedger> ledger_;
  std::unique_ptr<UpstreamClient> client_;
  mutable std::atomic<uint64_t> next_id_{1};
  uint64_t id_salt_ = 0;
};

// ---- request texts (router_text.cpp) ----
// Calls fn on every string the request could send upstream: message contents and parts, tool
// call arguments, names, tools, prompt/input/system/suffix, stop strings; object keys included.
// fn may rewrite the string (redaction). The top-level "model" is left alone.
void for_each_text(nlohmann::json& body, const std::function<void(std::string&)>& fn);
void for_each_text(const nlohmann::json& body, const std::function<void(const std::string&)>& fn);

// A string that is itself JSON (tool call arguments, a JSON prompt) hides its values behind
// escapes ("\\\"", "\\n"): these see the string and, when it parses, every string inside it
// (to `depth` levels). rewrite_nested_text rewrites the inner strings and re-serialises, or the
// string itself when it is not JSON.
void for_each_nested_text(const std::string& s, const std::function<void(const std::string&)>& fn, int depth = 2);
void rewrite_nested_text(std::string& s, const std::function<void(std::string&)>& fn, int depth = 2);

// Restores placeholders in an OpenAI chat.completion (message content, tool call arguments).
void restore_response(nlohmann::json& response, const detect::Redactor& red);

// Restores placeholders in a stream of OpenAI chunks, holding back partial placeholders until
// the next chunk or the choice's finish_reason.
class ChunkRestorer {
 public:
  explicit ChunkRestorer(const detect::Redactor& red) : red_(red) {}
  void restore(nlohmann::json& chunk);
 private:
  const detect::Redactor& red_;
  std::map<std::string, std::unique_ptr<detect::StreamRestorer>> streams_;  // "choice/field" ->
  detect::StreamRestorer& stream(const std::string& key);
};

}  // namespace lm::router
