#include "server/openai_common.h"

namespace lm::server {
namespace {

nlohmann::json bytes_of(const std::string& s) {
  nlohmann::json b = nlohmann::json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

}  // namespace

nlohmann::json usage_json(const engine::Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

const char* openai_finish_reason(engine::FinishReason r) {
  return r == engine::FinishReason::kLength ? "length" : "stop";
}

nlohmann::json chat_logprobs(const tokenizer::Tokenizer& tok,
                             const std::vector<engine::TokenInfo>& tokens) {
  nlohmann::json content = nlohmann::json::array();
  for (const auto& t : tokens) {
    nlohmann::json top = nlohmann::json::array();
    for (const auto& [id, lp] : t.top) {
      std::string text = tok.decode_token(id);
      top.push_back({{"token", text}, {"logprob", lp}, {"bytes", bytes_of(text)}});
    }
    content.push_back({{"token", t.text}, {"logprob", t.logprob}, {"bytes", bytes_of(t.text)},
                       {"top_logprobs", top}});
  }
  return {{"content", content}};
}

nlohmann::json completion_logprobs(const tokenizer::Tokenizer& tok,
                                   const std::vector<engine::TokenInfo>& tokens, size_t text_offset) {
  nlohmann::json out = {{"tokens", nlohmann::json::array()},
                        {"token_logprobs", nlohmann::json::array()},
                        {"top_logprobs", nlohmann::json::array()},
                        {"text_offset", nlohmann::json::array()}};
  for (const auto& t : tokens) {
    out["tokens"].push_back(t.text);
    out["token_logprobs"].push_back(t.logprob);
    nlohmann::json top = nlohmann::json::object();
    for (const auto& [id, lp] : t.top) top[tok.decode_token(id)] = lp;
    out["top_logprobs"].push_back(top);
    out["text_offset"].push_back(text_offset);
    text_offset += t.text.size();
  }
  return out;
}

}  // namespace lm::server
