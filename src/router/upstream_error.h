// How an upstream call failed, and the usage figures a reply reports. Shared by the HTTP client
// (upstream.h) and the translators (anthropic.h, upstream_stream.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace lm::router {

enum class UpstreamErrorKind {
  offline,           // egress refused (offline mode): nothing was sent
  connect,           // DNS, refused, unreachable, connect timeout, or the connection dropped
                     // before any chunk was delivered: retried
  timeout,           // total or idle timeout after connecting: not retried
  rate_limited,      // HTTP 429 (or a rate_limit_error event): retried unless Retry-After is too long
  server_error,      // HTTP 5xx (or an overloaded/api error event): retried
  client_error,      // other HTTP 4xx, or a request that cannot be translated: not retried
  malformed,         // a reply or chunk that is not JSON or not the expected schema: not retried
  reset_mid_stream,  // the connection dropped after chunks were delivered: cannot be retried
  cancelled,         // CallOptions.cancelled or on_chunk returned false
  config,            // the provider cannot be called (its api_key_env is unset): not retried
};

std::string_view upstream_error_kind_name(UpstreamErrorKind kind);

struct UpstreamError {
  UpstreamErrorKind kind = UpstreamErrorKind::connect;
  int http_status = 0;           // the upstream's status, 0 when none
  int64_t retry_after_ms = -1;   // from Retry-After (429/503), -1 when absent
  std::string message;           // never contains the API key; URLs without query strings
  int attempts = 0;              // attempts made (1 + retries)
  bool partial = false;          // chunks were already delivered to on_chunk (no fallback)
  // Kinds the client retries (before the first chunk): connect, rate_limited, server_error.
  bool retryable() const;
};

// Token counts of one reply. prompt_tokens includes cached ones (OpenAI's convention; Anthropic's
// input_tokens + cache_read_input_tokens + cache_creation_input_tokens).
struct UpstreamUsage {
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
  bool seen = false;
};

// Reads an OpenAI "usage" object (missing fields count 0).
UpstreamUsage parse_openai_usage(const nlohmann::json& usage);
// Writes the OpenAI "usage" object (with prompt_tokens_details.cached_tokens).
nlohmann::json openai_usage_json(const UpstreamUsage& u);

}  // namespace lm::router
