// Tool-call and reasoning parsing on replies written exactly as the model families emit them
// (formats from their chat templates: Qwen 2.5/3, QwQ, Qwen3-Coder, Llama 3.1, Mistral, DeepSeek-R1).
#include "chat/tool_calls.h"

#include <gtest/gtest.h>

#include <random>

namespace lm::chat {
namespace {

const OutputFormat kHermesThink{ToolCallFormat::kHermes, true, false};
const OutputFormat kHermes{ToolCallFormat::kHermes, false, false};
const OutputFormat kLlama{ToolCallFormat::kLlama3Json, false, false};
const OutputFormat kMistral{ToolCallFormat::kMistral, false, false};
const OutputFormat kQwq{ToolCallFormat::kHermes, true, true};

ParsedMessage parse_chunked(OutputFormat f, std::string_view text, const std::vector<size_t>& cuts,
                            std::vector<OutputDelta>* deltas = nullptr) {
  OutputParser p(f);
  size_t at = 0;
  auto keep = [&](std::vector<OutputDelta> d) {
    if (deltas) deltas->insert(deltas->end(), d.begin(), d.end());
  };
  for (size_t c : cuts) {
    keep(p.feed(text.substr(at, c - at)));
    at = c;
  }
  keep(p.feed(text.substr(at)));
  keep(p.finish());
  return p.message();
}

ParsedMessage parse(OutputFormat f, std::string_view text) { return parse_chunked(f, text, {}); }

// Everything but the random ids.
void expect_same(const ParsedMessage& a, const ParsedMessage& b, bool same_ids, const std::string& what) {
  EXPECT_EQ(a.content, b.content) << what;
  EXPECT_EQ(a.reasoning_content, b.reasoning_content) << what;
  ASSERT_EQ(a.tool_calls.size(), b.tool_calls.size()) << what;
  for (size_t i = 0; i < a.tool_calls.size(); ++i) {
    EXPECT_EQ(a.tool_calls[i].name, b.tool_calls[i].name) << what;
    EXPECT_EQ(a.tool_calls[i].arguments, b.tool_calls[i].arguments) << what;
    if (same_ids) {
      EXPECT_EQ(a.tool_calls[i].id, b.tool_calls[i].id) << what;
    }
  }
}

// The streaming contract: byte-by-byte and random chunkings give the one-shot message, and the
// deltas add up to it.
void expect_chunking_invariant(OutputFormat f, std::string_view text, uint64_t seed = 1) {
  ParsedMessage once = parse(f, text);
  std::vector<size_t> every;
  for (size_t i = 1; i < text.size(); ++i) every.push_back(i);
  std::vector<OutputDelta> deltas;
  expect_same(once, parse_chunked(f, text, every, &deltas), false, "byte by byte: " + std::string(text));
  ParsedMessage sum;
  for (const auto& d : deltas) {
    sum.content += d.content;
    sum.reasoning_content += d.reasoning_content;
    if (d.tool_index >= 0) {
      EXPECT_EQ(d.tool_index, static_cast<int>(sum.tool_calls.size()));
      sum.tool_calls.push_back({d.tool_id, d.tool_name, d.tool_arguments});
    }
  }
  expect_same(once, sum, false, "sum of deltas: " + std::string(text));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 20; ++round) {
    std::vector<size_t> cuts;
    for (size_t i = 1 + rng() % 7; i < text.size(); i += 1 + rng() % 9) cuts.push_back(i);
    expect_same(once, parse_chunked(f, text, cuts), false, "random chunks: " + std::string(text));
  }
}

TEST(ToolCalls, Qwen3ThinkingThenHermesCall) {
  const std::string text =
      "<think>\nThe user wants the weather in Paris. I should call get_weather.\n</think>\n\n"
      "I'll check the weather for you.\n<tool_call>\n"
      "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n"
      "</tool_call>";
  ParsedMessage m = parse(kHermesThink, text);
  EXPECT_EQ(m.reasoning_content, "The user wants the weather in Paris. I should call get_weather.");
  EXPECT_EQ(m.content, "I'll check the weather for you.");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "get_weather");
  EXPECT_EQ(m.tool_calls[0].arguments, R"({"city":"Paris","unit":"celsius"})");
  EXPECT_EQ(m.tool_calls[0].id.rfind("call_", 0), 0u);
  EXPECT_GT(m.tool_calls[0].id.size(), 10u);
  expect_chunking_invariant(kHermesThink, text);
}

