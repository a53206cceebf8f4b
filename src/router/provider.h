// Upstream provider configuration: the "providers" section of the router config file.
//
//   {"name": "openai", "type": "openai", "base_url": "https://api.openai.com/v1",
//    "api_key_env": "OPENAI_API_KEY", "models": ["gpt-5"], "headers": {"OpenAI-Organization": "org"},
//    "connect_timeout_ms": 5000, "timeout_ms": 120000, "idle_timeout_ms": 60000,
//    "max_retries": 2, "backoff_ms": 250}
//
// Keys come from environment variables named by api_key_env and are read when a provider is
// called, never at parse time, never logged.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace lm::router {

enum class ProviderKind { openai, anthropic };

// "openai" / "anthropic".
std::string_view provider_kind_name(ProviderKind kind);

struct ProviderConfig {
  std::string name;                           // unique; [A-Za-z0-9._-]+
  ProviderKind kind = ProviderKind::openai;
  std::string base_url;                       // http(s)://host[:port][/path], no trailing '/'
  std::string api_key_env;                    // "" = no key sent (vLLM, another localmax)
  std::vector<std::string> models;            // upstream model names this provider serves
  std::map<std::string, std::string> headers; // extra request headers
  int connect_timeout_ms = 5000;              // TCP + TLS handshake, per attempt
  int timeout_ms = 120000;                    // whole attempt, streams included
  int idle_timeout_ms = 60000;                // streams: longest silence, from the request on
                                              // (raise it for models that reason silently)
  int max_retries = 2;                        // retries after the first attempt
  int backoff_ms = 250;                       // first retry delay; doubles, with jitter
};

// Bounds accepted by parse_providers (inclusive).
inline constexpr int kMaxTimeoutMs = 3600000;   // one hour
inline constexpr int kMaxRetries = 10;
inline constexpr int kMaxBackoffMs = 60000;

// Validates the providers array. Errors name the JSON path: "providers[1].base_url: ...".
// Unknown fields are errors (a misspelled "timeout_ms" must not silently keep the default).
Result<std::vector<ProviderConfig>> parse_providers(const nlohmann::json& arr);

// The provider named `name`, or nullptr.
const ProviderConfig* find_provider(const std::vector<ProviderConfig>& providers, std::string_view name);

// The provider's API key from its environment variable: "" when api_key_env is empty; an error
// naming the variable (never a value) when it is unset or empty.
Result<std::string> provider_api_key(const ProviderConfig& p);

// The endpoint a chat request goes to: {base_url}/chat/completions (openai) or
// {base_url}/v1/messages (anthropic; a base_url already ending in /v1 gets /messages).
std::string chat_endpoint(const ProviderConfig& p);

}  // namespace lm::router
