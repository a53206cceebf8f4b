// Router: decide per request, forward upstream with fallbacks and redaction, audit everything.
#include "router/router.h"

#include <fmt/format.h>

#include <chrono>
#include <random>

#include "core/egress.h"
#include "core/log.h"

namespace lm::router {
namespace {

using nlohmann::json;

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string target_name(const Target& t) { return t.describe(); }

// Detector kind name as the policy's facts and the audit spell it.
std::string detection_name(const detect::Span& s) {
  if (s.kind == detect::Kind::CUSTOM) return "custom:" + std::string(s.label);
  if (s.kind == detect::Kind::KEYWORD) return "keyword:" + std::string(s.label);
  return detect::kind_name(s.kind);
}

int64_t requested_max_tokens(const json& body) {
  for (const char* k : {"max_completion_tokens", "max_tokens"}) {
    if (body.contains(k) && body[k].is_number_integer()) return body[k].get<int64_t>();
  }
  if (body.contains("options") && body["options"].is_object()) {
    const json& o = body["options"];
    if (o.contains("num_predict") && o["num_predict"].is_number_integer()) return o["num_predict"].get<int64_t>();
  }
  return 0;
}

bool can_fall_back(UpstreamErrorKind k) {
  switch (k) {
    case UpstreamErrorKind::connect:
    case UpstreamErrorKind::timeout:
    case UpstreamErrorKind::rate_limited:
    case UpstreamErrorKind::server_error:
    case UpstreamErrorKind::malformed:
    case UpstreamErrorKind::reset_mid_stream:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string Router::error_kind_name(UpstreamErrorKind k) { return std::string(upstream_error_kind_name(k)); }

Result<std::unique_ptr<Router>> Router::create(RouterConfig config) {
  std::unique_ptr<Router> r(new Router(std::move(config)));
  const RouterConfig& cfg = r->cfg_;
  LM_TRY(auto det, detect::Detector::create(cfg.detectors));
  r->detector_ = std::make_unique<detect::Detector>(std::move(det));
  r->audit_path_ = cfg.audit.path;
  if (r->audit_path_.empty()) {
    LM_TRY(auto p, audit::default_log_path());
    r->audit_path_ = p;
  }
  LM_TRY(std::string key, audit::load_hmac_key(cfg.audit.hmac_key_file));
  audit::AuditLogOptions ao;
  ao.path = r->audit_path_;
  ao.hmac_key = std::move(key);
  ao.fsync = cfg.audit.fsync;
  ao.fsync_every = cfg.audit.fsync_every;
  auto log = audit::AuditLog::open(std::move(ao));
  if (!log.ok()) return std::move(log).error().wrap("opening the audit log " + r->audit_path_);
  r->audit_ = std::move(*log);
  if (!r->audit_->repaired_note().empty()) log::warn("audit log: {}", r->audit_->repaired_note());
  r->ledger_ = std::make_unique<audit::BudgetLedger>(cfg.costs.budgets);
  if (auto st = r->ledger_->rebuild_from_log(r->audit_path_); !st.ok()) {
    return std::move(st).error().wrap("reading budgets from the audit log");
  }
  r->client_ = std::make_unique<UpstreamClient>();
  if (cfg.offline) egress::set_offline(true);
  r->id_salt_ = std::random_device{}();
  return r;
}

Router::~Router() = default;

const ProviderConfig* Router::provider(const std::string& name) const {
  for (const auto& p : cfg_.providers) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> Router::upstream_models() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& p : cfg_.providers) {
    for (const auto& m : p.models) out.emplace_back(p.name, m);
  }
  return out;
}

double Router::estimate_usd(const Target& t, int64_t prompt_tokens, int64_t max_tokens) const {
  if (t.provider.empty()) return 0;
  const audit::ModelPrice* p = cfg_.costs.prices.find(t.model);
  if (!p) return 0;
  return audit::hosted_cost(*p, {prompt_tokens, 0, std::max<int64_t>(max_tokens, 0)});
}

Routed Router::route(const RouteRequest& req, const LocalInfo& local) const {
  Routed r;
  r.start_ms = steady_ms();
  r.request_id = fmt::format("rq-{:08x}{:08x}", static_cast<uint32_t>(id_salt_),
                             next_id_.fetch_add(1));
  r.request_sha256 = audit::compute_hash(std::string(req.body), "");
  const json& body = *req.json;
  size_t text_bytes = 0;
  for_each_text(body, [&](const std::string& outer) {
    text_bytes += outer.size();
    std::map<std::string, int> found;   // max over the outer string and its decoded JSON values
    for_each_nested_text(outer, [&](const std::string& s) {
      detect::ScanStats stats;
      std::map<std::string, int> here;
      for (const auto& span : detector_->scan(s, &stats)) here[detection_name(span)] += 1;
      r.regex_limit_hits += stats.regex_limit_hits;
      for (const auto& [k, n] : here) found[k] = std::max(found[k], n);
    });
    for (const auto& [k, n] : found) r.detections[k] += n;
  });
  // A text a custom pattern could not finish scanning may hold a match: fail closed.
  if (r.regex_limit_hits > 0) r.detections["custom:match_limit"] += r.regex_limit_hits;
  r.model = body.contains("model") && body["model"].is_string() ? body["model"].get<std::string>() : "";
  r.prompt_tokens = static_cast<int64_t>(text_bytes / 4 + 1);
  r.max_tokens = requested_max_tokens(body);

  RequestFacts facts;
  facts.model = r.model;
  facts.headers = req.headers;
  facts.key = req.key;
  facts.detections = r.detections;
  facts.prompt_tokens = r.prompt_tokens;
  facts.max_tokens = r.max_tokens;
  facts.local_available = local.available;
  facts.local_n_ctx = local.n_ctx;
  facts.local_models = local.models;
  for (const auto& [p, m] : upstream_models()) facts.upstream_models.push_back(p + "/" + m);
  auto budget_ok = [this, &r](const std::string& key, const Target& t, int64_t prompt_tokens) {
    return ledger_->check(key, estimate_usd(t, prompt_tokens, r.max_tokens)).allowed;
  };
  r.decision = cfg_.policy.decide(facts, budget_ok);
  r.key = req.key;
  apply_guards(r, local.available);
  return r;
}

// Invariants that hold whatever the policy says: detections never leave unredacted, offline
// mode sends nothing, budgets are enforced.
void Router::apply_guards(Routed& r, bool local_available) const {
  Decision& d = r.decision;
  if (d.route != Route::upstream) return;
  auto to_local_or_refuse = [&d](int status, std::string why) {
    for (const auto& fb : d.fallbacks) {
      if (fb.is_local()) {
        d.route = Route::local;
        d.target = fb;
        d.fallbacks.clear();
        d.reason = why + "; served by the rule's local fallback";
        return;
      }
    }
    d.route = Route::refuse;
    d.http_status = status;
    d.message = why;
    d.reason = std::move(why);
  };
  if (!r.detections.empty() && !d.redact) {
    d.route = Route::local;
    d.target = Target{};
    d.must_stay_local = true;
    d.fallbacks.clear();
    d.reason = fmt::format("rule '{}': sensitive data detected and the rule does not redact; kept local", d.rule);
    if (!local_available) {   // must stay local and cannot: fail closed
      d.route = Route::refuse;
      d.http_status = 503;
      d.message = d.reason = fmt::format("rule '{}': sensitive data must stay local and no local model is "
                                         "available", d.rule);
    }
    return;
  }
  if (cfg_.offline || egress::offline()) {
    return to_local_or_refuse(503, fmt::format(
        "offline mode: rule '{}' routes this request to {}, but outbound connections are disabled",
        d.rule, target_name(d.target)));
  }
  audit::BudgetCheck bc = ledger_->check(r.key, estimate_usd(d.target, r.prompt_tokens, r.max_tokens));
  if (!bc.allowed) to_local_or_refuse(429, fmt::format("rule '{}': {}", d.rule, bc.reason));
}

namespace {

// The fields every audit entry of request r carries.
audit::AuditRecord base_record(const Routed& r) {
  audit::AuditRecord a;
  a.request_id = r.request_id;
  a.key = r.key;
  a.rule = r.decision.rule;
  for (const auto& [k, n] : r.detections) a.detectors[k] = n;
  a.request_sha256 = r.request_sha256;
  return a;
}

}  // namespace

Status Router::record_egress(const Routed& r, const Target& t) {
  audit::AuditRecord a = base_record(r);
  a.route = "egress";
  a.destination = t.provider;
  a.model = t.model;
  a.tokens_in = r.prompt_tokens;
  auto e = audit_->append(a);
  if (!e.ok()) return std::move(e).error();
  return {};
}

Status Router::record(const Routed& r, const Outcome& o) {
  audit::AuditRecord a = base_record(r);
  a.route = o.route;
  a.destination = o.destination;
  a.model = o.model;
  a.tokens_in = o.tokens_in;
  a.tokens_cached = o.tokens_cached;
  a.tokens_out = o.tokens_out;
  int64_t elapsed = steady_ms() - r.start_ms;
  a.latency_ms = elapsed;
  double seconds = o.seconds >= 0 ? o.seconds : elapsed / 1000.0;
  if (o.route == "upstream") {
    auto c = cfg_.costs.prices.cost(o.model, {o.tokens_in, o.tokens_cached, o.tokens_out});
    a.cost_usd = c.ok() ? *c : 0;
  } else if (o.route == "local") {
    a.cost_usd = cfg_.costs.local.cost(seconds);
  }
  a.error = o.error;
  a.fallback = o.fallback;
  auto e = audit_->append(a);
  if (!e.ok()) return std::move(e).error();
  if (a.cost_usd > 0) ledger_->record(a.key, a.cost_usd);
  return {};
}

Forwarded Router::forward(const Routed& r, const json& body, const ChunkSink& on_chunk,
                          const std::function<bool()>& cancelled) {
  Forwarded f;
  const Decision& d = r.decision;
  std::vector<Target> targets{d.target};
  if (!d.must_stay_local) targets.insert(targets.end(), d.fallbacks.begin(), d.fallbacks.end());
  detect::Redactor red;
  for (const Target& t : targets) {
    f.served = t;
    if (!f.fallback.empty()) f.fallback += " -> " + target_name(t);
    if (t.provider.empty()) {   // a local fallback: the server runs it
      f.local_model = t.model;
      f.error.reset();
      return f;
    }
    const ProviderConfig* p = provider(t.provider);
    if (!p) {
      f.error = UpstreamError{UpstreamErrorKind::client_error, 0, -1,
                              fmt::format("provider '{}' is not configured", t.provider)};
      return f;
    }
    json out = body;
    out["model"] = t.model;
    if (d.redact) {
      for_each_text(out, [&](std::string& outer) {
        rewrite_nested_text(outer, [&](std::string& s) {
          auto spans = detector_->scan(s);
          if (!spans.empty()) s = red.redact(s, spans);
        });
        auto rest = detector_->scan(outer);   // anything only the escaped form shows
        if (!rest.empty()) outer = red.redact(outer, rest);
      });
    }
    if (auto st = record_egress(r, t); !st.ok()) {   // on record BEFORE anything leaves
      log::error("audit log: {}", st.error().message());
      f.audit_failed = true;
      return f;
    }
    CallOptions opts;
    opts.cancelled = cancelled;
    std::variant<UpstreamResult, UpstreamError> res;
    if (on_chunk) {
      if (!out.contains("stream_options") || !out["stream_options"].is_object()) out["stream_options"] = json::object();
      out["stream_options"]["include_usage"] = true;   // the audit needs the usage
      ChunkRestorer restorer(red);
      res = client_->chat_stream(*p, out, [&](const json& chunk) {
        json c = chunk;
        if (d.redact) restorer.restore(c);
        f.chunks_sent = true;
        return on_chunk(c, t);
      }, opts);
    } else {
      res = client_->chat(*p, out, opts);
    }
    if (auto* ok = std::get_if<UpstreamResult>(&res)) {
      if (d.redact && !on_chunk) restore_response(ok->response, red);
      f.attempts += ok->attempts;
      f.result = std::move(*ok);
      f.error.reset();
      return f;
    }
    UpstreamError err = std::get<UpstreamError>(std::move(res));
    f.attempts += std::max(1, err.attempts);
    bool more = &t != &targets.back();
    f.error = err;
    if (f.chunks_sent || err.partial || !can_fall_back(err.kind) || !more) return f;
    // "openai/gpt-5 rate_limited -> claude/x timeout -> local:default"
    f.fallback += f.fallback.empty() ? fmt::format("{} {}", target_name(t), error_kind_name(err.kind))
                                     : fmt::format(" {}", error_kind_name(err.kind));
  }
  return f;
}

}  // namespace lm::router
