// Recursive-descent parser following jinja2's grammar and operator precedence
// (jinja2/parser.py is the reference for the grammar, not for the code):
//   condexpr: or ('if' or ('else' condexpr)?)*
//   or > and > not > compare (==, !=, <, <=, >, >=, in, not in) > + - > ~ > * / // % > ** >
//   unary (- +) > primary with postfix (.a [i] [a:b:c] (call)) and filters/tests (| name, is name).
#include <fmt/format.h>

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"

namespace lm::chat::jinja {
namespace {

constexpr int kMaxDepth = 256;
constexpr uint32_t kMaxExprDepth = 300;

class Parser {
 public:
  Parser(const std::string& src, std::vector<Token> toks) : src_(src), t_(std::move(toks)) {}

  Result<Body> parse_all() {
    LM_TRY(Body b, parse_body({}));
    if (cur().kind != Tok::Eof) return err(cur().off, "unexpected tag");
    return b;
  }

 private:
  const Token& cur() const { return t_[i_]; }
  const Token& peek(size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  void next() {
    if (i_ + 1 < t_.size()) ++i_;
  }
  bool is_op(const char* op) const { return cur().kind == Tok::Op && cur().text == op; }
  bool is_name(const char* n) const { return cur().kind == Tok::Name && cur().text == n; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }
  Error err(size_t off, const std::string& msg) const {
    return Error(fmt::format("template syntax error at {}: {}", source_pos(src_, off), msg));
  }
  std::string describe(const Token& t) const {
    switch (t.kind) {
      case Tok::Eof: return "end of template";
      case Tok::BlockEnd: return "end of statement block";
      case Tok::VarEnd: return "end of print statement";
      case Tok::Data: return "template data";
      default: return "'" + t.text + "'";
    }
  }
  Status expect_op(const char* op) {
    if (!skip_op(op)) return err(cur().off, fmt::format("expected '{}', got {}", op, describe(cur())));
    return Ok{};
  }
  Status expect_block_end() {
    if (cur().kind != Tok::BlockEnd) {
      return err(cur().off, fmt::format("expected end of statement block, got {}", describe(cur())));
    }
    next();
    return Ok{};
  }
  Result<std::string> expect_name() {
    if (cur().kind != Tok::Name) return err(cur().off, fmt::format("expected a name, got {}", describe(cur())));
    std::string n = cur().text;
    next();
    return n;
  }

  struct DepthGuard {
    int& d;
    explicit DepthGuard(int& depth) : d(depth) { ++d; }
    ~DepthGuard() { --d; }
  };

  // Sets n's subtree depth; chains built by loops (a.b.c..., x|f|g..., 1+1+...) are bounded here.
  Result<ExprPtr> sized(ExprPtr n) {
    for (const auto& k : n->kids) {
      if (k) n->depth = std::max(n->depth, k->depth + 1);
    }
    if (n->depth > kMaxExprDepth) return err(n->off, "expression nested too deeply");
    return n;
  }

  static ExprPtr make(EKind k, size_t off) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->off = off;
    return e;
  }

  // ---- statements ----

  // Parses until a block tag whose keyword is in `ends` (left as current: the keyword token).
  Result<Body> parse_body(const std::vector<std::string>& ends) {
    DepthGuard g(depth_);
    if (depth_ > kMaxDepth) return err(cur().off, "template nested too deeply");
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.kind == Tok::Eof) {
        if (!ends.empty()) {
          return err(t.off, fmt::format("unexpected end of template, expected '{}'", ends[0]));
        }
        return body;
      }
      if (t.kind == Tok::Data) {
        auto s = std::make_unique<Stmt>();
        s->kind = SKind::Data;
        s->off = t.off;
        s->text = t.text;
        body.push_back(std::move(s));
        next();
      } else if (t.kind == Tok::VarBegin) {
        size_t off = t.off;
        next();
        LM_TRY(ExprPtr e, parse_tuple(true));
        if (cur().kind != Tok::VarEnd) {
          return err(cur().off, fmt::format("expected end of print statement, got {}", describe(cur())));
        }
        next();
        auto s = std::make_unique<Stmt>();
        s->kind = SKind::Output;
        s->off = off;
        s->expr = std::move(e);
        body.push_back(std::move(s));
      } else if (t.kind == Tok::BlockBegin) {
        const Token& kw = peek();
        if (kw.kind == Tok::Name) {
          for (const auto& e : ends) {
            if (kw.text == e) {
              next();
              return body;
            }
          }
        }
        next();
        LM_TRY(StmtPtr s, parse_statement());
        body.push_back(std::move(s));
      } else {
        return err(t.off, fmt::format("unexpected {}", describe(t)));
      }
    }
  }

