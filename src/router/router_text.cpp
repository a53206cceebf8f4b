// The texts of a request (what detection scans and redaction rewrites), and restoring
// placeholders in upstream replies, whole or streamed.
#include <fmt/format.h>

#include "router/router.h"

namespace lm::router {
namespace {

using nlohmann::json;

void walk(json& j, const std::function<void(std::string&)>& fn) {
  if (j.is_string()) {
    fn(j.get_ref<std::string&>());
  } else if (j.is_array()) {
    for (auto& v : j) walk(v, fn);
  } else if (j.is_object()) {
    json rebuilt = json::object();
    for (auto it = j.begin(); it != j.end(); ++it) {
      std::string key = it.key();
      fn(key);
      walk(it.value(), fn);
      rebuilt[key] = std::move(it.value());
    }
    j = std::move(rebuilt);
  }
}

// Read-only twin of walk: on_key for every object key, on_string for every string value.
void visit(const json& j, const std::function<void(const std::string&)>& on_key,
           const std::function<void(const std::string&)>& on_string) {
  if (j.is_string()) {
    on_string(j.get_ref<const std::string&>());
  } else if (j.is_array()) {
    for (const auto& v : j) visit(v, on_key, on_string);
  } else if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      on_key(it.key());
      visit(it.value(), on_key, on_string);
    }
  }
}

bool looks_like_json(const std::string& s) {
  size_t i = s.find_first_not_of(" \t\r\n");
  return i != std::string::npos && (s[i] == '{' || s[i] == '[') && s.size() >= 2;
}

}  // namespace

void for_each_nested_text(const std::string& s, const std::function<void(const std::string&)>& fn, int depth) {
  fn(s);
  if (depth <= 0 || !looks_like_json(s)) return;
  json inner = json::parse(s, nullptr, false);
  if (inner.is_discarded() || !inner.is_structured()) return;
  visit(inner, fn, [&](const std::string& t) { for_each_nested_text(t, fn, depth - 1); });
}

void rewrite_nested_text(std::string& s, const std::function<void(std::string&)>& fn, int depth) {
  if (depth > 0 && looks_like_json(s)) {
    json inner = json::parse(s, nullptr, false);
    if (!inner.is_discarded() && inner.is_structured()) {
      std::string before = inner.dump();
      walk(inner, [&](std::string& t) { rewrite_nested_text(t, fn, depth - 1); });
      if (inner.dump() != before) s = inner.dump(-1, ' ', false, json::error_handler_t::replace);
      return;
    }
  }
  fn(s);
}

void for_each_text(json& body, const std::function<void(std::string&)>& fn) {
  if (!body.is_object()) return walk(body, fn);
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() == "model") continue;   // routing input, never sent as given
    walk(it.value(), fn);
  }
}

void for_each_text(const json& body, const std::function<void(const std::string&)>& fn) {
  // Keys included, without copying the body.
  auto rec = [&fn](const json& j) { visit(j, fn, fn); };
  if (!body.is_object()) return rec(body);
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() == "model") continue;
    rec(it.value());
  }
}

void restore_response(json& response, const detect::Redactor& red) {
  if (!response.is_object() || !response.contains("choices") || !response["choices"].is_array()) return;
  for (auto& choice : response["choices"]) {
    if (!choice.is_object()) continue;
    for (const char* field : {"message", "delta"}) {
      if (!choice.contains(field) || !choice[field].is_object()) continue;
      walk(choice[field], [&red](std::string& s) { s = red.restore(s); });
    }
    if (choice.contains("text") && choice["text"].is_string()) {
      choice["text"] = red.restore(choice["text"].get<std::string>());
    }
  }
}

detect::StreamRestorer& ChunkRestorer::stream(const std::string& key) {
  auto& p = streams_[key];
  if (!p) p = std::make_unique<detect::StreamRestorer>(red_);
  return *p;
}

void ChunkRestorer::restore(json& chunk) {
  if (!chunk.is_object() || !chunk.contains("choices") || !chunk["choices"].is_array()) return;
  for (auto& choice : chunk["choices"]) {
    if (!choice.is_object()) continue;
    int64_t ci = choice.value("index", int64_t{0});
    std::string prefix = fmt::format("{}/", ci);
    if (!choice.contains("delta") || !choice["delta"].is_object()) choice["delta"] = json::object();
    json& delta = choice["delta"];
    for (const char* field : {"content", "reasoning_content"}) {
      if (delta.contains(field) && delta[field].is_string()) {
        delta[field] = stream(prefix + field).feed(delta[field].get<std::string>());
      }
    }
    if (delta.contains("tool_calls") && delta["tool_calls"].is_array()) {
      for (auto& tc : delta["tool_calls"]) {
        if (!tc.is_object() || !tc.contains("function") || !tc["function"].is_object()) continue;
        json& fn = tc["function"];
        if (fn.contains("arguments") && fn["arguments"].is_string()) {
          std::string key = fmt::format("{}tool/{}", prefix, tc.value("index", int64_t{0}));
          fn["arguments"] = stream(key).feed(fn["arguments"].get<std::string>());
        }
        if (fn.contains("name") && fn["name"].is_string()) fn["name"] = red_.restore(fn["name"].get<std::string>());
      }
    }
    if (!choice.contains("finish_reason") || choice["finish_reason"].is_null()) continue;
    // The choice ends: flush what each of its streams holds back.
    for (auto& [key, sr] : streams_) {
      if (key.rfind(prefix, 0) != 0 || !sr) continue;
      std::string rest = sr->finish();
      if (rest.empty()) continue;
      std::string field = key.substr(prefix.size());
      if (field.rfind("tool/", 0) == 0) {
        int64_t ti = std::stoll(field.substr(5));
        if (!delta.contains("tool_calls") || !delta["tool_calls"].is_array()) delta["tool_calls"] = json::array();
        delta["tool_calls"].push_back({{"index", ti}, {"function", {{"arguments", rest}}}});
      } else {
        std::string cur = delta.contains(field) && delta[field].is_string() ? delta[field].get<std::string>() : "";
        delta[field] = cur + rest;
      }
    }
  }
}

}  // namespace lm::router
