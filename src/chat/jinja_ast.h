// The syntax tree of a parsed Jinja template. Immutable after parsing; shared by renders.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chat/jinja_value.h"

namespace lm::chat::jinja {

enum class EKind : uint8_t {
  Literal,   // value
  Name,      // name
  List,      // kids
  Tuple,     // kids
  Dict,      // kids: key, value, key, value, ...
  Unary,     // name: "not", "-", "+"; kids[0]
  Binary,    // name: op ("and", "or", "+", "~", "in", "not in", ...); kids[0], kids[1]
  Compare,   // kids[0] ops[i] kids[i+1] ...
  Cond,      // kids: then, cond, else (else may be null)
  Getattr,   // kids[0].name
  Getitem,   // kids[0][kids[1]]
  Slice,     // kids[0][kids[1]:kids[2]:kids[3]] (null parts)
  Call,      // kids[0](kids[1..]); arg_names[i] for kids[i+1] ("" = positional)
  Filter,    // name; kids[0] = input (null in a filter block); args as Call from kids[1]
  Test,      // name; negate; kids[0] = input; args from kids[1]
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  EKind kind;
  size_t off = 0;
  std::string name;
  Value value;
  std::vector<ExprPtr> kids;
  std::vector<std::string> ops;        // Compare
  std::vector<std::string> arg_names;  // Call/Filter/Test
  bool negate = false;
  uint32_t depth = 1;  // of the subtree: bounded by the parser (evaluation recurses on it)
};

enum class SKind : uint8_t {
  Data,       // text
  Output,     // expr
  If,         // conds[i] -> bodies[i]; bodies.size() == conds.size() + 1 (else)
  For,        // targets in expr [if expr2] bodies[0]; else bodies[1]; flag = recursive
  Set,        // targets = expr; or block set: bodies[0] with filter chain expr2; attr: ns.attr
  Macro,      // text(name) targets(params) conds(defaults, null for none) bodies[0]
  CallBlock,  // expr (a Call), targets/conds = caller params, bodies[0]
  FilterBlock,  // expr2 = filter chain on null input; bodies[0]
  With,       // targets = conds; bodies[0]
  Scope,      // bodies[0] (e.g. transformers' {% generation %})
  Break,
  Continue,
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  SKind kind;
  size_t off = 0;
  std::string text;
  std::string attr;  // Set on a namespace attribute: targets[0].attr
  std::vector<std::string> targets;
  ExprPtr expr, expr2;
  std::vector<ExprPtr> conds;
  std::vector<Body> bodies;
  bool flag = false;
};

// A parsed template: the normalised source (for error positions) and its statements.
struct Template {
  std::string source;
  Body body;
};

// Parses a template source (raw text as shipped). Errors: "template syntax error at L:C: ...".
Result<std::shared_ptr<const Template>> parse_template(const std::string& text);

}  // namespace lm::chat::jinja
