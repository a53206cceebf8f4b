#include "sampling/json_schema.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "core/check.h"

namespace lm::sampling {
namespace {

using json = nlohmann::ordered_json;

constexpr int kMaxIntDigits = 16;
constexpr int kMaxFracDigits = 16;
constexpr int kMaxDepth = 64;   // nested schemas (not $ref hops, which become rules)
constexpr uint64_t kUintInf = ~uint64_t{0};
constexpr int32_t kMaxParallelCalls = 8;   // forced tool calls in one reply

std::string pointer_escape(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

Expr digits(int32_t min, int32_t max) { return Expr::repeat(Expr::cls({{'0', '9'}}), min, max); }

// Decimal strings of the same length d, from a to b (a <= b, no sign).
Expr same_length_range(std::string_view a, std::string_view b) {
  if (a.empty()) return Expr::empty();
  if (a[0] == b[0]) return Expr::seq({Expr::lit(a.substr(0, 1)), same_length_range(a.substr(1), b.substr(1))});
  const size_t rest = a.size() - 1;
  std::vector<Expr> alts;
  alts.push_back(Expr::seq({Expr::lit(a.substr(0, 1)), same_length_range(a.substr(1), std::string(rest, '9'))}));
  if (a[0] + 1 <= b[0] - 1)
    alts.push_back(Expr::seq({Expr::cls({{static_cast<uint32_t>(a[0] + 1), static_cast<uint32_t>(b[0] - 1)}}),
                              digits(static_cast<int32_t>(rest), static_cast<int32_t>(rest))}));
  alts.push_back(Expr::seq({Expr::lit(b.substr(0, 1)), same_length_range(std::string(rest, '0'), b.substr(1))}));
  return Expr::alt(std::move(alts));
}

// Decimal integers without sign or leading zeros in [lo, hi] (hi = kUintInf: up to the digit cap).
Expr uint_range(uint64_t lo, uint64_t hi) {
  const std::string slo = std::to_string(lo);
  const int max_len = hi == kUintInf ? kMaxIntDigits : static_cast<int>(std::to_string(hi).size());
  std::vector<Expr> alts;
  for (int d = static_cast<int>(slo.size()); d <= max_len; ++d) {
    uint64_t pow10 = 1;   // 10^(d-1)
    for (int i = 1; i < d; ++i) pow10 *= 10;
    const uint64_t pow_lo = d == 1 ? 0 : pow10, pow_hi = pow10 * 10 - 1;
    const uint64_t a = std::max(lo, pow_lo), b = std::min(hi, pow_hi);
    if (a > b) continue;
    if (a == pow_lo && b == pow_hi && d > 1) {
      alts.push_back(Expr::seq({Expr::cls({{'1', '9'}}), digits(d - 1, d - 1)}));
      continue;
    }
    alts.push_back(same_length_range(std::to_string(a), std::to_string(b)));
  }
  if (alts.empty()) return Expr::lit("0");   // unreachable for lo <= hi
  return Expr::alt(std::move(alts));
}

class SchemaCompiler {
 public:
  SchemaCompiler(GrammarBuilder& b, const json& root, const JsonGrammarOptions& opt)
      : b_(b), root_(root), opt_(opt) {}

  Result<Expr> value(const json& s, const std::string& ptr, int depth);

  int32_t ws() {
    if (ws_ < 0) {
      ws_ = b_.fresh_rule("ws");
      b_.define(ws_, Expr::repeat(Expr::cls({{' ', ' '}, {'\t', '\t'}, {'\n', '\n'}}), 0, opt_.max_whitespace));
    }
    return ws_;
  }
  Expr w() { return Expr::ref(ws()); }

  int32_t string_char() {
    if (char_ < 0) {
      char_ = b_.fresh_rule("char");
      const Expr hex = Expr::cls({{'0', '9'}, {'a', 'f'}, {'A', 'F'}});
      b_.define(char_, Expr::alt({Expr::cls({{'"', '"'}, {'\\', '\\'}, {0, 0x1F}}, true),
                                  Expr::seq({Expr::lit("\\"), Expr::alt({Expr::cls({{'"', '"'}, {'\\', '\\'}, {'/', '/'}, {'b', 'b'}, {'f', 'f'}, {'n', 'n'}, {'r', 'r'}, {'t', 't'}}),
                                                                          Expr::seq({Expr::lit("u"), Expr::repeat(hex, 4, 4)})})})}));
    }
    return char_;
  }
  Expr string(int32_t min = 0, int32_t max = -1) {
    return Expr::seq({Expr::lit("\""), Expr::repeat(Expr::ref(string_char()), min, max), Expr::lit("\"")});
  }
  Expr number(bool nonneg) {
    Expr intpart = Expr::alt({Expr::lit("0"), Expr::seq({Expr::cls({{'1', '9'}}), digits(0, kMaxIntDigits - 1)})});
    std::vector<Expr> parts;
    if (!nonneg) parts.push_back(Expr::opt(Expr::lit("-")));
    parts.push_back(std::move(intpart));
    parts.push_back(Expr::opt(Expr::seq({Expr::lit("."), digits(1, kMaxFracDigits)})));
    parts.push_back(Expr::opt(Expr::seq({Expr::cls({{'e', 'e'}, {'E', 'E'}}), Expr::opt(Expr::cls({{'+', '+'}, {'-', '-'}})), digits(1, 2)})));
    return Expr::seq(std::move(parts));
  }
  int32_t any_value();

 private:
  Result<Expr> by_type(const json& s, const std::string& type, const std::string& ptr, int depth);
  Result<Expr> object(const json& s, const std::string& ptr, int depth);
  Result<Expr> array(const json& s, const std::string& ptr, int depth);
  Result<Expr> string_schema(const json& s, const std::string& ptr);
  Result<Expr> integer(const json& s, const std::string& ptr);
  Result<Expr> ref(const json& s, const std::string& ptr);
  Result<Expr> all_of(const json& s, const std::string& ptr, int depth);
  Result<Expr> list_of(const json& s, const char* key, const std::string& ptr, int depth);

  GrammarBuilder& b_;
  const json& root_;
  JsonGrammarOptions opt_;
  std::map<std::string, int32_t> refs_;
  int32_t ws_ = -1, char_ = -1, any_ = -1;
};

Error unsupported(std::string_view keyword, const std::string& ptr) {
  return errorf("unsupported keyword '{}' at {}", keyword, ptr.empty() ? "/" : ptr);
}

bool get_count(const json& s, const char* key, int32_t* out, const std::string& ptr, Error* err) {
  auto it = s.find(key);
  if (it == s.end()) return true;
  if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 100000) {
    *err = errorf("'{}' at {} must be an integer in [0, 100000]", key, ptr.empty() ? "/" : ptr);
    return false;
  }
  *out = static_cast<int32_t>(it->get<int64_t>());
  return true;
}

int32_t SchemaCompiler::any_value() {
  if (any_ >= 0) return any_;
  any_ = b_.fresh_rule("value");
  const int32_t v = any_;
  Expr member = Expr::seq({string(), w(), Expr::lit(":"), w(), Expr::ref(v)});
  Expr obj = Expr::seq({Expr::lit("{"), w(),
                        Expr::opt(Expr::seq({member, Expr::repeat(Expr::seq({w(), Expr::lit(","), w(), member}), 0, -1)})),
                        w(), Expr::lit("}")});
  Expr arr = Expr::seq({Expr::lit("["), w(),
                        Expr::opt(Expr::seq({Expr::ref(v), Expr::repeat(Expr::seq({w(), Expr::lit(","), w(), Expr::ref(v)}), 0, -1)})),
                        w(), Expr::lit("]")});
  b_.define(v, Expr::alt({std::move(obj), std::move(arr), string(), number(false), Expr::lit("true"),
                          Expr::lit("false"), Expr::lit("null")}));
  return v;
}

Result<Expr> SchemaCompiler::value(const json& s, const std::string& ptr, int depth) {
  if (depth > kMaxDepth) return errorf("the schema is nested too deeply at {}", ptr);
  if (s.is_boolean()) {
    if (s.get<bool>()) return Expr::ref(any_value());
    return errorf("the schema at {} is false: no value is valid", ptr.empty() ? "/" : ptr);
  }
  if (!s.is_object()) return errorf("the schema at {} must be an object or a boolean", ptr.empty() ? "/" : ptr);
  static const char* kUnsupported[] = {
      "pattern", "patternProperties", "minProperties", "maxProperties", "multipleOf", "uniqueItems",
      "contains", "minContains", "maxContains", "not", "if", "then", "else", "dependentRequired",
      "dependentSchemas", "dependencies", "propertyNames", "unevaluatedProperties", "unevaluatedItems",
      "$dynamicRef", "$recursiveRef", "additionalItems", "contentEncoding", "contentSchema"};
  for (const char* k : kUnsupported)
    if (s.contains(k)) return unsupported(k, ptr);
  if (s.contains("$ref")) return ref(s, ptr);
  if (s.contains("const")) return Expr::lit(s["const"].dump());
  if (s.contains("enum")) {
    const json& e = s["enum"];
    if (!e.is_array() || e.empty()) return errorf("'enum' at {} must be a non-empty array", ptr);
    std::vector<Expr> alts;
    for (const json& v : e) alts.push_back(Expr::lit(v.dump()));
    return Expr::alt(std::move(alts));
  }
  if (s.contains("anyOf")) return list_of(s, "anyOf", ptr, depth);
  if (s.contains("oneOf")) return list_of(s, "oneOf", ptr, depth);
  if (s.contains("allOf")) return all_of(s, ptr, depth);
  auto t = s.find("type");
  if (t == s.end()) {
    if (s.contains("properties") || s.contains("additionalProperties") || s.contains("required"))
      return by_type(s, "object", ptr, depth);
    if (s.contains("items") || s.contains("prefixItems") || s.contains("minItems") || s.contains("maxItems"))
      return by_type(s, "array", ptr, depth);
    if (s.contains("minLength") || s.contains("maxLength") || s.contains("format"))
      return by_type(s, "string", ptr, depth);
    if (s.contains("minimum") || s.contains("maximum") || s.contains("exclusiveMinimum") ||
        s.contains("exclusiveMaximum"))
      return unsupported("minimum", ptr);   // on a value of any type: only integers are bounded
    return Expr::ref(any_value());
  }
  if (t->is_string()) return by_type(s, t->get<std::string>(), ptr, depth);
  if (!t->is_array() || t->empty()) return errorf("'type' at {} must be a string or a non-empty array", ptr);
  std::vector<Expr> alts;
  for (const json& one : *t) {
    if (!one.is_string()) return errorf("'type' at {} must list strings", ptr);
    LM_TRY(Expr e, by_type(s, one.get<std::string>(), ptr, depth));
    alts.push_back(std::move(e));
  }
  return Expr::alt(std::move(alts));
}

Result<Expr> SchemaCompiler::list_of(const json& s, const char* key, const std::string& ptr, int depth) {
  const json& list = s[key];
  if (!list.is_array() || list.empty()) return errorf("'{}' at {} must be a non-empty array", key, ptr);
  std::vector<Expr> alts;
  for (size_t i = 0; i < list.size(); ++i) {
    LM_TRY(Expr e, value(list[i], fmt::format("{}/{}/{}", ptr, key, i), depth + 1));
    alts.push_back(std::move(e));
  }
  return Expr::alt(std::move(alts));
}

Result<Expr> SchemaCompiler::ref(const json& s, const std::string& ptr) {
  if (!s["$ref"].is_string()) return errorf("'$ref' at {} must be a string", ptr);
  const std::string r = s["$ref"].get<std::string>();
  auto it = refs_.find(r);
  if (it != refs_.end()) return Expr::ref(it->second);
  if (r.empty() || r[0] != '#')
    return errorf("unsupported keyword '$ref' at {}: only local references (#/...) are supported, got \"{}\"",
                  ptr.empty() ? "/" : ptr, r);
  const json* target = nullptr;
  try {
    json::json_pointer jp(r.substr(1));
    if (root_.contains(jp)) target = &root_.at(jp);
  } catch (const json::exception&) {
  }
  if (!target) return errorf("'$ref' at {}: \"{}\" does not resolve in this schema", ptr, r);
  const int32_t rule = b_.fresh_rule("ref");
  refs_[r] = rule;   // before compiling the target: recursion finds it
  LM_TRY(Expr body, value(*target, r.substr(1), 0));
  b_.define(rule, std::move(body));
  return Expr::ref(rule);
}

Result<Expr> SchemaCompiler::all_of(const json& s, const std::string& ptr, int depth) {
  const json& list = s["allOf"];
  if (!list.is_array() || list.empty()) return errorf("'allOf' at {} must be a non-empty array", ptr);
  if (list.size() == 1) return value(list[0], ptr + "/allOf/0", depth + 1);
  json merged = {{"type", "object"}, {"properties", json::object()}, {"required", json::array()}};
  for (size_t i = 0; i < list.size(); ++i) {
    const json* sub = &list[i];
    const std::string sp = fmt::format("{}/allOf/{}", ptr, i);
    if (sub->is_object() && sub->contains("$ref") && (*sub)["$ref"].is_string()) {
      const std::string r = (*sub)["$ref"].get<std::string>();
      try {
        if (!r.empty() && r[0] == '#' && root_.contains(json::json_pointer(r.substr(1))))
          sub = &root_.at(json::json_pointer(r.substr(1)));
      } catch (const json::exception&) {
      }
    }
    const bool objectish = sub->is_object() && !sub->contains("$ref") &&
                           (sub->value("type", json("object")) == "object") && !sub->contains("anyOf") &&
                           !sub->contains("oneOf") && !sub->contains("allOf");
    if (!objectish) return unsupported("allOf", sp + ": only object schemas can be merged");
    const json props = sub->value("properties", json::object());
    const json req = sub->value("required", json::array());
    for (auto& [k, v] : props.items()) merged["properties"][k] = v;
    for (const json& r : req) merged["required"].push_back(r);
    if (sub->contains("additionalProperties")) merged["additionalProperties"] = (*sub)["additionalProperties"];
  }
  return value(merged, ptr, depth + 1);
}

Result<Expr> SchemaCompiler::by_type(const json& s, const std::string& type, const std::string& ptr, int depth) {
  if (type == "object") return object(s, ptr, depth);
  if (type == "array") return array(s, ptr, depth);
  if (type == "string") return string_schema(s, ptr);
  if (type == "integer") return integer(s, ptr);
  if (type == "number") {
    for (const char* k : {"maximum", "exclusiveMinimum", "exclusiveMaximum"})
      if (s.contains(k)) return unsupported(k, ptr);
    bool nonneg = false;
    if (s.contains("minimum")) {
      if (!s["minimum"].is_number() || s["minimum"].get<double>() != 0.0)
        return unsupported("minimum", ptr + " (numbers support only minimum 0; integers support any)");
      nonneg = true;
    }
    return number(nonneg);
  }
  if (type == "boolean") return Expr::alt({Expr::lit("true"), Expr::lit("false")});
  if (type == "null") return Expr::lit("null");
  return errorf("'type' at {}: unknown type \"{}\"", ptr.empty() ? "/" : ptr, type);
}

Result<Expr> SchemaCompiler::string_schema(const json& s, const std::string& ptr) {
  int32_t min = 0, max = -1;
  Error err("");
  if (!get_count(s, "minLength", &min, ptr, &err) || !get_count(s, "maxLength", &max, ptr, &err)) return err;
  if (max >= 0 && max < min) return errorf("maxLength < minLength at {}", ptr);
  const std::string format = s.value("format", std::string());
  const auto d = [](int n) { return digits(n, n); };
  const Expr two = Expr::cls({{'0', '9'}});
  if (format == "date" || format == "date-time" || format == "time" || format == "uuid") {
    if (s.contains("minLength") || s.contains("maxLength"))
      return unsupported(s.contains("minLength") ? "minLength" : "maxLength", ptr + " (with a format)");
  }
  // Days valid in every year (no February 29): the text always passes a date format check.
  Expr date = Expr::seq(
      {d(4), Expr::lit("-"),
       Expr::alt({Expr::seq({Expr::alt({Expr::lit("01"), Expr::lit("03"), Expr::lit("05"), Expr::lit("07"), Expr::lit("08"), Expr::lit("10"), Expr::lit("12")}),
                             Expr::lit("-"), Expr::alt({Expr::seq({Expr::lit("0"), Expr::cls({{'1', '9'}})}), Expr::seq({Expr::cls({{'1', '2'}}), two}), Expr::seq({Expr::lit("3"), Expr::cls({{'0', '1'}})})})}),
                  Expr::seq({Expr::alt({Expr::lit("04"), Expr::lit("06"), Expr::lit("09"), Expr::lit("11")}),
                             Expr::lit("-"), Expr::alt({Expr::seq({Expr::lit("0"), Expr::cls({{'1', '9'}})}), Expr::seq({Expr::cls({{'1', '2'}}), two}), Expr::lit("30")})}),
                  Expr::seq({Expr::lit("02-"), Expr::alt({Expr::seq({Expr::lit("0"), Expr::cls({{'1', '9'}})}), Expr::seq({Expr::lit("1"), two}), Expr::seq({Expr::lit("2"), Expr::cls({{'0', '8'}})})})})})});
  Expr hh = Expr::alt({Expr::seq({Expr::cls({{'0', '1'}}), two}), Expr::seq({Expr::lit("2"), Expr::cls({{'0', '3'}})})});
  Expr mm = Expr::seq({Expr::cls({{'0', '5'}}), two});
  Expr time = Expr::seq({hh, Expr::lit(":"), mm, Expr::lit(":"), mm, Expr::opt(Expr::seq({Expr::lit("."), digits(1, 6)})),
                         Expr::alt({Expr::lit("Z"), Expr::seq({Expr::cls({{'+', '+'}, {'-', '-'}}), hh, Expr::lit(":"), mm})})});
  const Expr hex = Expr::cls({{'0', '9'}, {'a', 'f'}});
  const auto h = [&](int n) { return Expr::repeat(hex, n, n); };
  if (format == "date") return Expr::seq({Expr::lit("\""), date, Expr::lit("\"")});
  if (format == "time") return Expr::seq({Expr::lit("\""), time, Expr::lit("\"")});
  if (format == "date-time") return Expr::seq({Expr::lit("\""), date, Expr::lit("T"), time, Expr::lit("\"")});
  if (format == "uuid")
    return Expr::seq({Expr::lit("\""), h(8), Expr::lit("-"), h(4), Expr::lit("-"), h(4), Expr::lit("-"), h(4),
                      Expr::lit("-"), h(12), Expr::lit("\"")});
  return string(min, max);
}

// An integer bound given as any JSON number, as the smallest / largest allowed integer.
bool int_bound(const json& s, const char* key, bool lower, bool exclusive, double* out) {
  auto it = s.find(key);
  if (it == s.end() || !it->is_number()) return false;
  double v = it->get<double>();
  if (lower) v = exclusive ? std::floor(v) + 1 : std::ceil(v);
  else v = exclusive ? std::ceil(v) - 1 : std::floor(v);
  *out = v;
  return true;
}

Result<Expr> SchemaCompiler::integer(const json& s, const std::string& ptr) {
  const double kLimit = 1e15;
  double lo = -kLimit * 10, hi = kLimit * 10, v = 0;
  bool has_lo = false, has_hi = false;
  if (int_bound(s, "minimum", true, false, &v)) lo = std::max(lo, v), has_lo = true;
  if (int_bound(s, "exclusiveMinimum", true, true, &v)) lo = std::max(lo, v), has_lo = true;
  if (int_bound(s, "maximum", false, false, &v)) hi = std::min(hi, v), has_hi = true;
  if (int_bound(s, "exclusiveMaximum", false, true, &v)) hi = std::min(hi, v), has_hi = true;
  if ((has_lo && std::fabs(lo) > kLimit) || (has_hi && std::fabs(hi) > kLimit))
    return unsupported(has_lo && std::fabs(lo) > kLimit ? "minimum" : "maximum", ptr + " (beyond 1e15)");
  if (has_lo && has_hi && lo > hi) return errorf("no integer lies within the bounds at {}", ptr);
  std::vector<Expr> alts;
  // Non-negative part [max(lo, 0), hi], then the negative part as "-" [max(1, -hi), -lo].
  if (!has_hi || hi >= 0) {
    const uint64_t a = has_lo && lo > 0 ? static_cast<uint64_t>(lo) : 0;
    alts.push_back(uint_range(a, has_hi ? static_cast<uint64_t>(hi) : kUintInf));
  }
  if (!has_lo || lo < 0) {
    const uint64_t a = has_hi && hi < 0 ? static_cast<uint64_t>(-hi) : 1;
    alts.push_back(Expr::seq({Expr::lit("-"), uint_range(a, has_lo ? static_cast<uint64_t>(-lo) : kUintInf)}));
  }
  return Expr::alt(std::move(alts));
}

Result<Expr> SchemaCompiler::object(const json& s, const std::string& ptr, int depth) {
  const json props = s.value("properties", json::object());
  if (!props.is_object()) return errorf("'properties' at {} must be an object", ptr);
  std::set<std::string> required;
  if (s.contains("required")) {
    if (!s["required"].is_array()) return errorf("'required' at {} must be an array", ptr);
    for (const json& r : s["required"]) {
      if (!r.is_string()) return errorf("'required' at {} must list strings", ptr);
      if (!props.contains(r.get<std::string>()))
        return unsupported("required", fmt::format("{} (\"{}\" is not in properties)", ptr, r.get<std::string>()));
      required.insert(r.get<std::string>());
    }
  }
  // kv_i, and A_i / B_i: "properties i.. with none / some already written" (commas placed right).
  std::vector<Expr> kv;
  std::vector<bool> req;
  // Keep the schema's property order (nlohmann::json sorts keys; ordered_json callers keep theirs).
  for (auto& [name, sub] : props.items()) {
    LM_TRY(Expr v, value(sub, ptr + "/properties/" + pointer_escape(name), depth + 1));
    kv.push_back(Expr::seq({Expr::lit(json(name).dump()), w(), Expr::lit(":"), w(), std::move(v)}));
    req.push_back(required.count(name) > 0);
  }
  const json extra = s.value("additionalProperties", json(false));
  Expr body = Expr::empty();
  if (kv.empty()) {
    if (!(extra.is_boolean() && !extra.get<bool>())) {
      LM_TRY(Expr v, value(extra, ptr + "/additionalProperties", depth + 1));
      Expr member = Expr::seq({string(), w(), Expr::lit(":"), w(), std::move(v)});
      body = Expr::opt(Expr::seq({member, Expr::repeat(Expr::seq({w(), Expr::lit(","), w(), member}), 0, -1)}));
    }
  } else {
    const size_t n = kv.size();
    std::vector<int32_t> a(n + 1), b(n + 1);
    for (size_t i = 0; i <= n; ++i) a[i] = b_.fresh_rule("props"), b[i] = b_.fresh_rule("props");
    b_.define(a[n], Expr::empty());
    b_.define(b[n], Expr::empty());
    for (size_t i = n; i-- > 0;) {
      Expr comma_kv = Expr::seq({w(), Expr::lit(","), w(), kv[i]});
      if (req[i]) {
        b_.define(b[i], Expr::seq({comma_kv, Expr::ref(b[i + 1])}));
        b_.define(a[i], Expr::seq({kv[i], Expr::ref(b[i + 1])}));
      } else {
        b_.define(b[i], Expr::seq({Expr::opt(comma_kv), Expr::ref(b[i + 1])}));
        b_.define(a[i], Expr::alt({Expr::seq({kv[i], Expr::ref(b[i + 1])}), Expr::ref(a[i + 1])}));
      }
    }
    body = Expr::ref(a[0]);
  }
  return Expr::seq({Expr::lit("{"), w(), std::move(body), w(), Expr::lit("}")});
}

Result<Expr> SchemaCompiler::array(const json& s, const std::string& ptr, int depth) {
  int32_t min = 0, max = -1;
  Error err("");
  if (!get_count(s, "minItems", &min, ptr, &err) || !get_count(s, "maxItems", &max, ptr, &err)) return err;
  if (max >= 0 && max < min) return errorf("maxItems < minItems at {}", ptr);
  std::vector<Expr> prefix;
  if (s.contains("prefixItems")) {
    const json& p = s["prefixItems"];
    if (!p.is_array()) return errorf("'prefixItems' at {} must be an array", ptr);
    for (size_t i = 0; i < p.size(); ++i) {
      LM_TRY(Expr e, value(p[i], fmt::format("{}/prefixItems/{}", ptr, i), depth + 1));
      prefix.push_back(std::move(e));
    }
  }
  // Prefix items are always written (fewer would validate too, but need not be generated).
  const int32_t k = static_cast<int32_t>(prefix.size());
  if (max >= 0 && k > max) return errorf("more prefixItems than maxItems at {}", ptr);
  const json items = s.value("items", json(prefix.empty()));
  int32_t extra_min = std::max(0, min - k), extra_max = max < 0 ? -1 : max - k;
  std::optional<Expr> item;
  if (!(items.is_boolean() && !items.get<bool>())) {
    LM_TRY(Expr e, value(items, ptr + "/items", depth + 1));
    item = std::move(e);
  } else if (extra_min > 0) {
    return errorf("minItems at {} needs more items than prefixItems allows", ptr);
  }
  if (!item) extra_min = extra_max = 0;
  if (!prefix.empty() && s.contains("items") && !s["items"].is_boolean() && !s.contains("maxItems")) extra_max = -1;
  if (!prefix.empty() && !s.contains("items")) extra_max = 0;
  std::vector<Expr> seq{Expr::lit("["), w()};
  const auto sep = [&] { return Expr::seq({w(), Expr::lit(","), w()}); };
  for (int32_t i = 0; i < k; ++i) {
    if (i > 0) seq.push_back(sep());
    seq.push_back(std::move(prefix[i]));
  }
  if (item && extra_max != 0) {
    Expr next = Expr::seq({sep(), *item});
    if (k > 0) {
      seq.push_back(Expr::repeat(std::move(next), extra_min, extra_max));
    } else {
      Expr tail = Expr::seq({*item, Expr::repeat(std::move(next), std::max(0, extra_min - 1),
                                                 extra_max < 0 ? -1 : extra_max - 1)});
      seq.push_back(extra_min > 0 ? std::move(tail) : Expr::opt(std::move(tail)));
    }
  }
  seq.push_back(w());
  seq.push_back(Expr::lit("]"));
  return Expr::seq(std::move(seq));
}

}  // namespace

Result<int32_t> add_json_schema_rules(GrammarBuilder& b, const json& schema, const JsonGrammarOptions& opt) {
  SchemaCompiler c(b, schema, opt);
  LM_TRY(Expr e, c.value(schema, "", 0));
  const int32_t r = b.fresh_rule("schema");
  b.define(r, std::move(e));
  return r;
}

Result<std::shared_ptr<const Grammar>> json_schema_grammar(const json& schema, const JsonGrammarOptions& opt) {
  GrammarBuilder b;
  const int32_t root = b.rule("root");
  LM_TRY(int32_t r, add_json_schema_rules(b, schema, opt));
  b.define(root, Expr::ref(r));
  return b.build(root);
}

std::shared_ptr<const Grammar> json_object_grammar(const JsonGrammarOptions& opt) {
  auto g = json_schema_grammar(json{{"type", "object"}, {"additionalProperties", true}}, opt);
  LM_CHECK(g.ok(), "{}", g.error().message());
  return *g;
}

Result<std::shared_ptr<const Grammar>> tool_call_grammar(ToolCallSyntax syntax, const std::vector<ToolSchema>& tools,
                                                         bool parallel, const JsonGrammarOptions& opt) {
  if (tools.empty()) return errorf("no tools to call");
  GrammarBuilder b;
  const int32_t root = b.rule("root");
  const char* args_key = syntax == ToolCallSyntax::kLlama3Json ? "parameters" : "arguments";
  std::vector<Expr> calls;
  for (size_t i = 0; i < tools.size(); ++i) {
    json params = tools[i].parameters.is_null() ? json{{"type", "object"}, {"additionalProperties", true}}
                                                : tools[i].parameters;
    auto r = add_json_schema_rules(b, params, opt);
    if (!r.ok()) return std::move(r).error().wrap(fmt::format("tool \"{}\" parameters", tools[i].name));
    calls.push_back(Expr::seq({Expr::lit("{\"name\": "), Expr::lit(json(tools[i].name).dump()),
                               Expr::lit(fmt::format(", \"{}\": ", args_key)), Expr::ref(*r), Expr::lit("}")}));
  }
  const int32_t call = b.fresh_rule("call");
  b.define(call, Expr::alt(std::move(calls)));
  Expr body;
  switch (syntax) {
    case ToolCallSyntax::kHermes: {
      Expr one = Expr::seq({Expr::lit("<tool_call>\n"), Expr::ref(call), Expr::lit("\n</tool_call>")});
      body = parallel ? Expr::seq({one, Expr::repeat(Expr::seq({Expr::lit("\n"), one}), 0, kMaxParallelCalls - 1)}) : one;
      break;
    }
    case ToolCallSyntax::kLlama3Json:
      body = Expr::ref(call);
      break;
    case ToolCallSyntax::kMistral: {
      Expr list = parallel ? Expr::seq({Expr::ref(call), Expr::repeat(Expr::seq({Expr::lit(", "), Expr::ref(call)}), 0, kMaxParallelCalls - 1)})
                           : Expr::ref(call);
      body = Expr::seq({Expr::lit("[TOOL_CALLS]["), std::move(list), Expr::lit("]")});
      break;
    }
  }
  b.define(root, std::move(body));
  return b.build(root);
}

}  // namespace lm::sampling
