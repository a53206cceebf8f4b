#include "server/json_fields.h"

#include <fmt/format.h>

#include <cmath>

namespace lm::server {

template <class Json>
const char* json_type_name(const Json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "object";
    case nlohmann::json::value_t::array: return "array";
    case nlohmann::json::value_t::string: return "string";
    case nlohmann::json::value_t::boolean: return "boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "integer";
    case nlohmann::json::value_t::number_float: return "number";
    default: return "unknown";
  }
}

template <class Json>
const Json* FieldReader<Json>::get(const char* key) const {
  if (!obj_.is_object()) return nullptr;
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) return nullptr;
  return &*it;
}

template <class Json>
bool FieldReader<Json>::fail(const char* key, std::string message) {
  if (!error_) error_ = bad_param(path(key), std::move(message));
  return false;
}

template <class Json>
bool FieldReader<Json>::type_error(const char* key, const char* expected) {
  const auto* v = get(key);
  return fail(key, fmt::format("'{}' must be {}, got {}", path(key), expected,
                               v ? json_type_name(*v) : "nothing"));
}

template <class Json>
bool FieldReader<Json>::number(const char* key, float* out, double lo, double hi) {
  if (!ok()) return false;
  const auto* v = get(key);
  if (!v) return true;
  if (!v->is_number()) return type_error(key, "a number");
  double d = v->template get<double>();
  if (!std::isfinite(d) || d < lo || d > hi) {
    return fail(key, fmt::format("'{}' = {} is out of range: must be in [{}, {}]", path(key),
                                 v->dump(), lo, hi));
  }
  *out = static_cast<float>(d);
  return true;
}

template <class Json>
bool FieldReader<Json>::integer(const char* key, int64_t* out, int64_t lo, int64_t hi) {
  if (!ok()) return false;
  const auto* v = get(key);
  if (!v) return true;
  int64_t i = 0;
  if (v->is_number_integer() && !v->is_number_unsigned()) {
    i = v->template get<int64_t>();
  } else if (v->is_number_unsigned()) {
    uint64_t u = v->template get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) {
      return fail(key, fmt::format("'{}' = {} is out of range: must be in [{}, {}]", path(key),
                                   v->dump(), lo, hi));
    }
    i = static_cast<int64_t>(u);
  } else if (v->is_number_float()) {
    // 5.0 is an integer; 5.5 and 1e300 are not.
    double d = v->template get<double>();
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9.0e15) {
      return fail(key, fmt::format("'{}' must be an integer in [{}, {}], got {}", path(key), lo,
                                   hi, v->dump()));
    }
    i = static_cast<int64_t>(d);
  } else {
    return type_error(key, "an integer");
  }
  if (i < lo || i > hi) {
    return fail(key, fmt::format("'{}' = {} is out of range: must be in [{}, {}]", path(key),
                                 v->dump(), lo, hi));
  }
  *out = i;
  return true;
}

template <class Json>
bool FieldReader<Json>::integer(const char* key, int32_t* out, int64_t lo, int64_t hi) {
  int64_t v = *out;
  if (!integer(key, &v, lo, hi)) return false;
  *out = static_cast<int32_t>(v);
  return true;
}

template <class Json>
bool FieldReader<Json>::boolean(const char* key, bool* out) {
  if (!ok()) return false;
  const auto* v = get(key);
  if (!v) return true;
  if (!v->is_boolean()) return type_error(key, "a boolean");
  *out = v->template get<bool>();
  return true;
}

template <class Json>
bool FieldReader<Json>::string(const char* key, std::string* out) {
  if (!ok()) return false;
  const auto* v = get(key);
  if (!v) return true;
  if (!v->is_string()) return type_error(key, "a string");
  *out = v->template get<std::string>();
  return true;
}

template <class Json>
bool FieldReader<Json>::string_list(const char* key, std::vector<std::string>* out, size_t max_count) {
  if (!ok()) return false;
  const auto* v = get(key);
  if (!v) return true;
  std::vector<std::string> list;
  if (v->is_string()) {
    list.push_back(v->template get<std::string>());
  } else if (v->is_array()) {
    for (const auto& s : *v) {
      if (!s.is_string()) return type_error(key, "a string or an array of strings");
      list.push_back(s.template get<std::string>());
    }
  } else {
    return type_error(key, "a string or an array of strings");
  }
  if (list.size() > max_count) {
    return fail(key, fmt::format("'{}' has {} entries: at most {} are allowed", path(key),
                                 list.size(), max_count));
  }
  out->clear();
  for (auto& s : list) {
    if (!s.empty()) out->push_back(std::move(s));
  }
  return true;
}

template <class Json>
bool FieldReader<Json>::object(const char* key, const Json** out) {
  if (!ok()) return false;
  const auto* v = get(key);
  if (!v) return true;
  if (!v->is_object()) return type_error(key, "an object");
  *out = v;
  return true;
}

template <class Json>
bool FieldReader<Json>::array(const char* key, const Json** out) {
  if (!ok()) return false;
  const auto* v = get(key);
  if (!v) return true;
  if (!v->is_array()) return type_error(key, "an array");
  *out = v;
  return true;
}

template <class Json>
std::variant<Json, ApiError> parse_json_object(std::string_view body) {
  Json j = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad_param("", "the request body is not valid JSON");
  if (!j.is_object()) {
    return bad_param("", fmt::format("the request body must be a JSON object, got {}",
                                     json_type_name(j)));
  }
  return j;
}

template class FieldReader<nlohmann::json>;
template class FieldReader<nlohmann::ordered_json>;
template const char* json_type_name(const nlohmann::json& v);
template const char* json_type_name(const nlohmann::ordered_json& v);

template std::variant<nlohmann::json, ApiError> parse_json_object(std::string_view body);
template std::variant<nlohmann::ordered_json, ApiError> parse_json_object(std::string_view body);

}  // namespace lm::server