  Result<StmtPtr> parse_statement() {
    const Token& kw = cur();
    if (kw.kind != Tok::Name) return err(kw.off, "tag name expected");
    std::string k = kw.text;
    auto s = std::make_unique<Stmt>();
    s->off = kw.off;
    next();
    if (k == "if") return parse_if(std::move(s));
    if (k == "for") return parse_for(std::move(s));
    if (k == "set") return parse_set(std::move(s));
    if (k == "macro") return parse_macro(std::move(s));
    if (k == "call") return parse_call_block(std::move(s));
    if (k == "filter") return parse_filter_block(std::move(s));
    if (k == "with") return parse_with(std::move(s));
    if (k == "generation") {
      s->kind = SKind::Scope;
      LM_TRY_STATUS(expect_block_end());
      LM_TRY(Body b, parse_body({"endgeneration"}));
      s->bodies.push_back(std::move(b));
      next();
      LM_TRY_STATUS(expect_block_end());
      return s;
    }
    if (k == "break" || k == "continue") {
      if (loop_depth_ == 0) return err(kw.off, fmt::format("'{}' outside of a loop", k));
      s->kind = k == "break" ? SKind::Break : SKind::Continue;
      LM_TRY_STATUS(expect_block_end());
      return s;
    }
    return err(s->off, fmt::format("unknown tag '{}'", k));
  }

  Result<StmtPtr> parse_if(StmtPtr s) {
    s->kind = SKind::If;
    while (true) {
      LM_TRY(ExprPtr c, parse_tuple(false));
      s->conds.push_back(std::move(c));
      LM_TRY_STATUS(expect_block_end());
      LM_TRY(Body b, parse_body({"elif", "else", "endif"}));
      s->bodies.push_back(std::move(b));
      std::string kw = cur().text;
      next();
      if (kw == "elif") continue;
      if (kw == "else") {
        LM_TRY_STATUS(expect_block_end());
        LM_TRY(Body e, parse_body({"endif"}));
        s->bodies.push_back(std::move(e));
        next();
      } else {
        s->bodies.emplace_back();
      }
      LM_TRY_STATUS(expect_block_end());
      return s;
    }
  }

  Result<std::vector<std::string>> parse_targets() {
    std::vector<std::string> names;
    bool paren = skip_op("(");
    while (true) {
      LM_TRY(std::string n, expect_name());
      names.push_back(n);
      if (!skip_op(",")) break;
      if (cur().kind != Tok::Name) break;
    }
    if (paren) LM_TRY_STATUS(expect_op(")"));
    return names;
  }

  Result<StmtPtr> parse_for(StmtPtr s) {
    s->kind = SKind::For;
    LM_TRY(s->targets, parse_targets());
    if (!skip_name("in")) return err(cur().off, "expected 'in' in for loop");
    LM_TRY(s->expr, parse_tuple(false, /*no_cond=*/true));
    if (skip_name("if")) {
      LM_TRY(s->expr2, parse_expression());
    }
    if (skip_name("recursive")) s->flag = true;
    LM_TRY_STATUS(expect_block_end());
    ++loop_depth_;
    auto body = parse_body({"endfor", "else"});
    --loop_depth_;
    if (!body.ok()) return std::move(body).error();
    s->bodies.push_back(std::move(*body));
    std::string kw = cur().text;
    next();
    LM_TRY_STATUS(expect_block_end());
    if (kw == "else") {
      LM_TRY(Body e, parse_body({"endfor"}));
      s->bodies.push_back(std::move(e));
      next();
      LM_TRY_STATUS(expect_block_end());
    } else {
      s->bodies.emplace_back();
    }
    return s;
  }

