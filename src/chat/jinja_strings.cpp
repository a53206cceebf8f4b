// Python str methods as templates call them (message.content.strip(), .split('</think>'), ...),
// plus dict and list methods. Case mapping is ASCII-only (templates apply it to role names and
// keywords).
#include <fmt/format.h>

#include <algorithm>

#include "chat/jinja_interp.h"

namespace lm::chat::jinja {
namespace {

bool py_space(char32_t c) {
  return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}
bool is_lower(char32_t c) { return c >= 'a' && c <= 'z'; }
bool is_upper(char32_t c) { return c >= 'A' && c <= 'Z'; }
bool is_alpha(char32_t c) { return is_lower(c) || is_upper(c) || (c >= 0xC0 && c != 0xD7 && c != 0xF7 && c < 0x2000); }
bool is_digit(char32_t c) { return c >= '0' && c <= '9'; }
// Simple case mapping for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic (Python maps all
// of Unicode, including one-to-many mappings such as 'ß' -> 'SS', which are not covered here).
bool latin_ext_a_pair(char32_t c) {
  return c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x131 && c != 0x138 && c != 0x149 && c != 0x17F;
}
bool latin_ext_a_odd_upper(char32_t c) { return (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E); }
char32_t to_upper(char32_t c) {
  if (is_lower(c)) return c - 32;
  if (c < 0xB5) return c;
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
  if (c == 0xFF) return 0x178;
  if (latin_ext_a_pair(c)) {
    bool odd_upper = latin_ext_a_odd_upper(c);
    bool is_low = odd_upper ? (c % 2 == 0) : (c % 2 == 1);
    return is_low ? c - 1 : c;
  }
  if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
  if (c == 0x3C2) return 0x3A3;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return c;
}
char32_t to_lower(char32_t c) {
  if (is_upper(c)) return c + 32;
  if (c < 0xC0) return c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c == 0x178) return 0xFF;
  if (latin_ext_a_pair(c)) {
    bool odd_upper = latin_ext_a_odd_upper(c);
    bool is_up = odd_upper ? (c % 2 == 1) : (c % 2 == 0);
    return is_up ? c + 1 : c;
  }
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

Result<std::string> str_arg(const CallArgs& a, size_t i, std::string_view name, const char* method) {
  Value v = a.get(i, name);
  if (!v.is_string()) return errorf("{}() argument must be str, not {}", method, v.type_name());
  return v.str();
}

std::string strip(const std::string& s, const Value& chars, bool left, bool right) {
  std::u32string u = utf8_decode(s);
  std::u32string set;
  bool ws = chars.is_undefined() || chars.is_none();
  if (!ws) set = utf8_decode(chars.to_str());
  auto strip_it = [&](char32_t c) { return ws ? py_space(c) : set.find(c) != std::u32string::npos; };
  size_t b = 0, e = u.size();
  if (left) {
    while (b < e && strip_it(u[b])) ++b;
  }
  if (right) {
    while (e > b && strip_it(u[e - 1])) --e;
  }
  return utf8_encode(u.substr(b, e - b));
}

// str.split / str.rsplit.
Value split(const std::string& s, const Value& sep_v, int64_t maxsplit, bool from_right) {
  ValueList parts;
  if (sep_v.is_undefined() || sep_v.is_none()) {
    std::u32string u = utf8_decode(s);
    std::vector<std::u32string> words;
    if (!from_right) {
      size_t i = 0;
      while (i < u.size()) {
        while (i < u.size() && py_space(u[i])) ++i;
        if (i >= u.size()) break;
        if (maxsplit >= 0 && static_cast<int64_t>(words.size()) == maxsplit) {
          size_t e = u.size();
          while (e > i && py_space(u[e - 1])) --e;
          words.push_back(u.substr(i, e - i));
          break;
        }
        size_t j = i;
        while (j < u.size() && !py_space(u[j])) ++j;
        words.push_back(u.substr(i, j - i));
        i = j;
      }
    } else {
      int64_t i = static_cast<int64_t>(u.size()) - 1;
      while (i >= 0) {
        while (i >= 0 && py_space(u[static_cast<size_t>(i)])) --i;
        if (i < 0) break;
        if (maxsplit >= 0 && static_cast<int64_t>(words.size()) == maxsplit) {
          size_t b = 0;
          while (b < static_cast<size_t>(i) && py_space(u[b])) ++b;
          words.push_back(u.substr(b, static_cast<size_t>(i) + 1 - b));
          break;
        }
        int64_t j = i;
        while (j >= 0 && !py_space(u[static_cast<size_t>(j)])) --j;
        words.push_back(u.substr(static_cast<size_t>(j + 1), static_cast<size_t>(i - j)));
        i = j;
      }
      std::reverse(words.begin(), words.end());
    }
    for (auto& w : words) parts.push_back(Value(utf8_encode(w)));
    return Value::list(std::move(parts));
  }
  const std::string sep = sep_v.to_str();
  std::vector<std::string> out;
  if (!from_right) {
    size_t pos = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      size_t f = s.find(sep, pos);
      if (f == std::string::npos) break;
      out.push_back(s.substr(pos, f - pos));
      pos = f + sep.size();
    }
    out.push_back(s.substr(pos));
  } else {
    size_t end = s.size();
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      if (end < sep.size()) break;
      size_t f = s.rfind(sep, end - sep.size());
      if (f == std::string::npos) break;
      out.push_back(s.substr(f + sep.size(), end - f - sep.size()));
      end = f;
    }
    out.push_back(s.substr(0, end));
    std::reverse(out.begin(), out.end());
  }
  for (auto& p : out) parts.push_back(Value(std::move(p)));
  return Value::list(std::move(parts));
}