TEST(ToolCalls, Qwen25SeveralCallsInARow) {
  const std::string text =
      "<tool_call>\n{\"name\": \"get_current_temperature\", \"arguments\": {\"location\": \"San Francisco, CA, USA\"}}\n"
      "</tool_call>\n<tool_call>\n{\"name\": \"get_temperature_date\", \"arguments\": "
      "{\"location\": \"San Francisco, CA, USA\", \"date\": \"2024-10-01\"}}\n</tool_call>";
  ParsedMessage m = parse(kHermes, text);
  EXPECT_EQ(m.content, "");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].name, "get_current_temperature");
  EXPECT_EQ(m.tool_calls[1].arguments, R"({"date":"2024-10-01","location":"San Francisco, CA, USA"})");
  EXPECT_NE(m.tool_calls[0].id, m.tool_calls[1].id);
  nlohmann::json j = m.to_json();
  EXPECT_EQ(j["role"], "assistant");
  EXPECT_TRUE(j["content"].is_null());
  EXPECT_EQ(j["tool_calls"][1]["type"], "function");
  EXPECT_EQ(j["tool_calls"][1]["function"]["name"], "get_temperature_date");
  EXPECT_FALSE(j.contains("reasoning_content"));
  expect_chunking_invariant(kHermes, text);
}

TEST(ToolCalls, HermesNestedBracesEscapedQuotesUnknownFields) {
  const std::string text =
      "<tool_call>\n{\"name\": \"run\", \"arguments\": {\"code\": \"if (x) { print(\\\"}\\\"); } // ]\", "
      "\"nested\": {\"a\": [1, {\"b\": \"]\"}]}}, \"confidence\": 0.9}\n</tool_call>\nDone.";
  ParsedMessage m = parse(kHermes, text);
  ASSERT_EQ(m.tool_calls.size(), 1u);
  auto args = nlohmann::json::parse(m.tool_calls[0].arguments);
  EXPECT_EQ(args["code"], "if (x) { print(\"}\"); } // ]");
  EXPECT_EQ(args["nested"]["a"][1]["b"], "]");
  EXPECT_EQ(m.content, "Done.");
  expect_chunking_invariant(kHermes, text);
}

TEST(ToolCalls, HermesStringifiedArgumentsAndMissingClose) {
  // Arguments given as a JSON string are normalised; a call cut before </tool_call> still counts.
  const std::string text = "<tool_call>\n{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}\n";
  ParsedMessage m = parse(kHermes, text);
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].arguments, R"({"a":1})");
  EXPECT_EQ(m.content, "");
  expect_chunking_invariant(kHermes, text);
}

TEST(ToolCalls, HermesProseMentionStaysContent) {
  const std::string text = "Wrap each call in <tool_call> tags, like <tool_call>this</tool_call>.";
  ParsedMessage m = parse(kHermes, text);
  EXPECT_EQ(m.content, text);
  EXPECT_TRUE(m.tool_calls.empty());
  expect_chunking_invariant(kHermes, text);
}

TEST(ToolCalls, HermesInvalidJsonBecomesContent) {
  const std::string text = "Calling.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": }}\n</tool_call>";
  ParsedMessage m = parse(kHermes, text);
  EXPECT_EQ(m.content, text);
  EXPECT_TRUE(m.tool_calls.empty());
  expect_chunking_invariant(kHermes, text);
}

TEST(ToolCalls, HermesTruncatedCallBecomesContent) {
  const std::string text = "Let me look.\n<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": \"ab";
  ParsedMessage m = parse(kHermes, text);
  EXPECT_EQ(m.content, text);
  EXPECT_TRUE(m.tool_calls.empty());
  expect_chunking_invariant(kHermes, text);
}

