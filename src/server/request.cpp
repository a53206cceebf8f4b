#include "server/request.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "server/duration.h"
#include "sampling/json_schema.h"
#include "server/json_fields.h"

namespace lm::server {
namespace {

// The body is parsed once, keeping key order: the messages and tools handed to the template keep
// the client's order (a tool schema's properties reach the prompt as sent).
using json = nlohmann::ordered_json;
using nlohmann::ordered_json;

constexpr int64_t kI32Max = INT32_MAX;

// Sampling fields with the same name in OpenAI requests and Ollama's "options".
bool read_sampling(FieldReader<json>& r, sampling::SamplingParams& s) {
  r.number("temperature", &s.temperature, 0.0, 100.0);
  r.number("top_p", &s.top_p, 0.0, 1.0);
  r.integer("top_k", &s.top_k, -1, kI32Max);
  r.number("min_p", &s.min_p, 0.0, 1.0);
  r.number("presence_penalty", &s.presence_penalty, -2.0, 2.0);
  r.number("frequency_penalty", &s.frequency_penalty, -2.0, 2.0);
  r.number("repeat_penalty", &s.repeat_penalty, 0.0, 100.0);
  if (r.ok() && s.repeat_penalty <= 0.0f) {
    r.fail("repeat_penalty", fmt::format("'{}' must be > 0 (1 turns it off)",
                                         r.path("repeat_penalty")));
  }
  r.integer("repeat_last_n", &s.repeat_last_n, -1, kI32Max);
  int64_t seed = 0;
  if (r.has("seed") && r.integer("seed", &seed, INT64_MIN, INT64_MAX)) {
    // -1 (any negative) asks for a random seed, as in Ollama and llama.cpp.
    s.seed = seed < 0 ? sampling::kSeedRandom : static_cast<uint64_t>(seed);
  }
  return r.ok();
}

// llama-server's "ignore_eos" and a time limit "timeout" in seconds (both endpoints' top level).
bool read_limits(FieldReader<json>& r, GenOptions& gen) {
  r.boolean("ignore_eos", &gen.ignore_eos);
  float timeout_s = 0;
  if (r.number("timeout", &timeout_s, 0.0, 7 * 24 * 3600.0) && timeout_s > 0) {
    // At least 1 ms: a positive timeout never turns into 0 (no limit).
    gen.timeout_ms = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(timeout_s) * 1000.0 + 0.5));
  }
  return r.ok();
}

// Parameters that would change the result in ways localmax does not implement (yet).
bool reject_unsupported_openai(FieldReader<json>& r) {
  int64_t n = 1;
  if (r.integer("n", &n, 1, kI32Max) && n != 1) {
    r.fail("n", fmt::format("'n' = {}: only n = 1 is supported", n));
  }
  int64_t best_of = 1;
  if (r.integer("best_of", &best_of, 1, kI32Max) && best_of != 1) {
    r.fail("best_of", "'best_of' > 1 is not supported");
  }
  const json* bias = nullptr;
  if (r.object("logit_bias", &bias) && bias && !bias->empty()) {
    r.fail("logit_bias", "'logit_bias' is not supported yet");
  }
  if (r.has("functions") || r.has("function_call")) {
    r.fail(r.has("functions") ? "functions" : "function_call",
           "the legacy 'functions' / 'function_call' parameters are not supported: use 'tools'");
  }
  return r.ok();
}

// A schema as the client wrote it (key order kept: properties are generated in that order).
std::optional<ApiError> compile_schema(const ordered_json& schema, const std::string& param,
                                       const std::string& where, GenOptions& gen) {
  if (!schema.is_object() && !schema.is_boolean()) {
    return bad_param(param, fmt::format("'{}' must be a JSON Schema object", where));
  }
  auto g = sampling::json_schema_grammar(schema);
  if (!g.ok()) return bad_param(param, fmt::format("'{}': {}", where, g.error().message()));
  gen.grammar = *g;
  return std::nullopt;
}

