#include "chat/tool_call_syntax.h"

#include <nlohmann/json.hpp>

namespace lm::chat::detail {

using nlohmann::json;

namespace {

constexpr size_t kMaxDepth = 256;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json parse_or_discard(std::string_view text) {
  return json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_ident(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }

std::string_view trim(std::string_view s) {
  size_t b = skip_space(s, 0);
  size_t e = s.size();
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// A Python literal as JSON: quoted strings (with backslash escapes), True/False/None, numbers;
// anything else stays a string.
json python_value(std::string_view v) {
  if (v == "True") return true;
  if (v == "False") return false;
  if (v == "None") return nullptr;
  json j = parse_or_discard(v);
  if (!j.is_discarded() && (j.is_number() || j.is_boolean() || j.is_null() || j.is_structured())) return j;
  return std::string(v);
}

// Reads a quoted Python string starting at s[*i] (the quote); advances *i past the close.
std::optional<std::string> python_string(std::string_view s, size_t* i) {
  char q = s[*i];
  std::string out;
  for (size_t k = *i + 1; k < s.size(); ++k) {
    char c = s[k];
    if (c == '\\' && k + 1 < s.size()) {
      char n = s[++k];
      out += n == 'n' ? '\n' : n == 't' ? '\t' : n;
    } else if (c == q) {
      *i = k + 1;
      return out;
    } else {
      out += c;
    }
  }
  return std::nullopt;
}

}  // namespace

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

size_t skip_space(std::string_view s, size_t i) {
  while (i < s.size() && is_space(s[i])) ++i;
  return i;
}

size_t partial_suffix(std::string_view s, std::string_view marker) {
  size_t max = std::min(s.size(), marker.size() - 1);
  for (size_t k = max; k > 0; --k) {
    if (s.substr(s.size() - k) == marker.substr(0, k)) return k;
  }
  return 0;
}

Extent json_extent(std::string_view s, size_t start, size_t* end) {
  std::string stack;
  bool in_string = false, escaped = false;
  for (size_t i = start; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (stack.size() >= kMaxDepth) return Extent::kInvalid;
      stack.push_back(c == '{' ? '}' : ']');
    } else if (c == '}' || c == ']') {
      if (stack.empty() || stack.back() != c) return Extent::kInvalid;
      stack.pop_back();
      if (stack.empty()) {
        *end = i + 1;
        return Extent::kComplete;
      }
    }
  }
  return Extent::kIncomplete;
}

std::optional<std::string> compact_object(std::string_view text) {
  json j = parse_or_discard(text);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return dump(j);
}

static std::optional<CallParts> call_from_json(const json& j, bool require_args) {
  if (!j.is_object()) return std::nullopt;
  auto name = j.find("name");
  if (name == j.end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
    return std::nullopt;
  }
  CallParts call;
  call.name = name->get<std::string>();
  auto args = j.find("arguments");
  if (args == j.end()) args = j.find("parameters");
  if (args == j.end()) {
    if (require_args) return std::nullopt;
    call.arguments = "{}";
  } else if (args->is_object()) {
    call.arguments = dump(*args);
  } else if (args->is_string()) {
    // Some models stringify the arguments; keep them compact when they are JSON.
    const auto& s = args->get_ref<const std::string&>();
    call.arguments = compact_object(s).value_or(s);
  } else {
    return std::nullopt;
  }
  auto id = j.find("id");
  if (id != j.end() && id->is_string()) call.id = id->get<std::string>();
  return call;
}

std::optional<CallParts> parse_call_object(std::string_view text, bool require_args) {
  json j = parse_or_discard(text);
  if (j.is_discarded()) return std::nullopt;
  return call_from_json(j, require_args);
}

std::optional<std::vector<CallParts>> parse_call_array(std::string_view text) {
  json j = parse_or_discard(text);
  if (j.is_discarded() || !j.is_array() || j.empty()) return std::nullopt;
  std::vector<CallParts> calls;
  for (const auto& e : j) {
    auto c = call_from_json(e, /*require_args=*/false);
    if (!c) return std::nullopt;
    calls.push_back(std::move(*c));
  }
  return calls;
}

std::optional<CallParts> parse_builtin_call(std::string_view text) {
  std::string_view s = trim(text);
  size_t i = 0;
  if (s.empty() || !is_ident_start(s[0])) return std::nullopt;
  while (i < s.size() && is_ident(s[i])) ++i;
  CallParts call;
  call.name = std::string(s.substr(0, i));
  if (s.substr(i, 6) != ".call(") return std::nullopt;
  i += 6;
  json args = json::object();
  while (true) {
    i = skip_space(s, i);
    if (i < s.size() && s[i] == ')') break;
    size_t k = i;
    while (k < s.size() && is_ident(s[k])) ++k;
    if (k == i) return std::nullopt;
    std::string key(s.substr(i, k - i));
    i = skip_space(s, k);
    if (i >= s.size() || s[i] != '=') return std::nullopt;
    i = skip_space(s, i + 1);
    if (i >= s.size()) return std::nullopt;
    if (s[i] == '"' || s[i] == '\'') {
      auto v = python_string(s, &i);
      if (!v) return std::nullopt;
      args[key] = *v;
    } else {
      size_t e = s.find_first_of(",)", i);
      if (e == std::string_view::npos) return std::nullopt;
      args[key] = python_value(trim(s.substr(i, e - i)));
      i = e;
    }
    i = skip_space(s, i);
    if (i < s.size() && s[i] == ',') ++i;
  }
  if (i + 1 != s.size()) return std::nullopt;  // text after ')'
  call.arguments = dump(args);
  return call;
}

std::optional<CallParts> parse_xml_function(std::string_view text) {
  std::string_view s = trim(text);
  constexpr std::string_view kFn = "<function=", kFnEnd = "</function>";
  constexpr std::string_view kParam = "<parameter=", kParamEnd = "</parameter>";
  if (s.substr(0, kFn.size()) != kFn) return std::nullopt;
  size_t gt = s.find('>', kFn.size());
  if (gt == std::string_view::npos) return std::nullopt;
  CallParts call;
  call.name = std::string(trim(s.substr(kFn.size(), gt - kFn.size())));
  if (call.name.empty()) return std::nullopt;
  json args = json::object();
  size_t i = skip_space(s, gt + 1);
  while (s.substr(i, kParam.size()) == kParam) {
    size_t pgt = s.find('>', i);
    size_t close = s.find(kParamEnd, i);
    if (pgt == std::string_view::npos || close == std::string_view::npos || close < pgt) return std::nullopt;
    std::string key(trim(s.substr(i + kParam.size(), pgt - i - kParam.size())));
    std::string_view value = s.substr(pgt + 1, close - pgt - 1);
    // The template writes "\nvalue\n": one newline on each side is syntax.
    if (!value.empty() && value.front() == '\n') value.remove_prefix(1);
    if (!value.empty() && value.back() == '\n') value.remove_suffix(1);
    json v = parse_or_discard(value);
    args[key] = v.is_discarded() || v.is_string() ? json(std::string(value)) : v;
    i = skip_space(s, close + kParamEnd.size());
  }
  if (s.substr(i) != kFnEnd) return std::nullopt;
  call.arguments = dump(args);
  return call;
}

}  // namespace lm::chat::detail
