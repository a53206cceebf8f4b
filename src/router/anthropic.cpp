#include "router/anthropic.h"

#include <algorithm>

#include "router/upstream_json.h"

namespace lm::router {

using nlohmann::json;

namespace {

// The text of an OpenAI content (a string, or an array of {"type":"text"} parts).
Result<std::string> content_text(const json& content, const std::string& path) {
  if (content.is_null()) return std::string();
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) return Error(path + ": must be a string or an array of parts");
  std::string text;
  for (size_t j = 0; j < content.size(); ++j) {
    const json& part = content[j];
    if (!part.is_object() || str_field(part, "type") != "text" || !part.contains("text") || !part["text"].is_string())
      return errorf("{}[{}]: only text parts are allowed here", path, j);
    if (!text.empty()) text += "\n";
    text += part["text"].get<std::string>();
  }
  return text;
}

Result<json> image_block(const json& part, const std::string& path) {
  const json* url = nullptr;
  if (part.contains("image_url")) {
    const json& iu = part["image_url"];
    url = iu.is_string() ? &iu : (iu.is_object() && iu.contains("url") ? &iu["url"] : nullptr);
  }
  if (!url || !url->is_string()) return Error(path + ".image_url.url: must be a string");
  const std::string& u = url->get_ref<const std::string&>();
  if (u.starts_with("data:")) {
    size_t semi = u.find(";base64,");
    if (semi == std::string::npos) return Error(path + ".image_url.url: a data: URL must be base64");
    return json{{"type", "image"},
                {"source", {{"type", "base64"}, {"media_type", u.substr(5, semi - 5)}, {"data", u.substr(semi + 8)}}}};
  }
  if (!u.starts_with("http://") && !u.starts_with("https://"))
    return Error(path + ".image_url.url: must be an http(s) or data: URL");
  return json{{"type", "image"}, {"source", {{"type", "url"}, {"url", u}}}};
}

// User content as Anthropic blocks (a plain string stays a string).
Result<json> user_content(const json& content, const std::string& path) {
  if (content.is_string()) return content;
  if (!content.is_array()) return Error(path + ": must be a string or an array of parts");
  json blocks = json::array();
  for (size_t j = 0; j < content.size(); ++j) {
    const json& part = content[j];
    std::string p = fmt::format("{}[{}]", path, j);
    std::string type = str_field(part, "type");
    if (type == "text" && part.contains("text") && part["text"].is_string()) {
      blocks.push_back({{"type", "text"}, {"text", part["text"]}});
    } else if (type == "image_url") {
      LM_TRY(json img, image_block(part, p));
      blocks.push_back(std::move(img));
    } else {
      return errorf("{}.type: '{}' is not supported by anthropic providers", p, type);
    }
  }
  return blocks;
}

Result<json> tool_use_block(const json& call, const std::string& path) {
  if (!call.is_object() || !call.contains("function") || !call["function"].is_object())
    return Error(path + ": must be {\"id\", \"type\": \"function\", \"function\": {...}}");
  const json& fn = call["function"];
  if (!fn.contains("name") || !fn["name"].is_string()) return Error(path + ".function.name: must be a string");
  json input = json::object();
  if (fn.contains("arguments") && fn["arguments"].is_string() && !fn["arguments"].get<std::string>().empty()) {
    input = json::parse(fn["arguments"].get<std::string>(), nullptr, false);
    if (!input.is_object()) return Error(path + ".function.arguments: not a JSON object");
  } else if (fn.contains("arguments") && fn["arguments"].is_object()) {
    input = fn["arguments"];
  }
  std::string id = call.contains("id") && call["id"].is_string() ? call["id"].get<std::string>() : "";
  if (id.empty()) return Error(path + ".id: must be a non-empty string");
  return json{{"type", "tool_use"}, {"id", id}, {"name", fn["name"]}, {"input", std::move(input)}};
}

Result<json> assistant_content(const json& m, const std::string& path) {
  json blocks = json::array();
  LM_TRY(std::string text, content_text(m.contains("content") ? m["content"] : json(), path + ".content"));
  if (!text.empty()) blocks.push_back({{"type", "text"}, {"text", text}});
  if (m.contains("tool_calls") && !m["tool_calls"].is_null()) {
    if (!m["tool_calls"].is_array()) return Error(path + ".tool_calls: must be an array");
    for (size_t j = 0; j < m["tool_calls"].size(); ++j) {
      LM_TRY(json b, tool_use_block(m["tool_calls"][j], fmt::format("{}.tool_calls[{}]", path, j)));
      blocks.push_back(std::move(b));
    }
  }
  return blocks;
}

json as_blocks(const json& content) {
  if (content.is_array()) return content;
  return json::array({json{{"type", "text"}, {"text", content}}});
}

// Appends a message, merging it into the previous one when the role repeats (Anthropic wants
// roles to alternate; several tool results answer one assistant turn in one user message).
void push_message(json& msgs, const std::string& role, json content) {
  if (!msgs.empty() && msgs.back()["role"] == role) {
    json merged = as_blocks(msgs.back()["content"]);
    for (auto& b : as_blocks(content)) merged.push_back(std::move(b));
    msgs.back()["content"] = std::move(merged);
    return;
  }
  msgs.push_back({{"role", role}, {"content", std::move(content)}});
}

Status translate_message(const json& m, const std::string& path, std::string& system, json& msgs) {
  if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) return Error(path + ".role: must be a string");
  std::string role = m["role"];
  const json content = m.contains("content") ? m["content"] : json();
  if (role == "system" || role == "developer") {
    LM_TRY(std::string text, content_text(content, path + ".content"));
    if (!system.empty() && !text.empty()) system += "\n\n";
    system += text;
  } else if (role == "user") {
    LM_TRY(json c, user_content(content, path + ".content"));
    push_message(msgs, "user", std::move(c));
  } else if (role == "assistant") {
    LM_TRY(json blocks, assistant_content(m, path));
    if (!blocks.empty()) push_message(msgs, "assistant", std::move(blocks));
  } else if (role == "tool") {
    if (!m.contains("tool_call_id") || !m["tool_call_id"].is_string())
      return Error(path + ".tool_call_id: must be a string");
    LM_TRY(std::string text, content_text(content, path + ".content"));
    push_message(msgs, "user",
                 json::array({json{{"type", "tool_result"}, {"tool_use_id", m["tool_call_id"]}, {"content", text}}}));
  } else {
    return errorf("{}.role: '{}' is not system, developer, user, assistant or tool", path, role);
  }
  return Ok{};
}

