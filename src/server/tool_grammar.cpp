#include "server/tool_grammar.h"

#include <fmt/format.h>

#include "chat/tool_calls.h"
#include "sampling/json_schema.h"
#include "server/model_registry.h"

namespace lm::server {

Parsed<std::shared_ptr<const sampling::Grammar>> forced_tool_grammar(const ModelInfo& model,
                                                                    const nlohmann::ordered_json& tools,
                                                                    ToolChoice choice,
                                                                    const std::string& name,
                                                                    bool parallel) {
  using sampling::ToolCallSyntax;
  ToolCallSyntax syntax = ToolCallSyntax::kHermes;   // the ChatML fallback's format
  if (!model.chat_template.empty()) {
    switch (chat::detect_output_format(model.chat_template).tools) {
      case chat::ToolCallFormat::kLlama3Json: syntax = ToolCallSyntax::kLlama3Json; break;
      case chat::ToolCallFormat::kMistral: syntax = ToolCallSyntax::kMistral; break;
      default: break;
    }
  }
  std::vector<sampling::ToolSchema> schemas;
  std::vector<size_t> index;
  for (size_t i = 0; i < tools.size(); ++i) {
    const auto& fn = tools[i]["function"];
    const std::string fname = fn["name"].get<std::string>();
    if (choice == ToolChoice::kFunction && fname != name) continue;
    schemas.push_back({fname, fn.contains("parameters") ? fn["parameters"] : nlohmann::ordered_json()});
    index.push_back(i);
  }
  if (schemas.empty()) {
    return bad_param("tool_choice", fmt::format("'tool_choice' names function \"{}\", which is not in 'tools'", name));
  }
  // One tool at a time, so that an error names the tool's index.
  for (size_t k = 0; k < schemas.size(); ++k) {
    auto one = sampling::tool_call_grammar(syntax, {schemas[k]}, false);
    if (!one.ok()) {
      const std::string p = fmt::format("tools[{}].function.parameters", index[k]);
      return bad_param(p, fmt::format("'{}': {}", p, one.error().message()));
    }
  }
  auto g = sampling::tool_call_grammar(syntax, schemas, parallel);
  if (!g.ok()) return bad_param("tools", g.error().message());
  return *g;
}

}  // namespace lm::server