TEST(ToolCalls, HermesValidCallAfterMalformedOne) {
  const std::string text =
      "<tool_call>\n{\"name\": 3}\n</tool_call>\n<tool_call>\n{\"name\": \"ok\", \"arguments\": {}}\n</tool_call>";
  ParsedMessage m = parse(kHermes, text);
  EXPECT_EQ(m.content, "<tool_call>\n{\"name\": 3}\n</tool_call>");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "ok");
  EXPECT_EQ(m.tool_calls[0].arguments, "{}");
  expect_chunking_invariant(kHermes, text);
}

TEST(ToolCalls, Qwen3CoderXmlCall) {
  const std::string text =
      "I'll write the file.\n<tool_call>\n<function=write_file>\n<parameter=path>\nsrc/a.py\n</parameter>\n"
      "<parameter=content>\ndef f():\n    return 1\n</parameter>\n<parameter=mode>\n420\n</parameter>\n"
      "</function>\n</tool_call>";
  ParsedMessage m = parse(kHermes, text);
  EXPECT_EQ(m.content, "I'll write the file.");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "write_file");
  auto args = nlohmann::json::parse(m.tool_calls[0].arguments);
  EXPECT_EQ(args["path"], "src/a.py");
  EXPECT_EQ(args["content"], "def f():\n    return 1");
  EXPECT_EQ(args["mode"], 420);
  expect_chunking_invariant(kHermes, text);
}

TEST(ToolCalls, Llama31JsonReply) {
  const std::string text = "{\"name\": \"get_current_conditions\", \"parameters\": {\"location\": \"San Francisco, CA\", \"unit\": \"Fahrenheit\"}}";
  ParsedMessage m = parse(kLlama, text);
  EXPECT_EQ(m.content, "");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "get_current_conditions");
  EXPECT_EQ(m.tool_calls[0].arguments, R"({"location":"San Francisco, CA","unit":"Fahrenheit"})");
  expect_chunking_invariant(kLlama, text);
}

TEST(ToolCalls, Llama3PythonTagAndSeveralCalls) {
  const std::string text =
      "<|python_tag|>{\"name\": \"a\", \"arguments\": {\"x\": 1}}; {\"name\": \"b\", \"parameters\": {\"y\": [2]}}";
  ParsedMessage m = parse(kLlama, text);
  EXPECT_EQ(m.content, "");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].name, "a");
  EXPECT_EQ(m.tool_calls[1].name, "b");
  EXPECT_EQ(m.tool_calls[1].arguments, R"({"y":[2]})");
  expect_chunking_invariant(kLlama, text);
}

TEST(ToolCalls, Llama3PlainJsonAndTextAreContent) {
  const std::string json_reply = "{\"name\": \"Bob\", \"age\": 42}";
  ParsedMessage m = parse(kLlama, json_reply);
  EXPECT_EQ(m.content, json_reply);
  EXPECT_TRUE(m.tool_calls.empty());
  expect_chunking_invariant(kLlama, json_reply);
  const std::string prose = "The capital of France is Paris. {\"name\": \"x\", \"parameters\": {}}";
  EXPECT_EQ(parse(kLlama, prose).content, prose);
  expect_chunking_invariant(kLlama, prose);
}

TEST(ToolCalls, Llama31BuiltinTools) {
  const std::string text = "<|python_tag|>brave_search.call(query=\"current weather in Menlo Park, \\\"CA\\\"\")";
  ParsedMessage m = parse(kLlama, text);
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "brave_search");
  EXPECT_EQ(nlohmann::json::parse(m.tool_calls[0].arguments)["query"], "current weather in Menlo Park, \"CA\"");
  expect_chunking_invariant(kLlama, text);
  const std::string code = "<|python_tag|>import math\nprint(math.sqrt(2))";
  ParsedMessage c = parse(kLlama, code);
  ASSERT_EQ(c.tool_calls.size(), 1u);
  EXPECT_EQ(c.tool_calls[0].name, "python");
  EXPECT_EQ(nlohmann::json::parse(c.tool_calls[0].arguments)["code"], "import math\nprint(math.sqrt(2))");
  expect_chunking_invariant(kLlama, code);
}

