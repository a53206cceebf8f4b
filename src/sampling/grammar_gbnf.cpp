// GBNF text → Grammar (see parse_gbnf in grammar.h). A rule runs until the next `name ::=` or
// the end of the text, so alternatives may continue over several lines.
#include <cctype>

#include "sampling/grammar.h"

namespace lm::sampling {
namespace {

class GbnfParser {
 public:
  explicit GbnfParser(std::string_view text) : s_(text) {}

  Result<std::shared_ptr<const Grammar>> parse() {
    skip_space();
    if (pos_ >= s_.size()) return fail("the grammar is empty");
    while (pos_ < s_.size()) {
      std::string name = ident();
      if (name.empty()) return fail("expected a rule name");
      skip_space();
      if (s_.substr(pos_, 3) != "::=") return fail("expected '::=' after rule name '" + name + "'");
      pos_ += 3;
      const int32_t r = b_.rule(name);
      if (b_.defined(r)) return fail("rule '" + name + "' is defined twice");
      auto e = alternatives(0);
      if (!e.ok()) return std::move(e).error();
      b_.define(r, std::move(*e));
      skip_space();
    }
    const int32_t root = b_.rule("root");
    if (!b_.defined(root)) return errorf("gbnf: no 'root' rule");
    auto g = b_.build(root);
    if (!g.ok()) return std::move(g).error().wrap("gbnf");
    return g;
  }

 private:
  Error fail(const std::string& what) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos_ && i < s_.size(); ++i) {
      if (s_[i] == '\n') ++line, col = 1;
      else ++col;
    }
    return errorf("gbnf: line {}, column {}: {}", line, col, what);
  }

  void skip_space() {
    while (pos_ < s_.size()) {
      if (s_[pos_] == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
      } else if (std::isspace(static_cast<unsigned char>(s_[pos_]))) {
        ++pos_;
      } else {
        break;
      }
    }
  }