// response_format {"type": "text" | "json_object" | "json_schema", "json_schema": {"name",
// "schema", "strict"}} and llama-server's "grammar" (GBNF text).
std::optional<ApiError> read_constraints(const json& j, GenOptions& gen) {
  FieldReader r(j);
  const json* rf = nullptr;
  std::string grammar;
  r.string("grammar", &grammar);
  r.object("response_format", &rf);
  if (!r.ok()) return r.error();
  if (!grammar.empty()) {
    auto g = sampling::parse_gbnf(grammar);
    if (!g.ok()) return bad_param("grammar", fmt::format("'grammar': {}", g.error().message()));
    gen.grammar = *g;
  }
  if (!rf) return std::nullopt;
  FieldReader f(*rf, "response_format.");
  std::string type = "text";
  f.string("type", &type);
  const json* js = nullptr;
  f.object("json_schema", &js);
  if (!f.ok()) return bad_param("response_format", f.error()->message);
  if (type != "text" && !grammar.empty()) {
    return bad_param("response_format", "'response_format' and 'grammar' cannot both be given");
  }
  if (type == "text") return std::nullopt;
  if (type == "json_object") {
    gen.grammar = sampling::json_object_grammar();
    return std::nullopt;
  }
  if (type != "json_schema") {
    return bad_param("response_format",
                     fmt::format("'response_format.type' = \"{}\": must be text, json_object or json_schema", type));
  }
  if (!js || !js->contains("schema") || (*js)["schema"].is_null()) {
    return bad_param("response_format", "'response_format.json_schema.schema' is required for type json_schema");
  }
  return compile_schema((*js)["schema"], "response_format",
                        "response_format.json_schema.schema", gen);
}

bool read_openai_common(FieldReader<json>& r, OpenAiRequest& q) {
  r.string("model", &q.model);
  r.boolean("stream", &q.stream);
  const json* so = nullptr;
  if (r.object("stream_options", &so) && so) {
    FieldReader f(*so, "stream_options.");
    f.boolean("include_usage", &q.include_usage);
    if (!f.ok()) return r.fail("stream_options", f.error()->message);
  }
  read_sampling(r, q.gen.sampling);
  // max_completion_tokens supersedes max_tokens (OpenAI); either may be given.
  r.integer("max_tokens", &q.gen.max_tokens, 1, kMaxTokensLimit);
  r.integer("max_completion_tokens", &q.gen.max_tokens, 1, kMaxTokensLimit);
  r.string_list("stop", &q.gen.stop, kMaxStopStrings);
  read_limits(r, q.gen);
  reject_unsupported_openai(r);
  return r.ok();
}

// A chat message's content: a string, null, or an array of text parts (joined).
bool read_content(FieldReader<json>& r, const json& content, std::string* out) {
  if (content.is_null()) return true;
  if (content.is_string()) {
    *out = content.get<std::string>();
    return true;
  }
  if (!content.is_array()) {
    return r.fail("content", fmt::format("'{}' must be a string or an array of content parts, got {}",
                                         r.path("content"), json_type_name(content)));
  }
  for (const auto& part : content) {
    FieldReader p(part, r.path("content[].").c_str());
    std::string type, text;
    if (!part.is_object()) return r.fail("content", fmt::format("'{}': content parts must be objects", r.path("content")));
    p.string("type", &type);
    p.string("text", &text);
    if (!p.ok()) return r.fail("content", p.error()->message);
    if (type != "text") {
      return r.fail("content", fmt::format("'{}': content part type \"{}\" is not supported (text only)",
                                           r.path("content"), type));
    }
    *out += text;
  }
  return true;
}

std::optional<ApiError> read_message(const json& m, size_t i,
                                     ordered_json* out, bool ollama) {
  std::string prefix = fmt::format("messages[{}].", i);
  if (!m.is_object()) {
    return bad_param(fmt::format("messages[{}]", i),
                     fmt::format("'messages[{}]' must be an object, got {}", i, json_type_name(m)));
  }
  static const std::set<std::string> kRoles = {"system", "developer", "user", "assistant", "tool"};
  FieldReader r(m, prefix);
  std::string role, content;
  if (!r.has("role")) r.fail("role", fmt::format("'{}role' is required", prefix));
  r.string("role", &role);
  if (r.ok() && !kRoles.count(role)) {
    r.fail("role", fmt::format("'{}role' = \"{}\": must be system, developer, user, assistant or tool",
                               prefix, role));
  }
  if (r.ok() && m.contains("content")) read_content(r, m["content"], &content);
  if (r.ok() && ollama && r.has("images")) {
    r.fail("images", fmt::format("'{}': images are not supported", r.path("images")));
  }
  const json* tool_calls = nullptr;
  r.array("tool_calls", &tool_calls);
  std::string tool_call_id, name;
  r.string("tool_call_id", &tool_call_id);
  r.string("name", &name);
  if (!r.ok()) return r.error();
  ordered_json msg = {{"role", role == "developer" ? "system" : role}, {"content", content}};
  if (tool_calls) msg["tool_calls"] = *tool_calls;
  if (!tool_call_id.empty()) msg["tool_call_id"] = tool_call_id;
  if (!name.empty()) msg["name"] = name;
  *out = std::move(msg);
  return std::nullopt;
}