  Result<StmtPtr> parse_set(StmtPtr s) {
    s->kind = SKind::Set;
    LM_TRY(std::string first, expect_name());
    if (skip_op(".")) {
      LM_TRY(s->attr, expect_name());
      s->targets.push_back(first);
    } else {
      s->targets.push_back(first);
      while (skip_op(",")) {
        LM_TRY(std::string n, expect_name());
        s->targets.push_back(n);
      }
    }
    if (skip_op("=")) {
      LM_TRY(s->expr, parse_tuple(false));
      LM_TRY_STATUS(expect_block_end());
      return s;
    }
    if (s->targets.size() != 1 || !s->attr.empty()) return err(cur().off, "expected '='");
    // Block set, with an optional filter chain.
    if (is_op("|")) {
      LM_TRY(s->expr2, parse_filters(nullptr));
    }
    LM_TRY_STATUS(expect_block_end());
    LM_TRY(Body b, parse_body({"endset"}));
    s->bodies.push_back(std::move(b));
    next();
    LM_TRY_STATUS(expect_block_end());
    return s;
  }

  // (a, b=default, ...) for macros and call blocks.
  Status parse_params(Stmt& s) {
    LM_TRY_STATUS(expect_op("("));
    while (!is_op(")")) {
      if (!s.targets.empty()) LM_TRY_STATUS(expect_op(","));
      if (is_op(")")) break;
      LM_TRY(std::string n, expect_name());
      s.targets.push_back(n);
      if (skip_op("=")) {
        LM_TRY(ExprPtr d, parse_expression());
        s.conds.push_back(std::move(d));
      } else {
        s.conds.push_back(nullptr);
      }
    }
    next();
    return Ok{};
  }

  Result<StmtPtr> parse_macro(StmtPtr s) {
    s->kind = SKind::Macro;
    LM_TRY(s->text, expect_name());
    LM_TRY_STATUS(parse_params(*s));
    LM_TRY_STATUS(expect_block_end());
    int saved = loop_depth_;
    loop_depth_ = 0;
    auto body = parse_body({"endmacro"});
    loop_depth_ = saved;
    if (!body.ok()) return std::move(body).error();
    s->bodies.push_back(std::move(*body));
    next();
    if (cur().kind == Tok::Name && cur().text == s->text) next();
    LM_TRY_STATUS(expect_block_end());
    return s;
  }

  Result<StmtPtr> parse_call_block(StmtPtr s) {
    s->kind = SKind::CallBlock;
    if (is_op("(")) LM_TRY_STATUS(parse_params(*s));
    LM_TRY(s->expr, parse_expression());
    if (s->expr->kind != EKind::Call) return err(s->off, "expected a call in the call block");
    LM_TRY_STATUS(expect_block_end());
    LM_TRY(Body b, parse_body({"endcall"}));
    s->bodies.push_back(std::move(b));
    next();
    LM_TRY_STATUS(expect_block_end());
    return s;
  }

  Result<StmtPtr> parse_filter_block(StmtPtr s) {
    s->kind = SKind::FilterBlock;
    LM_TRY(s->expr2, parse_filters(nullptr, /*first_without_pipe=*/true));
    LM_TRY_STATUS(expect_block_end());
    LM_TRY(Body b, parse_body({"endfilter"}));
    s->bodies.push_back(std::move(b));
    next();
    LM_TRY_STATUS(expect_block_end());
    return s;
  }

  Result<StmtPtr> parse_with(StmtPtr s) {
    s->kind = SKind::With;
    while (cur().kind != Tok::BlockEnd) {
      if (!s->targets.empty()) LM_TRY_STATUS(expect_op(","));
      LM_TRY(std::string n, expect_name());
      LM_TRY_STATUS(expect_op("="));
      LM_TRY(ExprPtr v, parse_expression());
      s->targets.push_back(n);
      s->conds.push_back(std::move(v));
    }
    next();
    LM_TRY(Body b, parse_body({"endwith"}));
    s->bodies.push_back(std::move(b));
    next();
    LM_TRY_STATUS(expect_block_end());
    return s;
  }

  // ---- expressions ----

  // A tuple without parentheses (`a, b`) or a single expression.
  Result<ExprPtr> parse_tuple(bool allow_empty_end, bool no_cond = false) {
    size_t off = cur().off;
    std::vector<ExprPtr> items;
    bool comma = false;
    while (true) {
      if (!items.empty()) {
        if (!skip_op(",")) break;
        comma = true;
      }
      if (cur().kind == Tok::VarEnd || cur().kind == Tok::BlockEnd || is_op(")") ||
          is_name("in") || is_name("if") || is_name("recursive")) {
        if (items.empty()) return err(cur().off, fmt::format("unexpected {}", describe(cur())));
        break;
      }
      Result<ExprPtr> e = no_cond ? parse_or() : parse_expression();
      if (!e.ok()) return std::move(e).error();
      items.push_back(std::move(*e));
    }
    if (!comma) return std::move(items[0]);
    auto t = make(EKind::Tuple, off);
    t->kids = std::move(items);
    return sized(std::move(t));
  }

