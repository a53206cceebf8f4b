// Request parsing and validation: every bad field is a 400 that names it; good requests parse
// into the values given.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/request.h"

namespace lm::server {
namespace {

struct BadCase {
  const char* body;
  const char* param;   // expected ApiError::param
};

template <typename T>
void expect_bad(Parsed<T> (*parse)(std::string_view), const std::vector<BadCase>& cases) {
  for (const auto& c : cases) {
    auto r = parse(c.body);
    ASSERT_TRUE(std::holds_alternative<ApiError>(r)) << "accepted: " << c.body;
    const ApiError& e = std::get<ApiError>(r);
    EXPECT_EQ(e.status, 400) << c.body;
    EXPECT_EQ(e.param, c.param) << c.body << " → " << e.message;
    EXPECT_FALSE(e.message.empty()) << c.body;
    if (*c.param) {
      EXPECT_NE(e.message.find(c.param), std::string::npos) << c.body << " → " << e.message;
    }
  }
}

const char* kMsgs = R"("messages":[{"role":"user","content":"hi"}])";

std::string chat(const std::string& extra) {
  return std::string("{") + kMsgs + (extra.empty() ? "" : "," + extra) + "}";
}

TEST(ServerRequest, ChatBadFieldsNameTheParameter) {
  std::vector<std::string> bodies;   // keep the strings alive
  std::vector<std::pair<std::string, const char*>> cases = {
      {chat(R"("temperature":-1)"), "temperature"},
      {chat(R"("temperature":"hot")"), "temperature"},
      {chat(R"("top_p":1.5)"), "top_p"},
      {chat(R"("top_p":-0.1)"), "top_p"},
      {chat(R"("top_k":"5")"), "top_k"},
      {chat(R"("top_k":2.5)"), "top_k"},
      {chat(R"("min_p":2)"), "min_p"},
      {chat(R"("presence_penalty":3)"), "presence_penalty"},
      {chat(R"("frequency_penalty":-2.5)"), "frequency_penalty"},
      {chat(R"("repeat_penalty":0)"), "repeat_penalty"},
      {chat(R"("n":2)"), "n"},
      {chat(R"("n":0)"), "n"},
      {chat(R"("max_tokens":0)"), "max_tokens"},
      {chat(R"("max_tokens":-5)"), "max_tokens"},
      {chat(R"("max_tokens":1e12)"), "max_tokens"},
      {chat(R"("max_tokens":99999999999999999999)"), "max_tokens"},
      {chat(R"("max_completion_tokens":"10")"), "max_completion_tokens"},
      {chat(R"("stop":5)"), "stop"},
      {chat(R"("stop":["a",1])"), "stop"},
      {chat(R"("stop":["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17"])"), "stop"},
      {chat(R"("stream":"yes")"), "stream"},
      {chat(R"("stream_options":{"include_usage":1})"), "stream_options"},
      {chat(R"("stream_options":[])"), "stream_options"},
      {chat(R"("seed":"x")"), "seed"},
      {chat(R"("seed":1.5)"), "seed"},
      {chat(R"("logit_bias":{"5":10})"), "logit_bias"},
      {chat(R"("response_format":{"type":"json_schema","json_schema":{}})"), "response_format"},
      {chat(R"("response_format":{"type":"json_schema","json_schema":{"schema":{"type":"string","pattern":"a"}}})"), "response_format"},
      {chat(R"("grammar":"root ::= (")"), "grammar"},
      {chat(R"("response_format":{"type":"xml"})"), "response_format"},
      {chat(R"("logprobs":"true")"), "logprobs"},
      {chat(R"("top_logprobs":5)"), "top_logprobs"},                      // needs logprobs
      {chat(R"("logprobs":true,"top_logprobs":21)"), "top_logprobs"},
      {chat(R"("tools":{})"), "tools"},
      {chat(R"("tools":[{"type":"function"}])"), "tools[0]"},
      {chat(R"("tools":[{"type":"function","function":{"name":""}}])"), "tools[0].function.name"},
      {chat(R"("tools":[{"type":"function","function":{"name":"f","parameters":3}}])"),
       "tools[0].function.parameters"},
      {chat(R"("tool_choice":"sometimes")"), "tool_choice"},
      {chat(R"("tool_choice":"required")"), "tool_choice"},                // no tools
      {chat(R"("tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}})"),
       "tool_choice"},
      {chat(R"("functions":[])"), "functions"},
      {R"({"messages":"hi"})", "messages"},
      {R"({"messages":[]})", "messages"},
      {R"({"model":"x"})", "messages"},
      {R"({"messages":[1]})", "messages[0]"},
      {R"({"messages":[{"content":"x"}]})", "messages[0].role"},
      {R"({"messages":[{"role":"wizard","content":"x"}]})", "messages[0].role"},
      {R"({"messages":[{"role":"user","content":5}]})", "messages[0].content"},
      {R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]})",
       "messages[0].content"},
      {R"({"messages":[{"role":"user","content":"a","tool_calls":{}}]})", "messages[0].tool_calls"},
      {R"({"messages":[{"role":"user","content":"hi"}],"model":5})", "model"},
  };
  std::vector<BadCase> bad;
  for (auto& [b, p] : cases) {
    bodies.push_back(b);
  }
  for (size_t i = 0; i < cases.size(); ++i) bad.push_back({bodies[i].c_str(), cases[i].second});
  expect_bad(parse_openai_chat, bad);
}

