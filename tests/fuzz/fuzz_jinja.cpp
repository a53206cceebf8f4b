// libFuzzer target: the input is a chat template. Parsing and rendering it (over a fixed
// conversation with tools) must return a value or an error: no crash, no sanitizer report, no
// hang beyond the interpreter's limits.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nlohmann::ordered_json messages = nlohmann::ordered_json::parse(R"([
    {"role": "system", "content": "sys"},
    {"role": "user", "content": "hi 🙂 \"q\"\n"},
    {"role": "assistant", "content": "", "reasoning_content": "r",
     "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"a": 1.5}}}]},
    {"role": "tool", "tool_call_id": "c1", "name": "f", "content": "{\"ok\": true}"}])");
  static const nlohmann::ordered_json tools = nlohmann::ordered_json::parse(R"([
    {"type": "function", "function": {"name": "f", "parameters": {"type": "object",
     "properties": {"a": {"type": "number"}}}}}])");
  lm::chat::TemplateSource src{std::string(reinterpret_cast<const char*>(data), size), "<s>", "</s>"};
  auto t = lm::chat::ChatTemplate::parse(src);
  if (!t.ok()) return 0;
  auto r = t->render_ordered(messages, tools, size % 2 == 0, nlohmann::ordered_json{{"enable_thinking", false}});
  (void)r;
  return 0;
}
