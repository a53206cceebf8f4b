// ChatOutput: generated text → content / reasoning_content / OpenAI tool_calls, the same whether
// the text arrives whole or token by token.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/chat_output.h"
#include "server/model_registry.h"

namespace lm::server {
namespace {

const nlohmann::json kTools = {{{"type", "function"}, {"function", {{"name", "get_weather"}}}}};
const std::string kReply =
    "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
    "</tool_call>";

ChatDelta run_chunks(ChatOutput& out, const std::string& text, size_t chunk) {
  ChatDelta all;
  for (size_t i = 0; i < text.size(); i += chunk) all.append(out.feed(text.substr(i, chunk)));
  all.append(out.finish(false));
  return all;
}

TEST(ServerChatOutput, ChatMlFallbackParsesHermesToolCalls) {
  ModelInfo info;   // no chat template: the ChatML fallback asks for <tool_call> blocks
  for (size_t chunk : {kReply.size(), size_t{1}, size_t{7}}) {
    auto out = make_chat_output(info, kTools, "");
    ChatDelta d = run_chunks(*out, kReply, chunk);
    EXPECT_EQ(d.content, "Let me check.") << "chunk " << chunk;
    ASSERT_EQ(d.tool_calls.size(), 1u) << "chunk " << chunk;
    const auto& call = d.tool_calls[0];
    EXPECT_EQ(call["index"], 0);
    EXPECT_EQ(call["type"], "function");
    EXPECT_EQ(call["function"]["name"], "get_weather");
    auto args = nlohmann::json::parse(call["function"]["arguments"].get<std::string>());
    EXPECT_EQ(args, nlohmann::json({{"city", "Paris"}}));
    EXPECT_FALSE(call["id"].get<std::string>().empty());
  }
}

TEST(ServerChatOutput, WithoutToolsMarkupStaysContent) {
  ModelInfo info;
  auto out = make_chat_output(info, nullptr, "");
  ChatDelta d = run_chunks(*out, kReply, 3);
  EXPECT_EQ(d.content, kReply);
  EXPECT_TRUE(d.tool_calls.empty());
}

TEST(ServerChatOutput, PlainTextPassesThrough) {
  ModelInfo info;
  auto out = make_chat_output(info, kTools, "");
  ChatDelta d = run_chunks(*out, "Once upon a time, a cat.", 2);
  EXPECT_EQ(d.content, "Once upon a time, a cat.");
  EXPECT_TRUE(d.reasoning_content.empty());
}

}  // namespace
}  // namespace lm::server
