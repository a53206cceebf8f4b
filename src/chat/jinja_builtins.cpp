// jinja2's builtin filters, tests and globals (jinja2/filters.py, tests.py, defaults.py are the
// reference for their behaviour), transformers' tojson, raise_exception and strftime_now.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <optional>

#include "chat/jinja_interp.h"

namespace lm::chat::jinja {
namespace {

Value str_call(Interp& in, const std::string& s, const char* method, CallArgs a = {}) {
  auto r = call_method(in, Value(s), method, a);
  return r.ok() ? *r : Value(s);
}

// jinja2's make_attrgetter: "a.b.0" looks up item by item (integers index lists).
Result<Value> attr_path(Interp& in, const Value& v, const Value& attribute) {
  if (!attribute.is_string()) return in.get_item(v, attribute);
  Value cur = v;
  const std::string& path = attribute.str();
  size_t pos = 0;
  while (true) {
    size_t dot = path.find('.', pos);
    std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    Value key(part);
    if (!part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      key = Value(static_cast<int64_t>(std::stoll(part)));
    }
    LM_TRY(cur, in.get_item(cur, key));
    if (dot == std::string::npos) return cur;
    pos = dot + 1;
  }
}

Result<Value> do_tojson(const Value& v, const CallArgs& a) {
  JsonOptions o;
  Value indent = a.get(0, "indent");
  if (indent.is_string()) {
    o.use_indent_str = true;
    o.indent_str = indent.str();
  } else if (indent.is_number()) {
    o.indent = static_cast<int>(std::max<int64_t>(0, indent.as_int()));
  }
  o.ensure_ascii = a.get(1, "ensure_ascii", Value(false)).truthy();
  Value seps = a.get(2, "separators");
  if (seps.is_list() && seps.items().size() == 2) {
    o.item_sep = seps.items()[0].to_str();
    o.key_sep = seps.items()[1].to_str();
  }
  o.sort_keys = a.get(3, "sort_keys", Value(false)).truthy();
  LM_TRY(std::string s, to_json(v, o));
  return Value(std::move(s));
}

std::string do_indent(const std::string& text, const Value& width, bool first, bool blank) {
  std::string ind = width.is_string() ? width.str() : std::string(static_cast<size_t>(std::max<int64_t>(0, width.as_int())), ' ');
  // jinja2 appends "\n" before splitlines() (so a trailing newline yields no extra line).
  std::string s = text + "\n";
  std::vector<std::string> lines;
  {
    // splitlines on the universal newlines
    std::u32string u = utf8_decode(s);
    size_t start = 0;
    for (size_t i = 0; i < u.size(); ++i) {
      char32_t c = u[i];
      bool br = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D ||
                c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
      if (!br) continue;
      lines.push_back(utf8_encode(u.substr(start, i - start)));
      if (c == '\r' && i + 1 < u.size() && u[i + 1] == '\n') ++i;
      start = i + 1;
    }
    if (start < u.size()) lines.push_back(utf8_encode(u.substr(start)));
  }
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + ind;
      rv += lines[i];
    }
  } else {
    rv = lines.empty() ? "" : lines[0];
    if (lines.size() > 1) {
      rv += "\n";
      for (size_t i = 1; i < lines.size(); ++i) {
        if (i > 1) rv += "\n";
        rv += lines[i].empty() ? lines[i] : ind + lines[i];
      }
    }
  }
  if (first) rv = ind + rv;
  return rv;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// jinja2's do_title: capitalize each run separated by [-\s({[<]+.
std::string jinja_title(const std::string& s) {
  std::u32string u = utf8_decode(s);
  bool start = true;
  for (auto& c : u) {
    bool sep = c == '-' || c == ' ' || (c >= 0x09 && c <= 0x0D) || c == '(' || c == '{' || c == '[' || c == '<';
    if (sep) {
      start = true;
      continue;
    }
    if (start) c = (c >= 'a' && c <= 'z') ? c - 32 : c;
    else c = (c >= 'A' && c <= 'Z') ? c + 32 : c;
    start = false;
  }
  return utf8_encode(u);
}

// Sort key: the attribute (if any), lower-cased when a string and not case-sensitive.
Result<Value> sort_key(Interp& in, const Value& v, const Value& attribute, bool case_sensitive) {
  Value k = v;
  if (!attribute.is_undefined() && !attribute.is_none()) {
    LM_TRY(k, attr_path(in, v, attribute));
  }
  if (!case_sensitive && k.is_string()) k = str_call(in, k.str(), "lower");
  return k;
}

Result<ValueList> sorted(Interp& in, ValueList items, const Value& attribute, bool case_sensitive, bool reverse) {
  std::vector<std::pair<Value, Value>> keyed;
  for (auto& v : items) {
    LM_TRY(Value k, sort_key(in, v, attribute, case_sensitive));
    keyed.emplace_back(std::move(k), std::move(v));
  }
  std::optional<Error> err;
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    auto c = reverse ? compare(b.first, a.first) : compare(a.first, b.first);
    if (!c.ok()) {
      if (!err) err = c.error();
      return false;
    }
    return *c < 0;
  });
  if (err) return *err;
  ValueList out;
  for (auto& [k, v] : keyed) out.push_back(std::move(v));
  return out;
}

