#include "server/chat_format.h"

#include "server/model_registry.h"

namespace lm::server {

std::string render_chatml(const nlohmann::json& messages, const nlohmann::json& tools,
                          bool add_generation_prompt) {
  std::string out;
  if (tools.is_array() && !tools.empty()) {
    // Hermes-style tool description in a leading system turn.
    out += "<|im_start|>system\nYou may call one or more functions. Function signatures are given "
           "within <tools></tools>:\n<tools>\n";
    for (const auto& t : tools) out += t.dump() + "\n";
    out += "</tools>\nFor each call, return a JSON object with the function name and arguments "
           "within <tool_call></tool_call> tags.<|im_end|>\n";
  }
  for (const auto& m : messages) {
    out += "<|im_start|>" + m.value("role", std::string("user")) + "\n";
    out += m.value("content", std::string());
    if (m.contains("tool_calls")) {
      for (const auto& call : m["tool_calls"]) {
        const auto& fn = call.contains("function") ? call["function"] : call;
        out += "\n<tool_call>\n" + fn.dump() + "\n</tool_call>";
      }
    }
    out += "<|im_end|>\n";
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

Result<std::string> render_chat(const ModelInfo& model, const tokenizer::Tokenizer& tok,
                                const nlohmann::json& messages, const nlohmann::json& tools,
                                bool add_generation_prompt) {
  // TODO(wt-jinja): render model.chat_template with the Jinja interpreter when it lands.
  (void)model;
  (void)tok;
  return render_chatml(messages, tools, add_generation_prompt);
}

std::vector<int32_t> tokenize_prompt(const tokenizer::Tokenizer& tok, const std::string& text) {
  bool add_bos = tok.add_bos() && tok.bos() >= 0;
  if (add_bos) {
    std::string_view bos = tok.token_text(tok.bos());
    if (!bos.empty() && text.compare(0, bos.size(), bos) == 0) add_bos = false;
  }
  return tok.encode(text, add_bos, /*parse_special=*/true);
}

}  // namespace lm::server
