#include "server/chat_format.h"

#include "server/model_registry.h"

namespace lm::server {
namespace {

using nlohmann::ordered_json;

// Templates read tool-call arguments as a mapping (`arguments | tojson`); OpenAI clients send
// them as a JSON string (parsed keeping its key order).
ordered_json template_messages(const ordered_json& messages) {
  ordered_json out = messages;
  for (auto& m : out) {
    if (!m.contains("tool_calls") || !m["tool_calls"].is_array()) continue;
    for (auto& call : m["tool_calls"]) {
      if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) continue;
      auto& fn = call["function"];
      if (fn.contains("arguments") && fn["arguments"].is_string()) {
        auto args = ordered_json::parse(fn["arguments"].get<std::string>(), nullptr, false);
        if (!args.is_discarded()) fn["arguments"] = std::move(args);
      }
    }
  }
  return out;
}

}  // namespace

std::string render_chatml(const ordered_json& messages, const ordered_json& tools,
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
                                const ordered_json& messages, const ordered_json& tools,
                                bool add_generation_prompt) {
  (void)tok;
  ordered_json msgs = template_messages(messages);
  if (!model.tmpl) return render_chatml(msgs, tools, add_generation_prompt);
  bool has_tools = tools.is_array() && !tools.empty();
  return model.tmpl->render_ordered(msgs, has_tools ? tools : ordered_json(),
                                    add_generation_prompt);
}

std::vector<std::string> template_stops(const ModelInfo& model) {
  if (model.tmpl) return {};
  return {"<|im_end|>", "<|im_start|>"};
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
