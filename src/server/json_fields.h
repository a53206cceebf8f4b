// FieldReader: typed, range-checked reads of one JSON object's fields for request parsing.
// Each read returns false once an error is recorded (the first error wins) and leaves the output
// untouched when the field is absent or null. Error messages name the field with its path
// ("stream_options.include_usage") and what was expected.
// Json is nlohmann::json or nlohmann::ordered_json (request parsing reads the body once, as
// ordered_json, so messages and tools keep the client's key order); `FieldReader r(j)` deduces it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "server/api_error.h"

namespace lm::server {

template <class Json>
class FieldReader {
 public:
  // prefix: the path of `obj` inside the request ("" for the top level, "options." ...).
  FieldReader(const Json& obj, std::string prefix = "")
      : obj_(obj), prefix_(std::move(prefix)) {}

  // The field, or nullptr when absent or null.
  const Json* get(const char* key) const;
  bool has(const char* key) const { return get(key) != nullptr; }

  bool number(const char* key, float* out, double lo, double hi);
  bool integer(const char* key, int64_t* out, int64_t lo, int64_t hi);
  bool integer(const char* key, int32_t* out, int64_t lo, int64_t hi);
  bool boolean(const char* key, bool* out);
  bool string(const char* key, std::string* out);
  // A string or an array of strings (at most max_count); empty strings are dropped.
  bool string_list(const char* key, std::vector<std::string>* out, size_t max_count);
  // The field must be an object (or absent); *out points at it or stays nullptr.
  bool object(const char* key, const Json** out);
  bool array(const char* key, const Json** out);
  // Records an error for `key` (e.g. an unsupported value).
  bool fail(const char* key, std::string message);

  bool ok() const { return !error_.has_value(); }
  const std::optional<ApiError>& error() const { return error_; }
  std::string path(const char* key) const { return prefix_ + key; }

 private:
  bool type_error(const char* key, const char* expected);

  const Json& obj_;
  std::string prefix_;
  std::optional<ApiError> error_;
};

// A JSON value's type for error messages ("string", "number", "array", ...).
template <class Json>
const char* json_type_name(const Json& v);

// A request body that must be one JSON object: the parsed object, or a 400 saying what is wrong
// (not JSON; JSON of another type). No exception escapes.
template <class Json>
std::variant<Json, ApiError> parse_json_object(std::string_view body);

extern template class FieldReader<nlohmann::json>;
extern template class FieldReader<nlohmann::ordered_json>;

}  // namespace lm::server
