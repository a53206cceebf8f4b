// The value model of the Jinja interpreter: Python's objects as jinja2 templates see them.
// Lists and dicts have reference semantics (shared_ptr), as in Python; strings are immutable and
// shared. Dicts keep insertion order. Values are not thread-safe to mutate, but a render owns all
// the values it creates.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace lm::chat::jinja {

class Value;
using ValueList = std::vector<Value>;

struct CallArgs;
using NativeFn = std::function<Result<Value>(CallArgs&)>;

enum class Type : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Func };

struct DictData;
struct ListData;

class Value {
 public:
  Value() = default;  // undefined
  static Value undefined(std::string name = "");
  static Value none();
  Value(bool b);                // NOLINT
  Value(int64_t i);             // NOLINT
  Value(int i) : Value(static_cast<int64_t>(i)) {}  // NOLINT
  Value(double f);              // NOLINT
  Value(std::string s);         // NOLINT
  Value(const char* s) : Value(std::string(s)) {}  // NOLINT
  static Value list(ValueList items = {}, bool tuple = false);
  static Value dict();
  static Value namespace_();
  static Value func(std::string name, NativeFn fn);
  // JSON → Value; objects keep their key order only with ordered_json (nlohmann::json sorts keys).
  static Value from_json(const nlohmann::json& j);
  static Value from_json(const nlohmann::ordered_json& j);

  Type type() const { return type_; }
  bool is_undefined() const { return type_ == Type::Undefined; }
  bool is_none() const { return type_ == Type::None; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_int() const { return type_ == Type::Int; }
  bool is_float() const { return type_ == Type::Float; }
  bool is_number() const { return type_ == Type::Int || type_ == Type::Float || type_ == Type::Bool; }
  bool is_string() const { return type_ == Type::String; }
  bool is_list() const { return type_ == Type::List; }
  bool is_tuple() const { return type_ == Type::List && tuple_; }
  bool is_dict() const { return type_ == Type::Dict; }
  bool is_namespace() const { return type_ == Type::Dict && ns_; }
  bool is_func() const { return type_ == Type::Func; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return type_ == Type::Bool ? (b_ ? 1 : 0) : i_; }  // Int or Bool
  double as_float() const;  // any number
  const std::string& str() const { return *s_; }  // String (or an Undefined's name)
  ValueList& items() const;  // List
  DictData& dict_data() const;  // Dict
  const std::string& func_name() const;
  Result<Value> call(CallArgs& args) const;  // Func

  bool truthy() const;
  // Python str() of the value, as jinja2 prints it ("" for undefined).
  std::string to_str() const;
  // Python repr().
  std::string repr() const;
  const char* type_name() const;  // Python's type name, for messages

  // Python ==.
  bool equals(const Value& o) const;

  // Nesting depth of lists/dicts (0 for scalars): the interpreter refuses values nested deeper
  // than a bound, so that printing and destroying them cannot exhaust the stack.
  uint32_t depth() const;

 private:
  Type type_ = Type::Undefined;
  bool tuple_ = false, ns_ = false;
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  std::shared_ptr<const std::string> s_;
  std::shared_ptr<ListData> l_;
  std::shared_ptr<DictData> d_;
  std::shared_ptr<std::pair<std::string, NativeFn>> fn_;
};

struct ListData {
  ValueList items;
  uint32_t depth = 1;
};

// Insertion-ordered dict; linear lookup (template dicts are small).
struct DictData {
  std::vector<std::pair<Value, Value>> entries;
  uint32_t depth = 1;  // updated by set()
  const Value* find(const Value& key) const;
  const Value* find_str(std::string_view key) const;
  void set(const Value& key, Value v);
};

struct CallArgs {
  ValueList args;
  std::vector<std::pair<std::string, Value>> kwargs;
  // Positional i, or keyword `name`, or fallback.
  Value get(size_t i, std::string_view name, Value fallback = Value()) const;
  bool has(size_t i, std::string_view name) const;
};

// Python float repr ("1.0", "1e-05", "3.14").
std::string float_repr(double f);
// Python repr of a str.
std::string string_repr(const std::string& s);

// json.dumps(v, ensure_ascii=False, indent=indent, separators=default, sort_keys=sort_keys).
// indent < 0: None. indent_str overrides indent when non-empty.
struct JsonOptions {
  int indent = -1;
  std::string indent_str;
  bool use_indent_str = false;
  std::string item_sep, key_sep;  // empty: json.dumps defaults
  bool sort_keys = false;
  bool ensure_ascii = false;
};
Result<std::string> to_json(const Value& v, const JsonOptions& opts);

// UTF-8 helpers: Python strings index by code point.
std::u32string utf8_decode(const std::string& s);
std::string utf8_encode(const std::u32string& s);
void utf8_append(std::string& out, char32_t c);

}  // namespace lm::chat::jinja
