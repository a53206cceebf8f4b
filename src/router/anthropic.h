// Translation between the OpenAI chat.completions schema (what localmax speaks) and the Anthropic
// Messages API (POST /v1/messages, anthropic-version 2023-06-01): requests one way, replies and
// stream events the other way.
//
// Facts used (Anthropic's public API reference): system prompts go in a top-level "system"; tools
// are {name, description, input_schema}; a tool call is a "tool_use" content block, its answer a
// "tool_result" block in a user message; max_tokens is required; stop_reason is end_turn |
// max_tokens | stop_sequence | tool_use | pause_turn | refusal; usage.input_tokens excludes the
// cache_read_input_tokens and cache_creation_input_tokens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "router/upstream_error.h"

namespace lm::router {

inline constexpr const char* kAnthropicVersion = "2023-06-01";
// Sent when the OpenAI request names no max_tokens / max_completion_tokens (Anthropic requires one).
inline constexpr int64_t kAnthropicDefaultMaxTokens = 4096;

// OpenAI chat.completions request -> Anthropic Messages request. Errors name the field
// ("messages[2].tool_calls[0].function.arguments: not a JSON object").
Result<nlohmann::json> anthropic_request(const nlohmann::json& openai_request);

// Anthropic message -> OpenAI chat.completion (with usage). Errors say what was wrong.
Result<nlohmann::json> anthropic_response_to_openai(const nlohmann::json& message);

// end_turn/stop_sequence/pause_turn -> stop, max_tokens -> length, tool_use -> tool_calls,
// refusal -> content_filter; unknown -> stop.
std::string anthropic_finish_reason(std::string_view stop_reason);

// Anthropic usage -> prompt (cached included), completion and cached tokens.
UpstreamUsage anthropic_usage(const nlohmann::json& usage);

// An Anthropic error type ("overloaded_error") as an error kind and HTTP status.
UpstreamError anthropic_error(const nlohmann::json& error_object);

// Turns the stream's events into OpenAI chat.completion.chunk objects. One per stream;
// not thread-safe.
class AnthropicStreamTranslator {
 public:
  struct Step {
    std::vector<nlohmann::json> chunks;   // to deliver, in order
    bool error = false;                   // an "error" event: see `upstream_error`
    UpstreamError upstream_error;
  };

  // `data` is one event's parsed JSON (its "type" says which event). Errors: schema problems
  // (message says what, never the content).
  Result<Step> on_event(const nlohmann::json& data);

  bool done() const { return done_; }        // message_stop was seen
  const UpstreamUsage& usage() const { return usage_; }
  const std::string& model() const { return model_; }

 private:
  nlohmann::json chunk(nlohmann::json delta, const nlohmann::json& finish_reason = nullptr) const;
  Result<Step> on_block_start(const nlohmann::json& data);
  Result<Step> on_block_delta(const nlohmann::json& data);

  std::string id_ = "chatcmpl-anthropic", model_;
  int64_t created_ = 0;
  UpstreamUsage usage_;
  std::vector<int> tool_index_;   // content block index -> OpenAI tool_calls index (-1: not a tool)
  int n_tools_ = 0;
  bool started_ = false, done_ = false;
};

}  // namespace lm::router
