// Stream framing, error bodies and metrics labels.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/api_error.h"
#include "server/chat_format.h"
#include "server/metrics.h"
#include "server/streaming.h"

namespace lm::server {
namespace {

TEST(ServerFraming, SseAndNdjson) {
  nlohmann::json j = {{"a", 1}, {"t", "x\ny"}};
  std::string e = sse_event(j);
  EXPECT_EQ(e, "data: {\"a\":1,\"t\":\"x\\ny\"}\n\n");   // one line: newlines are escaped
  EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
  EXPECT_EQ(ndjson_line(j), "{\"a\":1,\"t\":\"x\\ny\"}\n");
}

TEST(ServerFraming, InvalidUtf8IsReplacedNotThrown) {
  nlohmann::json j = {{"text", std::string("a\xff" "b")}};
  std::string s = to_json_text(j);
  EXPECT_EQ(s, "{\"text\":\"a\xEF\xBF\xBD" "b\"}");
  auto back = nlohmann::json::parse(s, nullptr, false);
  ASSERT_FALSE(back.is_discarded());
}

TEST(ServerFraming, Rfc3339) {
  std::string t = rfc3339_now();
  ASSERT_EQ(t.size(), 30u) << t;   // 2026-11-21T19:22:45.499127000Z
  EXPECT_EQ(t[4], '-');
  EXPECT_EQ(t[10], 'T');
  EXPECT_EQ(t[19], '.');
  EXPECT_EQ(t.back(), 'Z');
}

TEST(ServerErrors, Dialects) {
  ApiError e = bad_param("top_p", "'top_p' = 2 is out of range");
  auto o = error_body(e, Dialect::kOpenAi);
  EXPECT_EQ(o["error"]["message"], e.message);
  EXPECT_EQ(o["error"]["type"], "invalid_request_error");
  EXPECT_EQ(o["error"]["param"], "top_p");
  EXPECT_EQ(o["error"]["code"], "invalid_value");
  auto l = error_body(e, Dialect::kOllama);
  EXPECT_EQ(l, nlohmann::json({{"error", e.message}}));
  auto none = error_body(server_error("boom"), Dialect::kOpenAi);
  EXPECT_TRUE(none["error"]["param"].is_null());
  EXPECT_EQ(dialect_of("/api/chat"), Dialect::kOllama);
  EXPECT_EQ(dialect_of("/v1/chat/completions"), Dialect::kOpenAi);
  EXPECT_EQ(dialect_of("/apix"), Dialect::kOpenAi);
}

TEST(ServerMetrics, EndpointLabelsAreBounded) {
  EXPECT_EQ(Metrics::endpoint_of("/v1/chat/completions"), "/v1/chat/completions");
  EXPECT_EQ(Metrics::endpoint_of("/v1/chat/completions/x"), "other");
  EXPECT_EQ(Metrics::endpoint_of("/random/path/123"), "other");
}

TEST(ServerChatFormat, ChatMl) {
  nlohmann::json msgs = {{{"role", "system"}, {"content", "S"}}, {{"role", "user"}, {"content", "Hi"}}};
  EXPECT_EQ(render_chatml(msgs, nullptr, true),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(render_chatml(msgs, nullptr, false),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
  nlohmann::json tools = {{{"type", "function"}, {"function", {{"name", "get_weather"}}}}};
  std::string with_tools = render_chatml(msgs, tools, true);
  EXPECT_NE(with_tools.find("<tools>"), std::string::npos);
  EXPECT_NE(with_tools.find("get_weather"), std::string::npos);
}

}  // namespace
}  // namespace lm::server