  static bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; }

  std::string ident() {
    size_t b = pos_;
    while (pos_ < s_.size() && ident_char(s_[pos_])) ++pos_;
    return std::string(s_.substr(b, pos_ - b));
  }

  // True when the text at pos_ starts the next rule (`name ::=`).
  bool at_rule_start() const {
    size_t p = pos_;
    while (p < s_.size() && ident_char(s_[p])) ++p;
    if (p == pos_) return false;
    while (p < s_.size() && std::isspace(static_cast<unsigned char>(s_[p]))) ++p;
    return s_.substr(p, 3) == "::=";
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // One code point of a literal or class (escapes included); false at the end of the text.
  Result<uint32_t> code_point() {
    if (pos_ >= s_.size()) return fail("unexpected end of the grammar");
    unsigned char c = static_cast<unsigned char>(s_[pos_]);
    if (c == '\\') {
      if (++pos_ >= s_.size()) return fail("unfinished escape");
      const char e = s_[pos_++];
      int hex = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
      if (hex == 0) {
        switch (e) {
          case 'n': return uint32_t{'\n'};
          case 't': return uint32_t{'\t'};
          case 'r': return uint32_t{'\r'};
          case '\\': case '"': case '[': case ']': case '-': case '^': return static_cast<uint32_t>(e);
          default: return fail(fmt::format("unknown escape '\\{}'", e));
        }
      }
      uint32_t v = 0;
      for (int i = 0; i < hex; ++i, ++pos_) {
        if (pos_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[pos_]))) return fail("bad hex escape");
        const char h = static_cast<char>(std::tolower(s_[pos_]));
        v = v * 16 + static_cast<uint32_t>(h <= '9' ? h - '0' : h - 'a' + 10);
      }
      if (v > 0x10FFFF) return fail("code point out of range");
      return v;
    }
    // A UTF-8 character.
    const int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || pos_ + n > s_.size()) return fail("invalid UTF-8");
    uint32_t v = n == 1 ? c : c & (0x7F >> n);
    for (int i = 1; i < n; ++i) v = (v << 6) | (static_cast<unsigned char>(s_[pos_ + i]) & 0x3F);
    pos_ += n;
    return v;
  }

  Result<Expr> literal() {
    ++pos_;   // "
    std::string bytes;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      LM_TRY(uint32_t cp, code_point());
      append_utf8(bytes, cp);
    }
    if (pos_ >= s_.size()) return fail("unterminated string literal");
    ++pos_;
    return Expr::lit(bytes);
  }

  Result<Expr> char_class() {
    ++pos_;   // [
    bool negated = pos_ < s_.size() && s_[pos_] == '^';
    if (negated) ++pos_;
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
    while (pos_ < s_.size() && s_[pos_] != ']') {
      LM_TRY(uint32_t a, code_point());
      uint32_t b = a;
      if (pos_ + 1 < s_.size() && s_[pos_] == '-' && s_[pos_ + 1] != ']') {
        ++pos_;
        LM_TRY(uint32_t hi, code_point());
        b = hi;
      }
      ranges.emplace_back(a, b);
    }
    if (pos_ >= s_.size()) return fail("unterminated character class");
    ++pos_;
    if (ranges.empty() && !negated) return fail("empty character class");
    return Expr::cls(std::move(ranges), negated);
  }

  Result<Expr> postfix(Expr e) {
    for (;;) {
      skip_space_inline();
      if (pos_ >= s_.size()) return e;
      const char c = s_[pos_];
      if (c == '*') e = Expr::repeat(std::move(e), 0, -1);
      else if (c == '+') e = Expr::repeat(std::move(e), 1, -1);
      else if (c == '?') e = Expr::repeat(std::move(e), 0, 1);
      else if (c != '{') return e;
      ++pos_;
      if (c != '{') continue;
      auto num = [&]() -> int64_t {
        skip_space();
        size_t b = pos_;
        int64_t v = 0;
        while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_])) && v < 1000000)
          v = v * 10 + (s_[pos_++] - '0');
        skip_space();
        return pos_ == b ? -1 : v;
      };
      const int64_t m = num();
      if (m < 0) return fail("expected a number in {}");
      int64_t n = m;
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        n = num();
      }
      if (pos_ >= s_.size() || s_[pos_] != '}') return fail("expected '}'");
      ++pos_;
      if (n >= 0 && n < m) return fail("repetition {m,n} with n < m");
      e = Expr::repeat(std::move(e), static_cast<int32_t>(m), static_cast<int32_t>(n));
    }
  }

  void skip_space_inline() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }

  Result<Expr> sequence(int depth) {
    std::vector<Expr> items;
    for (;;) {
      skip_space();
      if (pos_ >= s_.size() || s_[pos_] == '|' || s_[pos_] == ')' || (depth == 0 && at_rule_start())) break;
      Expr e;
      const char c = s_[pos_];
      if (c == '"') {
        LM_TRY(Expr x, literal());
        e = std::move(x);
      } else if (c == '[') {
        LM_TRY(Expr x, char_class());
        e = std::move(x);
      } else if (c == '.') {
        ++pos_;
        e = Expr::cls({}, true);
      } else if (c == '(') {
        ++pos_;
        LM_TRY(Expr x, alternatives(depth + 1));
        skip_space();
        if (pos_ >= s_.size() || s_[pos_] != ')') return fail("expected ')'");
        ++pos_;
        e = std::move(x);
      } else if (ident_char(c)) {
        e = Expr::ref(b_.rule(ident()));
      } else {
        return fail(fmt::format("unexpected '{}'", c));
      }
      LM_TRY(Expr p, postfix(std::move(e)));
      items.push_back(std::move(p));
    }
    return Expr::seq(std::move(items));
  }

  Result<Expr> alternatives(int depth) {
    if (depth > 100) return fail("groups nested too deeply");
    std::vector<Expr> alts;
    for (;;) {
      LM_TRY(Expr s, sequence(depth));
      alts.push_back(std::move(s));
      skip_space();
      if (pos_ < s_.size() && s_[pos_] == '|') {
        ++pos_;
        continue;
      }
      return Expr::alt(std::move(alts));
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  GrammarBuilder b_;
};

}  // namespace

Result<std::shared_ptr<const Grammar>> parse_gbnf(std::string_view text) { return GbnfParser(text).parse(); }

}  // namespace lm::sampling