Result<Value> do_min_max(Interp& in, const Value& v, const CallArgs& a, bool is_max) {
  LM_TRY(ValueList items, iterate(v));
  if (items.empty()) return Value::undefined(is_max ? "No aggregated item, sequence was empty." : "No aggregated item, sequence was empty.");
  LM_TRY(ValueList s, sorted(in, items, a.get(1, "attribute"), a.get(0, "case_sensitive").truthy(), false));
  return is_max ? s.back() : s.front();
}

// select/reject/selectattr/rejectattr.
Result<Value> do_select(Interp& in, const Value& v, CallArgs& a, bool attr, bool select) {
  // jinja2 iterates only a truthy sequence (`if value: for item in value`): None gives nothing.
  if (!v.truthy()) return Value::list();
  LM_TRY(ValueList items, iterate(v));
  size_t first = attr ? 1 : 0;
  Value attribute = attr ? a.get(0, "attribute") : Value();
  bool has_test = a.args.size() > first;
  std::string test = has_test ? a.args[first].to_str() : "";
  CallArgs targs;
  if (has_test) targs.args.assign(a.args.begin() + static_cast<ptrdiff_t>(first + 1), a.args.end());
  ValueList out;
  for (const auto& item : items) {
    Value x = item;
    if (attr) {
      LM_TRY(x, attr_path(in, item, attribute));
    }
    bool r;
    if (has_test) {
      CallArgs ta = targs;
      LM_TRY(r, in.apply_test(test, x, ta, 0));
    } else {
      r = x.truthy();
    }
    if (r == select) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Result<Value> do_map(Interp& in, const Value& v, CallArgs& a) {
  if (!v.truthy()) return Value::list();
  LM_TRY(ValueList items, iterate(v));
  ValueList out;
  Value attribute = a.get(SIZE_MAX, "attribute");
  if (!attribute.is_undefined()) {
    Value dflt = a.get(SIZE_MAX, "default");
    for (const auto& item : items) {
      LM_TRY(Value x, attr_path(in, item, attribute));
      if (x.is_undefined() && !dflt.is_undefined()) x = dflt;
      out.push_back(std::move(x));
    }
    return Value::list(std::move(out));
  }
  if (a.args.empty()) return Error("map requires a filter argument");
  std::string filter = a.args[0].to_str();
  for (const auto& item : items) {
    CallArgs fa;
    fa.args.assign(a.args.begin() + 1, a.args.end());
    fa.kwargs = a.kwargs;
    LM_TRY(Value x, in.apply_filter(filter, item, fa, 0));
    out.push_back(std::move(x));
  }
  return Value::list(std::move(out));
}

Result<Value> to_int(const Value& v, const CallArgs& a) {
  Value dflt = a.get(0, "default", Value(static_cast<int64_t>(0)));
  if (v.is_int() || v.is_bool()) return Value(v.as_int());
  if (v.is_float()) return Value(static_cast<int64_t>(v.as_float()));
  if (v.is_string()) {
    std::string s = v.str();
    size_t b = s.find_first_not_of(" \t\n\r"), e = s.find_last_not_of(" \t\n\r");
    if (b == std::string::npos) return dflt;
    s = s.substr(b, e - b + 1);
    char* end = nullptr;
    errno = 0;
    long long i = std::strtoll(s.c_str(), &end, 10);
    if (errno == 0 && end && *end == '\0') return Value(static_cast<int64_t>(i));
    double f = std::strtod(s.c_str(), &end);
    if (end && *end == '\0' && std::isfinite(f)) return Value(static_cast<int64_t>(f));
    return dflt;
  }
  if (v.is_undefined()) return Error(v.str().empty() ? "value is undefined" : v.str());
  return dflt;
}

Result<Value> to_float(const Value& v, const CallArgs& a) {
  Value dflt = a.get(0, "default", Value(0.0));
  if (v.is_number()) return Value(v.as_float());
  if (v.is_string()) {
    char* end = nullptr;
    std::string s = v.str();
    double f = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0') return Value(f);
    return dflt;
  }
  if (v.is_undefined()) return Error(v.str().empty() ? "value is undefined" : v.str());
  return dflt;
}

Result<Value> filter_seq(Interp& in, const std::string& n, const Value& v, CallArgs& a, bool& found) {
  found = true;
  if (n == "length" || n == "count") {
    LM_TRY(int64_t len, length(v));
    return Value(len);
  }
  if (n == "first" || n == "last") {
    LM_TRY(ValueList items, iterate(v));
    if (items.empty()) return Value::undefined("No first item, sequence was empty.");
    return n == "first" ? items.front() : items.back();
  }
  if (n == "join") {
    LM_TRY(ValueList items, iterate(v));
    std::string sep = a.get(0, "d", Value("")).to_str();
    Value attribute = a.get(1, "attribute");
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      Value x = items[i];
      if (!attribute.is_undefined()) {
        LM_TRY(x, attr_path(in, x, attribute));
      }
      if (i) out += sep;
      out += x.to_str();
      LM_TRY_STATUS(in.check_size(out.size()));
    }
    return Value(std::move(out));
  }
  if (n == "list") {
    LM_TRY(ValueList items, iterate(v));
    return Value::list(std::move(items));
  }
  if (n == "items") {
    if (v.is_undefined()) return Value::list();
    if (!v.is_dict()) return errorf("Can only get item pairs from a mapping.");
    CallArgs none;
    return call_method(in, v, "items", none);
  }
  if (n == "reverse") {
    if (v.is_string()) {
      std::u32string u = utf8_decode(v.str());
      std::reverse(u.begin(), u.end());
      return Value(utf8_encode(u));
    }
    LM_TRY(ValueList items, iterate(v));
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (n == "sort") {
    LM_TRY(ValueList items, iterate(v));
    LM_TRY(ValueList s, sorted(in, std::move(items), a.get(2, "attribute"), a.get(1, "case_sensitive").truthy(),
                               a.get(0, "reverse").truthy()));
    return Value::list(std::move(s));
  }
  if (n == "unique") {
    LM_TRY(ValueList items, iterate(v));
    ValueList out, keys;
    for (const auto& x : items) {
      LM_TRY(Value k, sort_key(in, x, a.get(1, "attribute"), a.get(0, "case_sensitive").truthy()));
      bool seen = false;
      for (const auto& s : keys) seen |= s.equals(k);
      if (!seen) {
        keys.push_back(k);
        out.push_back(x);
      }
    }
    return Value::list(std::move(out));
  }
  if (n == "min" || n == "max") return do_min_max(in, v, a, n == "max");
  if (n == "sum") {
    LM_TRY(ValueList items, iterate(v));
    Value acc = a.get(1, "start", Value(static_cast<int64_t>(0)));
    Value attribute = a.get(0, "attribute");
    for (const auto& x : items) {
      Value y = x;
      if (!attribute.is_undefined()) {
        LM_TRY(y, attr_path(in, x, attribute));
      }
      if (!acc.is_number() || !y.is_number()) return errorf("unsupported operand type(s) for +: '{}' and '{}'", acc.type_name(), y.type_name());
      acc = acc.is_float() || y.is_float() ? Value(acc.as_float() + y.as_float()) : Value(acc.as_int() + y.as_int());
    }
    return acc;
  }
  if (n == "batch") {
    LM_TRY(ValueList items, iterate(v));
    int64_t size = a.get(0, "linecount", Value(static_cast<int64_t>(1))).as_int();
    if (size <= 0) return Error("batch size must be positive");
    Value fill = a.get(1, "fill_with");
    ValueList out, cur;
    for (const auto& x : items) {
      cur.push_back(x);
      if (static_cast<int64_t>(cur.size()) == size) {
        out.push_back(Value::list(std::move(cur)));
        cur.clear();
      }
    }
    if (!cur.empty()) {
      if (!fill.is_undefined() && !fill.is_none()) {
        while (static_cast<int64_t>(cur.size()) < size) cur.push_back(fill);
      }
      out.push_back(Value::list(std::move(cur)));
    }
    return Value::list(std::move(out));
  }
  if (n == "dictsort") {
    if (!v.is_dict()) return Error("dictsort: expected a mapping");
    bool by_value = a.get(2, "by", Value("key")).to_str() == "value";
    CallArgs none;
    LM_TRY(Value pairs, call_method(in, v, "items", none));
    ValueList items = pairs.items();
    LM_TRY(ValueList s, sorted(in, items, Value(static_cast<int64_t>(by_value ? 1 : 0)),
                               a.get(0, "case_sensitive").truthy(), a.get(3, "reverse").truthy()));
    return Value::list(std::move(s));
  }
  if (n == "select" || n == "reject") return do_select(in, v, a, false, n == "select");
  if (n == "selectattr" || n == "rejectattr") return do_select(in, v, a, true, n == "selectattr");
  if (n == "map") return do_map(in, v, a);
  found = false;
  return Value();
}

Result<Value> filter_str(Interp& in, const std::string& n, const Value& v, CallArgs& a, bool& found) {
  found = true;
  if (n == "trim") {
    CallArgs sa;
    sa.args.push_back(a.get(0, "chars", Value::none()));
    return str_call(in, v.to_str(), "strip", sa);
  }
  if (n == "upper" || n == "lower" || n == "capitalize") return str_call(in, v.to_str(), n.c_str());
  if (n == "title") return Value(jinja_title(v.to_str()));
  if (n == "string") return Value(v.to_str());
  if (n == "safe") return v;
  if (n == "escape" || n == "e" || n == "forceescape") return Value(html_escape(v.to_str()));
  if (n == "replace") {
    CallArgs ra;
    ra.args = {a.get(0, "old").to_str(), a.get(1, "new").to_str()};
    Value count = a.get(2, "count");
    if (count.is_number()) ra.args.push_back(count);
    return call_method(in, Value(v.to_str()), "replace", ra);
  }
  if (n == "indent") {
    if (!v.is_string()) return errorf("unsupported operand type(s) for +=: '{}' and 'str'", v.type_name());
    return Value(do_indent(v.to_str(), a.get(0, "width", Value(static_cast<int64_t>(4))),
                           a.get(1, "first").truthy(), a.get(2, "blank").truthy()));
  }
  if (n == "center") {
    std::string s = v.to_str();
    int64_t width = a.get(0, "width", Value(static_cast<int64_t>(80))).as_int();
    int64_t len = static_cast<int64_t>(utf8_decode(s).size());
    if (width <= len) return Value(s);
    int64_t pad = width - len, left = pad / 2 + (pad & width & 1);
    return Value(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(pad - left), ' '));
  }
  if (n == "wordcount") {
    // jinja2 counts the matches of \w+ (letters, digits, underscore).
    int64_t words = 0;
    bool in_word = false;
    for (char32_t c : utf8_decode(v.to_str())) {
      bool w = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
               (c >= 0xC0 && c != 0xD7 && c != 0xF7 && !(c >= 0x2000 && c <= 0x206F) && !(c >= 0x3000 && c <= 0x303F) &&
                !(c >= 0x1F000));
      if (w && !in_word) ++words;
      in_word = w;
    }
    return Value(words);
  }
  if (n == "format") {
    // jinja2's format filter is printf-style: "%s, %d" | format(x, y).
    return percent_format(v.to_str(), Value::list(a.args, true));
  }
  found = false;
  return Value();
}

}  // namespace

