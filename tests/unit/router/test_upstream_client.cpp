// UpstreamClient against a scripted loopback upstream: OpenAI and Anthropic, plain and streamed
// (streams cut at odd byte boundaries), headers, keys and translation both ways.
#include <gtest/gtest.h>

#include <cstdlib>

#include "router/upstream.h"
#include "test_upstream_data.h"
#include "test_upstream_server.h"

namespace lm::router {
namespace {

using test::UpstreamServer;

constexpr const char* kKeyEnv = "LM_TEST_UPSTREAM_KEY";
constexpr const char* kKey = "sk-test-0123456789SECRET";

ProviderConfig provider(const std::string& base_url, ProviderKind kind = ProviderKind::openai) {
  ProviderConfig p;
  p.name = kind == ProviderKind::openai ? "loop-openai" : "loop-claude";
  p.kind = kind;
  p.base_url = base_url;
  p.api_key_env = kKeyEnv;
  p.connect_timeout_ms = 1000;
  p.timeout_ms = 3000;
  p.backoff_ms = 5;
  return p;
}

json chat_request(const std::string& model) {
  return json{{"model", model}, {"messages", {{{"role", "user"}, {"content", "Say hi"}}}}, {"max_tokens", 16}};
}

const char* kOpenAIReply = R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-x",
  "choices":[{"index":0,"message":{"role":"assistant","content":"Hi!"},"finish_reason":"stop"}],
  "usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":4}}})";

class UpstreamClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv(kKeyEnv, kKey, 1); }
  void TearDown() override { ::unsetenv(kKeyEnv); }
  UpstreamClient client_;
};

TEST_F(UpstreamClientTest, OpenAIReplyPassesThrough) {
  UpstreamServer up([](const httplib::Request&, httplib::Response& res, int) {
    res.set_content(kOpenAIReply, "application/json");
  });
  ProviderConfig p = provider(up.url() + "/v1");
  p.headers = {{"X-Tenant", "acme"}};
  json req = chat_request("gpt-x");
  req["stream"] = true;   // ignored by chat()
  auto out = client_.chat(p, req);
  ASSERT_TRUE(std::holds_alternative<UpstreamResult>(out)) << std::get<UpstreamError>(out).message;
  const auto& r = std::get<UpstreamResult>(out);
  EXPECT_EQ(r.response, json::parse(kOpenAIReply));
  EXPECT_EQ(r.prompt_tokens, 12);
  EXPECT_EQ(r.completion_tokens, 3);
  EXPECT_EQ(r.cached_tokens, 4);
  EXPECT_TRUE(r.usage_reported);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(r.model, "gpt-x");
  EXPECT_GT(r.latency_ms, 0);
  EXPECT_EQ(up.count(), 1);
  EXPECT_EQ(up.last_path(), "/v1/chat/completions");
  EXPECT_EQ(up.last_header("Authorization"), std::string("Bearer ") + kKey);
  EXPECT_EQ(up.last_header("X-Tenant"), "acme");
  EXPECT_EQ(up.last_header("Content-Type"), "application/json");
  json sent = json::parse(up.last_body());
  EXPECT_EQ(sent, chat_request("gpt-x"));   // "stream" removed, nothing else changed
}