Result<json> translate_tools(const json& tools) {
  if (!tools.is_array()) return Error("tools: must be an array");
  json out = json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const json& t = tools[i];
    if (!t.is_object() || str_field(t, "type") != "function" || !t.contains("function") || !t["function"].is_object())
      return errorf("tools[{}]: only {{\"type\": \"function\", \"function\": {{...}}}} tools are supported", i);
    const json& fn = t["function"];
    if (!fn.contains("name") || !fn["name"].is_string()) return errorf("tools[{}].function.name: must be a string", i);
    json tool = {{"name", fn["name"]}};
    if (fn.contains("description") && fn["description"].is_string()) tool["description"] = fn["description"];
    tool["input_schema"] = fn.contains("parameters") && fn["parameters"].is_object()
                               ? fn["parameters"] : json{{"type", "object"}, {"properties", json::object()}};
    out.push_back(std::move(tool));
  }
  return out;
}

Result<json> translate_tool_choice(const json& req) {
  json choice;
  if (req.contains("tool_choice") && !req["tool_choice"].is_null()) {
    const json& tc = req["tool_choice"];
    if (tc == "auto") choice = {{"type", "auto"}};
    else if (tc == "none") choice = {{"type", "none"}};
    else if (tc == "required") choice = {{"type", "any"}};
    else if (tc.is_object() && tc.contains("function") && tc["function"].is_object() &&
             tc["function"].contains("name") && tc["function"]["name"].is_string())
      choice = {{"type", "tool"}, {"name", tc["function"]["name"]}};
    else return Error("tool_choice: must be auto, none, required or {\"type\": \"function\", \"function\": {\"name\"}}");
  }
  if (req.contains("parallel_tool_calls") && req["parallel_tool_calls"] == false && str_field(choice, "type") != "none") {
    if (choice.is_null()) choice = {{"type", "auto"}};
    choice["disable_parallel_tool_use"] = true;
  }
  return choice;
}

Status translate_sampling(const json& req, json& out) {
  int64_t max_tokens = kAnthropicDefaultMaxTokens;
  for (const char* k : {"max_tokens", "max_completion_tokens"}) {   // the second wins
    if (!req.contains(k) || req[k].is_null()) continue;
    if (!req[k].is_number_integer() || req[k].get<int64_t>() <= 0) return errorf("{}: must be a positive integer", k);
    max_tokens = req[k].get<int64_t>();
  }
  out["max_tokens"] = max_tokens;
  // Anthropic's temperature range is [0, 1]; OpenAI's is [0, 2].
  if (req.contains("temperature") && req["temperature"].is_number())
    out["temperature"] = std::min(1.0, req["temperature"].get<double>());
  if (req.contains("top_p") && req["top_p"].is_number()) out["top_p"] = req["top_p"];
  if (req.contains("top_k") && req["top_k"].is_number_integer()) out["top_k"] = req["top_k"];
  if (req.contains("stop") && !req["stop"].is_null()) {
    const json& stop = req["stop"];
    json seqs = stop.is_string() ? json::array({stop}) : stop;
    if (!seqs.is_array() || !std::all_of(seqs.begin(), seqs.end(), [](const json& s) { return s.is_string(); }))
      return Error("stop: must be a string or an array of strings");
    if (!seqs.empty()) out["stop_sequences"] = seqs;
  }
  if (req.contains("n") && req["n"].is_number_integer() && req["n"].get<int64_t>() != 1)
    return Error("n: anthropic providers return one choice");
  return Ok{};
}

}  // namespace

