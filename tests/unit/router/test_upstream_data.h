// Test data shared by the upstream tests: one Anthropic event stream and the OpenAI chunks it
// must become (written by hand from the two APIs' documented schemas).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace lm::router {

using nlohmann::json;

// Chunks and completions carry the time they were made: compare without it.
inline json without_created(json j) {
  if (j.is_object()) j.erase("created");
  return j;
}

// The events of one Anthropic stream (text, then a tool call whose input arrives in pieces).
inline const char* kAnthropicEvents[] = {
    R"({"type":"message_start","message":{"id":"msg_02","type":"message","role":"assistant","model":"claude-x","content":[],"usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":1}}})",
    R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})",
    R"({"type":"ping"})",
    R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}})",
    R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}})",
    R"({"type":"content_block_stop","index":0})",
    R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_9","name":"weather","input":{}}})",
    R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": "}})",
    R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}})",
    R"({"type":"content_block_stop","index":1})",
    R"({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":17}})",
    R"({"type":"message_stop"})",
};

inline json expected_anthropic_chunks() {
  auto chunk = [](json delta, json finish = nullptr) {
    return json{{"id", "msg_02"}, {"object", "chat.completion.chunk"}, {"model", "claude-x"},
                {"choices", {{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}}}};
  };
  json usage_chunk = {{"id", "msg_02"}, {"object", "chat.completion.chunk"}, {"model", "claude-x"},
                      {"choices", json::array()},
                      {"usage", {{"prompt_tokens", 15}, {"completion_tokens", 17}, {"total_tokens", 32},
                                 {"prompt_tokens_details", {{"cached_tokens", 5}}}}}};
  return json::array({
      chunk({{"role", "assistant"}, {"content", ""}}),
      chunk({{"content", "Hel"}}),
      chunk({{"content", "lo"}}),
      chunk({{"tool_calls", {{{"index", 0}, {"id", "toolu_9"}, {"type", "function"},
                              {"function", {{"name", "weather"}, {"arguments", ""}}}}}}}),
      chunk({{"tool_calls", {{{"index", 0}, {"function", {{"arguments", "{\"city\": "}}}}}}}),
      chunk({{"tool_calls", {{{"index", 0}, {"function", {{"arguments", "\"Paris\"}"}}}}}}}),
      chunk(json::object(), "tool_calls"),
      usage_chunk,
  });
}

// kAnthropicEvents as the text/event-stream Anthropic sends ("event: TYPE" + "data: JSON").
inline std::string anthropic_sse() {
  std::string s;
  for (const char* ev : kAnthropicEvents)
    s += "event: " + json::parse(ev)["type"].get<std::string>() + "\ndata: " + ev + "\n\n";
  return s;
}

}  // namespace lm::router
