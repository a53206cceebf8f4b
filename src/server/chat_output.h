// ChatOutput: turns a chat model's generated text into the parts of an assistant message:
// content, reasoning_content and tool_calls, incrementally (streaming deltas). The parsing itself
// is the chat module's OutputParser (chat/tool_calls.h); this adapts its deltas to OpenAI JSON.
//
// Not thread-safe: one per response.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace lm::server {

struct ModelInfo;

struct ChatDelta {
  std::string content;
  std::string reasoning_content;
  nlohmann::json tool_calls = nlohmann::json::array();   // OpenAI delta/message tool_calls

  bool empty() const { return content.empty() && reasoning_content.empty() && tool_calls.empty(); }
  void append(const ChatDelta& d) {
    content += d.content;
    reasoning_content += d.reasoning_content;
    for (const auto& t : d.tool_calls) tool_calls.push_back(t);
  }
};

class ChatOutput {
 public:
  virtual ~ChatOutput() = default;
  virtual ChatDelta feed(const std::string& text) = 0;
  // truncated: generation was cut (max_tokens, context full): a call being written is dropped
  // (chat::OutputParser::finish).
  virtual ChatDelta finish(bool truncated) = 0;
};

// The parser for a model's output format (from its chat template; ChatML-fallback models use the
// Hermes <tool_call> format the fallback describes). tools: the request's tools (null or empty:
// tool-call markup stays content). rendered_prompt: to know whether it opened a <think> block.
std::unique_ptr<ChatOutput> make_chat_output(const ModelInfo& model, const nlohmann::json& tools,
                                             const std::string& rendered_prompt);

// The control tokens of the model's vocabulary that are markers this parser needs (Mistral
// [TOOL_CALLS], Llama <|python_tag|>, ...): the request must render them as text
// (engine::CompletionRequest::preserved_tokens), and forced tool-call grammars may then match them.
std::vector<int32_t> preserved_tokens(const ModelInfo& model, const nlohmann::json& tools,
                                      const tokenizer::Tokenizer& tok);

}  // namespace lm::server