TEST(ServerRequest, MalformedBodies) {
  expect_bad(parse_openai_chat, {{"", ""}, {"{", ""}, {"[]", ""}, {"\"x\"", ""}, {"null", ""},
                                 {"{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}", ""},
                                 {"{} trailing", ""}});
  expect_bad(parse_ollama_generate, {{"{\"prompt\":", ""}, {"42", ""}});
}

TEST(ServerRequest, ChatGoodRequest) {
  auto r = parse_openai_chat(R"({"model":"demo","messages":[
      {"role":"developer","content":"be brief"},
      {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
      {"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]},
      {"role":"tool","tool_call_id":"1","content":"42"}],
      "temperature":0,"top_p":0.5,"top_k":7,"min_p":0.1,"seed":42,"max_tokens":9,
      "max_completion_tokens":12,"stop":["x",""],"stream":true,"stream_options":{"include_usage":true},
      "logprobs":true,"top_logprobs":3,"n":1,"logit_bias":{},"user":"u","response_format":{"type":"text"},
      "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],
      "tool_choice":{"type":"function","function":{"name":"f"}},"parallel_tool_calls":false,
      "presence_penalty":null})");
  ASSERT_TRUE(std::holds_alternative<OpenAiRequest>(r)) << std::get<ApiError>(r).message;
  const auto& q = std::get<OpenAiRequest>(r);
  EXPECT_EQ(q.model, "demo");
  EXPECT_EQ(q.gen.sampling.temperature, 0.0f);
  EXPECT_FLOAT_EQ(q.gen.sampling.top_p, 0.5f);
  EXPECT_EQ(q.gen.sampling.top_k, 7);
  EXPECT_FLOAT_EQ(q.gen.sampling.min_p, 0.1f);
  EXPECT_EQ(q.gen.sampling.seed, 42u);
  EXPECT_EQ(q.gen.max_tokens, 12);   // max_completion_tokens wins
  EXPECT_EQ(q.gen.stop, std::vector<std::string>{"x"});
  EXPECT_TRUE(q.stream);
  EXPECT_TRUE(q.include_usage);
  EXPECT_TRUE(q.logprobs);
  EXPECT_EQ(q.gen.top_logprobs, 3);
  ASSERT_EQ(q.messages.size(), 4u);
  EXPECT_EQ(q.messages[0]["role"], "system");
  EXPECT_EQ(q.messages[1]["content"], "ab");
  EXPECT_EQ(q.messages[2]["content"], "");
  EXPECT_TRUE(q.messages[2].contains("tool_calls"));
  EXPECT_EQ(q.messages[3]["tool_call_id"], "1");
  EXPECT_EQ(q.tool_choice, ToolChoice::kFunction);
  EXPECT_EQ(q.tool_choice_name, "f");
  EXPECT_EQ(q.tools.size(), 1u);
}

TEST(ServerRequest, ChatDefaults) {
  auto r = parse_openai_chat(chat(""));
  ASSERT_TRUE(std::holds_alternative<OpenAiRequest>(r));
  const auto& q = std::get<OpenAiRequest>(r);
  EXPECT_FALSE(q.stream);
  EXPECT_EQ(q.gen.max_tokens, -1);
  EXPECT_EQ(q.gen.top_logprobs, -1);
  EXPECT_EQ(q.gen.sampling.seed, sampling::kSeedRandom);
  EXPECT_EQ(q.tool_choice, ToolChoice::kAuto);
}

