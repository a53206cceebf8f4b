#include "chat/jinja_value.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/check.h"

namespace lm::chat::jinja {

Value Value::undefined(std::string name) {
  Value v;
  v.s_ = std::make_shared<const std::string>(std::move(name));
  return v;
}
Value Value::none() {
  Value v;
  v.type_ = Type::None;
  return v;
}
Value::Value(bool b) : type_(Type::Bool), b_(b) {}
Value::Value(int64_t i) : type_(Type::Int), i_(i) {}
Value::Value(double f) : type_(Type::Float), f_(f) {}
Value::Value(std::string s)
    : type_(Type::String), s_(std::make_shared<const std::string>(std::move(s))) {}

Value Value::list(ValueList items, bool tuple) {
  Value v;
  v.type_ = Type::List;
  v.tuple_ = tuple;
  v.l_ = std::make_shared<ListData>();
  v.l_->items = std::move(items);
  for (const auto& e : v.l_->items) v.l_->depth = std::max(v.l_->depth, e.depth() + 1);
  return v;
}
Value Value::dict() {
  Value v;
  v.type_ = Type::Dict;
  v.d_ = std::make_shared<DictData>();
  return v;
}
Value Value::namespace_() {
  Value v = dict();
  v.ns_ = true;
  return v;
}
Value Value::func(std::string name, NativeFn fn) {
  Value v;
  v.type_ = Type::Func;
  v.fn_ = std::make_shared<std::pair<std::string, NativeFn>>(std::move(name), std::move(fn));
  return v;
}

namespace {

template <typename Json>
Value value_from_json(const Json& j) {
  using Kind = typename Json::value_t;
  switch (j.type()) {
    case Kind::null: return Value::none();
    case Kind::boolean: return Value(j.template get<bool>());
    case Kind::number_integer: return Value(j.template get<int64_t>());
    case Kind::number_unsigned: {
      uint64_t u = j.template get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<int64_t>(u));
    }
    case Kind::number_float: return Value(j.template get<double>());
    case Kind::string: return Value(j.template get<std::string>());
    case Kind::array: {
      ValueList items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(value_from_json(e));
      return Value::list(std::move(items));
    }
    case Kind::object: {
      Value d = Value::dict();
      for (auto it = j.begin(); it != j.end(); ++it) {
        Value v = value_from_json(it.value());
        d.dict_data().depth = std::max(d.dict_data().depth, v.depth() + 1);
        d.dict_data().entries.emplace_back(Value(it.key()), std::move(v));
      }
      return d;
    }
    default: return Value::none();
  }
}

}  // namespace

Value Value::from_json(const nlohmann::json& j) { return value_from_json(j); }
Value Value::from_json(const nlohmann::ordered_json& j) { return value_from_json(j); }

double Value::as_float() const {
  if (type_ == Type::Float) return f_;
  return static_cast<double>(as_int());
}
ValueList& Value::items() const {
  LM_CHECK(type_ == Type::List, "not a list");
  return l_->items;
}
DictData& Value::dict_data() const {
  LM_CHECK(type_ == Type::Dict, "not a dict");
  return *d_;
}
const std::string& Value::func_name() const { return fn_->first; }
Result<Value> Value::call(CallArgs& args) const { return fn_->second(args); }

uint32_t Value::depth() const {
  if (type_ == Type::List) return l_->depth;
  if (type_ == Type::Dict) return d_->depth;
  return 0;
}

bool Value::truthy() const {
  switch (type_) {
    case Type::Undefined:
    case Type::None: return false;
    case Type::Bool: return b_;
    case Type::Int: return i_ != 0;
    case Type::Float: return f_ != 0.0;
    case Type::String: return !s_->empty();
    case Type::List: return !l_->items.empty();
    case Type::Dict: return ns_ || !d_->entries.empty();
    case Type::Func: return true;
  }
  return false;
}

const char* Value::type_name() const {
  switch (type_) {
    case Type::Undefined: return "Undefined";
    case Type::None: return "NoneType";
    case Type::Bool: return "bool";
    case Type::Int: return "int";
    case Type::Float: return "float";
    case Type::String: return "str";
    case Type::List: return tuple_ ? "tuple" : "list";
    case Type::Dict: return ns_ ? "Namespace" : "dict";
    case Type::Func: return "function";
  }
  return "?";
}