std::string replace(const std::string& s, const std::string& old, const std::string& neu, int64_t count) {
  std::string out;
  size_t pos = 0;
  int64_t n = 0;
  if (old.empty()) {
    // Python inserts `neu` between every character (and at both ends).
    std::u32string u = utf8_decode(s);
    for (size_t i = 0; i <= u.size(); ++i) {
      if (count < 0 || n < count) {
        out += neu;
        ++n;
      }
      if (i < u.size()) utf8_append(out, u[i]);
    }
    return out;
  }
  while (count < 0 || n < count) {
    size_t f = s.find(old, pos);
    if (f == std::string::npos) break;
    out.append(s, pos, f - pos);
    out += neu;
    pos = f + old.size();
    ++n;
  }
  out.append(s, pos);
  return out;
}

// True when s starts (ends) with the prefix, or any prefix of a tuple.
Result<bool> affix(const std::string& s, const Value& p, bool start) {
  if (p.is_list()) {
    for (const auto& x : p.items()) {
      LM_TRY(bool r, affix(s, x, start));
      if (r) return true;
    }
    return false;
  }
  if (!p.is_string()) return errorf("{}with first arg must be str or a tuple of str, not {}",
                                    start ? "starts" : "ends", p.type_name());
  const std::string& x = p.str();
  if (x.size() > s.size()) return false;
  return start ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0;
}

// str.format with {} / {0} / {name} fields (no format specs beyond plain replacement).
Result<Value> format(const std::string& s, const CallArgs& a) {
  std::string out;
  size_t auto_idx = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '{' && i + 1 < s.size() && s[i + 1] == '{') {
      out.push_back('{');
      ++i;
    } else if (c == '}' && i + 1 < s.size() && s[i + 1] == '}') {
      out.push_back('}');
      ++i;
    } else if (c == '{') {
      size_t e = s.find('}', i);
      if (e == std::string::npos) return Error("Single '{' encountered in format string");
      std::string field = s.substr(i + 1, e - i - 1);
      if (field.find(':') != std::string::npos || field.find('!') != std::string::npos) {
        return Error("format specs are not supported");
      }
      Value v;
      if (field.empty()) {
        if (auto_idx >= a.args.size()) return Error("Replacement index out of range");
        v = a.args[auto_idx++];
      } else if (std::all_of(field.begin(), field.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
        size_t k = std::stoul(field);
        if (k >= a.args.size()) return Error("Replacement index out of range");
        v = a.args[k];
      } else {
        if (!a.has(SIZE_MAX, field)) return errorf("KeyError: '{}'", field);
        v = a.get(SIZE_MAX, field);
      }
      out += v.to_str();
      i = e;
    } else {
      out.push_back(c);
    }
  }
  return Value(std::move(out));
}

std::string map_chars(const std::string& s, char32_t (*f)(char32_t)) {
  std::u32string u = utf8_decode(s);
  for (auto& c : u) c = f(c);
  return utf8_encode(u);
}

std::string py_title(const std::string& s) {
  std::u32string u = utf8_decode(s);
  bool prev_cased = false;
  for (auto& c : u) {
    c = prev_cased ? to_lower(c) : to_upper(c);
    prev_cased = is_alpha(c);
  }
  return utf8_encode(u);
}

std::string py_capitalize(const std::string& s) {
  std::u32string u = utf8_decode(s);
  for (size_t i = 0; i < u.size(); ++i) u[i] = i == 0 ? to_upper(u[i]) : to_lower(u[i]);
  return utf8_encode(u);
}