std::optional<ApiError> read_messages(const json& j, ordered_json* out,
                                      bool ollama, bool allow_empty) {
  FieldReader r(j);
  const json* msgs = nullptr;
  if (!r.has("messages")) {
    if (allow_empty) return std::nullopt;
    return bad_param("messages", "'messages' is required");
  }
  if (!r.array("messages", &msgs)) return r.error();
  if (msgs->empty() && !allow_empty) return bad_param("messages", "'messages' must not be empty");
  *out = ordered_json::array();
  for (size_t i = 0; i < msgs->size(); ++i) {
    ordered_json msg;
    if (auto e = read_message((*msgs)[i], i, &msg, ollama)) return e;
    out->push_back(std::move(msg));
  }
  return std::nullopt;
}

std::optional<ApiError> read_tools(const json& j, ordered_json* out,
                                   std::set<std::string>* names) {
  FieldReader r(j);
  const json* tools = nullptr;
  if (!r.array("tools", &tools)) return r.error();
  if (!tools) return std::nullopt;
  for (size_t i = 0; i < tools->size(); ++i) {
    const json& t = (*tools)[i];
    std::string p = fmt::format("tools[{}]", i);
    if (!t.is_object() || !t.contains("function") || !t["function"].is_object()) {
      return bad_param(p, fmt::format("'{}' must be {{\"type\": \"function\", \"function\": {{...}}}}", p));
    }
    if (t.contains("type") && t["type"] != "function") {
      return bad_param(p + ".type", fmt::format("'{}.type' must be \"function\"", p));
    }
    const json& f = t["function"];
    if (!f.contains("name") || !f["name"].is_string() || f["name"].get<std::string>().empty()) {
      return bad_param(p + ".function.name", fmt::format("'{}.function.name' must be a non-empty string", p));
    }
    if (f.contains("parameters") && !f["parameters"].is_null() && !f["parameters"].is_object()) {
      return bad_param(p + ".function.parameters",
                       fmt::format("'{}.function.parameters' must be an object", p));
    }
    names->insert(f["name"].get<std::string>());
  }
  *out = *tools;
  return std::nullopt;
}

std::optional<ApiError> read_tool_choice(const json& j, const std::set<std::string>& names,
                                         OpenAiRequest& q) {
  auto it = j.find("tool_choice");
  if (it == j.end() || it->is_null()) return std::nullopt;
  const json& tc = *it;
  if (tc.is_string()) {
    std::string s = tc.get<std::string>();
    if (s == "auto") q.tool_choice = ToolChoice::kAuto;
    else if (s == "none") q.tool_choice = ToolChoice::kNone;
    else if (s == "required") q.tool_choice = ToolChoice::kRequired;
    else return bad_param("tool_choice", fmt::format("'tool_choice' = \"{}\": must be auto, none, "
                                                     "required or {{\"type\": \"function\", ...}}", s));
  } else if (tc.is_object() && tc.value("type", json()) == "function" && tc.contains("function") &&
             tc["function"].is_object() && tc["function"].contains("name") &&
             tc["function"]["name"].is_string()) {
    q.tool_choice = ToolChoice::kFunction;
    q.tool_choice_name = tc["function"]["name"].get<std::string>();
    if (!names.count(q.tool_choice_name)) {
      return bad_param("tool_choice", fmt::format("'tool_choice' names function \"{}\", which is not "
                                                  "in 'tools'", q.tool_choice_name));
    }
  } else {
    return bad_param("tool_choice", "'tool_choice' must be auto, none, required or "
                                    "{\"type\": \"function\", \"function\": {\"name\": ...}}");
  }
  if (q.tool_choice != ToolChoice::kNone && q.tool_choice != ToolChoice::kAuto && names.empty()) {
    return bad_param("tool_choice", "'tool_choice' requires 'tools'");
  }
  return std::nullopt;
}

}  // namespace