Result<json> anthropic_request(const json& req) {
  if (!req.is_object()) return Error("request: must be a JSON object");
  if (!req.contains("model") || !req["model"].is_string()) return Error("model: must be a string");
  if (!req.contains("messages") || !req["messages"].is_array()) return Error("messages: must be an array");
  json out = {{"model", req["model"]}};
  std::string system;
  json msgs = json::array();
  for (size_t i = 0; i < req["messages"].size(); ++i)
    LM_TRY_STATUS(translate_message(req["messages"][i], fmt::format("messages[{}]", i), system, msgs));
  if (msgs.empty()) return Error("messages: no user or assistant message");
  if (!system.empty()) out["system"] = system;
  out["messages"] = std::move(msgs);
  LM_TRY_STATUS(translate_sampling(req, out));
  if (req.contains("tools") && !req["tools"].is_null()) {
    LM_TRY(json tools, translate_tools(req["tools"]));
    if (!tools.empty()) out["tools"] = std::move(tools);
  }
  LM_TRY(json choice, translate_tool_choice(req));
  if (!choice.is_null()) out["tool_choice"] = std::move(choice);
  if (req.contains("user") && req["user"].is_string()) out["metadata"] = {{"user_id", req["user"]}};
  if (req.contains("stream") && req["stream"] == true) out["stream"] = true;
  return out;
}

std::string anthropic_finish_reason(std::string_view stop_reason) {
  if (stop_reason == "max_tokens") return "length";
  if (stop_reason == "tool_use") return "tool_calls";
  if (stop_reason == "refusal") return "content_filter";
  return "stop";   // end_turn, stop_sequence, pause_turn, and reasons added later
}

UpstreamUsage anthropic_usage(const json& usage) {
  UpstreamUsage u;
  if (!usage.is_object()) return u;
  auto num = [&](const char* k) { return int_field(usage, k); };
  u.cached_tokens = num("cache_read_input_tokens");
  u.prompt_tokens = num("input_tokens") + u.cached_tokens + num("cache_creation_input_tokens");
  u.completion_tokens = num("output_tokens");
  u.seen = true;
  return u;
}

Result<json> anthropic_response_to_openai(const json& msg) {
  if (!msg.is_object()) return Error("the reply is not a JSON object");
  if (!msg.contains("content") || !msg["content"].is_array()) return Error("the reply has no \"content\" array");
  std::string text;
  bool has_text = false;
  json tool_calls = json::array();
  for (size_t i = 0; i < msg["content"].size(); ++i) {
    const json& b = msg["content"][i];
    std::string type = b.is_object() && b.contains("type") && b["type"].is_string() ? b["type"].get<std::string>() : "";
    if (type == "text") {
      if (!b.contains("text") || !b["text"].is_string()) return errorf("content[{}].text is not a string", i);
      text += b["text"].get<std::string>();
      has_text = true;
    } else if (type == "tool_use") {
      if (!b.contains("id") || !b["id"].is_string() || !b.contains("name") || !b["name"].is_string())
        return errorf("content[{}]: a tool_use block without a string id and name", i);
      json input = b.contains("input") ? b["input"] : json::object();
      tool_calls.push_back({{"id", b["id"]}, {"type", "function"},
                            {"function", {{"name", b["name"]}, {"arguments", input.dump()}}}});
    } else if (type.empty()) {
      return errorf("content[{}] has no type", i);
    }   // thinking, redacted_thinking and server tool blocks have no OpenAI equivalent
  }
  json message = {{"role", "assistant"}, {"content", has_text || tool_calls.empty() ? json(text) : json()}};
  if (!tool_calls.empty()) message["tool_calls"] = std::move(tool_calls);
  std::string stop = msg.contains("stop_reason") && msg["stop_reason"].is_string() ? msg["stop_reason"].get<std::string>() : "";
  UpstreamUsage u = anthropic_usage(msg.contains("usage") ? msg["usage"] : json());
  return json{{"id", msg.contains("id") && msg["id"].is_string() ? msg["id"] : json("chatcmpl-anthropic")},
              {"object", "chat.completion"},
              {"created", unix_seconds()},
              {"model", msg.contains("model") && msg["model"].is_string() ? msg["model"] : json("")},
              {"choices", json::array({json{{"index", 0}, {"message", std::move(message)},
                                            {"finish_reason", anthropic_finish_reason(stop)}}})},
              {"usage", openai_usage_json(u)}};
}

}  // namespace lm::router
