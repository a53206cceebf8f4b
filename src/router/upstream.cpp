#include "router/upstream.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "core/egress.h"
#include "core/log.h"
#include "router/anthropic.h"
#include "router/upstream_http.h"
#include "router/upstream_json.h"
#include "router/upstream_stream.h"

namespace lm::router {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct UpstreamClient::Impl {
  CurlPool pool;
  std::atomic<int64_t> attempts{0};
  std::mutex rng_mu;
  std::mt19937_64 rng{std::random_device{}()};

  int64_t jitter(int64_t lo, int64_t hi) {
    std::lock_guard<std::mutex> lock(rng_mu);
    return std::uniform_int_distribution<int64_t>(lo, std::max(lo, hi))(rng);
  }
};

namespace {

using Outcome = std::variant<UpstreamResult, UpstreamError>;

constexpr int64_t kMaxBackoffMs = 30000;

UpstreamError make_error(UpstreamErrorKind kind, std::string message, int http_status = 0) {
  UpstreamError e;
  e.kind = kind;
  e.message = std::move(message);
  e.http_status = http_status;
  return e;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// What one call sends, built once and reused by every attempt.
struct Prepared {
  std::string url;                    // the endpoint (may be printed: it has no query string)
  std::vector<std::string> headers;   // with the key: never printed
  std::string body;
  std::string key;                    // to scrub from messages
};

std::vector<std::string> request_headers(const ProviderConfig& p, const std::string& key, bool stream) {
  std::map<std::string, std::string> named;   // lower-cased name -> "Name: value"
  auto put = [&](const std::string& name, const std::string& value) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    named[lower] = name + ": " + value;
  };
  put("Content-Type", "application/json");
  put("Accept", stream ? "text/event-stream" : "application/json");
  if (p.kind == ProviderKind::anthropic) {
    put("anthropic-version", kAnthropicVersion);
    if (!key.empty()) put("x-api-key", key);
  } else if (!key.empty()) {
    put("Authorization", "Bearer " + key);
  }
  for (const auto& [k, v] : p.headers) put(k, v);   // the config may override (a proxy's auth)
  std::vector<std::string> out;
  for (auto& [k, line] : named) out.push_back(std::move(line));
  return out;
}

std::variant<Prepared, UpstreamError> prepare(const ProviderConfig& p, const json& request, bool stream) {
  Prepared out;
  out.url = chat_endpoint(p);
  if (Status s = egress::check(out.url); !s.ok()) return make_error(UpstreamErrorKind::offline, s.error().message());
  if (!request.is_object()) return make_error(UpstreamErrorKind::client_error, "the request is not a JSON object");
  auto key = provider_api_key(p);
  if (!key.ok()) return make_error(UpstreamErrorKind::config, key.error().message());
  out.key = *key;
  json body = request;
  if (p.kind == ProviderKind::openai) {
    body.erase("stream_options");
    if (stream) {
      body["stream"] = true;
      body["stream_options"] = {{"include_usage", true}};
    } else {
      body.erase("stream");
    }
  } else {
    body["stream"] = stream;
    auto translated = anthropic_request(body);
    if (!translated.ok())
      return make_error(UpstreamErrorKind::client_error, "translating the request for anthropic: " + translated.error().message());
    body = std::move(*translated);
  }
  out.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  out.headers = request_headers(p, out.key, stream);
  return out;
}

// The upstream's own error message from an error body (OpenAI {"error": {"message"}}, Anthropic
// {"type": "error", "error": {"type", "message"}}, or {"message"}).
std::string upstream_message(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  std::string msg;
  if (const json* e = obj_field(j, "error")) msg = str_field(*e, "message");
  else if (!str_field(j, "error").empty()) msg = str_field(j, "error");
  else msg = str_field(j, "message");
  if (msg.empty()) return body.empty() ? "(empty body)" : "(no JSON error message)";
  if (msg.size() > 500) msg = msg.substr(0, 500) + "...";
  return msg;
}

UpstreamError http_error(const HttpOutcome& o) {
  UpstreamError e = make_error(UpstreamErrorKind::client_error, "", static_cast<int>(o.status));
  if (o.status == 429) e.kind = UpstreamErrorKind::rate_limited;
  else if (o.status >= 500) e.kind = UpstreamErrorKind::server_error;
  else if (o.status == 408) e.kind = UpstreamErrorKind::timeout;
  if (o.status == 429 || o.status == 503) e.retry_after_ms = parse_retry_after(o.headers);
  if (o.status >= 300 && o.status < 400) {
    e.message = fmt::format("HTTP {}: unexpected redirect (check base_url)", o.status);
  } else {
    e.message = fmt::format("HTTP {}: {}", o.status, upstream_message(o.body));
  }
  return e;
}

UpstreamError transport_error(const HttpOutcome& o, const ProviderConfig& p, int delivered) {
  if (o.cancelled) return make_error(UpstreamErrorKind::cancelled, "cancelled");
  if (o.idle_timed_out)
    return make_error(UpstreamErrorKind::timeout, fmt::format("no data from the upstream for {} ms", p.idle_timeout_ms));
  switch (static_cast<CURLcode>(o.curl_code)) {
    case CURLE_OPERATION_TIMEDOUT:
      if (!o.connected)
        return make_error(UpstreamErrorKind::connect, fmt::format("connect timeout ({} ms): {}", p.connect_timeout_ms, o.curl_error));
      return make_error(UpstreamErrorKind::timeout, fmt::format("no complete reply within {} ms", p.timeout_ms));
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      if (egress::offline()) return make_error(UpstreamErrorKind::offline, "offline mode: the socket was refused");
      return make_error(UpstreamErrorKind::connect, "cannot connect: " + o.curl_error);
    default:
      break;
  }
  if (delivered > 0)
    return make_error(UpstreamErrorKind::reset_mid_stream,
                      fmt::format("the connection was lost after {} chunks: {}", delivered, o.curl_error));
  return make_error(UpstreamErrorKind::connect, "the connection was lost: " + o.curl_error);
}

// A non-stream 2xx body as an OpenAI chat.completion.
std::variant<json, UpstreamError> parse_reply(const ProviderConfig& p, const HttpOutcome& o) {
  json j = json::parse(o.body, nullptr, false);
  if (j.is_discarded()) {
    auto ct = o.headers.find("content-type");
    return make_error(UpstreamErrorKind::malformed,
                      fmt::format("the reply is not JSON ({} bytes, content-type {})", o.body.size(),
                                  ct == o.headers.end() ? "none" : ct->second), static_cast<int>(o.status));
  }
  if (p.kind == ProviderKind::anthropic) {
    auto r = anthropic_response_to_openai(j);
    if (!r.ok()) return make_error(UpstreamErrorKind::malformed, r.error().message(), static_cast<int>(o.status));
    return std::move(*r);
  }
  if (Status s = check_openai_completion(j); !s.ok()) {
    if (const json* e = obj_field(j, "error")) {   // some gateways answer errors with a 200
      std::string msg = str_field(*e, "message");
      return make_error(UpstreamErrorKind::server_error, "upstream error in a 200 reply: " + (msg.empty() ? "(no message)" : msg),
                        static_cast<int>(o.status));
    }
    return make_error(UpstreamErrorKind::malformed, s.error().message(), static_cast<int>(o.status));
  }
  return j;
}

struct AttemptContext {
  const ProviderConfig& p;
  const Prepared& prep;
  const CallOptions& opts;
  const std::function<bool(const json&)>* on_chunk;   // nullptr: not streaming
  Clock::time_point t0;
  double ttft_ms = -1;
  int delivered = 0;
};

Outcome attempt_once(CurlPool& pool, AttemptContext& ctx) {
  HttpPost post;
  post.url = ctx.prep.url;
  post.headers = ctx.prep.headers;
  post.body = ctx.prep.body;
  post.connect_timeout_ms = ctx.p.connect_timeout_ms;
  post.timeout_ms = ctx.p.timeout_ms;
  post.cancelled = ctx.opts.cancelled;
  std::function<bool(const json&)> counted = [&](const json& chunk) {
    if (ctx.ttft_ms < 0) ctx.ttft_ms = ms_since(ctx.t0);
    ++ctx.delivered;
    return (*ctx.on_chunk)(chunk);
  };
  std::optional<StreamDecoder> dec;
  if (ctx.on_chunk) {
    dec.emplace(ctx.p.kind, counted);
    post.on_body = [&](std::string_view bytes) { return dec->feed(bytes); };
    post.idle_timeout_ms = ctx.p.idle_timeout_ms;
  }
  HttpOutcome o = http_post(pool, post);
  if (dec && dec->error()) {
    UpstreamError e = *dec->error();
    e.http_status = static_cast<int>(o.status);
    return e;
  }
  if (o.too_large) return make_error(UpstreamErrorKind::malformed, fmt::format("the reply is larger than {} bytes", post.max_body));
  if (o.curl_code != CURLE_OK) return transport_error(o, ctx.p, ctx.delivered);
  if (o.status < 200 || o.status >= 300) return http_error(o);
  UpstreamResult r;
  UpstreamUsage usage;
  if (dec) {
    if (auto e = dec->finish()) return *e;
    r.response = dec->accumulated().completion();
    usage = dec->accumulated().usage();
  } else {
    auto reply = parse_reply(ctx.p, o);
    if (auto* e = std::get_if<UpstreamError>(&reply)) return *e;
    r.response = std::move(std::get<json>(reply));
    if (const json* u = obj_field(r.response, "usage")) usage = parse_openai_usage(*u);
  }
  r.prompt_tokens = usage.prompt_tokens, r.completion_tokens = usage.completion_tokens;
  r.cached_tokens = usage.cached_tokens, r.usage_reported = usage.seen;
  r.model = str_field(r.response, "model");
  return r;
}

// Sleeps `ms`, polling `cancelled` every 50 ms; false when cancelled.
bool sleep_unless_cancelled(int64_t ms, const CallOptions& opts) {
  auto until = Clock::now() + std::chrono::milliseconds(ms);
  while (Clock::now() < until) {
    if (opts.cancelled && opts.cancelled()) return false;
    auto left = until - Clock::now();
    std::this_thread::sleep_for(std::min<Clock::duration>(left, std::chrono::milliseconds(50)));
  }
  return !(opts.cancelled && opts.cancelled());
}

void scrub(std::string& message, const std::string& key) {
  if (key.size() < 4) return;
  for (size_t at = message.find(key); at != std::string::npos; at = message.find(key, at))
    message.replace(at, key.size(), "[redacted]");
}

}  // namespace

UpstreamClient::UpstreamClient() : impl_(std::make_unique<Impl>()) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

UpstreamClient::~UpstreamClient() = default;

int64_t UpstreamClient::attempts_made() const { return impl_->attempts.load(); }

namespace {

// The retry loop shared by chat and chat_stream.
Outcome run_call(UpstreamClient::Impl& impl, const ProviderConfig& p, const json& request,
                 const std::function<bool(const json&)>* on_chunk, const CallOptions& opts) {
  auto t0 = Clock::now();
  auto prepared = prepare(p, request, on_chunk != nullptr);
  std::string where = fmt::format("provider '{}' ({})", p.name, egress::url_for_message(chat_endpoint(p)));
  if (auto* e = std::get_if<UpstreamError>(&prepared)) {
    e->message = where + ": " + e->message;
    return *e;
  }
  const Prepared& prep = std::get<Prepared>(prepared);
  AttemptContext live{p, prep, opts, on_chunk, t0};
  for (int attempt = 1;; ++attempt) {
    UpstreamError e;
    if (opts.cancelled && opts.cancelled()) {
      e = make_error(UpstreamErrorKind::cancelled, "cancelled");
    } else {
      impl.attempts.fetch_add(1);
      Outcome o = attempt_once(impl.pool, live);
      if (auto* r = std::get_if<UpstreamResult>(&o)) {
        r->attempts = attempt;
        r->latency_ms = ms_since(live.t0);
        r->ttft_ms = live.ttft_ms >= 0 ? live.ttft_ms : r->latency_ms;
        return o;
      }
      e = std::get<UpstreamError>(std::move(o));
    }
    e.attempts = attempt;
    e.partial = live.delivered > 0;
    bool again = e.retryable() && !e.partial && attempt <= p.max_retries;
    int64_t wait = 0;
    if (again) {
      int64_t base = std::min<int64_t>(kMaxBackoffMs, static_cast<int64_t>(p.backoff_ms) << std::min(attempt - 1, 16));
      wait = impl.jitter(base / 2, base);
      if (e.retry_after_ms >= 0) {
        if (e.retry_after_ms > opts.max_retry_wait_ms) {
          e.message += fmt::format(" (Retry-After {} ms is longer than the {} ms this call may wait)", e.retry_after_ms,
                                   opts.max_retry_wait_ms);
          again = false;
        }
        wait = e.retry_after_ms;
      }
      wait = std::min(wait, opts.max_retry_wait_ms);
    }
    if (again) {
      log::info("{}: attempt {} failed ({}: {}); retrying in {} ms", where, attempt, upstream_error_kind_name(e.kind),
                [&] { std::string m = e.message; scrub(m, prep.key); return m; }(), wait);
      if (sleep_unless_cancelled(wait, opts)) continue;
      e = make_error(UpstreamErrorKind::cancelled, "cancelled while waiting to retry");
      e.attempts = attempt;
    }
    e.message = where + ": " + e.message;
    if (attempt > 1) e.message += fmt::format(" (after {} attempts)", attempt);
    scrub(e.message, prep.key);
    return e;
  }
}

}  // namespace

std::variant<UpstreamResult, UpstreamError> UpstreamClient::chat(const ProviderConfig& provider, const json& request,
                                                                 const CallOptions& options) {
  return run_call(*impl_, provider, request, nullptr, options);
}

std::variant<UpstreamResult, UpstreamError> UpstreamClient::chat_stream(
    const ProviderConfig& provider, const json& request, const std::function<bool(const json&)>& on_chunk,
    const CallOptions& options) {
  return run_call(*impl_, provider, request, &on_chunk, options);
}

}  // namespace lm::router