TEST(ServerRequest, CompletionPrompts) {
  auto text = parse_openai_completion(R"({"prompt":"Once","max_tokens":5,"logprobs":2,"seed":-1})");
  ASSERT_TRUE(std::holds_alternative<OpenAiRequest>(text));
  EXPECT_EQ(std::get<OpenAiRequest>(text).prompt, "Once");
  EXPECT_FALSE(std::get<OpenAiRequest>(text).prompt_is_tokens);
  EXPECT_EQ(std::get<OpenAiRequest>(text).gen.top_logprobs, 2);
  EXPECT_EQ(std::get<OpenAiRequest>(text).gen.sampling.seed, sampling::kSeedRandom);
  auto ids = parse_openai_completion(R"({"prompt":[1,5,9]})");
  ASSERT_TRUE(std::holds_alternative<OpenAiRequest>(ids));
  EXPECT_TRUE(std::get<OpenAiRequest>(ids).prompt_is_tokens);
  EXPECT_EQ(std::get<OpenAiRequest>(ids).prompt_tokens, (std::vector<int32_t>{1, 5, 9}));
  auto one = parse_openai_completion(R"({"prompt":["Hi"]})");
  ASSERT_TRUE(std::holds_alternative<OpenAiRequest>(one));
  EXPECT_EQ(std::get<OpenAiRequest>(one).prompt, "Hi");
  expect_bad(parse_openai_completion, {
      {R"({})", "prompt"},
      {R"({"prompt":5})", "prompt"},
      {R"({"prompt":[1,-2]})", "prompt"},
      {R"({"prompt":[1,"a"]})", "prompt"},
      {R"({"prompt":[1.5]})", "prompt"},
      {R"({"prompt":["a","b"]})", "prompt"},
      {R"({"prompt":"x","logprobs":6})", "logprobs"},
      {R"({"prompt":"x","logprobs":true})", "logprobs"},
      {R"({"prompt":"x","echo":true})", "echo"},
      {R"({"prompt":"x","suffix":"y"})", "suffix"},
      {R"({"prompt":"x","best_of":3})", "best_of"},
      {R"({"prompt":"x","n":3})", "n"},
      {R"({"prompt":"x","temperature":-0.5})", "temperature"},
  });
}

TEST(ServerRequest, Ollama) {
  auto g = parse_ollama_generate(R"({"model":"demo","prompt":"Once","system":"s","raw":true,
      "options":{"temperature":0,"top_k":3,"num_predict":7,"stop":["."],"seed":3,"num_ctx":128,
                 "num_thread":4},"keep_alive":"5m","stream":false})");
  ASSERT_TRUE(std::holds_alternative<OllamaRequest>(g)) << std::get<ApiError>(g).message;
  const auto& q = std::get<OllamaRequest>(g);
  EXPECT_FALSE(q.stream);
  EXPECT_TRUE(q.raw);
  EXPECT_EQ(q.gen.max_tokens, 7);
  EXPECT_EQ(q.gen.sampling.top_k, 3);
  EXPECT_EQ(q.gen.stop, std::vector<std::string>{"."});
  EXPECT_EQ(q.num_ctx, 128);
  auto unlimited = parse_ollama_generate(R"({"prompt":"x","options":{"num_predict":-1}})");
  ASSERT_TRUE(std::holds_alternative<OllamaRequest>(unlimited));
  EXPECT_TRUE(std::get<OllamaRequest>(unlimited).stream);   // Ollama streams by default
  EXPECT_EQ(std::get<OllamaRequest>(unlimited).gen.max_tokens, -1);
  expect_bad(parse_ollama_generate, {
      {R"({"prompt":5})", "prompt"},
      {R"({"prompt":"x","options":[]})", "options"},
      {R"({"prompt":"x","options":{"temperature":-1}})", "options.temperature"},
      {R"({"prompt":"x","options":{"top_p":7}})", "options.top_p"},
      {R"({"prompt":"x","options":{"num_predict":0}})", "options.num_predict"},
      {R"({"prompt":"x","options":{"num_predict":"5"}})", "options.num_predict"},
      {R"({"prompt":"x","options":{"num_ctx":0}})", "options.num_ctx"},
      {R"({"prompt":"x","options":{"mirostat":1}})", "options.mirostat"},
      {R"({"prompt":"x","format":"yaml"})", "format"},
      {R"({"prompt":"x","format":{"type":"object","not":{}}})", "format"},
      {R"({"prompt":"x","images":["aGk="]})", "images"},
      {R"({"prompt":"x","template":"{{ .Prompt }}"})", "template"},
      {R"({"prompt":"x","stream":"no"})", "stream"},
  });
  auto c = parse_ollama_chat(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(std::holds_alternative<OllamaRequest>(c));
  EXPECT_EQ(std::get<OllamaRequest>(c).messages.size(), 1u);
  auto load = parse_ollama_chat(R"({"model":"m"})");
  ASSERT_TRUE(std::holds_alternative<OllamaRequest>(load));   // a "load the model" request
  expect_bad(parse_ollama_chat, {
      {R"({"messages":{}})", "messages"},
      {R"({"messages":[{"role":"user","content":"x","images":["aGk="]}]})", "messages[0].images"},
      {R"({"messages":[{"role":"user","content":"x"}],"options":{"seed":"x"}})", "options.seed"},
  });
  auto name = parse_ollama_model_name(R"({"name":"demo"})");
  ASSERT_TRUE(std::holds_alternative<std::string>(name));
  EXPECT_EQ(std::get<std::string>(name), "demo");
  EXPECT_TRUE(std::holds_alternative<ApiError>(parse_ollama_model_name(R"({"model":3})")));
}

}  // namespace
}  // namespace lm::server