template <typename Pred>
bool all_chars(const std::string& s, Pred p) {
  std::u32string u = utf8_decode(s);
  return !u.empty() && std::all_of(u.begin(), u.end(), p);
}

Value splitlines(const std::string& s, bool keepends) {
  std::u32string u = utf8_decode(s);
  ValueList out;
  size_t start = 0;
  for (size_t i = 0; i < u.size(); ++i) {
    char32_t c = u[i];
    bool br = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
              c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!br) continue;
    size_t end = i;
    if (c == '\r' && i + 1 < u.size() && u[i + 1] == '\n') ++i;
    out.push_back(Value(utf8_encode(u.substr(start, (keepends ? i + 1 : end) - start))));
    start = i + 1;
  }
  if (start < u.size()) out.push_back(Value(utf8_encode(u.substr(start))));
  return Value::list(std::move(out));
}

Result<Value> find(const std::string& s, const std::string& sub, bool reverse, bool raise) {
  size_t f = reverse ? s.rfind(sub) : s.find(sub);
  if (f == std::string::npos) {
    if (raise) return Error("substring not found");
    return Value(static_cast<int64_t>(-1));
  }
  return Value(static_cast<int64_t>(utf8_decode(s.substr(0, f)).size()));
}

Result<Value> string_method(const std::string& s, const std::string& m, CallArgs& a) {
  if (m == "strip" || m == "lstrip" || m == "rstrip") {
    return Value(strip(s, a.get(0, "chars"), m != "rstrip", m != "lstrip"));
  }
  if (m == "split" || m == "rsplit") {
    Value ms = a.get(1, "maxsplit", Value(static_cast<int64_t>(-1)));
    Value sep = a.get(0, "sep");
    // Python raises ValueError here (an empty separator would split forever).
    if (!sep.is_undefined() && !sep.is_none() && sep.to_str().empty()) return Error("empty separator");
    return split(s, sep, ms.is_number() ? ms.as_int() : -1, m == "rsplit");
  }
  if (m == "upper") return Value(map_chars(s, to_upper));
  if (m == "lower" || m == "casefold") return Value(map_chars(s, to_lower));
  if (m == "title") return Value(py_title(s));
  if (m == "capitalize") return Value(py_capitalize(s));
  if (m == "startswith" || m == "endswith") {
    LM_TRY(bool r, affix(s, a.get(0, "prefix"), m == "startswith"));
    return Value(r);
  }
  if (m == "replace") {
    LM_TRY(std::string old, str_arg(a, 0, "old", "replace"));
    LM_TRY(std::string neu, str_arg(a, 1, "new", "replace"));
    Value c = a.get(2, "count", Value(static_cast<int64_t>(-1)));
    return Value(replace(s, old, neu, c.is_number() ? c.as_int() : -1));
  }
  if (m == "find" || m == "rfind" || m == "index" || m == "rindex") {
    LM_TRY(std::string sub, str_arg(a, 0, "sub", m.c_str()));
    return find(s, sub, m[0] == 'r', m.find("index") != std::string::npos);
  }
  if (m == "count") {
    LM_TRY(std::string sub, str_arg(a, 0, "sub", "count"));
    if (sub.empty()) return Value(static_cast<int64_t>(utf8_decode(s).size() + 1));
    int64_t n = 0;
    for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
    return Value(n);
  }
  if (m == "join") {
    LM_TRY(ValueList items, iterate(a.get(0, "iterable")));
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string()) return errorf("sequence item {}: expected str instance, {} found", i, items[i].type_name());
      if (i) out += s;
      out += items[i].str();
    }
    return Value(std::move(out));
  }
  if (m == "format") return format(s, a);
  if (m == "splitlines") return splitlines(s, a.get(0, "keepends").truthy());
  if (m == "isdigit" || m == "isnumeric" || m == "isdecimal") return Value(all_chars(s, is_digit));
  if (m == "isalpha") return Value(all_chars(s, is_alpha));
  if (m == "isalnum") return Value(all_chars(s, [](char32_t c) { return is_alpha(c) || is_digit(c); }));
  if (m == "isspace") return Value(all_chars(s, py_space));
  if (m == "islower" || m == "isupper") {
    std::u32string u = utf8_decode(s);
    bool any = false, ok = true;
    for (char32_t c : u) {
      if (is_lower(c) || is_upper(c)) any = true;
      if (m == "islower" ? is_upper(c) : is_lower(c)) ok = false;
    }
    return Value(any && ok);
  }
  if (m == "removeprefix" || m == "removesuffix") {
    LM_TRY(std::string x, str_arg(a, 0, "prefix", m.c_str()));
    LM_TRY(bool has, affix(s, Value(x), m == "removeprefix"));
    if (!has) return Value(s);
    return Value(m == "removeprefix" ? s.substr(x.size()) : s.substr(0, s.size() - x.size()));
  }
  if (m == "partition" || m == "rpartition") {
    LM_TRY(std::string sep, str_arg(a, 0, "sep", m.c_str()));
    if (sep.empty()) return Error("empty separator");
    size_t f = m == "partition" ? s.find(sep) : s.rfind(sep);
    if (f == std::string::npos) {
      return m == "partition" ? Value::list({Value(s), Value(""), Value("")}, true)
                              : Value::list({Value(""), Value(""), Value(s)}, true);
    }
    return Value::list({Value(s.substr(0, f)), Value(sep), Value(s.substr(f + sep.size()))}, true);
  }
  return errorf("'str' object has no attribute '{}'", m);
}