TEST(ToolCalls, MistralJsonArrayKeepsIds) {
  const std::string text =
      "[TOOL_CALLS] [{\"name\": \"get_current_weather\", \"arguments\": {\"location\": \"Paris, France\", "
      "\"format\": \"celsius\"}, \"id\": \"abc123def\"}, {\"name\": \"get_time\", \"arguments\": {}, \"id\": \"xyz987uvw\"}]";
  ParsedMessage m = parse(kMistral, text);
  EXPECT_EQ(m.content, "");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].id, "abc123def");
  EXPECT_EQ(m.tool_calls[1].id, "xyz987uvw");
  EXPECT_EQ(m.tool_calls[0].arguments, R"({"format":"celsius","location":"Paris, France"})");
  ParsedMessage bytes = parse_chunked(kMistral, text, {1, 2, 3, 5, 8, 13, 21, 34, 55, 89});
  expect_same(m, bytes, /*same_ids=*/true, "mistral chunks");
  expect_chunking_invariant(kMistral, text);
}

TEST(ToolCalls, MistralNamedArgsForm) {
  const std::string text =
      "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Lyon\"}[TOOL_CALLS]get_time[CALL_ID]a1b2c3d4e[ARGS]{\"tz\": \"CET\"}";
  ParsedMessage m = parse(kMistral, text);
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].name, "get_weather");
  EXPECT_EQ(m.tool_calls[0].arguments, R"({"city":"Lyon"})");
  EXPECT_EQ(m.tool_calls[0].id.size(), 9u);  // Mistral's templates require 9 alphanumerics
  EXPECT_EQ(m.tool_calls[0].id.find_first_not_of(
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), std::string::npos);
  EXPECT_EQ(m.tool_calls[1].id, "a1b2c3d4e");
  EXPECT_EQ(m.tool_calls[1].name, "get_time");
  expect_chunking_invariant(kMistral, text);
}

TEST(ToolCalls, MistralMalformedBecomesContent) {
  for (std::string text : {"[TOOL_CALLS] not a call", "[TOOL_CALLS][{\"name\": \"f\", \"arguments\": {\"a\": 1}",
                           "[TOOL_CALLS]get weather[ARGS]{}", "[TOOL_CALLS]f[ARGS]{\"a\": [}"}) {
    ParsedMessage m = parse(kMistral, text);
    EXPECT_EQ(m.content, text);
    EXPECT_TRUE(m.tool_calls.empty()) << text;
    expect_chunking_invariant(kMistral, text);
  }
}

TEST(Reasoning, QwqStartsInsideThink) {
  // QwQ's generation prompt ends with "<think>\n": the reply opens inside the reasoning.
  const std::string text = "Okay, 2 + 2 is 4.\n</think>\n\nThe answer is **4**.";
  ParsedMessage m = parse(kQwq, text);
  EXPECT_EQ(m.reasoning_content, "Okay, 2 + 2 is 4.");
  EXPECT_EQ(m.content, "The answer is **4**.");
  nlohmann::json j = m.to_json();
  EXPECT_EQ(j["reasoning_content"], "Okay, 2 + 2 is 4.");
  EXPECT_EQ(j["content"], "The answer is **4**.");
  expect_chunking_invariant(kQwq, text);
  // A model that writes the tag again anyway.
  expect_same(m, parse(kQwq, "<think>\n" + text), false, "repeated <think>");
}

TEST(Reasoning, UnclosedThinkStaysReasoning) {
  const std::string text = "<think>\nLet me count the letters: s, t, r, a, w";
  ParsedMessage m = parse(kHermesThink, text);
  EXPECT_EQ(m.reasoning_content, "Let me count the letters: s, t, r, a, w");
  EXPECT_EQ(m.content, "");
  expect_chunking_invariant(kHermesThink, text);
  ParsedMessage q = parse(kQwq, "Still thinking about <tool_call> here");
  EXPECT_EQ(q.reasoning_content, "Still thinking about <tool_call> here");
  EXPECT_TRUE(q.tool_calls.empty());
}

