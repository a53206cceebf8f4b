// Low-level pieces of tool-call parsing (used by tool_calls.cpp): where a JSON value ends in a
// stream, what counts as a call object, and the two non-JSON call syntaxes (Llama built-in
// tools, Qwen3-Coder XML). Pure functions; none throws.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lm::chat::detail {

enum class Extent { kComplete, kIncomplete, kInvalid };

// s[start] is '{' or '['. Finds the matching close bracket (aware of strings and escapes);
// *end is one past it. kInvalid on mismatched brackets or nesting deeper than 256.
Extent json_extent(std::string_view s, size_t start, size_t* end);

struct CallParts {
  std::string name, arguments, id;  // arguments: compact JSON text; id may be empty
};

// Parses `text` as one call object {"name": str, "arguments"|"parameters": object|str, ["id"]}.
// With require_args, an object without arguments/parameters is not a call (a Llama 3 reply
// that is merely JSON); otherwise the arguments default to {}.
std::optional<CallParts> parse_call_object(std::string_view text, bool require_args);

// A JSON array of call objects (Mistral [TOOL_CALLS][...]); nullopt if any element is not one.
std::optional<std::vector<CallParts>> parse_call_array(std::string_view text);

// Compact JSON text of an "arguments" value given as JSON text of an object; nullopt if it is
// not a JSON object.
std::optional<std::string> compact_object(std::string_view text);

// Llama 3.1 built-in tool syntax: `name.call(key="value", n=3)` (whole text, spaces around).
std::optional<CallParts> parse_builtin_call(std::string_view text);

// Qwen3-Coder body: <function=name> <parameter=k>value</parameter>... </function>.
std::optional<CallParts> parse_xml_function(std::string_view text);

bool is_space(char c);
size_t skip_space(std::string_view s, size_t i);
// Length of the longest suffix of s that is a proper prefix of `marker`.
size_t partial_suffix(std::string_view s, std::string_view marker);

}  // namespace lm::chat::detail
