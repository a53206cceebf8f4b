// Replies cut by max_tokens inside a tool call (OutputParser::finish(true)): the complete calls
// before the cut stay tool calls and the call being written is dropped (not left in content), in
// every chunking; without truncation, an unclosed call is content as before. Also the marker
// list that the server preserves as text (output_markers).
#include "chat/tool_calls.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace lm::chat {
namespace {

const OutputFormat kHermes{ToolCallFormat::kHermes, false, false};
const OutputFormat kLlama{ToolCallFormat::kLlama3Json, false, false};
const OutputFormat kMistral{ToolCallFormat::kMistral, false, false};

struct Result {
  ParsedMessage message;
  std::string streamed_content;
  size_t streamed_calls = 0;
};

// Feeds `text` in pieces of `step` bytes (0: whole), then finish(truncated).
Result parse(OutputFormat f, std::string_view text, bool truncated, size_t step = 0) {
  OutputParser p(f);
  Result r;
  auto keep = [&](const std::vector<OutputDelta>& ds) {
    for (const auto& d : ds) {
      r.streamed_content += d.content;
      if (d.tool_index >= 0) ++r.streamed_calls;
    }
  };
  if (step == 0) step = text.size();
  for (size_t at = 0; at < text.size(); at += step) keep(p.feed(text.substr(at, step)));
  keep(p.finish(truncated));
  r.message = p.message();
  return r;
}

// The message of a cut reply, the same in every chunking, and the stream adds up to it.
ParsedMessage parse_cut(OutputFormat f, std::string_view text) {
  Result once = parse(f, text, true);
  for (size_t step : {1u, 2u, 7u}) {
    Result r = parse(f, text, true, step);
    EXPECT_EQ(r.message.content, once.message.content) << "step " << step << ": " << text;
    EXPECT_EQ(r.message.tool_calls.size(), once.message.tool_calls.size()) << "step " << step << ": " << text;
    EXPECT_EQ(r.streamed_content, r.message.content) << text;
    EXPECT_EQ(r.streamed_calls, r.message.tool_calls.size()) << text;
  }
  return once.message;
}

void expect_call(const ParsedMessage& m, size_t i, const std::string& name, const std::string& args) {
  ASSERT_GT(m.tool_calls.size(), i);
  EXPECT_EQ(m.tool_calls[i].name, name);
  EXPECT_EQ(m.tool_calls[i].arguments, args);
}

TEST(ToolCallsTruncated, HermesSecondCallCutKeepsTheFirst) {
  const std::string text =
      "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"add\", \"argum";
  ParsedMessage cut = parse_cut(kHermes, text);
  ASSERT_EQ(cut.tool_calls.size(), 1u);
  expect_call(cut, 0, "add", R"({"a":1})");
  EXPECT_EQ(cut.content, "");
  // Not truncated (the model stopped there): the unclosed call stays content, word for word.
  ParsedMessage whole = parse(kHermes, text, false).message;
  ASSERT_EQ(whole.tool_calls.size(), 1u);
  EXPECT_EQ(whole.content, "<tool_call>\n{\"name\": \"add\", \"argum");
}

TEST(ToolCallsTruncated, HermesCutRightAfterTheMarker) {
  ParsedMessage m = parse_cut(kHermes, "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>\n<tool_call>");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.content, "");
  m = parse_cut(kHermes, "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n<func");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.content, "");
}

TEST(ToolCallsTruncated, HermesCompleteCallWithoutCloseTagIsKept) {
  ParsedMessage m = parse_cut(kHermes, "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": \"y\"}}");
  expect_call(m, 0, "f", R"({"x":"y"})");
  EXPECT_EQ(m.content, "");
}

TEST(ToolCallsTruncated, ProseBeforeACutCallStaysContent) {
  ParsedMessage m = parse_cut(kHermes, "Let me check.\n<tool_call>\n{\"name\": \"f\", \"argu");
  EXPECT_TRUE(m.tool_calls.empty());
  EXPECT_EQ(m.content, "Let me check.");
}

TEST(ToolCallsTruncated, MistralArrayKeepsItsCompleteElements) {
  const std::string text =
      "[TOOL_CALLS][{\"name\": \"add\", \"arguments\": {\"a\": 1}}, {\"name\": \"mul\", \"arguments\": {\"b\": 2}}, "
      "{\"name\": \"add\", \"arguments\": {\"a\": ";
  ParsedMessage cut = parse_cut(kMistral, text);
  ASSERT_EQ(cut.tool_calls.size(), 2u);
  expect_call(cut, 0, "add", R"({"a":1})");
  expect_call(cut, 1, "mul", R"({"b":2})");
  EXPECT_EQ(cut.content, "");
  // Untruncated, an unclosed array is not a call list: all content, as before.
  ParsedMessage whole = parse(kMistral, text, false).message;
  EXPECT_TRUE(whole.tool_calls.empty());
  EXPECT_EQ(whole.content, text);
}

TEST(ToolCallsTruncated, MistralNamedFormCutInTheSecondCall) {
  ParsedMessage m = parse_cut(kMistral, "[TOOL_CALLS]add[ARGS]{\"a\": 1}[TOOL_CALLS]mul[ARGS]{\"b\":");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  expect_call(m, 0, "add", R"({"a":1})");
  EXPECT_EQ(m.content, "");
}

TEST(ToolCallsTruncated, Llama3ChainCutInTheSecondCall) {
  ParsedMessage m = parse_cut(kLlama, "{\"name\": \"add\", \"parameters\": {\"a\": 1}}; {\"name\": \"mul\", \"para");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  expect_call(m, 0, "add", R"({"a":1})");
  EXPECT_EQ(m.content, "");
}

TEST(ToolCallsTruncated, Llama3JsonReplyCutStaysContent) {
  // At the start of a Llama 3 reply, JSON may be the answer itself: a cut one is content.
  const std::string text = "{\"answer\": \"it is sunny and";
  ParsedMessage m = parse_cut(kLlama, text);
  EXPECT_TRUE(m.tool_calls.empty());
  EXPECT_EQ(m.content, text);
}

TEST(ToolCallsTruncated, OutputMarkersNameEveryMarkerTheParserNeeds) {
  auto has = [](const std::vector<std::string>& v, const char* s) { return std::find(v.begin(), v.end(), s) != v.end(); };
  auto mistral = output_markers(kMistral);
  EXPECT_TRUE(has(mistral, "[TOOL_CALLS]") && has(mistral, "[ARGS]") && has(mistral, "[CALL_ID]"));
  EXPECT_FALSE(has(mistral, "<think>"));
  auto llama = output_markers(kLlama);
  EXPECT_TRUE(has(llama, "<|python_tag|>"));
  auto hermes_think = output_markers(OutputFormat{ToolCallFormat::kHermes, true, false});
  EXPECT_TRUE(has(hermes_think, "<tool_call>") && has(hermes_think, "<think>") && has(hermes_think, "</think>"));
  EXPECT_TRUE(output_markers(OutputFormat{}).empty());
}

}  // namespace
}  // namespace lm::chat
