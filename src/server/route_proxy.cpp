// Upstream routes: forward through the router (fallbacks, redaction), answer whole or as an
// OpenAI SSE stream, map upstream faults to clean errors, and audit the outcome.
//
// Streams: the upstream call runs on its own thread and hands restored chunks over a queue. The
// handler waits for the first chunk (or the end) before committing to a status, so a failure
// before any chunk is still a proper HTTP error (429 with Retry-After, 502, 504) or a fallback;
// a failure after chunks were sent ends the stream with an SSE error event and [DONE].
#include <fmt/format.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "core/log.h"
#include "server/route_dispatch.h"
#include "server/server_context.h"
#include "server/streaming.h"

namespace lm::server {
namespace {

using nlohmann::json;
using router::UpstreamErrorKind;

ApiError upstream_error(const router::UpstreamError& e, const router::Target& t) {
  ApiError a;
  a.type = "upstream_error";
  a.code = "upstream_" + router::Router::error_kind_name(e.kind);
  std::string where = t.provider + "/" + t.model;
  switch (e.kind) {
    case UpstreamErrorKind::rate_limited:
      a.status = 429;
      a.type = "rate_limit_error";
      if (e.retry_after_ms >= 0) a.retry_after_s = static_cast<int>(std::max<int64_t>(1, (e.retry_after_ms + 999) / 1000));
      break;
    case UpstreamErrorKind::timeout: a.status = 504; break;
    case UpstreamErrorKind::offline: a.status = 503; a.code = "offline"; break;
    default: a.status = 502; break;
  }
  a.message = fmt::format("upstream {} failed ({}): {}", where, router::Router::error_kind_name(e.kind), e.message);
  return a;
}

router::Outcome upstream_outcome(const router::Forwarded& f) {
  router::Outcome o;
  o.route = "upstream";
  o.destination = f.served.provider;
  o.model = f.served.model;
  o.fallback = f.fallback;
  if (f.result) {
    o.tokens_in = f.result->prompt_tokens;
    o.tokens_cached = f.result->cached_tokens;
    o.tokens_out = f.result->completion_tokens;
  } else if (f.error) {
    o.error = fmt::format("{}: {} (attempts {})", router::Router::error_kind_name(f.error->kind),
                          f.error->message, std::max(1, f.attempts));
  }
  return o;
}

// The end of a forward that produced no stream: audit failure, local fallback, reply or error.
void finish_unstreamed(ServerContext& ctx, router::Routed& r, router::Forwarded& f, const httplib::Request& req,
                       httplib::Response& res, const HttpHandler& local) {
  router::Router& rt = *ctx.options.router;
  if (f.audit_failed) {
    set_route_headers(res, "refused", r);
    return send_error(res, audit_unavailable(), Dialect::kOpenAi);
  }
  if (f.local_model) return run_local(ctx, r, req, res, local, *f.local_model, f.fallback);
  set_route_headers(res, upstream_route(f.served), r);
  router::Outcome o = upstream_outcome(f);
  Status st = rt.record(r, o);
  if (!st.ok()) {
    log::error("audit log: {}", st.error().message());
    return send_error(res, audit_unavailable(), Dialect::kOpenAi);
  }
  if (f.result) return send_json(res, 200, f.result->response);
  if (f.error) return send_error(res, upstream_error(*f.error, f.served), Dialect::kOpenAi);
  send_error(res, server_error("upstream call ended without a result"), Dialect::kOpenAi);
}

struct StreamState {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> out;      // SSE events ready for the client
  bool any_chunk = false;
  bool finished = false;
  bool client_gone = false;
  router::Target first_target;
  router::Forwarded result;
  std::thread worker;
};

void start_worker(ServerContext& ctx, std::shared_ptr<StreamState> st, const router::Routed& r,
                  json body, bool include_usage) {
  std::shared_ptr<router::Router> rt = ctx.options.router;
  const std::atomic<bool>* stopping = &ctx.stopping;
  router::Routed rc = r;
  st->worker = std::thread([st, rt, rc, body = std::move(body), include_usage, stopping] {
    auto on_chunk = [&](const json& chunk, const router::Target& t) {
      json c = chunk;
      bool usage_only = c.contains("choices") && c["choices"].is_array() && c["choices"].empty();
      if (!include_usage) {
        if (usage_only) return true;
        c.erase("usage");
      }
      std::lock_guard<std::mutex> lock(st->mu);
      if (!st->any_chunk) st->first_target = t;
      st->any_chunk = true;
      st->out.push_back(sse_event(c));
      st->cv.notify_all();
      return !st->client_gone;
    };
    auto cancelled = [&] {
      std::lock_guard<std::mutex> lock(st->mu);
      return st->client_gone || stopping->load();
    };
    router::Forwarded f = rt->forward(rc, body, on_chunk, cancelled);
    std::lock_guard<std::mutex> lock(st->mu);
    st->result = std::move(f);
    st->finished = true;
    st->cv.notify_all();
  });
}

// Sends queued events until the worker ends; a failure after chunks becomes an SSE error event.
bool pump_stream(StreamState& st, httplib::DataSink& sink) {
  for (;;) {
    std::unique_lock<std::mutex> lock(st.mu);
    st.cv.wait(lock, [&] { return !st.out.empty() || st.finished; });
    std::deque<std::string> batch;
    batch.swap(st.out);
    bool finished = st.finished;
    lock.unlock();
    for (const auto& ev : batch) {
      if (!sink.write(ev.data(), ev.size())) {
        std::lock_guard<std::mutex> g(st.mu);
        st.client_gone = true;
        return false;
      }
    }
    if (!finished) continue;
    std::string tail;
    if (!st.result.result && st.result.error) {
      tail = sse_event(error_body(upstream_error(*st.result.error, st.result.served), Dialect::kOpenAi));
    }
    tail += sse_done();
    if (!sink.write(tail.data(), tail.size())) return false;
    sink.done();
    return true;
  }
}

void proxy_stream(ServerContext& ctx, router::Routed& r, const json& body, const httplib::Request& req,
                  httplib::Response& res, const HttpHandler& local) {
  bool include_usage = body.contains("stream_options") && body["stream_options"].is_object() &&
                       body["stream_options"].value("include_usage", false);
  auto st = std::make_shared<StreamState>();
  start_worker(ctx, st, r, body, include_usage);
  {
    std::unique_lock<std::mutex> lock(st->mu);
    st->cv.wait(lock, [&] { return st->any_chunk || st->finished; });
    if (!st->any_chunk && !(st->finished && st->result.result)) {
      lock.unlock();
      st->worker.join();
      return finish_unstreamed(ctx, r, st->result, req, res, local);
    }
    set_route_headers(res, upstream_route(st->any_chunk ? st->first_target : st->result.served), r);
  }
  std::shared_ptr<router::Router> rt = ctx.options.router;
  auto rc = std::make_shared<router::Routed>(r);
  res.set_chunked_content_provider(
      "text/event-stream", [st](size_t, httplib::DataSink& sink) { return pump_stream(*st, sink); },
      [st, rt, rc](bool ok) {
        {
          std::lock_guard<std::mutex> lock(st->mu);
          if (!ok) st->client_gone = true;
        }
        if (st->worker.joinable()) st->worker.join();
        router::Outcome o = upstream_outcome(st->result);
        if (!ok && o.error.empty()) o.error = "client disconnected";
        if (auto s = rt->record(*rc, o); !s.ok()) log::error("audit log: {}", s.error().message());
      });
}

}  // namespace

void proxy_upstream(ServerContext& ctx, router::Routed& r, const json& body, const httplib::Request& req,
                    httplib::Response& res, const HttpHandler& local) {
  bool stream = body.contains("stream") && body["stream"].is_boolean() && body["stream"].get<bool>();
  if (stream) return proxy_stream(ctx, r, body, req, res, local);
  std::shared_ptr<router::Router> rt = ctx.options.router;
  router::Forwarded f = rt->forward(r, body, nullptr, [&ctx] { return ctx.stopping.load(); });
  finish_unstreamed(ctx, r, f, req, res, local);
}

}  // namespace lm::server
