#include "sampling/json_schema.h"

#include <gtest/gtest.h>

#include <random>

namespace lm::sampling {
namespace {

using json = nlohmann::ordered_json;

bool matches(const std::shared_ptr<const Grammar>& g, std::string_view s) {
  GrammarMatcher m(g);
  return m.accept_bytes(s) && m.is_complete();
}

struct SchemaCase {
  const char* schema;
  std::vector<std::string> accept, reject;
};

TEST(JsonSchema, CompileTable) {
  const std::vector<SchemaCase> cases = {
      {R"({"type": "string"})", {R"("")", R"("héllo \"q\" \u00e9\n")"}, {"\"a", "\"\x01\"", "3", R"("\x")"}},
      {R"({"type": "string", "minLength": 2, "maxLength": 3})", {R"("ab")", R"("abc")", R"("é\n")"}, {R"("a")", R"("abcd")"}},
      {R"({"type": "integer"})", {"0", "-12", "1234567890123456"}, {"01", "1.5", "-", "12345678901234567"}},
      {R"({"type": "integer", "minimum": 3, "maximum": 120})", {"3", "9", "10", "99", "100", "120"}, {"2", "121", "-5", "0", "200"}},
      {R"({"type": "integer", "exclusiveMinimum": -10, "exclusiveMaximum": 0})", {"-9", "-1"}, {"-10", "0", "1"}},
      {R"({"type": "number"})", {"0", "-1.5", "2e10", "3.25E-3"}, {"1.", ".5", "+1", "1e"}},
      {R"({"type": "number", "minimum": 0})", {"0.5", "3"}, {"-1"}},
      {R"({"type": ["boolean", "null"]})", {"true", "false", "null"}, {"1", "\"true\""}},
      {R"({"enum": ["a", 1, null, {"x": [1]}]})", {R"("a")", "1", "null", R"({"x":[1]})"}, {R"("b")", "2"}},
      {R"({"const": "fixed"})", {R"("fixed")"}, {R"("other")"}},
      {R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}, "required": ["a"]})",
       {R"({"a":1})", R"({"a": 1, "b": "x"})", "{\n  \"a\": 2\n}"}, {"{}", R"({"b":"x"})", R"({"a":1,})", R"({"b":"x","a":1})"}},
      {R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}})",
       {"{}", R"({"a":1})", R"({"b":2})", R"({"a":1,"b":2})"}, {R"({,"b":2})", R"({"a":1"b":2})"}},
      {R"({"type": "object", "additionalProperties": {"type": "integer"}})", {"{}", R"({"k":1,"j":2})"}, {R"({"k":"v"})"}},
      {R"({"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3})", {"[1]", "[1, 2,3]"}, {"[]", "[1,2,3,4]", "[1,]"}},
      {R"({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false})", {R"(["a", 1])"}, {R"(["a"])", R"(["a",1,2])"}},
      {R"({"type": "array"})", {"[]", R"([1, "a", {"b": [null]}])"}, {"[", "[1 2]"}},
      {R"({"anyOf": [{"type": "integer"}, {"type": "object", "properties": {"x": {"type": "boolean"}}, "required": ["x"]}]})",
       {"5", R"({"x":true})"}, {R"({"x":1})", "\"s\""}},
      {R"({"allOf": [{"properties": {"a": {"type": "integer"}}, "required": ["a"]}, {"properties": {"b": {"const": 2}}, "required": ["b"]}]})",
       {R"({"a":1,"b":2})"}, {R"({"a":1})"}},
      {R"({"$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"}, "next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]}}, "required": ["v", "next"]}}, "$ref": "#/$defs/node"})",
       {R"({"v":1,"next":{"v":2,"next":null}})"}, {R"({"v":1})", R"({"v":1,"next":{"v":2}})"}},
      {R"({"definitions": {"s": {"type": "string", "maxLength": 1}}, "type": "array", "items": {"$ref": "#/definitions/s"}})", {R"(["a", ""])"}, {R"(["ab"])"}},
      {R"({"type": "string", "format": "date"})", {R"("2024-02-28")", R"("1999-12-31")"}, {R"("2024-02-30")", R"("2024-13-01")", R"("2024-04-31")"}},
      {R"({"type": "string", "format": "date-time"})", {R"("2024-01-02T03:04:05Z")", R"("2024-01-02T23:59:59.123+05:30")"}, {R"("2024-01-02 03:04:05Z")", R"("2024-01-02T24:00:00Z")"}},
      {R"({"type": "string", "format": "uuid"})", {R"("123e4567-e89b-12d3-a456-426614174000")"}, {R"("123e4567e89b12d3a456426614174000")"}},
      {R"({"type": "object", "properties": {"a": {"type": "string", "description": "ignored", "title": "T"}}, "required": ["a"], "x-vendor": 1})", {R"({"a":""})"}, {"{}"}},
      {"true", {"1", R"({"a":[]})"}, {"{"}},
  };
  for (const SchemaCase& c : cases) {
    auto g = json_schema_grammar(json::parse(c.schema));
    ASSERT_TRUE(g.ok()) << c.schema << ": " << g.error().message();
    for (const auto& s : c.accept) EXPECT_TRUE(matches(*g, s)) << c.schema << " should accept " << s;
    for (const auto& s : c.reject) EXPECT_FALSE(matches(*g, s)) << c.schema << " should reject " << s;
  }
}

