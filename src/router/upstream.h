// UpstreamClient: calls a hosted chat API (OpenAI-compatible or Anthropic Messages) over libcurl
// and always answers in the OpenAI chat.completions schema.
//
// Faults: connect/total/idle timeouts per ProviderConfig; 429, 5xx and lost connections are
// retried with exponential backoff and jitter (honouring Retry-After) up to max_retries, and only
// while no chunk has been delivered. Offline mode (core/egress.h) refuses before curl is called
// and again at the socket. The API key never appears in errors or logs; URLs in messages lose their
// query strings.
//
// Thread-safe: one instance per server; concurrent calls share a small pool of idle curl handles
// (so keep-alive connections and TLS sessions are reused). Each call blocks its thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "router/provider.h"
#include "router/upstream_error.h"

namespace lm::router {

struct UpstreamResult {
  // Non-stream: the OpenAI chat.completion (Anthropic replies translated). Stream: the same
  // object assembled from the chunks (content, tool_calls, finish_reason, usage).
  nlohmann::json response;
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;   // final usage
  bool usage_reported = false;   // the upstream sent usage (else the counts are 0)
  int attempts = 0;              // 1 + retries
  double latency_ms = 0;         // call start to the end of the reply (retries and waits included)
  double ttft_ms = 0;            // call start to the first chunk delivered (stream), = latency_ms otherwise
  std::string model;             // the model the upstream says answered
};

struct CallOptions {
  std::function<bool()> cancelled;    // polled while waiting (about every 50 ms) and between retries
  int64_t max_retry_wait_ms = 30000;  // longest single wait; a longer Retry-After ends the call
                                      // with rate_limited + retry_after_ms (so the caller can fall back)
};

class UpstreamClient {
 public:
  UpstreamClient();
  ~UpstreamClient();
  UpstreamClient(const UpstreamClient&) = delete;
  UpstreamClient& operator=(const UpstreamClient&) = delete;

  // `request` is an OpenAI chat.completions body whose "model" is the upstream's model name
  // ("stream" is ignored: this call never streams).
  std::variant<UpstreamResult, UpstreamError> chat(const ProviderConfig& provider, const nlohmann::json& request,
                                                   const CallOptions& options = {});

  // Streaming: on_chunk gets each OpenAI chat.completion.chunk object, Anthropic events translated;
  // return false to cancel. The last chunk carries "usage" with empty "choices" (OpenAI's
  // stream_options.include_usage form; it is requested from OpenAI upstreams). Retries happen only
  // before the first chunk was delivered; after that a failure has partial = true.
  std::variant<UpstreamResult, UpstreamError> chat_stream(const ProviderConfig& provider,
                                                          const nlohmann::json& request,
                                                          const std::function<bool(const nlohmann::json&)>& on_chunk,
                                                          const CallOptions& options = {});

  // Total HTTP attempts made by this client (for metrics and tests).
  int64_t attempts_made() const;

  struct Impl;   // opaque: the curl handle pool and retry jitter

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace lm::router