std::string float_repr(double f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
  if (f == 0) return std::signbit(f) ? "-0.0" : "0.0";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  // sci: [-]d[.ddd]e[+-]XX
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t epos = sci.find('e');
  std::string digits;
  for (size_t i = 0; i < epos; ++i) {
    if (sci[i] != '.') digits.push_back(sci[i]);
  }
  int exp = std::stoi(sci.substr(epos + 1));
  std::string out = neg ? "-" : "";
  if (exp >= -4 && exp < 16) {
    // Python repr uses fixed notation when -4 <= exponent < 16 (decimal exponent of the first digit).
    int n = static_cast<int>(digits.size());
    if (exp < 0) {
      out += "0.";
      out.append(static_cast<size_t>(-exp - 1), '0');
      out += digits;
    } else if (exp + 1 >= n) {
      out += digits;
      out.append(static_cast<size_t>(exp + 1 - n), '0');
      out += ".0";
    } else {
      out += digits.substr(0, exp + 1);
      out += '.';
      out += digits.substr(exp + 1);
    }
    return out;
  }
  out += digits[0];
  if (digits.size() > 1) {
    out += '.';
    out += digits.substr(1);
  }
  out += fmt::format("e{}{:02d}", exp < 0 ? '-' : '+', std::abs(exp));
  return out;
}

void utf8_append(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// Invalid bytes decode to U+DC80+byte (Python's surrogateescape) so that encode() round-trips.
std::u32string utf8_decode(const std::string& s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0, n = s.size();
  while (i < n) {
    auto c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= n;
    char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; ok && k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (!ok) {
      out.push_back(0xDC00 + c);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

std::string utf8_encode(const std::u32string& s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    if (c >= 0xDC80 && c <= 0xDCFF) {
      out.push_back(static_cast<char>(c - 0xDC00));
    } else {
      utf8_append(out, c);
    }
  }
  return out;
}

std::string string_repr(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char q = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, q);
  for (char32_t c : utf8_decode(s)) {
    if (c == static_cast<char32_t>(q) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0)) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
    } else if (c >= 0xD800 && c <= 0xDFFF) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      utf8_append(out, c);
    }
  }
  out.push_back(q);
  return out;
}

std::string Value::to_str() const {
  switch (type_) {
    case Type::Undefined: return "";
    case Type::String: return *s_;
    default: return repr();
  }
}

std::string Value::repr() const {
  switch (type_) {
    case Type::Undefined: return "";
    case Type::None: return "None";
    case Type::Bool: return b_ ? "True" : "False";
    case Type::Int: return std::to_string(i_);
    case Type::Float: return float_repr(f_);
    case Type::String: return string_repr(*s_);
    case Type::List: {
      std::string out = tuple_ ? "(" : "[";
      for (size_t i = 0; i < l_->items.size(); ++i) {
        if (i) out += ", ";
        out += l_->items[i].repr();
      }
      if (tuple_ && l_->items.size() == 1) out += ",";
      out += tuple_ ? ")" : "]";
      return out;
    }
    case Type::Dict: {
      if (ns_) return "<Namespace>";
      std::string out = "{";
      bool first = true;
      for (const auto& [k, v] : d_->entries) {
        if (!first) out += ", ";
        first = false;
        out += k.repr();
        out += ": ";
        out += v.repr();
      }
      return out + "}";
    }
    case Type::Func: return "<function " + fn_->first + ">";
  }
  return "";
}

bool Value::equals(const Value& o) const {
  if (is_number() && o.is_number()) {
    if (type_ == Type::Float || o.type_ == Type::Float) return as_float() == o.as_float();
    return as_int() == o.as_int();
  }
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::Undefined:
    case Type::None: return true;
    case Type::String: return *s_ == *o.s_;
    case Type::List: {
      if (tuple_ != o.tuple_) return false;
      if (l_ == o.l_) return true;
      if (l_->items.size() != o.l_->items.size()) return false;
      for (size_t i = 0; i < l_->items.size(); ++i) {
        if (!l_->items[i].equals(o.l_->items[i])) return false;
      }
      return true;
    }
    case Type::Dict: {
      if (d_ == o.d_) return true;
      if (ns_ || o.ns_) return false;
      if (d_->entries.size() != o.d_->entries.size()) return false;
      for (const auto& [k, v] : d_->entries) {
        const Value* ov = o.d_->find(k);
        if (!ov || !v.equals(*ov)) return false;
      }
      return true;
    }
    case Type::Func: return fn_ == o.fn_;
    default: return false;
  }
}

const Value* DictData::find(const Value& key) const {
  for (const auto& [k, v] : entries) {
    if (k.equals(key)) return &v;
  }
  return nullptr;
}
const Value* DictData::find_str(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k.is_string() && k.str() == key) return &v;
  }
  return nullptr;
}
void DictData::set(const Value& key, Value v) {
  depth = std::max(depth, v.depth() + 1);
  for (auto& [k, ov] : entries) {
    if (k.equals(key)) {
      ov = std::move(v);
      return;
    }
  }
  entries.emplace_back(key, std::move(v));
}

Value CallArgs::get(size_t i, std::string_view name, Value fallback) const {
  if (i < args.size()) return args[i];
  for (const auto& [k, v] : kwargs) {
    if (k == name) return v;
  }
  return fallback;
}
bool CallArgs::has(size_t i, std::string_view name) const {
  if (i < args.size()) return true;
  for (const auto& [k, v] : kwargs) {
    if (k == name) return true;
  }
  return false;
}