TEST(Reasoning, EmptyThinkBlockAndNoThinkFormat) {
  // Qwen3 with enable_thinking=false emits an empty block itself in some setups.
  ParsedMessage m = parse(kHermesThink, "<think>\n\n</think>\n\nHello!");
  EXPECT_EQ(m.reasoning_content, "");
  EXPECT_EQ(m.content, "Hello!");
  // Without think, the tags are ordinary text.
  ParsedMessage plain = parse(kHermes, "<think>x</think>y");
  EXPECT_EQ(plain.content, "<think>x</think>y");
  // Plain text passes through verbatim, whitespace included.
  const std::string verbatim = "  Hello,\n\n  world!\n";
  EXPECT_EQ(parse(OutputFormat{}, verbatim).content, verbatim);
  expect_chunking_invariant(OutputFormat{}, verbatim);
}

TEST(Reasoning, DeepSeekR1ThinkThenLlamaCall) {
  OutputFormat f{ToolCallFormat::kLlama3Json, true, false};
  const std::string text = "<think>\nNeed the time.\n</think>\n\n{\"name\": \"now\", \"parameters\": {}}";
  ParsedMessage m = parse(f, text);
  EXPECT_EQ(m.reasoning_content, "Need the time.");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "now");
  expect_chunking_invariant(f, text);
}

TEST(DetectFormat, FromTemplateExcerpts) {
  // Excerpts of the models' own chat templates.
  const std::string qwen3 =
      "{{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments "
      "within <tool_call></tool_call> XML tags:\\n<tool_call>\\n\" }}{%- if '</think>' in message.content %}"
      "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- if enable_thinking is defined and "
      "enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}";
  OutputFormat f = detect_output_format(qwen3);
  EXPECT_EQ(f.tools, ToolCallFormat::kHermes);
  EXPECT_TRUE(f.think);
  EXPECT_FALSE(f.starts_in_think);
  const std::string qwq = "<tool_call>{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n<think>\\n' }}{%- endif %}";
  f = detect_output_format(qwq);
  EXPECT_TRUE(f.think);
  EXPECT_TRUE(f.starts_in_think);
  const std::string llama31 =
      "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}{{- \"<|python_tag|>\" + tool_call.name + "
      "\".call(\" }}{{- '\"parameters\": ' }}";
  EXPECT_EQ(detect_output_format(llama31).tools, ToolCallFormat::kLlama3Json);
  EXPECT_FALSE(detect_output_format(llama31).think);
  const std::string mistral = "{{- \"[TOOL_CALLS] [\" }}{%- for tool_call in message.tool_calls %}";
  EXPECT_EQ(detect_output_format(mistral).tools, ToolCallFormat::kMistral);
  EXPECT_EQ(detect_output_format("{{ '<|im_start|>' + message.role }}").tools, ToolCallFormat::kNone);
  EXPECT_TRUE(prompt_opens_think("<|im_start|>assistant\n<think>\n"));
  EXPECT_FALSE(prompt_opens_think("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
  EXPECT_FALSE(prompt_opens_think("<|im_start|>assistant\n"));
}

TEST(ToolCalls, RandomMarkerSoupNeverBreaksChunkingInvariance) {
  // Pieces of every marker and JSON syntax, shuffled: no crash, and streaming equals one-shot.
  const std::vector<std::string> pieces = {
      "<tool_call>", "</tool_call>", "<think>", "</think>", "[TOOL_CALLS]", "[ARGS]", "[CALL_ID]",
      "<|python_tag|>", "{", "}", "[", "]", "\"", "\\", ":", ",", ";", " ", "\n", "name", "\"name\": \"f\"",
      "\"arguments\": {}", "\"parameters\": {\"a\": 1}", "f", "<function=g>", "</function>", "<tool", "x.call(", ")"};
  std::mt19937_64 rng(42);
  const OutputFormat formats[] = {kHermesThink, kLlama, kMistral, kQwq, {ToolCallFormat::kLlama3Json, true, true}};
  for (int iter = 0; iter < 300; ++iter) {
    std::string text;
    int n = 1 + static_cast<int>(rng() % 14);
    for (int i = 0; i < n; ++i) text += pieces[rng() % pieces.size()];
    for (const auto& f : formats) expect_chunking_invariant(f, text, iter);
  }
}

}  // namespace
}  // namespace lm::chat
