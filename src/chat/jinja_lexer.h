// Jinja lexer with jinja2's whitespace rules for trim_blocks=True, lstrip_blocks=True:
// `{%-`/`-%}` strip all whitespace on that side; `{%+`/`+%}` keep it; otherwise a block or comment
// tag alone on its line (after only spaces/tabs) drops that indentation, and the first newline
// after a block/comment tag is dropped. `{% raw %}` blocks are emitted as data. The source is
// normalised first: \r\n and \r become \n, and one trailing newline is dropped
// (keep_trailing_newline=False).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace lm::chat::jinja {

enum class Tok : uint8_t { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Token {
  Tok kind;
  std::string text;  // Data text, name, decoded string literal, operator
  int64_t ival = 0;
  double fval = 0;
  size_t off = 0;  // byte offset in the normalised source
};

// jinja2's newline normalisation and trailing-newline removal.
std::string normalize_source(const std::string& src);

// "line:col" (1-based) of a byte offset in src.
std::string source_pos(const std::string& src, size_t off);

// Tokenizes the normalised source. Errors carry line:column.
Result<std::vector<Token>> lex(const std::string& src);

}  // namespace lm::chat::jinja
