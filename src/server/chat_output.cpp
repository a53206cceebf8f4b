#include "server/chat_output.h"

#include "chat/tool_calls.h"
#include "server/model_registry.h"

namespace lm::server {
namespace {

class ParsedOutput : public ChatOutput {
 public:
  explicit ParsedOutput(chat::OutputFormat f) : parser_(f) {}
  ChatDelta feed(const std::string& text) override { return convert(parser_.feed(text)); }
  ChatDelta finish(bool truncated) override { return convert(parser_.finish(truncated)); }

 private:
  static ChatDelta convert(const std::vector<chat::OutputDelta>& deltas) {
    ChatDelta d;
    for (const auto& o : deltas) {
      d.content += o.content;
      d.reasoning_content += o.reasoning_content;
      if (o.tool_index >= 0) {
        d.tool_calls.push_back({{"index", o.tool_index}, {"id", o.tool_id}, {"type", "function"},
                                {"function", {{"name", o.tool_name}, {"arguments", o.tool_arguments}}}});
      }
    }
    return d;
  }
  chat::OutputParser parser_;
};

chat::OutputFormat output_format(const ModelInfo& model, const nlohmann::json& tools) {
  chat::OutputFormat f;
  if (model.chat_template.empty()) {
    f.tools = chat::ToolCallFormat::kHermes;   // what the ChatML fallback asks for
  } else {
    f = chat::detect_output_format(model.chat_template);
  }
  if (!tools.is_array() || tools.empty()) f.tools = chat::ToolCallFormat::kNone;
  return f;
}

}  // namespace

std::unique_ptr<ChatOutput> make_chat_output(const ModelInfo& model, const nlohmann::json& tools,
                                             const std::string& rendered_prompt) {
  chat::OutputFormat f = output_format(model, tools);
  if (!model.chat_template.empty()) f.starts_in_think = f.think && chat::prompt_opens_think(rendered_prompt);
  return std::make_unique<ParsedOutput>(f);
}

std::vector<int32_t> preserved_tokens(const ModelInfo& model, const nlohmann::json& tools,
                                      const tokenizer::Tokenizer& tok) {
  std::vector<int32_t> ids;
  for (const std::string& marker : chat::output_markers(output_format(model, tools))) {
    int32_t id = tok.piece_to_id(marker);
    if (id >= 0 && tok.token_type(id) == tokenizer::TokenType::kControl && !tok.is_eog(id)) ids.push_back(id);
  }
  return ids;
}

}  // namespace lm::server
