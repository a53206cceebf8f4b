#include "server/json_fields.h"

#include <fmt/format.h>

#include <cmath>

namespace lm::server {

const char* json_type_name(const nlohmann::json& v) {
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

const nlohmann::json* FieldReader::get(const char* key) const {
  if (!obj_.is_object()) return nullptr;
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool FieldReader::fail(const char* key, std::string message) {
  if (!error_) error_ = bad_param(path(key), std::move(message));
  return false;
}

bool FieldReader::type_error(const char* key, const char* expected) {
  const auto* v = get(key);
  return fail(key, fmt::format("'{}' must be {}, got {}", path(key), expected,
                               v ? json_type_name(*v) : "nothing"));
}

bool FieldReader::number(const char* key, float* out, double lo, double hi) {
  if (!ok()) return false;
  const auto* v = get(key);
  if (!v) return true;
  if (!v->is_number()) return type_error(key, "a number");
  double d = v->get<double>();
  if (!std::isfinite(d) || d < lo || d > hi) {
    return fail(key, fmt::format("'{}' = {} is out of range: must be in [{}, {}]", path(key),
                                 v->dump(), lo, hi));
  }
  *out = static_cast<float>(d);
  return true;
}

bool FieldReader::integer(const char* key, int64_t* out, int64_t lo, int64_t hi) {
  if (!ok()) return false;
  const auto* v = get(key);
  if (!v) return true;
  int64_t i = 0;
  if (v->is_number_integer() && !v->is_number_unsigned()) {
    i = v->get<int64_t>();
  } else if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) {
      return fail(key, fmt::format("'{}' = {} is out of range: must be in [{}, {}]", path(key),
                                   v->dump(), lo, hi));
    }
    i = static_cast<int64_t>(u);
  } else if (v->is_number_float()) {
    // 5.0 is an integer; 5.5 and 1e300 are not.
    double d = v->get<double>();
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

bool FieldReader::integer(const char* key, int32_t* out, int64_t lo, int64_t hi) {
  int64_t v = *out;
  if (!integer(key, &v, lo, hi)) return false;
  *out = static_cast<int32_t>(v);
  return true;
}

bool FieldReader::boolean(const char* key, bool* out) {
  if (!ok()) return false;
  const auto* v = get(key);
  if (!v) return true;
  if (!v->is_boolean()) return type_error(key, "a boolean");
  *out = v->get<bool>();
  return true;
}

bool FieldReader::string(const char* key, std::string* out) {
  if (!ok()) return false;
  const auto* v = get(key);
  if (!v) return true;
  if (!v->is_string()) return type_error(key, "a string");
  *out = v->get<std::string>();
  return true;
}

bool FieldReader::string_list(const char* key, std::vector<std::string>* out, size_t max_count) {
  if (!ok()) return false;
  const auto* v = get(key);
  if (!v) return true;
  std::vector<std::string> list;
  if (v->is_string()) {
    list.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    for (const auto& s : *v) {
      if (!s.is_string()) return type_error(key, "a string or an array of strings");
      list.push_back(s.get<std::string>());
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

bool FieldReader::object(const char* key, const nlohmann::json** out) {
  if (!ok()) return false;
  const auto* v = get(key);
  if (!v) return true;
  if (!v->is_object()) return type_error(key, "an object");
  *out = v;
  return true;
}

bool FieldReader::array(const char* key, const nlohmann::json** out) {
  if (!ok()) return false;
  const auto* v = get(key);
  if (!v) return true;
  if (!v->is_array()) return type_error(key, "an array");
  *out = v;
  return true;
}

}  // namespace lm::server