Parsed<OpenAiRequest> parse_openai_chat(std::string_view body) {
  auto obj = parse_json_object<json>(body);
  if (auto* e = std::get_if<ApiError>(&obj)) return *e;
  const json& j = std::get<json>(obj);
  OpenAiRequest q;
  FieldReader r(j);
  read_openai_common(r, q);
  r.boolean("logprobs", &q.logprobs);
  int32_t top = -1;
  r.integer("top_logprobs", &top, 0, 20);
  if (!r.ok()) return *r.error();
  if (top >= 0 && !q.logprobs) {
    return bad_param("top_logprobs", "'top_logprobs' requires 'logprobs': true");
  }
  if (q.logprobs) q.gen.top_logprobs = top < 0 ? 0 : top;
  if (auto e = read_constraints(j, q.gen)) return *e;
  if (auto e = read_messages(j, &q.messages, /*ollama=*/false, /*allow_empty=*/false)) {
    return *e;
  }
  std::set<std::string> names;
  if (auto e = read_tools(j, &q.tools, &names)) return *e;
  if (auto e = read_tool_choice(j, names, q)) return *e;
  if (!r.boolean("parallel_tool_calls", &q.parallel_tool_calls)) return *r.error();
  if (q.gen.grammar && (q.tool_choice == ToolChoice::kRequired || q.tool_choice == ToolChoice::kFunction)) {
    return bad_param("tool_choice", "a forced 'tool_choice' cannot be combined with 'response_format' or 'grammar'");
  }
  return q;
}

Parsed<OpenAiRequest> parse_openai_completion(std::string_view body) {
  auto obj = parse_json_object<json>(body);
  if (auto* e = std::get_if<ApiError>(&obj)) return *e;
  const json& j = std::get<json>(obj);
  OpenAiRequest q;
  FieldReader r(j);
  read_openai_common(r, q);
  int32_t logprobs = -1;
  r.integer("logprobs", &logprobs, 0, 5);
  bool echo = false;
  if (r.boolean("echo", &echo) && echo) r.fail("echo", "'echo' is not supported");
  std::string suffix;
  if (r.string("suffix", &suffix) && !suffix.empty()) r.fail("suffix", "'suffix' is not supported");
  if (!r.ok()) return *r.error();
  q.gen.top_logprobs = logprobs;
  if (auto e = read_constraints(j, q.gen)) return *e;
  const json* p = r.get("prompt");
  if (!p) return bad_param("prompt", "'prompt' is required");
  // A string, an array of token ids, or a batch holding exactly one of those.
  const json* one = p;
  if (p->is_array() && p->size() == 1 && ((*p)[0].is_string() || (*p)[0].is_array())) one = &(*p)[0];
  if (one->is_string()) {
    q.prompt = one->get<std::string>();
  } else if (one->is_array() && !one->empty() && (*one)[0].is_number()) {
    for (const auto& t : *one) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > kI32Max) {
        return bad_param("prompt", fmt::format("'prompt' token ids must be non-negative integers, got {}",
                                               t.dump()));
      }
      q.prompt_tokens.push_back(static_cast<int32_t>(t.get<int64_t>()));
    }
    q.prompt_is_tokens = true;
  } else if (p->is_array() && p->size() > 1 && ((*p)[0].is_string() || (*p)[0].is_array())) {
    return bad_param("prompt", "batched prompts (more than one) are not supported");
  } else {
    return bad_param("prompt", fmt::format("'prompt' must be a string or an array of token ids, got {}",
                                           json_type_name(*p)));
  }
  return q;
}

