// OpenAI <-> Anthropic translation against hand-written expected JSON (text, tool calls, usage),
// the SSE parser at every split point, and the stream decoder.
#include <gtest/gtest.h>

#include "router/anthropic.h"
#include "router/upstream_http.h"
#include "router/upstream_sse.h"
#include "router/upstream_stream.h"
#include "test_upstream_data.h"

namespace lm::router {
namespace {

using nlohmann::json;

TEST(AnthropicTranslate, RequestWithSystemToolsAndToolResults) {
  json openai = json::parse(R"({
    "model": "claude-sonnet-4-5",
    "messages": [
      {"role": "system", "content": "You are terse."},
      {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
      {"role": "user", "content": "Weather in Paris and Rome?"},
      {"role": "assistant", "content": "Checking.", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
        {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
      {"role": "tool", "tool_call_id": "call_2", "content": "24C"},
      {"role": "user", "content": [{"type": "text", "text": "Which is warmer?"},
                                   {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}
    ],
    "tools": [{"type": "function", "function": {"name": "weather", "description": "Current weather",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
    "tool_choice": "required", "parallel_tool_calls": false,
    "stop": "END", "temperature": 1.5, "top_p": 0.9, "user": "u-42", "stream": true,
    "frequency_penalty": 0.5
  })");
  json expected = json::parse(R"({
    "model": "claude-sonnet-4-5",
    "system": "You are terse.\n\nUse tools.",
    "messages": [
      {"role": "user", "content": "Weather in Paris and Rome?"},
      {"role": "assistant", "content": [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "weather", "input": {"city": "Rome"}}]},
      {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
        {"type": "tool_result", "tool_use_id": "call_2", "content": "24C"},
        {"type": "text", "text": "Which is warmer?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}]}
    ],
    "max_tokens": 4096,
    "temperature": 1.0, "top_p": 0.9,
    "stop_sequences": ["END"],
    "tools": [{"name": "weather", "description": "Current weather",
               "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}],
    "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
    "metadata": {"user_id": "u-42"},
    "stream": true
  })");
  auto r = anthropic_request(openai);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r, expected) << r->dump(2);
}

TEST(AnthropicTranslate, RequestLimitsAndErrorsNameTheField) {
  json base = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  json req = base;
  req["max_completion_tokens"] = 77;
  req["stop"] = {"a", "b"};
  req["tool_choice"] = {{"type", "function"}, {"function", {{"name", "f"}}}};
  auto r = anthropic_request(req);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ((*r)["max_tokens"], 77);
  EXPECT_EQ((*r)["stop_sequences"], json({"a", "b"}));
  EXPECT_EQ((*r)["tool_choice"], json({{"type", "tool"}, {"name", "f"}}));
  EXPECT_FALSE(r->contains("stream"));

  auto err = [&](json q) { auto x = anthropic_request(q); return x.ok() ? std::string("ok") : x.error().message(); };
  json bad = base;
  bad["messages"].push_back({{"role", "assistant"}, {"tool_calls", {{{"id", "c"}, {"type", "function"},
                                                                    {"function", {{"name", "f"}, {"arguments", "[1"}}}}}}});
  EXPECT_EQ(err(bad), "messages[1].tool_calls[0].function.arguments: not a JSON object");
  bad = base;
  bad["messages"][0]["role"] = "robot";
  EXPECT_EQ(err(bad), "messages[0].role: 'robot' is not system, developer, user, assistant or tool");
  bad = base;
  bad["messages"].push_back({{"role", "tool"}, {"content", "x"}});
  EXPECT_EQ(err(bad), "messages[1].tool_call_id: must be a string");
  bad = base;
  bad["max_tokens"] = 0;
  EXPECT_EQ(err(bad), "max_tokens: must be a positive integer");
  bad = base;
  bad["n"] = 2;
  EXPECT_EQ(err(bad), "n: anthropic providers return one choice");
  bad = base;
  bad["messages"][0]["content"] = json::array({{{"type", "input_audio"}}});
  EXPECT_EQ(err(bad), "messages[0].content[0].type: 'input_audio' is not supported by anthropic providers");
  EXPECT_EQ(err(json{{"model", "m"}, {"messages", {{{"role", "system"}, {"content", "s"}}}}}),
            "messages: no user or assistant message");
}

TEST(AnthropicTranslate, ReplyWithTextToolUseAndCachedUsage) {
  json reply = json::parse(R"({
    "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
    "content": [{"type": "thinking", "thinking": "hmm", "signature": "x"},
                {"type": "text", "text": "Let me check. "},
                {"type": "text", "text": "One moment."},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}],
    "stop_reason": "tool_use", "stop_sequence": null,
    "usage": {"input_tokens": 100, "cache_read_input_tokens": 900, "cache_creation_input_tokens": 50,
              "output_tokens": 25}
  })");
  json expected = json::parse(R"({
    "id": "msg_01", "object": "chat.completion", "model": "claude-sonnet-4-5",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
      "role": "assistant", "content": "Let me check. One moment.",
      "tool_calls": [{"id": "toolu_1", "type": "function",
                      "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]}}],
    "usage": {"prompt_tokens": 1050, "completion_tokens": 25, "total_tokens": 1075,
              "prompt_tokens_details": {"cached_tokens": 900}}
  })");
  auto r = anthropic_response_to_openai(reply);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE((*r)["created"].is_number_integer());
  EXPECT_EQ(without_created(*r), expected) << r->dump(2);

  EXPECT_EQ(anthropic_finish_reason("end_turn"), "stop");
  EXPECT_EQ(anthropic_finish_reason("stop_sequence"), "stop");
  EXPECT_EQ(anthropic_finish_reason("max_tokens"), "length");
  EXPECT_EQ(anthropic_finish_reason("refusal"), "content_filter");
  EXPECT_FALSE(anthropic_response_to_openai(json{{"type", "message"}}).ok());
  EXPECT_EQ(anthropic_response_to_openai(json{{"content", {{{"type", "text"}, {"text", 5}}}}}).error().message(),
            "content[0].text is not a string");
}

TEST(AnthropicTranslate, StreamEventsBecomeOpenAIChunks) {
  AnthropicStreamTranslator tr;
  json got = json::array();
  for (const char* ev : kAnthropicEvents) {
    auto step = tr.on_event(json::parse(ev));
    ASSERT_TRUE(step.ok()) << step.error().message();
    ASSERT_FALSE(step->error);
    for (const json& c : step->chunks) got.push_back(without_created(c));
  }
  EXPECT_TRUE(tr.done());
  EXPECT_EQ(got, expected_anthropic_chunks()) << got.dump(2);
  EXPECT_EQ(tr.usage().prompt_tokens, 15);
  EXPECT_EQ(tr.usage().completion_tokens, 17);
  EXPECT_EQ(tr.usage().cached_tokens, 5);
}

TEST(AnthropicTranslate, StreamErrorsAndSchemaProblems) {
  AnthropicStreamTranslator tr;
  auto before = tr.on_event(json::parse(R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}})"));
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.error().message(), "a content_block_delta event before message_start");
  auto err = tr.on_event(json::parse(R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"));
  ASSERT_TRUE(err.ok());
  ASSERT_TRUE(err->error);
  EXPECT_EQ(err->upstream_error.kind, UpstreamErrorKind::server_error);
  EXPECT_EQ(err->upstream_error.http_status, 529);
  EXPECT_EQ(err->upstream_error.message, "upstream error overloaded_error: Overloaded");
  EXPECT_EQ(anthropic_error(json{{"type", "rate_limit_error"}}).kind, UpstreamErrorKind::rate_limited);
  ASSERT_TRUE(tr.on_event(json::parse(kAnthropicEvents[0])).ok());
  auto stray = tr.on_event(json::parse(R"({"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{"}})"));
  ASSERT_FALSE(stray.ok());
  EXPECT_EQ(stray.error().message(), "an input_json_delta for block 3, which is not a tool_use block");
}

// Every way of cutting a stream into two writes gives the same events.
TEST(SseParser, SameEventsAtEverySplitPoint) {
  std::string stream = "\xEF\xBB\xBF: keep-alive\r\nevent: one\r\ndata: a\r\ndata:b\r\n\r\n"
                       "data: {\"x\": 1}\n\nid: 7\nretry: 10\ndata\n\n\rdata: cr\r\r"
                       "event: lonely\n\n"   // no data: not dispatched
                       "data: tail";
  auto collect = [&](size_t split) {
    std::vector<SseEvent> evs;
    SseParser p([&](const SseEvent& e) { evs.push_back(e); return true; });
    EXPECT_TRUE(p.feed(std::string_view(stream).substr(0, split)).ok());
    EXPECT_TRUE(p.feed(std::string_view(stream).substr(split)).ok());
    EXPECT_TRUE(p.has_partial());   // "data: tail" has no end of line
    return evs;
  };
  for (size_t split = 0; split <= stream.size(); ++split) {
    auto evs = collect(split);
    ASSERT_EQ(evs.size(), 4u) << "split at " << split;
    EXPECT_EQ(evs[0].event, "one");
    EXPECT_EQ(evs[0].data, "a\nb");
    EXPECT_EQ(evs[1].data, "{\"x\": 1}");
    EXPECT_EQ(evs[1].event, "");
    EXPECT_EQ(evs[2].data, "");
    EXPECT_EQ(evs[2].id, "7");
    EXPECT_EQ(evs[3].data, "cr");
  }
  // Byte by byte, too.
  std::vector<SseEvent> evs;
  SseParser p([&](const SseEvent& e) { evs.push_back(e); return true; });
  for (char c : stream) ASSERT_TRUE(p.feed(std::string_view(&c, 1)).ok());
  EXPECT_EQ(evs.size(), 4u);
}

TEST(SseParser, OversizedEventIsAnError) {
  SseParser p([](const SseEvent&) { return true; }, 64);
  Status s = p.feed("data: " + std::string(100, 'x'));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "an event is longer than 64 bytes");
}

std::string sse_of(const std::vector<std::string>& datas) {
  std::string s;
  for (const auto& d : datas) s += "data: " + d + "\n\n";
  return s;
}

TEST(StreamDecoder, OpenAIChunksPassThroughAndAccumulate) {
  std::vector<std::string> datas = {
      R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})",
      R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]})",
      R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":"{\"a\""}}]},"finish_reason":null}]})",
      R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]},"finish_reason":"tool_calls"}]})",
      R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13,"prompt_tokens_details":{"cached_tokens":2}}})",
      "[DONE]"};
  std::string stream = sse_of(datas);
  std::vector<json> got;
  StreamDecoder::OnChunk on_chunk = [&](const json& c) { got.push_back(c); return true; };
  StreamDecoder dec(ProviderKind::openai, on_chunk);
  for (size_t i = 0; i < stream.size(); i += 7) ASSERT_TRUE(dec.feed(std::string_view(stream).substr(i, 7)));
  EXPECT_FALSE(dec.finish().has_value());
  ASSERT_EQ(got.size(), 5u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], json::parse(datas[i]));   // passed through unchanged
  json expected = json::parse(R"({"id":"c1","object":"chat.completion","created":1,"model":"gpt-x",
    "choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":"Hi",
      "tool_calls":[{"id":"call_a","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]}}],
    "usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13,"prompt_tokens_details":{"cached_tokens":2}}})");
  EXPECT_EQ(dec.accumulated().completion(), expected) << dec.accumulated().completion().dump(2);
}

TEST(StreamDecoder, MalformedChunksAndEarlyEnds) {
  StreamDecoder::OnChunk accept = [](const json&) { return true; };
  {
    StreamDecoder dec(ProviderKind::openai, accept);
    EXPECT_FALSE(dec.feed("data: {not json\n\n"));
    ASSERT_TRUE(dec.error().has_value());
    EXPECT_EQ(dec.error()->kind, UpstreamErrorKind::malformed);
    EXPECT_EQ(dec.error()->message, "event 1 of the stream is not JSON");
  }
  {
    StreamDecoder dec(ProviderKind::openai, accept);
    EXPECT_FALSE(dec.feed("data: {\"choices\": 3}\n\n"));
    EXPECT_EQ(dec.error()->message, "event 1 of the stream: a chunk's \"choices\" is not an array");
  }
  {
    StreamDecoder dec(ProviderKind::openai, accept);
    EXPECT_TRUE(dec.feed(sse_of({R"({"choices":[{"index":0,"delta":{"content":"a"}}]})"})));
    auto e = dec.finish();
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->kind, UpstreamErrorKind::reset_mid_stream);
  }
  {
    StreamDecoder dec(ProviderKind::openai, accept);
    EXPECT_TRUE(dec.feed("{\"choices\": []}"));   // a JSON body where a stream was expected
    auto e = dec.finish();
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->kind, UpstreamErrorKind::malformed);
    EXPECT_EQ(e->message, "the reply has no server-sent events");
  }
  {
    StreamDecoder::OnChunk refuse = [](const json&) { return false; };
    StreamDecoder dec(ProviderKind::anthropic, refuse);
    EXPECT_FALSE(dec.feed("event: message_start\ndata: " + std::string(kAnthropicEvents[0]) + "\n\n"));
    EXPECT_EQ(dec.error()->kind, UpstreamErrorKind::cancelled);
  }
}

TEST(UpstreamHttp, RetryAfterForms) {
  EXPECT_EQ(parse_retry_after({}), -1);
  EXPECT_EQ(parse_retry_after({{"retry-after", "3"}}), 3000);
  EXPECT_EQ(parse_retry_after({{"retry-after", "soon"}}), -1);
  EXPECT_EQ(parse_retry_after({{"retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"}}), 0);   // in the past
  EXPECT_EQ(parse_retry_after({{"retry-after", "2"}, {"retry-after-ms", "1500"}}), 1500);
  time_t later = std::time(nullptr) + 100;
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", std::gmtime(&later));
  int64_t ms = parse_retry_after({{"retry-after", buf}});
  EXPECT_GE(ms, 98000);
  EXPECT_LE(ms, 100000);
}

}  // namespace
}  // namespace lm::router