TEST(JsonSchema, WhitespaceIsBounded) {
  auto g = json_schema_grammar(json::parse(R"({"type": "array", "items": {"type": "integer"}})"), {.max_whitespace = 2});
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(matches(*g, "[  1,  2  ]"));
  EXPECT_FALSE(matches(*g, "[   1]"));
  EXPECT_FALSE(matches(*g, " [1]"));   // nothing before or after the value
}

TEST(JsonSchema, PropertiesKeepSchemaOrder) {
  auto g = json_schema_grammar(json::parse(R"({"properties": {"z": {"type": "integer"}, "a": {"type": "integer"}}, "required": ["z", "a"]})"));
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(matches(*g, R"({"z":1,"a":2})"));
  EXPECT_FALSE(matches(*g, R"({"a":2,"z":1})"));
}

TEST(JsonSchema, ErrorsNameKeywordAndPointer) {
  const std::vector<std::pair<const char*, const char*>> bad = {
      {R"({"type": "string", "pattern": "^a"})", "unsupported keyword 'pattern' at /"},
      {R"({"properties": {"a": {"type": "string", "pattern": "x"}}})", "'pattern' at /properties/a"},
      {R"({"type": "array", "uniqueItems": true})", "'uniqueItems'"},
      {R"({"not": {}})", "'not'"},
      {R"({"if": {}, "then": {}})", "'if'"},
      {R"({"type": "object", "minProperties": 1})", "'minProperties'"},
      {R"({"type": "number", "multipleOf": 2})", "'multipleOf'"},
      {R"({"type": "number", "maximum": 2})", "'maximum'"},
      {R"({"$ref": "https://example.com/s.json"})", "'$ref'"},
      {R"({"$ref": "#/$defs/missing"})", "does not resolve"},
      {R"({"type": "strange"})", "unknown type"},
      {R"({"enum": []})", "'enum'"},
      {R"({"type": "object", "properties": {"a": {}}, "required": ["b"]})", "'required'"},
      {R"({"type": "string", "minLength": 3, "maxLength": 1})", "maxLength < minLength"},
      {R"({"type": "array", "items": {"anyOf": [{"patternProperties": {}}]}})", "/items/anyOf/0"},
      {R"({"$ref": "#"})", "left-recursive"},
      {"false", "no value is valid"},
      {"3", "must be an object"},
      {R"({"type": "integer", "minimum": 1e300})", "'minimum'"},
      {R"({"allOf": [{"type": "string"}, {"type": "integer"}]})", "'allOf'"},
  };
  for (auto [schema, want] : bad) {
    auto g = json_schema_grammar(json::parse(schema));
    ASSERT_FALSE(g.ok()) << schema;
    EXPECT_NE(g.error().message().find(want), std::string::npos) << schema << " → " << g.error().message();
  }
}

// Random walks through the grammar (each step a uniformly chosen acceptable byte, stopping with
// probability 1/2 once complete) always give JSON that parses and has the required keys.
TEST(JsonSchema, RandomWalksParse) {
  auto g = json_schema_grammar(json::parse(R"({"type": "object", "properties": {
      "name": {"type": "string", "maxLength": 6}, "n": {"type": "integer", "minimum": -5, "maximum": 5},
      "tags": {"type": "array", "items": {"enum": ["x", "y"]}, "maxItems": 3},
      "opt": {"type": ["number", "null"]}}, "required": ["name", "n", "tags"]})"));
  ASSERT_TRUE(g.ok()) << g.error().message();
  std::mt19937 rng(1);
  for (int walk = 0; walk < 100; ++walk) {
    GrammarMatcher m(*g);
    std::string out;
    for (int step = 0; step < 4000; ++step) {
      if (m.is_complete() && (!m.can_continue() || rng() % 2 == 0)) break;
      std::vector<uint8_t> ok;
      for (int b = 0; b < 256; ++b)
        if (m.can_accept(std::string(1, static_cast<char>(b)))) ok.push_back(static_cast<uint8_t>(b));
      ASSERT_FALSE(ok.empty()) << out;
      const uint8_t b = ok[rng() % ok.size()];
      ASSERT_TRUE(m.accept_byte(b));
      out += static_cast<char>(b);
    }
    ASSERT_TRUE(m.is_complete()) << out;
    json v = json::parse(out, nullptr, false);
    ASSERT_FALSE(v.is_discarded()) << out;
    EXPECT_TRUE(v.contains("name") && v.contains("n") && v.contains("tags")) << out;
    EXPECT_LE(v["name"].get<std::string>().size(), 6u * 4) << out;
    EXPECT_GE(v["n"].get<int>(), -5);
    EXPECT_LE(v["n"].get<int>(), 5);
    EXPECT_LE(v["tags"].size(), 3u);
  }
}

TEST(JsonSchema, ToolCallGrammars) {
  std::vector<ToolSchema> tools = {
      {"get_weather", json::parse(R"({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})")},
      {"noop", nullptr}};
  auto hermes = tool_call_grammar(ToolCallSyntax::kHermes, tools, false);
  ASSERT_TRUE(hermes.ok()) << hermes.error().message();
  EXPECT_TRUE(matches(*hermes, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"));
  EXPECT_TRUE(matches(*hermes, "<tool_call>\n{\"name\": \"noop\", \"arguments\": {}}\n</tool_call>"));
  EXPECT_FALSE(matches(*hermes, "<tool_call>\n{\"name\": \"other\", \"arguments\": {}}\n</tool_call>"));
  EXPECT_FALSE(matches(*hermes, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>"));
  auto llama = tool_call_grammar(ToolCallSyntax::kLlama3Json, tools, false);
  ASSERT_TRUE(llama.ok());
  EXPECT_TRUE(matches(*llama, "{\"name\": \"noop\", \"parameters\": {}}"));
  auto mistral = tool_call_grammar(ToolCallSyntax::kMistral, tools, true);
  ASSERT_TRUE(mistral.ok());
  EXPECT_TRUE(matches(*mistral, "[TOOL_CALLS][{\"name\": \"noop\", \"arguments\": {}}, {\"name\": \"noop\", \"arguments\": {}}]"));
  auto bad = tool_call_grammar(ToolCallSyntax::kHermes, {{"f", json::parse(R"({"type": "object", "properties": {"a": {"pattern": "x"}}})")}}, false);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("tool \"f\""), std::string::npos) << bad.error().message();
  EXPECT_NE(bad.error().message().find("/properties/a"), std::string::npos) << bad.error().message();
}

}  // namespace
}  // namespace lm::sampling