Result<Value> builtin_filter(Interp& in, const std::string& n, const Value& v, CallArgs& a, bool& found) {
  found = true;
  if (n == "tojson") return do_tojson(v, a);
  if (n == "default" || n == "d") {
    bool boolean = a.get(1, "boolean").truthy();
    if (v.is_undefined() || (boolean && !v.truthy())) return a.get(0, "default_value", Value(""));
    return v;
  }
  if (n == "int") return to_int(v, a);
  if (n == "float") return to_float(v, a);
  if (n == "abs") {
    if (v.is_float()) return Value(std::fabs(v.as_float()));
    if (v.is_number()) return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
    return errorf("bad operand type for abs(): '{}'", v.type_name());
  }
  if (n == "round") {
    if (!v.is_number()) return errorf("type {} doesn't define __round__ method", v.type_name());
    int64_t prec = a.get(0, "precision", Value(static_cast<int64_t>(0))).as_int();
    std::string method = a.get(1, "method", Value("common")).to_str();
    double x = v.as_float(), scale = std::pow(10.0, static_cast<double>(prec));
    double y = x * scale;
    if (method == "ceil") y = std::ceil(y);
    else if (method == "floor") y = std::floor(y);
    else y = std::nearbyint(y);
    if (method == "common" && !v.is_float()) return Value(v.as_int());
    return Value(y / scale);
  }
  if (n == "attr") return in.get_attr(v, a.get(0, "name").to_str());
  if (n == "pprint") return Value(v.repr());
  auto r = filter_seq(in, n, v, a, found);
  if (found) return r;
  return filter_str(in, n, v, a, found);
}

