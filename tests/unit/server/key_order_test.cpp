// The client's JSON key order reaches the prompt: a chat request's tool schemas and tool-call
// arguments, parsed by the server (request.cpp) and rendered (chat_format.cpp), come out of the
// template's `tojson` in the order the client wrote them, as with transformers (Python dicts keep
// insertion order). nlohmann::json would sort them ("alpha" before "zeta").
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "chat/chat_template.h"
#include "server/chat_format.h"
#include "server/model_registry.h"
#include "server/request.h"
#include "tokenizer/tokenizer.h"

namespace lm::server {
namespace {

// Keys deliberately out of sorted order at every level.
const std::string kTool =
    R"({"type": "function", "function": {"name": "get_weather", "description": "Weather", )"
    R"("parameters": {"type": "object", "required": ["zeta"], "properties": )"
    R"({"zeta": {"type": "string"}, "alpha": {"type": "integer", "minimum": 0}}}}})";
const std::string kArgs = R"({"zeta": "Paris", "alpha": 3})";

std::string chat_body(const char* extra_top) {
  nlohmann::ordered_json args_string = kArgs;  // OpenAI clients send arguments as a string
  return std::string("{") + extra_top + R"("messages": [{"role": "user", "content": "Hi"}, )" +
         R"({"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function", )" +
         R"("function": {"name": "get_weather", "arguments": )" + args_string.dump() + "}}]}, " +
         R"({"role": "tool", "tool_call_id": "c1", "content": "sunny"}], "tools": [)" + kTool + "]}";
}

// Prints the tools and each call's arguments with tojson (transformers' separators).
const char* kTemplate =
    "{{ tools | tojson }}\n"
    "{% for m in messages %}{% for c in m.tool_calls or [] %}{{ c.function.arguments | tojson }}"
    "{% endfor %}{% endfor %}";

class KeyOrder : public ::testing::Test {
 protected:
  void SetUp() override {
    tokenizer::Vocab v;  // render_chat does not tokenize; any valid vocabulary will do
    v.model = "llama";
    v.pieces = {"<unk>", "a"};
    v.scores = {0, 0};
    v.types = {tokenizer::TokenType::kUnknown, tokenizer::TokenType::kNormal};
    auto tok = tokenizer::Tokenizer::from_vocab(v);
    ASSERT_TRUE(tok.ok()) << tok.error().message();
    tok_ = std::move(*tok);
    auto tmpl = chat::ChatTemplate::parse({kTemplate, "<s>", "</s>"});
    ASSERT_TRUE(tmpl.ok()) << tmpl.error().message();
    info_.tmpl = std::make_shared<const chat::ChatTemplate>(std::move(*tmpl));
  }

  std::string expected() const { return "[" + kTool + "]\n" + kArgs; }

  ModelInfo info_;
  std::unique_ptr<tokenizer::Tokenizer> tok_;
};

TEST_F(KeyOrder, OpenAiChatKeepsToolSchemaAndArgumentOrder) {
  auto parsed = parse_openai_chat(chat_body(R"("model": "m", )"));
  ASSERT_TRUE(std::holds_alternative<OpenAiRequest>(parsed)) << std::get<ApiError>(parsed).message;
  const auto& q = std::get<OpenAiRequest>(parsed);
  auto text = render_chat(info_, *tok_, q.messages, q.tools, true);
  ASSERT_TRUE(text.ok()) << text.error().message();
  EXPECT_EQ(*text, expected());
}

TEST_F(KeyOrder, OllamaChatKeepsToolSchemaAndArgumentOrder) {
  auto parsed = parse_ollama_chat(chat_body(R"("model": "m", "stream": false, )"));
  ASSERT_TRUE(std::holds_alternative<OllamaRequest>(parsed)) << std::get<ApiError>(parsed).message;
  const auto& q = std::get<OllamaRequest>(parsed);
  auto text = render_chat(info_, *tok_, q.messages, q.tools, true);
  ASSERT_TRUE(text.ok()) << text.error().message();
  EXPECT_EQ(*text, expected());
}

TEST_F(KeyOrder, SortedJsonWouldDiffer) {
  // What the plain render() path gives: sorted keys. Guards against a template or data change
  // that would make the tests above pass without exercising the order.
  auto tools = nlohmann::json::array({nlohmann::json::parse(kTool)});
  auto text = info_.tmpl->render(nlohmann::json::array(), tools, true);
  ASSERT_TRUE(text.ok()) << text.error().message();
  EXPECT_NE(*text, "[" + kTool + "]\n");
  EXPECT_LT(text->find("\"alpha\""), text->find("\"zeta\""));
}

TEST_F(KeyOrder, ChatMlFallbackKeepsToolSchemaOrder) {
  auto parsed = parse_openai_chat(chat_body(""));
  ASSERT_TRUE(std::holds_alternative<OpenAiRequest>(parsed)) << std::get<ApiError>(parsed).message;
  const auto& q = std::get<OpenAiRequest>(parsed);
  ModelInfo no_template;
  auto text = render_chat(no_template, *tok_, q.messages, q.tools, true);
  ASSERT_TRUE(text.ok()) << text.error().message();
  std::string compact = nlohmann::ordered_json::parse(kTool).dump();
  EXPECT_NE(text->find("\n" + compact + "\n"), std::string::npos) << *text;
  EXPECT_NE(text->find(R"({"zeta":"Paris","alpha":3})"), std::string::npos) << *text;
}

}  // namespace
}  // namespace lm::server