  Result<ExprPtr> parse_expression() {
    DepthGuard g(depth_);
    if (depth_ > kMaxDepth) return err(cur().off, "expression nested too deeply");
    LM_TRY(ExprPtr e, parse_or());
    while (is_name("if")) {
      size_t off = cur().off;
      next();
      LM_TRY(ExprPtr c, parse_or());
      auto n = make(EKind::Cond, off);
      n->kids.push_back(std::move(e));
      n->kids.push_back(std::move(c));
      if (skip_name("else")) {
        LM_TRY(ExprPtr el, parse_expression());
        n->kids.push_back(std::move(el));
      } else {
        n->kids.push_back(nullptr);
      }
      LM_TRY(e, sized(std::move(n)));
    }
    return e;
  }

  Result<ExprPtr> binary(const std::string& op, size_t off, ExprPtr a, ExprPtr b) {
    auto n = make(EKind::Binary, off);
    n->name = op;
    n->kids.push_back(std::move(a));
    n->kids.push_back(std::move(b));
    return sized(std::move(n));
  }

  Result<ExprPtr> parse_or() {
    LM_TRY(ExprPtr e, parse_and());
    while (is_name("or")) {
      size_t off = cur().off;
      next();
      LM_TRY(ExprPtr r, parse_and());
      LM_TRY(e, binary("or", off, std::move(e), std::move(r)));
    }
    return e;
  }
  Result<ExprPtr> parse_and() {
    LM_TRY(ExprPtr e, parse_not());
    while (is_name("and")) {
      size_t off = cur().off;
      next();
      LM_TRY(ExprPtr r, parse_not());
      LM_TRY(e, binary("and", off, std::move(e), std::move(r)));
    }
    return e;
  }
  Result<ExprPtr> parse_not() {
    if (is_name("not")) {
      DepthGuard g(depth_);
      if (depth_ > kMaxDepth) return err(cur().off, "expression nested too deeply");
      size_t off = cur().off;
      next();
      LM_TRY(ExprPtr e, parse_not());
      auto n = make(EKind::Unary, off);
      n->name = "not";
      n->kids.push_back(std::move(e));
      return sized(std::move(n));
    }
    return parse_compare();
  }
  Result<ExprPtr> parse_compare() {
    size_t off = cur().off;
    LM_TRY(ExprPtr e, parse_math1());
    ExprPtr cmp;
    while (true) {
      std::string op;
      if (cur().kind == Tok::Op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                    cur().text == "<=" || cur().text == ">" || cur().text == ">=")) {
        op = cur().text;
        next();
      } else if (is_name("in")) {
        op = "in";
        next();
      } else if (is_name("not") && peek().kind == Tok::Name && peek().text == "in") {
        op = "not in";
        next();
        next();
      } else {
        break;
      }
      LM_TRY(ExprPtr r, parse_math1());
      if (!cmp) {
        cmp = make(EKind::Compare, off);
        cmp->kids.push_back(std::move(e));
      }
      cmp->ops.push_back(op);
      cmp->kids.push_back(std::move(r));
    }
    if (cmp) return sized(std::move(cmp));
    return e;
  }
  Result<ExprPtr> parse_math1() {
    LM_TRY(ExprPtr e, parse_concat());
    while (is_op("+") || is_op("-")) {
      std::string op = cur().text;
      size_t off = cur().off;
      next();
      LM_TRY(ExprPtr r, parse_concat());
      LM_TRY(e, binary(op, off, std::move(e), std::move(r)));
    }
    return e;
  }
  Result<ExprPtr> parse_concat() {
    LM_TRY(ExprPtr e, parse_math2());
    while (is_op("~")) {
      size_t off = cur().off;
      next();
      LM_TRY(ExprPtr r, parse_math2());
      LM_TRY(e, binary("~", off, std::move(e), std::move(r)));
    }
    return e;
  }
  Result<ExprPtr> parse_math2() {
    LM_TRY(ExprPtr e, parse_pow());
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = cur().text;
      size_t off = cur().off;
      next();
      LM_TRY(ExprPtr r, parse_pow());
      LM_TRY(e, binary(op, off, std::move(e), std::move(r)));
    }
    return e;
  }
  Result<ExprPtr> parse_pow() {
    LM_TRY(ExprPtr e, parse_unary(true));
    while (is_op("**")) {
      size_t off = cur().off;
      next();
      LM_TRY(ExprPtr r, parse_unary(true));
      LM_TRY(e, binary("**", off, std::move(e), std::move(r)));
    }
    return e;
  }
  Result<ExprPtr> parse_unary(bool with_filter) {
    DepthGuard g(depth_);
    if (depth_ > kMaxDepth) return err(cur().off, "expression nested too deeply");
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      auto n = make(EKind::Unary, cur().off);
      n->name = cur().text;
      next();
      LM_TRY(ExprPtr inner, parse_unary(false));
      n->kids.push_back(std::move(inner));
      LM_TRY(node, sized(std::move(n)));
    } else {
      LM_TRY(node, parse_primary());
    }
    LM_TRY(node, parse_postfix(std::move(node)));
    if (with_filter) {
      LM_TRY(node, parse_filter_expr(std::move(node)));
    }
    return node;
  }

  Result<ExprPtr> parse_primary() {
    const Token& t = cur();
    size_t off = t.off;
    switch (t.kind) {
      case Tok::Name: {
        auto n = make(EKind::Literal, off);
        if (t.text == "true" || t.text == "True") n->value = Value(true);
        else if (t.text == "false" || t.text == "False") n->value = Value(false);
        else if (t.text == "none" || t.text == "None") n->value = Value::none();
        else {
          n->kind = EKind::Name;
          n->name = t.text;
        }
        next();
        return n;
      }
      case Tok::String: {
        std::string s;
        while (cur().kind == Tok::String) {
          s += cur().text;
          next();
        }
        auto n = make(EKind::Literal, off);
        n->value = Value(std::move(s));
        return n;
      }
      case Tok::Int:
      case Tok::Float: {
        auto n = make(EKind::Literal, off);
        n->value = t.kind == Tok::Int ? Value(t.ival) : Value(t.fval);
        next();
        return n;
      }
      case Tok::Op:
        if (t.text == "(") {
          next();
          if (skip_op(")")) {
            return make(EKind::Tuple, off);
          }
          LM_TRY(ExprPtr e, parse_tuple(false));
          LM_TRY_STATUS(expect_op(")"));
          return e;
        }
        if (t.text == "[") return parse_list();
        if (t.text == "{") return parse_dict();
        break;
      default: break;
    }
    return err(off, fmt::format("unexpected {}", describe(t)));
  }

  Result<ExprPtr> parse_list() {
    auto n = make(EKind::List, cur().off);
    next();
    while (!is_op("]")) {
      if (!n->kids.empty()) {
        LM_TRY_STATUS(expect_op(","));
        if (is_op("]")) break;
      }
      LM_TRY(ExprPtr e, parse_expression());
      n->kids.push_back(std::move(e));
    }
    next();
    return sized(std::move(n));
  }

  Result<ExprPtr> parse_dict() {
    auto n = make(EKind::Dict, cur().off);
    next();
    while (!is_op("}")) {
      if (!n->kids.empty()) {
        LM_TRY_STATUS(expect_op(","));
        if (is_op("}")) break;
      }
      LM_TRY(ExprPtr k, parse_expression());
      LM_TRY_STATUS(expect_op(":"));
      LM_TRY(ExprPtr v, parse_expression());
      n->kids.push_back(std::move(k));
      n->kids.push_back(std::move(v));
    }
    next();
    return sized(std::move(n));
  }

  Result<ExprPtr> parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".")) {
        size_t off = cur().off;
        next();
        auto n = make(EKind::Getattr, off);
        if (cur().kind == Tok::Name) {
          n->name = cur().text;
          n->kids.push_back(std::move(node));
        } else if (cur().kind == Tok::Int) {
          // foo.0 is foo[0]
          n->kind = EKind::Getitem;
          n->kids.push_back(std::move(node));
          auto idx = make(EKind::Literal, cur().off);
          idx->value = Value(cur().ival);
          n->kids.push_back(std::move(idx));
        } else {
          return err(cur().off, "expected a name after '.'");
        }
        next();
        LM_TRY(node, sized(std::move(n)));
      } else if (is_op("[")) {
        LM_TRY(node, parse_subscript(std::move(node)));
      } else if (is_op("(")) {
        LM_TRY(node, parse_call(std::move(node)));
      } else {
        return node;
      }
    }
  }

  Result<ExprPtr> parse_subscript(ExprPtr node) {
    size_t off = cur().off;
    next();
    ExprPtr parts[3];
    int n_colons = 0;
    while (!is_op("]")) {
      if (skip_op(":")) {
        if (++n_colons > 2) return err(cur().off, "too many ':' in subscript");
        continue;
      }
      if (parts[n_colons]) return err(cur().off, "expected ']'");
      LM_TRY(parts[n_colons], parse_expression());
    }
    next();
    if (n_colons == 0) {
      if (!parts[0]) return err(off, "empty subscript");
      auto n = make(EKind::Getitem, off);
      n->kids.push_back(std::move(node));
      n->kids.push_back(std::move(parts[0]));
      return sized(std::move(n));
    }
    auto n = make(EKind::Slice, off);
    n->kids.push_back(std::move(node));
    for (auto& p : parts) n->kids.push_back(std::move(p));
    return sized(std::move(n));
  }

  // (args) appended to n->kids / n->arg_names.
  Status parse_args(Expr& n) {
    LM_TRY_STATUS(expect_op("("));
    bool first = true;
    while (!is_op(")")) {
      if (!first) {
        LM_TRY_STATUS(expect_op(","));
        if (is_op(")")) break;
      }
      first = false;
      std::string kw;
      if (cur().kind == Tok::Name && peek().kind == Tok::Op && peek().text == "=") {
        kw = cur().text;
        next();
        next();
      }
      LM_TRY(ExprPtr e, parse_expression());
      n.kids.push_back(std::move(e));
      n.arg_names.push_back(kw);
    }
    next();
    return Ok{};
  }

  Result<ExprPtr> parse_call(ExprPtr node) {
    auto n = make(EKind::Call, cur().off);
    n->kids.push_back(std::move(node));
    LM_TRY_STATUS(parse_args(*n));
    return sized(std::move(n));
  }

  Result<ExprPtr> parse_filters(ExprPtr node, bool first_without_pipe = false) {
    bool first = true;
    while ((first && first_without_pipe) || is_op("|")) {
      if (!(first && first_without_pipe)) next();
      first = false;
      auto n = make(EKind::Filter, cur().off);
      LM_TRY(n->name, expect_name());
      while (skip_op(".")) {
        LM_TRY(std::string part, expect_name());
        n->name += "." + part;
      }
      n->kids.push_back(std::move(node));
      if (is_op("(")) LM_TRY_STATUS(parse_args(*n));
      LM_TRY(node, sized(std::move(n)));
    }
    return node;
  }

  Result<ExprPtr> parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        LM_TRY(node, parse_filters(std::move(node)));
      } else if (is_name("is")) {
        LM_TRY(node, parse_test(std::move(node)));
      } else if (is_op("(")) {
        LM_TRY(node, parse_call(std::move(node)));
      } else {
        return node;
      }
    }
  }

  Result<ExprPtr> parse_test(ExprPtr node) {
    auto n = make(EKind::Test, cur().off);
    next();
    if (skip_name("not")) n->negate = true;
    LM_TRY(n->name, expect_name());
    n->kids.push_back(std::move(node));
    const Token& t = cur();
    if (is_op("(")) {
      LM_TRY_STATUS(parse_args(*n));
    } else if ((t.kind == Tok::Name || t.kind == Tok::String || t.kind == Tok::Int ||
                t.kind == Tok::Float || is_op("[") || is_op("{")) &&
               !(is_name("else") || is_name("or") || is_name("and"))) {
      if (is_name("is")) return err(t.off, "You cannot chain multiple tests with is");
      LM_TRY(ExprPtr arg, parse_primary());
      LM_TRY(arg, parse_postfix(std::move(arg)));
      n->kids.push_back(std::move(arg));
      n->arg_names.push_back("");
    }
    return sized(std::move(n));
  }

  const std::string& src_;
  std::vector<Token> t_;
  size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

Result<std::shared_ptr<const Template>> parse_template(const std::string& text) {
  auto t = std::make_shared<Template>();
  t->source = normalize_source(text);
  LM_TRY(std::vector<Token> toks, lex(t->source));
  Parser p(t->source, std::move(toks));
  LM_TRY(t->body, p.parse_all());
  return std::shared_ptr<const Template>(std::move(t));
}

}  // namespace lm::chat::jinja