namespace {

// format: "json" (any JSON object), a JSON Schema object, or "" (free text).
std::optional<ApiError> read_ollama_format(const json& j, GenOptions& gen) {
  auto it = j.find("format");
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) {
    const std::string f = it->get<std::string>();
    if (f.empty()) return std::nullopt;
    if (f == "json") {
      gen.grammar = sampling::json_object_grammar();
      return std::nullopt;
    }
    return bad_param("format", fmt::format("'format' = \"{}\": must be \"json\" or a JSON Schema object", f));
  }
  if (!it->is_object()) return bad_param("format", "'format' must be \"json\" or a JSON Schema object");
  return compile_schema(*it, "format", "format", gen);
}

std::optional<ApiError> read_ollama_common(const json& j, OllamaRequest& q) {
  FieldReader r(j);
  r.string("model", &q.model);
  r.boolean("stream", &q.stream);
  read_limits(r, q.gen);
  if (const json* ka = r.get("keep_alive"); ka && !ka->is_null()) {
    auto ms = duration_from_json(*ka);
    if (!ms.ok()) return bad_param("keep_alive", ms.error().message());
    q.keep_alive_ms = *ms;
  }
  const json* opts = nullptr;
  r.object("options", &opts);
  if (!r.ok()) return r.error();
  if (!opts) return std::nullopt;
  FieldReader o(*opts, "options.");
  read_sampling(o, q.gen.sampling);
  int32_t num_predict = -1;
  o.integer("num_predict", &num_predict, -2, kMaxTokensLimit);
  if (o.ok() && num_predict == 0) o.fail("num_predict", "'options.num_predict' must be >= 1, or -1");
  q.gen.max_tokens = num_predict < 0 ? -1 : num_predict;
  o.string_list("stop", &q.gen.stop, kMaxStopStrings);
  o.integer("num_ctx", &q.num_ctx, 1, kI32Max);
  int32_t mirostat = 0;
  if (o.integer("mirostat", &mirostat, 0, 2) && mirostat != 0) {
    o.fail("mirostat", "'options.mirostat' is not supported");
  }
  float typical_p = 1.0f;
  if (o.number("typical_p", &typical_p, 0.0, 1.0) && typical_p != 1.0f) {
    o.fail("typical_p", "'options.typical_p' is not supported");
  }
  if (!o.ok()) return o.error();
  return std::nullopt;
}

}  // namespace

Parsed<OllamaRequest> parse_ollama_generate(std::string_view body) {
  auto obj = parse_json_object<json>(body);
  if (auto* e = std::get_if<ApiError>(&obj)) return *e;
  const json& j = std::get<json>(obj);
  OllamaRequest q;
  if (auto e = read_ollama_common(j, q)) return *e;
  if (auto e = read_ollama_format(j, q.gen)) return *e;
  FieldReader r(j);
  r.string("prompt", &q.prompt);
  r.string("system", &q.system);
  r.boolean("raw", &q.raw);
  std::string tmpl, suffix;
  if (r.string("template", &tmpl) && !tmpl.empty()) r.fail("template", "'template' is not supported");
  if (r.string("suffix", &suffix) && !suffix.empty()) r.fail("suffix", "'suffix' is not supported");
  if (r.ok() && r.has("images")) r.fail("images", "images are not supported");
  if (!r.ok()) return *r.error();
  return q;
}

Parsed<OllamaRequest> parse_ollama_chat(std::string_view body) {
  auto obj = parse_json_object<json>(body);
  if (auto* e = std::get_if<ApiError>(&obj)) return *e;
  const json& j = std::get<json>(obj);
  OllamaRequest q;
  if (auto e = read_ollama_common(j, q)) return *e;
  if (auto e = read_ollama_format(j, q.gen)) return *e;
  if (auto e = read_messages(j, &q.messages, /*ollama=*/true, /*allow_empty=*/true)) return *e;
  std::set<std::string> names;
  if (auto e = read_tools(j, &q.tools, &names)) return *e;
  return q;
}

Parsed<std::string> parse_ollama_model_name(std::string_view body) {
  auto obj = parse_json_object<json>(body);
  if (auto* e = std::get_if<ApiError>(&obj)) return *e;
  const json& j = std::get<json>(obj);
  FieldReader r(j);
  std::string name;
  r.string("name", &name);
  r.string("model", &name);
  if (!r.ok()) return *r.error();
  return name;
}

}  // namespace lm::server
