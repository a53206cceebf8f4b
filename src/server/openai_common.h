// JSON pieces shared by the OpenAI endpoints: usage, finish_reason, logprobs.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "engine/request.h"
#include "tokenizer/tokenizer.h"

namespace lm::server {

nlohmann::json usage_json(const engine::Usage& u);
// "stop", "length" (cancelled requests report "stop"; errors are sent as errors).
const char* openai_finish_reason(engine::FinishReason r);
// Chat logprobs: {"content": [{token, logprob, bytes, top_logprobs: [...]}, ...]}.
nlohmann::json chat_logprobs(const tokenizer::Tokenizer& tok, const std::vector<engine::TokenInfo>& tokens);
// Legacy completions logprobs: {tokens, token_logprobs, top_logprobs, text_offset}.
nlohmann::json completion_logprobs(const tokenizer::Tokenizer& tok,
                                   const std::vector<engine::TokenInfo>& tokens, size_t text_offset);

}  // namespace lm::server