bool is_known_filter(const std::string& n) {
  static const char* const kNames[] = {
      "tojson", "default", "d", "int", "float", "abs", "round", "attr", "pprint", "length", "count",
      "first", "last", "join", "list", "items", "reverse", "sort", "unique", "min", "max", "sum",
      "batch", "dictsort", "select", "reject", "selectattr", "rejectattr", "map", "trim", "upper",
      "lower", "capitalize", "title", "string", "safe", "escape", "e", "forceescape", "replace",
      "indent", "center", "wordcount", "format"};
  for (const char* k : kNames) {
    if (n == k) return true;
  }
  return false;
}

Result<bool> builtin_test(Interp& in, const std::string& n, const Value& v, CallArgs& a, bool& found) {
  found = true;
  Value x = a.get(0, "other");
  if (n == "defined") return !v.is_undefined();
  if (n == "undefined") return v.is_undefined();
  if (n == "none") return v.is_none();
  if (n == "string") return v.is_string();
  if (n == "number") return v.is_number();
  if (n == "integer") return v.is_int();
  if (n == "float") return v.is_float();
  if (n == "boolean") return v.is_bool();
  if (n == "true") return v.is_bool() && v.as_bool();
  if (n == "false") return v.is_bool() && !v.as_bool();
  if (n == "mapping") return v.is_dict() && !v.is_namespace();
  if (n == "iterable") return v.is_string() || v.is_list() || (v.is_dict() && !v.is_namespace()) || v.is_undefined();
  if (n == "sequence") return v.is_string() || v.is_list() || (v.is_dict() && !v.is_namespace()) || v.is_undefined();
  if (n == "callable") return v.is_func() || (v.is_dict() && v.dict_data().find_str("__call__"));
  if (n == "eq" || n == "equalto" || n == "==") return v.equals(x);
  if (n == "ne" || n == "!=") return !v.equals(x);
  if (n == "sameas") {
    if (v.type() != x.type()) return false;
    if (v.is_none() || v.is_undefined()) return true;
    if (v.is_bool()) return v.as_bool() == x.as_bool();
    return v.equals(x) && (v.is_int() ? v.as_int() >= -5 && v.as_int() <= 256 : false);
  }
  if (n == "lt" || n == "<" || n == "lessthan" || n == "le" || n == "<=" || n == "gt" || n == ">" ||
      n == "greaterthan" || n == "ge" || n == ">=") {
    LM_TRY(int c, compare(v, x));
    if (n == "lt" || n == "<" || n == "lessthan") return c < 0;
    if (n == "le" || n == "<=") return c <= 0;
    if (n == "gt" || n == ">" || n == "greaterthan") return c > 0;
    return c >= 0;
  }
  if (n == "in") return contains(a.get(0, "seq"), v);
  if (n == "odd" || n == "even" || n == "divisibleby") {
    // jinja2: value % 2 == 1, value % 2 == 0, value % num == 0 (Python %, floats included).
    Value d = n == "divisibleby" ? a.get(0, "num") : Value(static_cast<int64_t>(2));
    if (!v.is_number() || !d.is_number()) {
      return errorf("unsupported operand type(s) for %: '{}' and '{}'", v.type_name(), d.type_name());
    }
    double want = n == "odd" ? 1 : 0;
    if (v.is_float() || d.is_float()) {
      double x = v.as_float(), y = d.as_float();
      if (y == 0) return Error("float modulo");
      double m = std::fmod(x, y);
      if (m != 0 && ((m < 0) != (y < 0))) m += y;
      return m == want;
    }
    int64_t x = v.as_int(), y = d.as_int();
    if (y == 0) return Error("integer division or modulo by zero");
    int64_t m = x % y;
    if (m != 0 && ((m < 0) != (y < 0))) m += y;
    return static_cast<double>(m) == want;
  }
  if (n == "lower" || n == "upper") {
    CallArgs none;
    LM_TRY(Value r, call_method(in, Value(v.to_str()), n == "lower" ? "islower" : "isupper", none));
    return r.truthy();
  }
  if (n == "escaped") return false;
  if (n == "filter") return is_known_filter(v.to_str());
  if (n == "test") return is_known_test(v.to_str());
  found = false;
  return false;
}

