// Parsed API requests. Parsing is strict and never throws: a body that is not a JSON object, a
// field of the wrong type, a value out of range or a parameter that would change the result in a
// way localmax does not support (n > 1, logit_bias, ...) is an ApiError (400) naming the
// parameter. Unknown parameters that do not change the result are ignored, as OpenAI's and
// Ollama's servers do. JSON null counts as absent.
// messages and tools are ordered_json: they keep the client's key order, which reaches the
// prompt through the template's `tojson` (as with transformers), e.g. a tool schema's properties.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sampling/grammar.h"
#include "sampling/params.h"
#include "server/api_error.h"

namespace lm::server {

template <typename T>
using Parsed = std::variant<T, ApiError>;

// Largest accepted max_tokens / num_predict: beyond any context; larger values are a client bug.
inline constexpr int64_t kMaxTokensLimit = int64_t{1} << 24;
inline constexpr size_t kMaxStopStrings = 16;

// The generation settings every endpoint shares.
struct GenOptions {
  sampling::SamplingParams sampling;
  int32_t max_tokens = -1;          // -1: until end of generation or the context is full
  std::vector<std::string> stop;
  int32_t top_logprobs = -1;        // -1: no logprobs; 0..20: chosen token + N alternatives
  // Constrained decoding: response_format json_object / json_schema (OpenAI), format (Ollama),
  // grammar (GBNF text, as llama-server takes it). Compiled while parsing: errors are 400s.
  std::shared_ptr<const sampling::Grammar> grammar;
  bool ignore_eos = false;          // "ignore_eos" (llama-server): generate through EOG tokens
  int64_t timeout_ms = 0;           // "timeout" (seconds): time limit, finish_reason "length"; 0 none
};

enum class ToolChoice { kAuto, kNone, kRequired, kFunction };

struct OpenAiRequest {
  std::string model;
  bool stream = false;
  bool include_usage = false;       // stream_options.include_usage
  GenOptions gen;
  // /v1/chat/completions
  nlohmann::ordered_json messages;  // array of {role, content (string), ...}, content normalised
  nlohmann::ordered_json tools;     // array of {type:"function", function:{name,...}} or null
  ToolChoice tool_choice = ToolChoice::kAuto;
  std::string tool_choice_name;     // kFunction: the function's name
  bool logprobs = false;
  bool parallel_tool_calls = true;
  // /v1/completions
  std::string prompt;               // text prompt ...
  std::vector<int32_t> prompt_tokens;   // ... or token ids (prompt_is_tokens)
  bool prompt_is_tokens = false;
};

struct OllamaRequest {
  std::string model;
  bool stream = true;               // Ollama streams NDJSON unless "stream": false
  GenOptions gen;
  int32_t num_ctx = 0;              // options.num_ctx (0: not given)
  std::optional<int64_t> keep_alive_ms;   // "keep_alive" (duration.h); <0 forever
  // /api/generate
  std::string prompt;
  std::string system;
  bool raw = false;
  // /api/chat
  nlohmann::ordered_json messages;
  nlohmann::ordered_json tools;
};

Parsed<OpenAiRequest> parse_openai_chat(std::string_view body);
Parsed<OpenAiRequest> parse_openai_completion(std::string_view body);
Parsed<OllamaRequest> parse_ollama_generate(std::string_view body);
Parsed<OllamaRequest> parse_ollama_chat(std::string_view body);
// {"model"|"name": "..."} (/api/show); the name may be empty.
Parsed<std::string> parse_ollama_model_name(std::string_view body);

}  // namespace lm::server
