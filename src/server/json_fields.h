// FieldReader: typed, range-checked reads of one JSON object's fields for request parsing.
// Each read returns false once an error is recorded (the first error wins) and leaves the output
// untouched when the field is absent or null. Error messages name the field with its path
// ("stream_options.include_usage") and what was expected.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/api_error.h"

namespace lm::server {

class FieldReader {
 public:
  // prefix: the path of `obj` inside the request ("" for the top level, "options." ...).
  FieldReader(const nlohmann::json& obj, std::string prefix = "")
      : obj_(obj), prefix_(std::move(prefix)) {}

  // The field, or nullptr when absent or null.
  const nlohmann::json* get(const char* key) const;
  bool has(const char* key) const { return get(key) != nullptr; }

  bool number(const char* key, float* out, double lo, double hi);
  bool integer(const char* key, int64_t* out, int64_t lo, int64_t hi);
  bool integer(const char* key, int32_t* out, int64_t lo, int64_t hi);
  bool boolean(const char* key, bool* out);
  bool string(const char* key, std::string* out);
  // A string or an array of strings (at most max_count); empty strings are dropped.
  bool string_list(const char* key, std::vector<std::string>* out, size_t max_count);
  // The field must be an object (or absent); *out points at it or stays nullptr.
  bool object(const char* key, const nlohmann::json** out);
  bool array(const char* key, const nlohmann::json** out);
  // Records an error for `key` (e.g. an unsupported value).
  bool fail(const char* key, std::string message);

  bool ok() const { return !error_.has_value(); }
  const std::optional<ApiError>& error() const { return error_; }
  std::string path(const char* key) const { return prefix_ + key; }

 private:
  bool type_error(const char* key, const char* expected);

  const nlohmann::json& obj_;
  std::string prefix_;
  std::optional<ApiError> error_;
};

// A JSON value's type for error messages ("string", "number", "array", ...).
const char* json_type_name(const nlohmann::json& v);

}  // namespace lm::server
