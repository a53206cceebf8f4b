// Turns chat messages into the prompt text a model expects, and that text into tokens.
//
// Models whose GGUF carries tokenizer.chat_template use it (chat::ChatTemplate, parsed at load);
// models without one (the demo model) get ChatML, the most common format:
//   <|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "tokenizer/tokenizer.h"

namespace lm::server {

struct ModelInfo;

// messages: validated (request.h) [{role, content, tool_calls?, ...}]; tools: array or null.
// Ordered JSON: objects reach the template (`tojson`) in the client's key order.
Result<std::string> render_chat(const ModelInfo& model, const tokenizer::Tokenizer& tok,
                                const nlohmann::ordered_json& messages,
                                const nlohmann::ordered_json& tools, bool add_generation_prompt);

// Stop strings a prompt format needs beyond the model's EOG tokens: the ChatML fallback's turn
// markers (a model that never learned ChatML has no EOG token for them).
std::vector<std::string> template_stops(const ModelInfo& model);

// ChatML rendering (the fallback), exposed for tests.
std::string render_chatml(const nlohmann::ordered_json& messages,
                          const nlohmann::ordered_json& tools, bool add_generation_prompt);

// Prompt text → tokens: control tokens written in the text ("<|im_start|>") become their ids;
// BOS is added when the vocabulary asks for it and the text does not already start with it.
std::vector<int32_t> tokenize_prompt(const tokenizer::Tokenizer& tok, const std::string& text);

}  // namespace lm::server