const char* const kStringMethods[] = {
    "strip", "lstrip", "rstrip", "split", "rsplit", "upper", "lower", "casefold", "title",
    "capitalize", "startswith", "endswith", "replace", "find", "rfind", "index", "rindex", "count",
    "join", "format", "splitlines", "isdigit", "isnumeric", "isdecimal", "isalpha", "isalnum",
    "isspace", "islower", "isupper", "removeprefix", "removesuffix", "partition", "rpartition"};
const char* const kDictMethods[] = {"items", "keys", "values", "get", "copy", "pop", "popitem",
                                    "update", "setdefault", "clear"};
const char* const kListMethods[] = {"index", "count", "copy", "append", "extend", "insert", "pop",
                                    "remove", "reverse", "sort", "clear"};

template <size_t N>
bool in_list(const char* const (&list)[N], const std::string& name) {
  for (const char* n : list) {
    if (name == n) return true;
  }
  return false;
}

bool is_mutating(const std::string& m) {
  return m == "append" || m == "extend" || m == "insert" || m == "pop" || m == "remove" || m == "reverse" ||
         m == "sort" || m == "clear" || m == "popitem" || m == "update" || m == "setdefault";
}

}  // namespace

bool has_method(const Value& obj, const std::string& name) {
  if (obj.is_string()) return in_list(kStringMethods, name);
  if (obj.is_dict() && !obj.is_namespace()) return in_list(kDictMethods, name);
  if (obj.is_list()) return in_list(kListMethods, name);
  return false;
}

Result<Value> call_method(Interp& in, const Value& obj, const std::string& m, CallArgs& a) {
  if (is_mutating(m)) {
    // jinja2's ImmutableSandboxedEnvironment refuses methods that modify lists and dicts.
    return errorf("access to attribute '{}' of '{}' object is unsafe.", m, obj.type_name());
  }
  if (obj.is_string()) {
    auto r = string_method(obj.str(), m, a);
    if (r.ok() && r->is_string()) LM_TRY_STATUS(in.check_size(r->str().size()));
    return r;
  }
  if (obj.is_dict()) {
    const auto& d = obj.dict_data();
    if (m == "items") {
      ValueList out;
      for (const auto& [k, v] : d.entries) out.push_back(Value::list({k, v}, true));
      return Value::list(std::move(out));
    }
    if (m == "keys" || m == "values") {
      ValueList out;
      for (const auto& [k, v] : d.entries) out.push_back(m == "keys" ? k : v);
      return Value::list(std::move(out));
    }
    if (m == "get") {
      const Value* v = d.find(a.get(0, "key"));
      return v ? *v : a.get(1, "default", Value::none());
    }
    if (m == "copy") {
      Value c = Value::dict();
      c.dict_data().entries = d.entries;
      c.dict_data().depth = d.depth;
      return c;
    }
  }
  if (obj.is_list()) {
    const auto& items = obj.items();
    Value x = a.get(0, "value");
    if (m == "count") {
      int64_t n = 0;
      for (const auto& v : items) n += v.equals(x) ? 1 : 0;
      return Value(n);
    }
    if (m == "index") {
      for (size_t i = 0; i < items.size(); ++i) {
        if (items[i].equals(x)) return Value(static_cast<int64_t>(i));
      }
      return errorf("{} is not in list", x.repr());
    }
    if (m == "copy") return Value::list(items);
  }
  return errorf("'{}' object has no attribute '{}'", obj.type_name(), m);
}

}  // namespace lm::chat::jinja