bool is_known_test(const std::string& n) {
  static const char* const kNames[] = {
      "defined", "undefined", "none", "string", "number", "integer", "float", "boolean", "true",
      "false", "mapping", "iterable", "sequence", "callable", "eq", "equalto", "==", "ne", "!=",
      "sameas", "lt", "<", "lessthan", "le", "<=", "gt", ">", "greaterthan", "ge", ">=", "in",
      "odd", "even", "divisibleby", "lower", "upper", "escaped", "filter", "test"};
  for (const char* k : kNames) {
    if (n == k) return true;
  }
  return false;
}

Value builtin_global(const std::string& name) {
  if (name == "raise_exception") {
    return Value::func(name, [](CallArgs& a) -> Result<Value> {
      return Error(a.get(0, "message", Value("")).to_str());
    });
  }
  if (name == "strftime_now") {
    return Value::func(name, [](CallArgs& a) -> Result<Value> {
      std::string f = a.get(0, "format", Value("")).to_str();
      std::time_t now = std::time(nullptr);
      std::tm tm{};
      localtime_r(&now, &tm);
      char buf[512];
      size_t n = f.empty() ? 0 : std::strftime(buf, sizeof(buf), f.c_str(), &tm);
      return Value(std::string(buf, n));
    });
  }
  if (name == "range") {
    return Value::func(name, [](CallArgs& a) -> Result<Value> {
      for (const auto& v : a.args) {
        if (!v.is_int() && !v.is_bool()) return errorf("'{}' object cannot be interpreted as an integer", v.type_name());
      }
      int64_t start = 0, stop = 0, step = 1;
      if (a.args.size() == 1) stop = a.args[0].as_int();
      else if (a.args.size() >= 2) {
        start = a.args[0].as_int();
        stop = a.args[1].as_int();
        if (a.args.size() >= 3) step = a.args[2].as_int();
      } else {
        return Error("range expected at least 1 argument, got 0");
      }
      if (step == 0) return Error("range() arg 3 must not be zero");
      ValueList out;
      for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        // jinja2's sandbox caps range() at MAX_RANGE = 100000 items.
        if (out.size() >= 100000) return Error("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
        out.push_back(Value(i));
      }
      return Value::list(std::move(out));
    });
  }
  if (name == "namespace" || name == "dict") {
    bool ns = name == "namespace";
    return Value::func(name, [ns](CallArgs& a) -> Result<Value> {
      Value d = ns ? Value::namespace_() : Value::dict();
      for (const auto& pos : a.args) {
        if (!pos.is_dict()) return errorf("{}() positional argument must be a mapping", ns ? "namespace" : "dict");
        for (const auto& [k, v] : pos.dict_data().entries) d.dict_data().set(k, v);
      }
      for (const auto& [k, v] : a.kwargs) d.dict_data().set(Value(k), v);
      return d;
    });
  }
  return Value();
}

}  // namespace lm::chat::jinja