namespace {

void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out.push_back('"');
  if (!ensure_ascii) {
    for (char ch : s) {
      auto c = static_cast<unsigned char>(ch);
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (c < 0x20) {
            out += fmt::format("\\u{:04x}", c);
          } else {
            out.push_back(ch);
          }
      }
    }
  } else {
    for (char32_t c : utf8_decode(s)) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (c < 0x20 || c > 0x7E) {
            if (c >= 0x10000) {
              char32_t v = c - 0x10000;
              out += fmt::format("\\u{:04x}\\u{:04x}", static_cast<unsigned>(0xD800 + (v >> 10)),
                                 static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
            } else {
              out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
            }
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
    }
  }
  out.push_back('"');
}

struct JsonWriter {
  const JsonOptions& o;
  std::string out;
  std::string indent_unit;
  bool indented = false;
  std::string item_sep, key_sep;

  void newline(int depth) {
    out.push_back('\n');
    for (int i = 0; i < depth; ++i) out += indent_unit;
  }

  Status key(const Value& k) {
    switch (k.type()) {
      case Type::String: json_string(out, k.str(), o.ensure_ascii); return Ok{};
      case Type::Int: out += '"' + std::to_string(k.as_int()) + '"'; return Ok{};
      case Type::Bool: out += k.as_bool() ? "\"true\"" : "\"false\""; return Ok{};
      case Type::None: out += "\"null\""; return Ok{};
      case Type::Float: out += '"' + float_repr(k.as_float()) + '"'; return Ok{};
      default: return errorf("keys must be str, int, float, bool or None, not {}", k.type_name());
    }
  }

  Status write(const Value& v, int depth) {
    if (depth > 200) return Error("tojson: nesting too deep");
    switch (v.type()) {
      case Type::None: out += "null"; return Ok{};
      case Type::Bool: out += v.as_bool() ? "true" : "false"; return Ok{};
      case Type::Int: out += std::to_string(v.as_int()); return Ok{};
      case Type::Float: {
        double f = v.as_float();
        if (std::isnan(f)) out += "NaN";
        else if (std::isinf(f)) out += f > 0 ? "Infinity" : "-Infinity";
        else out += float_repr(f);
        return Ok{};
      }
      case Type::String: json_string(out, v.str(), o.ensure_ascii); return Ok{};
      case Type::List: {
        const auto& items = v.items();
        if (items.empty()) {
          out += "[]";
          return Ok{};
        }
        out.push_back('[');
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += item_sep;
          if (indented) newline(depth + 1);
          LM_TRY_STATUS(write(items[i], depth + 1));
        }
        if (indented) newline(depth);
        out.push_back(']');
        return Ok{};
      }
      case Type::Dict: {
        if (v.is_namespace()) return Error("Object of type Namespace is not JSON serializable");
        std::vector<const std::pair<Value, Value>*> entries;
        for (const auto& e : v.dict_data().entries) entries.push_back(&e);
        if (entries.empty()) {
          out += "{}";
          return Ok{};
        }
        if (o.sort_keys) {
          for (const auto* e : entries) {
            if (!e->first.is_string()) return Error("tojson: sort_keys needs string keys");
          }
          std::stable_sort(entries.begin(), entries.end(), [](const auto* a, const auto* b) {
            return utf8_decode(a->first.str()) < utf8_decode(b->first.str());
          });
        }
        out.push_back('{');
        for (size_t i = 0; i < entries.size(); ++i) {
          if (i) out += item_sep;
          if (indented) newline(depth + 1);
          LM_TRY_STATUS(key(entries[i]->first));
          out += key_sep;
          LM_TRY_STATUS(write(entries[i]->second, depth + 1));
        }
        if (indented) newline(depth);
        out.push_back('}');
        return Ok{};
      }
      default: return errorf("Object of type {} is not JSON serializable", v.type_name());
    }
  }
};

}  // namespace

Result<std::string> to_json(const Value& v, const JsonOptions& opts) {
  JsonWriter w{opts, {}, {}, false, {}, {}};
  if (opts.use_indent_str) {
    w.indented = true;
    w.indent_unit = opts.indent_str;
  } else if (opts.indent >= 0) {
    w.indented = true;
    w.indent_unit = std::string(static_cast<size_t>(opts.indent), ' ');
  }
  if (opts.item_sep.empty() && opts.key_sep.empty()) {
    w.item_sep = w.indented ? "," : ", ";
    w.key_sep = ": ";
  } else {
    w.item_sep = opts.item_sep;
    w.key_sep = opts.key_sep;
  }
  LM_TRY_STATUS(w.write(v, 0));
  return std::move(w.out);
}

}  // namespace lm::chat::jinja
