// Local routes under the router: run the endpoint's own handler (with the model the rule names)
// and audit the outcome once the response has been sent, streams included.
#include <fmt/format.h>

#include <chrono>
#include <mutex>

#include "core/log.h"
#include "server/route_dispatch.h"
#include "server/server_context.h"

namespace lm::server {
namespace {

using nlohmann::json;

// Token counts read from what the local handler sent: the usage object (OpenAI), the final
// NDJSON line's counters (Ollama), else one token per streamed content chunk.
struct UsageScan {
  int64_t in = 0, out = 0, chunks = 0;
  bool usage = false;
  std::string error;
  std::string pending;   // a line not yet complete

  void line(std::string_view l) {
    if (l.rfind("data: ", 0) == 0) l.remove_prefix(6);
    if (l.empty() || l.front() != '{') return;
    json j = json::parse(l, nullptr, false);
    if (!j.is_object()) return;
    whole(j);
    if (j.contains("choices") && j["choices"].is_array() && !j["choices"].empty()) {
      const json& c = j["choices"][0];
      bool text = (c.contains("delta") && c["delta"].is_object() && c["delta"].contains("content") &&
                   c["delta"]["content"].is_string() && !c["delta"]["content"].get_ref<const std::string&>().empty()) ||
                  (c.contains("text") && c["text"].is_string() && !c["text"].get_ref<const std::string&>().empty());
      chunks += text;
    } else if (j.contains("message") || j.contains("response")) {
      chunks += !j.value("done", false);
    }
  }
  void whole(const json& j) {
    if (j.contains("usage") && j["usage"].is_object()) {
      usage = true;
      in = j["usage"].value("prompt_tokens", int64_t{0});
      out = j["usage"].value("completion_tokens", int64_t{0});
    }
    if (j.contains("prompt_eval_count") || j.contains("eval_count")) {
      usage = true;
      in = j.value("prompt_eval_count", int64_t{0});
      out = j.value("eval_count", int64_t{0});
    }
    if (j.contains("error")) {
      const json& e = j["error"];
      error = e.is_string() ? e.get<std::string>() : e.is_object() ? e.value("message", std::string("error")) : "error";
    }
  }
  void feed(const char* d, size_t n) {
    pending.append(d, n);
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      line(std::string_view(pending).substr(start, nl - start));
    }
    pending.erase(0, start);
  }
};

// Without a usage report (an OpenAI stream without include_usage) the prompt is the router's
// estimate and the output one token per content chunk.
router::Outcome outcome_of(const router::Routed& r, const std::string& model, const UsageScan& u, int status,
                           const std::string& fallback) {
  router::Outcome o;
  o.route = "local";
  o.destination = model;
  o.model = model;
  o.tokens_in = u.usage ? u.in : r.prompt_tokens;
  o.tokens_out = u.usage ? u.out : u.chunks;
  if (status >= 400) o.error = fmt::format("HTTP {}: {}", status, u.error);
  else if (!u.error.empty()) o.error = "stream: " + u.error;
  o.fallback = fallback;
  return o;
}

// The model that serves: the rule's, else the requested one when local, else the first.
std::string pick_local_model(ServerContext& ctx, const std::string& named, const std::string& requested) {
  if (!named.empty()) return named;
  if (auto c = ctx.models.resolve(requested)) return *c;
  if (auto c = ctx.models.resolve("")) return *c;
  return requested;
}

}  // namespace

void run_local(ServerContext& ctx, router::Routed& r, const httplib::Request& req, httplib::Response& res,
               const HttpHandler& local, const std::string& named, const std::string& fallback) {
  std::string model = pick_local_model(ctx, named, r.model);
  set_route_headers(res, local_route(model), r);
  std::shared_ptr<router::Router> rt = ctx.options.router;
  if (model != r.model) {
    nlohmann::ordered_json body = nlohmann::ordered_json::parse(req.body, nullptr, false);
    httplib::Request copy = req;
    body["model"] = model;
    copy.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    local(copy, res);
  } else {
    local(req, res);
  }
  if (!res.content_provider_) {   // a whole response: audit now, fail closed if that fails
    UsageScan u;
    json j = json::parse(res.body, nullptr, false);
    if (j.is_object()) u.whole(j);
    if (auto st = rt->record(r, outcome_of(r, model, u, res.status, fallback)); !st.ok()) {
      log::error("audit log: {}", st.error().message());
      send_error(res, audit_unavailable(), dialect_of(req.path));
    }
    return;
  }
  // A stream: watch what goes out, audit when the response is released.
  auto scan = std::make_shared<UsageScan>();
  auto inner = std::move(res.content_provider_);
  res.content_provider_ = [inner, scan](size_t offset, size_t length, httplib::DataSink& sink) {
    httplib::DataSink tap;
    tap.write = [&sink, scan](const char* d, size_t n) {
      scan->feed(d, n);
      return sink.write(d, n);
    };
    tap.done = [&sink] { sink.done(); };
    tap.is_writable = [&sink] { return sink.is_writable(); };
    return inner(offset, length, tap);
  };
  auto release = std::move(res.content_provider_resource_releaser_);
  int status = res.status;
  auto routed_copy = std::make_shared<router::Routed>(r);
  res.content_provider_resource_releaser_ = [release, scan, rt, routed_copy, model, status, fallback](bool ok) {
    if (release) release(ok);
    router::Outcome o = outcome_of(*routed_copy, model, *scan, status, fallback);
    if (!ok && o.error.empty()) o.error = "client disconnected";
    if (auto st = rt->record(*routed_copy, o); !st.ok()) log::error("audit log: {}", st.error().message());
  };
}

}  // namespace lm::server
