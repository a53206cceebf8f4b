#include "router/provider.h"

#include <cstdlib>
#include <set>

#include "core/egress.h"

namespace lm::router {

using nlohmann::json;

std::string_view provider_kind_name(ProviderKind kind) {
  return kind == ProviderKind::anthropic ? "anthropic" : "openai";
}

namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

bool is_env_name(const std::string& s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

// RFC 7230 token characters, for header names.
bool is_header_name(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c <= 32 || c >= 127 || std::string_view("()<>@,;:\\\"/[]?={}").find(static_cast<char>(c)) !=
                                   std::string_view::npos)
      return false;
  }
  return true;
}

Result<std::string> get_string(const json& obj, const std::string& path, const char* key, bool required) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return errorf("{}.{}: missing", path, key);
    return std::string();
  }
  if (!it->is_string()) return errorf("{}.{}: must be a string", path, key);
  return it->get<std::string>();
}

Status get_int(const json& obj, const std::string& path, const char* key, int lo, int hi, int* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Ok{};
  if (!it->is_number_integer()) return errorf("{}.{}: must be an integer", path, key);
  int64_t v = it->get<int64_t>();
  if (v < lo || v > hi) return errorf("{}.{}: {} is out of range [{}, {}]", path, key, v, lo, hi);
  *out = static_cast<int>(v);
  return Ok{};
}

Result<std::string> check_base_url(std::string url, const std::string& path) {
  std::string where = path + ".base_url";
  if (!url.starts_with("http://") && !url.starts_with("https://"))
    return Error(where + ": must start with http:// or https://");
  if (url.find_first_of("?#") != std::string::npos)
    return Error(where + ": must not have a query string or fragment");
  for (unsigned char c : url) {
    if (c <= 32 || c >= 127) return Error(where + ": contains a space or a control or non-ASCII character");
  }
  std::string host = egress::url_host(url);
  if (host.empty()) return Error(where + ": has no host");
  size_t auth_start = url.find("://") + 3;
  size_t auth_end = url.find('/', auth_start);
  if (url.substr(auth_start, auth_end - auth_start).find('@') != std::string::npos)
    return Error(where + ": must not embed credentials (use api_key_env)");
  while (url.ends_with('/')) url.pop_back();
  return url;
}

Status parse_lists(const json& obj, const std::string& path, ProviderConfig* p) {
  if (auto it = obj.find("models"); it != obj.end()) {
    if (!it->is_array()) return errorf("{}.models: must be an array of strings", path);
    for (size_t i = 0; i < it->size(); ++i) {
      const json& m = (*it)[i];
      if (!m.is_string() || m.get<std::string>().empty())
        return errorf("{}.models[{}]: must be a non-empty string", path, i);
      p->models.push_back(m.get<std::string>());
    }
  }
  if (auto it = obj.find("headers"); it != obj.end()) {
    if (!it->is_object()) return errorf("{}.headers: must be an object of strings", path);
    for (const auto& [k, v] : it->items()) {
      if (!is_header_name(k)) return errorf("{}.headers: '{}' is not a valid header name", path, k);
      if (!v.is_string()) return errorf("{}.headers.{}: must be a string", path, k);
      std::string s = v.get<std::string>();
      if (s.find_first_of("\r\n") != std::string::npos) return errorf("{}.headers.{}: contains a line break", path, k);
      p->headers[k] = s;
    }
  }
  return Ok{};
}

Result<ProviderConfig> parse_one(const json& obj, const std::string& path) {
  if (!obj.is_object()) return Error(path + ": must be an object");
  static const std::set<std::string> known = {"name", "type", "base_url", "api_key_env", "models", "headers",
                                              "connect_timeout_ms", "timeout_ms", "idle_timeout_ms",
                                              "max_retries", "backoff_ms"};
  for (const auto& [k, v] : obj.items()) {
    if (!known.count(k)) return errorf("{}.{}: unknown field", path, k);
  }
  ProviderConfig p;
  LM_TRY(p.name, get_string(obj, path, "name", true));
  if (p.name.empty()) return Error(path + ".name: must not be empty");
  for (char c : p.name) {
    if (!is_name_char(c)) return errorf("{}.name: '{}' may hold only letters, digits, '.', '_' and '-'", path, p.name);
  }
  LM_TRY(std::string type, get_string(obj, path, "type", true));
  if (type == "openai") p.kind = ProviderKind::openai;
  else if (type == "anthropic") p.kind = ProviderKind::anthropic;
  else return errorf("{}.type: '{}' is not one of openai, anthropic", path, type);
  LM_TRY(std::string url, get_string(obj, path, "base_url", true));
  LM_TRY(p.base_url, check_base_url(std::move(url), path));
  LM_TRY(p.api_key_env, get_string(obj, path, "api_key_env", false));
  if (!p.api_key_env.empty() && !is_env_name(p.api_key_env))
    return errorf("{}.api_key_env: '{}' is not an environment variable name", path, p.api_key_env);
  LM_TRY_STATUS(parse_lists(obj, path, &p));
  LM_TRY_STATUS(get_int(obj, path, "connect_timeout_ms", 1, kMaxTimeoutMs, &p.connect_timeout_ms));
  LM_TRY_STATUS(get_int(obj, path, "timeout_ms", 1, kMaxTimeoutMs, &p.timeout_ms));
  LM_TRY_STATUS(get_int(obj, path, "idle_timeout_ms", 1, kMaxTimeoutMs, &p.idle_timeout_ms));
  LM_TRY_STATUS(get_int(obj, path, "max_retries", 0, kMaxRetries, &p.max_retries));
  LM_TRY_STATUS(get_int(obj, path, "backoff_ms", 0, kMaxBackoffMs, &p.backoff_ms));
  return p;
}

}  // namespace

Result<std::vector<ProviderConfig>> parse_providers(const json& arr) {
  if (!arr.is_array()) return Error("providers: must be an array");
  std::vector<ProviderConfig> out;
  std::set<std::string> names;
  for (size_t i = 0; i < arr.size(); ++i) {
    std::string path = fmt::format("providers[{}]", i);
    LM_TRY(ProviderConfig p, parse_one(arr[i], path));
    if (!names.insert(p.name).second) return errorf("{}.name: '{}' is already used by another provider", path, p.name);
    out.push_back(std::move(p));
  }
  return out;
}

const ProviderConfig* find_provider(const std::vector<ProviderConfig>& providers, std::string_view name) {
  for (const auto& p : providers) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

Result<std::string> provider_api_key(const ProviderConfig& p) {
  if (p.api_key_env.empty()) return std::string();
  const char* v = std::getenv(p.api_key_env.c_str());
  if (!v || !*v) return errorf("provider '{}': environment variable {} is not set", p.name, p.api_key_env);
  return std::string(v);
}

std::string chat_endpoint(const ProviderConfig& p) {
  if (p.kind == ProviderKind::openai) return p.base_url + "/chat/completions";
  if (p.base_url.ends_with("/v1")) return p.base_url + "/messages";
  return p.base_url + "/v1/messages";
}

}  // namespace lm::router