TEST_F(UpstreamClientTest, OpenAIStreamAtOddBoundaries) {
  std::vector<std::string> datas = {
      R"({"id":"c2","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})",
      R"({"id":"c2","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"content":"Hé"},"finish_reason":null}]})",
      R"({"id":"c2","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"content":"llo"},"finish_reason":"stop"}]})",
      R"({"id":"c2","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}})"};
  std::string body = ": comment\r\n\r\n";
  for (const auto& d : datas) body += "data: " + d + "\r\n\r\n";
  body += "data: [DONE]\r\n\r\n";
  UpstreamServer up([&](const httplib::Request&, httplib::Response& res, int) {
    test::sse_reply(res, body, {1, 3, 7, 2, 13, 5, 31});
  });
  std::vector<json> got;
  auto out = client_.chat_stream(provider(up.url()), chat_request("gpt-x"), [&](const json& c) {
    got.push_back(c);
    return true;
  });
  ASSERT_TRUE(std::holds_alternative<UpstreamResult>(out)) << std::get<UpstreamError>(out).message;
  ASSERT_EQ(got.size(), datas.size());
  for (size_t i = 0; i < datas.size(); ++i) EXPECT_EQ(got[i], json::parse(datas[i]));
  const auto& r = std::get<UpstreamResult>(out);
  EXPECT_EQ(r.response["choices"][0]["message"]["content"], "Héllo");
  EXPECT_EQ(r.response["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(r.prompt_tokens, 7);
  EXPECT_EQ(r.completion_tokens, 2);
  EXPECT_LE(r.ttft_ms, r.latency_ms);
  json sent = json::parse(up.last_body());
  EXPECT_EQ(sent["stream"], true);
  EXPECT_EQ(sent["stream_options"], json({{"include_usage", true}}));
  EXPECT_EQ(up.last_header("Accept"), "text/event-stream");
}

TEST_F(UpstreamClientTest, AnthropicRequestAndReplyTranslated) {
  const char* reply = R"({"id":"msg_7","type":"message","role":"assistant","model":"claude-x",
    "content":[{"type":"text","text":"Calling."},{"type":"tool_use","id":"toolu_1","name":"lookup","input":{"q":"x"}}],
    "stop_reason":"tool_use","usage":{"input_tokens":20,"cache_read_input_tokens":30,"output_tokens":9}})";
  UpstreamServer up([&](const httplib::Request&, httplib::Response& res, int) { res.set_content(reply, "application/json"); });
  json req = {{"model", "claude-x"},
              {"messages", {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Look up x"}}}},
              {"tools", {{{"type", "function"}, {"function", {{"name", "lookup"}, {"parameters", {{"type", "object"}}}}}}}},
              {"stop", {"###"}}};
  auto out = client_.chat(provider(up.url(), ProviderKind::anthropic), req);
  ASSERT_TRUE(std::holds_alternative<UpstreamResult>(out)) << std::get<UpstreamError>(out).message;
  EXPECT_EQ(up.last_path(), "/v1/messages");
  EXPECT_EQ(up.last_header("x-api-key"), kKey);
  EXPECT_EQ(up.last_header("anthropic-version"), "2023-06-01");
  EXPECT_EQ(up.last_header("Authorization"), "");
  json expected_sent = json::parse(R"({"model":"claude-x","system":"Be brief.",
    "messages":[{"role":"user","content":"Look up x"}],"max_tokens":4096,"stop_sequences":["###"],
    "tools":[{"name":"lookup","input_schema":{"type":"object"}}]})");
  EXPECT_EQ(json::parse(up.last_body()), expected_sent) << up.last_body();
  json expected = json::parse(R"({"id":"msg_7","object":"chat.completion","model":"claude-x",
    "choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":"Calling.",
      "tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"x\"}"}}]}}],
    "usage":{"prompt_tokens":50,"completion_tokens":9,"total_tokens":59,"prompt_tokens_details":{"cached_tokens":30}}})");
  const auto& r = std::get<UpstreamResult>(out);
  EXPECT_EQ(without_created(r.response), expected) << r.response.dump(2);
  EXPECT_EQ(r.prompt_tokens, 50);
  EXPECT_EQ(r.cached_tokens, 30);
  EXPECT_EQ(r.completion_tokens, 9);
}

TEST_F(UpstreamClientTest, AnthropicStreamTranslatedAtOddBoundaries) {
  UpstreamServer up([](const httplib::Request&, httplib::Response& res, int) {
    test::sse_reply(res, anthropic_sse(), {5, 1, 17, 2, 64, 3});
  });
  json got = json::array();
  auto out = client_.chat_stream(provider(up.url(), ProviderKind::anthropic), chat_request("claude-x"),
                                 [&](const json& c) {
                                   got.push_back(without_created(c));
                                   return true;
                                 });
  ASSERT_TRUE(std::holds_alternative<UpstreamResult>(out)) << std::get<UpstreamError>(out).message;
  EXPECT_EQ(got, expected_anthropic_chunks()) << got.dump(2);
  EXPECT_EQ(json::parse(up.last_body())["stream"], true);
  const auto& r = std::get<UpstreamResult>(out);
  EXPECT_EQ(r.prompt_tokens, 15);
  EXPECT_EQ(r.completion_tokens, 17);
  EXPECT_EQ(r.cached_tokens, 5);
  json expected = json::parse(R"({"id":"msg_02","object":"chat.completion","model":"claude-x",
    "choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":"Hello",
      "tool_calls":[{"id":"toolu_9","type":"function","function":{"name":"weather","arguments":"{\"city\": \"Paris\"}"}}]}}],
    "usage":{"prompt_tokens":15,"completion_tokens":17,"total_tokens":32,"prompt_tokens_details":{"cached_tokens":5}}})");
  EXPECT_EQ(without_created(r.response), expected) << r.response.dump(2);
}

TEST_F(UpstreamClientTest, NoKeyEnvSendsNoAuthorization) {
  UpstreamServer up([](const httplib::Request&, httplib::Response& res, int) { res.set_content(kOpenAIReply, "application/json"); });
  ProviderConfig p = provider(up.url());
  p.api_key_env.clear();
  auto out = client_.chat(p, chat_request("gpt-x"));
  ASSERT_TRUE(std::holds_alternative<UpstreamResult>(out));
  EXPECT_EQ(up.last_header("Authorization"), "");
}

TEST_F(UpstreamClientTest, ConcurrentCallsShareTheClientAndReuseConnections) {
  UpstreamServer up([](const httplib::Request&, httplib::Response& res, int) { res.set_content(kOpenAIReply, "application/json"); },
                    /*keep_alive=*/true);
  UpstreamClient client;   // destroyed before the server, closing its kept-alive connections
  ProviderConfig p = provider(up.url());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) ok += std::holds_alternative<UpstreamResult>(client.chat(p, chat_request("gpt-x")));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(up.count(), 20);
  EXPECT_EQ(client.attempts_made(), 20);
  EXPECT_LE(up.connections(), 8u);   // pooled handles keep their connections
}

}  // namespace
}  // namespace lm::router
