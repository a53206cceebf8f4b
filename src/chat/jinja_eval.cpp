// Expression evaluation: Python semantics for operators, attribute and item access, slicing.
#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <cstring>

#include "chat/jinja_interp.h"

namespace lm::chat::jinja {
namespace {

Error undefined_error(const Value& v) {
  if (v.is_undefined() && !v.str().empty()) return Error(v.str());
  return Error("value is undefined");
}

Error operand_error(const char* op, const Value& a, const Value& b) {
  if (a.is_undefined()) return undefined_error(a);
  if (b.is_undefined()) return undefined_error(b);
  return errorf("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(), b.type_name());
}

bool is_intlike(const Value& v) { return v.is_int() || v.is_bool(); }

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

// Python's printf-style `str % args`: flags, width, precision and the s r d i f F e E g G x X o c
// conversions (no %(name)s mappings).
Result<Value> percent_format(const std::string& fmt_s, const Value& arg) {
  ValueList args = arg.is_tuple() ? arg.items() : ValueList{arg};
  std::string out;
  size_t ai = 0;
  for (size_t i = 0; i < fmt_s.size(); ++i) {
    if (fmt_s[i] != '%') {
      out.push_back(fmt_s[i]);
      continue;
    }
    size_t start = i++;
    while (i < fmt_s.size() && std::strchr("-+ 0#", fmt_s[i])) ++i;
    while (i < fmt_s.size() && std::isdigit(static_cast<unsigned char>(fmt_s[i]))) ++i;
    if (i < fmt_s.size() && fmt_s[i] == '.') {
      ++i;
      while (i < fmt_s.size() && std::isdigit(static_cast<unsigned char>(fmt_s[i]))) ++i;
    }
    if (i >= fmt_s.size()) return Error("incomplete format");
    char c = fmt_s[i];
    std::string spec = fmt_s.substr(start, i - start);
    if (c == '%') {
      out.push_back('%');
      continue;
    }
    if (spec.size() > 12) return Error("format spec too long");
    if (ai >= args.size()) return Error("not enough arguments for format string");
    const Value& v = args[ai++];
    char buf[512];
    if (c == 's' || c == 'r') {
      std::string s = c == 's' ? v.to_str() : v.repr();
      int n = std::snprintf(buf, sizeof(buf), (spec + "s").c_str(), s.c_str());
      if (n < 0 || static_cast<size_t>(n) >= sizeof(buf)) out += s;
      else out.append(buf, static_cast<size_t>(n));
    } else if (std::strchr("dixXoc", c)) {
      if (!v.is_number()) return errorf("%{} format: a number is required, not {}", c, v.type_name());
      long long x = v.is_float() ? static_cast<long long>(v.as_float()) : v.as_int();
      std::string f = spec + "ll" + (c == 'i' ? 'd' : c);
      int n = std::snprintf(buf, sizeof(buf), f.c_str(), x);
      if (n > 0) out.append(buf, std::min(static_cast<size_t>(n), sizeof(buf) - 1));
    } else if (std::strchr("fFeEgG", c)) {
      if (!v.is_number()) return errorf("must be real number, not {}", v.type_name());
      int n = std::snprintf(buf, sizeof(buf), (spec + c).c_str(), v.as_float());
      if (n > 0) out.append(buf, std::min(static_cast<size_t>(n), sizeof(buf) - 1));
    } else {
      return errorf("unsupported format character '{}'", c);
    }
  }
  if (ai < args.size() && !arg.is_dict()) return Error("not all arguments converted during string formatting");
  return Value(std::move(out));
}

Result<ValueList> iterate(const Value& v) {
  switch (v.type()) {
    case Type::Undefined: return ValueList{};
    case Type::List: return v.items();
    case Type::Dict: {
      ValueList keys;
      if (v.is_namespace()) return Error("'Namespace' object is not iterable");
      for (const auto& [k, val] : v.dict_data().entries) keys.push_back(k);
      return keys;
    }
    case Type::String: {
      ValueList chars;
      for (char32_t c : utf8_decode(v.str())) chars.push_back(Value(utf8_encode(std::u32string(1, c))));
      return chars;
    }
    default: return errorf("'{}' object is not iterable", v.type_name());
  }
}

Result<bool> contains(const Value& container, const Value& item) {
  switch (container.type()) {
    case Type::String:
      if (!item.is_string()) {
        return errorf("'in <string>' requires string as left operand, not {}", item.type_name());
      }
      return container.str().find(item.str()) != std::string::npos;
    case Type::List:
      for (const auto& v : container.items()) {
        if (v.equals(item)) return true;
      }
      return false;
    case Type::Dict: return container.dict_data().find(item) != nullptr;
    case Type::Undefined: return false;
    default: return errorf("argument of type '{}' is not iterable", container.type_name());
  }
}

Result<int> compare(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      double x = a.as_float(), y = b.as_float();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    int64_t x = a.as_int(), y = b.as_int();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    int c = a.str().compare(b.str());  // UTF-8 byte order is code point order
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list()) {
    const auto& x = a.items();
    const auto& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (x[i].equals(y[i])) continue;
      return compare(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  if (a.is_undefined()) return undefined_error(a);
  if (b.is_undefined()) return undefined_error(b);
  return errorf("'<' not supported between instances of '{}' and '{}'", a.type_name(), b.type_name());
}

Result<int64_t> length(const Value& v) {
  switch (v.type()) {
    case Type::Undefined: return 0;
    case Type::String: return static_cast<int64_t>(utf8_decode(v.str()).size());
    case Type::List: return static_cast<int64_t>(v.items().size());
    case Type::Dict: return static_cast<int64_t>(v.dict_data().entries.size());
    default: return errorf("object of type '{}' has no len()", v.type_name());
  }
}

Result<Value> Interp::get_attr(const Value& obj, const std::string& name) {
  switch (obj.type()) {
    case Type::Undefined: return undefined_error(obj);
    case Type::Dict: {
      if (!obj.is_namespace() && has_method(obj, name)) break;
      if (const Value* v = obj.dict_data().find_str(name)) return *v;
      return Value::undefined(fmt::format("'{}' has no attribute '{}'",
                                          obj.is_namespace() ? "Namespace" : "dict object", name));
    }
    default: break;
  }
  if (has_method(obj, name)) {
    Value self = obj;
    Interp* in = this;
    return Value::func(name, [in, self, name](CallArgs& a) { return call_method(*in, self, name, a); });
  }
  return Value::undefined(fmt::format("'{} object' has no attribute '{}'", obj.type_name(), name));
}

Result<Value> Interp::get_item(const Value& obj, const Value& key) {
  switch (obj.type()) {
    case Type::Undefined: return undefined_error(obj);
    case Type::Dict:
      if (const Value* v = obj.dict_data().find(key)) return *v;
      if (key.is_string()) return get_attr(obj, key.str());
      return Value::undefined(fmt::format("'dict object' has no attribute {}", key.repr()));
    case Type::List:
    case Type::String: {
      if (!is_intlike(key)) {
        if (key.is_string()) return get_attr(obj, key.str());
        return Value::undefined(fmt::format("'{} object' has no attribute {}", obj.type_name(), key.repr()));
      }
      int64_t i = key.as_int();
      if (obj.is_list()) {
        int64_t n = static_cast<int64_t>(obj.items().size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) return Value::undefined(fmt::format("{} object has no element {}", obj.type_name(), key.as_int()));
        return obj.items()[static_cast<size_t>(i)];
      }
      std::u32string s = utf8_decode(obj.str());
      int64_t n = static_cast<int64_t>(s.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value::undefined(fmt::format("str object has no element {}", key.as_int()));
      return Value(utf8_encode(std::u32string(1, s[static_cast<size_t>(i)])));
    }
    default:
      if (key.is_string()) return get_attr(obj, key.str());
      return Value::undefined(fmt::format("'{} object' has no attribute {}", obj.type_name(), key.repr()));
  }
}

Result<Value> Interp::apply_filter(const std::string& name, const Value& input, CallArgs& args, size_t off) {
  bool found = false;
  auto r = builtin_filter(*this, name, input, args, found);
  if (!found) return error_at(off, errorf("No filter named '{}'.", name));
  if (!r.ok()) return error_at(off, r.error());
  return r;
}

Result<bool> Interp::apply_test(const std::string& name, const Value& input, CallArgs& args, size_t off) {
  bool found = false;
  auto r = builtin_test(*this, name, input, args, found);
  if (!found) return error_at(off, errorf("No test named '{}'.", name));
  if (!r.ok()) return error_at(off, r.error());
  return r;
}

Status Interp::eval_args(const Expr& e, size_t first, CallArgs& args) {
  for (size_t i = first; i < e.kids.size(); ++i) {
    LM_TRY(Value v, eval(*e.kids[i]));
    const std::string& kw = e.arg_names[i - first];
    if (kw.empty()) args.args.push_back(std::move(v));
    else args.kwargs.emplace_back(kw, std::move(v));
  }
  return Ok{};
}

Result<Value> Interp::eval(const Expr& e) {
  switch (e.kind) {
    case EKind::Literal: return e.value;
    case EKind::Name: return lookup(e.name);
    case EKind::List:
    case EKind::Tuple: {
      ValueList items;
      for (const auto& k : e.kids) {
        LM_TRY(Value v, eval(*k));
        items.push_back(std::move(v));
      }
      return Value::list(std::move(items), e.kind == EKind::Tuple);
    }
    case EKind::Dict: {
      Value d = Value::dict();
      for (size_t i = 0; i + 1 < e.kids.size(); i += 2) {
        LM_TRY(Value k, eval(*e.kids[i]));
        LM_TRY(Value v, eval(*e.kids[i + 1]));
        if (k.is_list() && !k.is_tuple()) return error_at(e.kids[i]->off, Error("unhashable type: 'list'"));
        if (k.is_dict()) return error_at(e.kids[i]->off, Error("unhashable type: 'dict'"));
        d.dict_data().set(k, std::move(v));
      }
      return d;
    }
    case EKind::Unary: {
      LM_TRY(Value v, eval(*e.kids[0]));
      if (e.name == "not") return Value(!v.truthy());
      if (!v.is_number()) {
        Error err = v.is_undefined() ? undefined_error(v)
                                     : errorf("bad operand type for unary {}: '{}'", e.name, v.type_name());
        return error_at(e.off, err);
      }
      if (e.name == "+") return v.is_float() ? v : Value(v.as_int());
      if (v.is_float()) return Value(-v.as_float());
      return Value(-v.as_int());
    }
    case EKind::Binary: return eval_binary(e);
    case EKind::Compare: return eval_compare(e);
    case EKind::Cond: {
      LM_TRY(Value c, eval(*e.kids[1]));
      if (c.truthy()) return eval(*e.kids[0]);
      if (e.kids[2]) return eval(*e.kids[2]);
      return Value::undefined("the inline if-expression evaluated to false and no else section was defined.");
    }
    case EKind::Getattr: {
      LM_TRY(Value obj, eval(*e.kids[0]));
      auto r = get_attr(obj, e.name);
      if (!r.ok()) return error_at(e.off, r.error());
      return r;
    }
    case EKind::Getitem: {
      LM_TRY(Value obj, eval(*e.kids[0]));
      LM_TRY(Value key, eval(*e.kids[1]));
      auto r = get_item(obj, key);
      if (!r.ok()) return error_at(e.off, r.error());
      return r;
    }
    case EKind::Slice: return eval_slice(e);
    case EKind::Call: return eval_call(e);
    case EKind::Filter: {
      Value input;
      if (e.kids[0]) {
        LM_TRY(input, eval(*e.kids[0]));
      } else if (filter_input_) {
        input = *filter_input_;
      }
      CallArgs args;
      LM_TRY_STATUS(eval_args(e, 1, args));
      return apply_filter(e.name, input, args, e.off);
    }
    case EKind::Test: {
      LM_TRY(Value input, eval(*e.kids[0]));
      CallArgs args;
      LM_TRY_STATUS(eval_args(e, 1, args));
      LM_TRY(bool r, apply_test(e.name, input, args, e.off));
      return Value(e.negate ? !r : r);
    }
  }
  return Value();
}

Result<Value> Interp::eval_call(const Expr& e) {
  LM_TRY(Value callee, eval(*e.kids[0]));
  CallArgs args;
  LM_TRY_STATUS(eval_args(e, 1, args));
  if (callee.is_dict()) {
    if (const Value* c = callee.dict_data().find_str("__call__")) callee = *c;
  }
  if (!callee.is_func()) {
    Error err = callee.is_undefined() ? undefined_error(callee)
                                      : errorf("'{}' object is not callable", callee.type_name());
    return error_at(e.off, err);
  }
  auto r = callee.call(args);
  if (!r.ok()) return error_at(e.off, r.error());
  return r;
}

Result<Value> Interp::eval_binary(const Expr& e) {
  const std::string& op = e.name;
  LM_TRY(Value a, eval(*e.kids[0]));
  if (op == "and") return a.truthy() ? eval(*e.kids[1]) : a;
  if (op == "or") return a.truthy() ? a : eval(*e.kids[1]);
  LM_TRY(Value b, eval(*e.kids[1]));
  auto fail = [&](Error err) -> Result<Value> { return error_at(e.off, err); };
  if (op == "~") {
    std::string s = a.to_str();
    s += b.to_str();
    if (auto st = check_size(s.size()); !st.ok()) return fail(st.error());
    return Value(std::move(s));
  }
  if (a.is_number() && b.is_number()) {
    bool flt = a.is_float() || b.is_float();
    double x = a.as_float(), y = b.as_float();
    int64_t i = a.as_int(), j = b.as_int(), r = 0;
    if (op == "+") {
      if (flt) return Value(x + y);
      if (__builtin_add_overflow(i, j, &r)) return fail(Error("integer overflow"));
      return Value(r);
    }
    if (op == "-") {
      if (flt) return Value(x - y);
      if (__builtin_sub_overflow(i, j, &r)) return fail(Error("integer overflow"));
      return Value(r);
    }
    if (op == "*") {
      if (flt) return Value(x * y);
      if (__builtin_mul_overflow(i, j, &r)) return fail(Error("integer overflow"));
      return Value(r);
    }
    if (op == "/") {
      if (y == 0) return fail(Error("division by zero"));
      return Value(x / y);
    }
    if (op == "//" || op == "%") {
      if (flt ? y == 0 : j == 0) return fail(Error(op == "//" ? "integer division or modulo by zero" : "modulo by zero"));
      if (!flt) {
        if (i == INT64_MIN && j == -1) return fail(Error("integer overflow"));
        int64_t q = floor_div(i, j);
        return op == "//" ? Value(q) : Value(i - q * j);
      }
      double q = std::floor(x / y);
      return op == "//" ? Value(q) : Value(x - q * y);
    }
    if (op == "**") {
      if (flt || j < 0) return Value(std::pow(x, y));
      int64_t acc = 1;
      for (int64_t k = 0; k < j; ++k) {
        if (__builtin_mul_overflow(acc, i, &acc)) return fail(Error("integer overflow"));
        if (acc == 0 || acc == 1) break;
      }
      return Value(acc);
    }
  }
  if (op == "+" && a.is_string() && b.is_string()) {
    LM_TRY_STATUS(check_size(a.str().size() + b.str().size()));
    return Value(a.str() + b.str());
  }
  if (op == "+" && a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    ValueList items = a.items();
    items.insert(items.end(), b.items().begin(), b.items().end());
    return Value::list(std::move(items), a.is_tuple());
  }
  if (op == "*" && (is_intlike(a) || is_intlike(b)) && (a.is_string() || b.is_string() || a.is_list() || b.is_list())) {
    const Value& seq = is_intlike(a) ? b : a;
    int64_t n = std::max<int64_t>(0, is_intlike(a) ? a.as_int() : b.as_int());
    size_t unit = seq.is_string() ? seq.str().size() : seq.items().size() * 16;
    if (unit && static_cast<uint64_t>(n) > limits_.max_output / unit) return fail(Error("result too large"));
    if (seq.is_string()) {
      std::string s;
      for (int64_t k = 0; k < n; ++k) s += seq.str();
      return Value(std::move(s));
    }
    ValueList items;
    for (int64_t k = 0; k < n; ++k) items.insert(items.end(), seq.items().begin(), seq.items().end());
    return Value::list(std::move(items), seq.is_tuple());
  }
  if (op == "%" && a.is_string()) {
    auto r = percent_format(a.str(), b);
    if (!r.ok()) return fail(r.error());
    return r;
  }
  return fail(operand_error(op.c_str(), a, b));
}

Result<Value> Interp::eval_compare(const Expr& e) {
  LM_TRY(Value left, eval(*e.kids[0]));
  for (size_t i = 0; i < e.ops.size(); ++i) {
    LM_TRY(Value right, eval(*e.kids[i + 1]));
    const std::string& op = e.ops[i];
    bool r;
    if (op == "==") {
      r = left.equals(right);
    } else if (op == "!=") {
      r = !left.equals(right);
    } else if (op == "in" || op == "not in") {
      auto c = contains(right, left);
      if (!c.ok()) return error_at(e.off, c.error());
      r = op == "in" ? *c : !*c;
    } else {
      auto c = compare(left, right);
      if (!c.ok()) return error_at(e.off, c.error());
      r = op == "<" ? *c < 0 : op == "<=" ? *c <= 0 : op == ">" ? *c > 0 : *c >= 0;
    }
    if (!r) return Value(false);
    left = std::move(right);
  }
  return Value(true);
}

Result<Value> Interp::eval_slice(const Expr& e) {
  LM_TRY(Value obj, eval(*e.kids[0]));
  int64_t parts[3] = {0, 0, 1};
  bool given[3] = {false, false, false};
  for (int k = 0; k < 3; ++k) {
    if (!e.kids[k + 1]) continue;
    LM_TRY(Value v, eval(*e.kids[k + 1]));
    if (v.is_none()) continue;
    if (!is_intlike(v)) return error_at(e.off, Error("slice indices must be integers or None"));
    parts[k] = v.as_int();
    given[k] = true;
  }
  int64_t step = parts[2];
  if (step == 0) return error_at(e.off, Error("slice step cannot be zero"));
  int64_t n;
  std::u32string chars;
  if (obj.is_string()) {
    chars = utf8_decode(obj.str());
    n = static_cast<int64_t>(chars.size());
  } else if (obj.is_list()) {
    n = static_cast<int64_t>(obj.items().size());
  } else if (obj.is_undefined()) {
    return error_at(e.off, undefined_error(obj));
  } else {
    return error_at(e.off, errorf("'{}' object is not subscriptable", obj.type_name()));
  }
  auto adjust = [&](int64_t v, bool has, int64_t dflt) {
    if (!has) return dflt;
    if (v < 0) v += n;
    if (step > 0) return std::clamp<int64_t>(v, 0, n);
    return std::clamp<int64_t>(v, -1, n - 1);
  };
  int64_t start = adjust(parts[0], given[0], step > 0 ? 0 : n - 1);
  int64_t stop = adjust(parts[1], given[1], step > 0 ? n : -1);
  std::vector<size_t> idx;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) idx.push_back(static_cast<size_t>(i));
  if (obj.is_string()) {
    std::u32string out;
    for (size_t i : idx) out.push_back(chars[i]);
    return Value(utf8_encode(out));
  }
  ValueList items;
  for (size_t i : idx) items.push_back(obj.items()[i]);
  return Value::list(std::move(items), obj.is_tuple());
}

}  // namespace lm::chat::jinja
