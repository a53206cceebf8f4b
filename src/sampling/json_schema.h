// JSON Schema → grammar (grammar.h), so that constrained decoding only produces JSON text that
// parses and validates against the schema.
//
// Supported: type (object, array, string, number, integer, boolean, null, and lists of them),
// properties (emitted in schema order; required ones always, the others optionally), required,
// additionalProperties (false, true or a schema: extra keys are only generated for objects
// without declared properties; absent counts as false: fewer keys still validate), enum, const,
// anyOf / oneOf (alternatives: overlapping oneOf branches may match twice), allOf (objects are
// merged), items, prefixItems, minItems / maxItems, minLength / maxLength, format date, time,
// date-time and uuid (other formats are annotations: any string), integer minimum / maximum /
// exclusiveMinimum / exclusiveMaximum, local $ref to #, #/$defs/... and #/definitions/...
// (recursion allowed). Annotations (title, description, default, examples, ...) and unknown
// keywords are ignored, as JSON Schema says.
// Unsupported validation keywords (pattern, multipleOf, uniqueItems, not, if/then/else,
// minProperties, number bounds, remote $ref, ...) are an error naming the keyword and its JSON
// pointer: "unsupported keyword 'pattern' at /properties/name".
//
// Output bounds, so a sampled reply always ends: whitespace between tokens is at most
// `max_whitespace` characters; integers have at most 16 digits, fractions 16, exponents 2 (every number fits a double).
// Strings and arrays are unbounded unless the schema bounds them.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "sampling/grammar.h"

namespace lm::sampling {

struct JsonGrammarOptions {
  int32_t max_whitespace = 4;   // per gap between JSON tokens
};

// Adds the rules for "a JSON value valid under `schema`" to `b`; returns the rule id. `schema`
// is also the document local $refs resolve against.
Result<int32_t> add_json_schema_rules(GrammarBuilder& b, const nlohmann::ordered_json& schema,
                                      const JsonGrammarOptions& opt = {});

// A grammar whose sentences are exactly the values above (no whitespace before or after).
Result<std::shared_ptr<const Grammar>> json_schema_grammar(const nlohmann::ordered_json& schema,
                                                           const JsonGrammarOptions& opt = {});
// Any JSON object (response_format json_object, Ollama format "json").
std::shared_ptr<const Grammar> json_object_grammar(const JsonGrammarOptions& opt = {});

// Forced tool calls, in the syntax of the model's chat template (chat/tool_calls.h):
//   kHermes      <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>
//   kLlama3Json  {"name": "f", "parameters": {...}}
//   kMistral     [TOOL_CALLS][{"name": "f", "arguments": {...}}]
// with the arguments constrained by each tool's `parameters` schema (absent: any object). One
// call of one of `tools`; with `parallel`, up to 8 calls (Hermes repeats the block, Mistral lists them).
enum class ToolCallSyntax { kHermes, kLlama3Json, kMistral };
struct ToolSchema {
  std::string name;
  nlohmann::ordered_json parameters;   // null: any object
};
Result<std::shared_ptr<const Grammar>> tool_call_grammar(ToolCallSyntax syntax,
                                                         const std::vector<ToolSchema>& tools,
                                                         bool parallel,
                                                         const JsonGrammarOptions& opt = {});

}  // namespace lm::sampling
