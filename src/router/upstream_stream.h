// The reply side of an upstream call: checks OpenAI replies and chunks against the schema the
// router relies on, turns a byte stream into delivered OpenAI chunks (OpenAI passed through,
// Anthropic translated), and assembles the chunks into one chat.completion.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "router/anthropic.h"
#include "router/provider.h"
#include "router/upstream_error.h"
#include "router/upstream_sse.h"

namespace lm::router {

// An OpenAI chat.completion: an object with a non-empty "choices" array whose first element has a
// "message" object. Errors say which part is wrong.
Status check_openai_completion(const nlohmann::json& reply);

// An OpenAI chat.completion.chunk: an object; "choices", when present, an array of objects whose
// "delta" (when present) is an object.
Status check_openai_chunk(const nlohmann::json& chunk);

// Builds a chat.completion from the chunks of choice 0. Not thread-safe.
class ChunkAccumulator {
 public:
  void add(const nlohmann::json& chunk);
  nlohmann::json completion() const;
  const UpstreamUsage& usage() const { return usage_; }
  const std::string& model() const { return model_; }
  bool finished() const { return !finish_reason_.empty(); }

 private:
  struct ToolCall { std::string id, name, arguments; };
  std::string id_, model_, content_, finish_reason_;
  int64_t created_ = 0;
  bool has_content_ = false;
  std::vector<ToolCall> tools_;
  UpstreamUsage usage_;
};

// One attempt's stream: feed it the 2xx body bytes as they arrive. Not thread-safe.
class StreamDecoder {
 public:
  using OnChunk = std::function<bool(const nlohmann::json&)>;
  StreamDecoder(ProviderKind kind, const OnChunk& on_chunk);

  // False: stop the transfer (error() says why: malformed, an upstream error event, cancelled).
  bool feed(std::string_view bytes);
  // After a clean end of the body: ok, or the error of a stream that stopped early.
  std::optional<UpstreamError> finish();

  const std::optional<UpstreamError>& error() const { return error_; }
  int delivered() const { return delivered_; }
  const ChunkAccumulator& accumulated() const { return acc_; }

 private:
  bool on_event(const SseEvent& ev);
  bool deliver(const nlohmann::json& chunk);
  void fail(UpstreamErrorKind kind, std::string message);

  ProviderKind kind_;
  const OnChunk& on_chunk_;
  SseParser parser_;
  AnthropicStreamTranslator anthropic_;
  ChunkAccumulator acc_;
  std::optional<UpstreamError> error_;
  int delivered_ = 0;
  size_t events_ = 0;
  bool done_ = false;   // [DONE] or message_stop
};

}  // namespace lm::router
