#include "chat/jinja_lexer.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "chat/jinja_value.h"

namespace lm::chat::jinja {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

std::string rstrip_ws(const std::string& s) {
  size_t n = s.size();
  while (n > 0 && is_space(s[n - 1])) --n;
  return s.substr(0, n);
}

// lstrip_blocks: drop spaces/tabs between the last newline (or the line start) and the tag.
std::string lstrip_block(const std::string& text, bool line_starting) {
  size_t nl = text.rfind('\n');
  size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
  if (l_pos == 0 && !line_starting) return text;
  if (l_pos == text.size()) return text;
  for (size_t i = l_pos; i < text.size(); ++i) {
    if (!is_space(text[i])) return text;
  }
  return text.substr(0, l_pos);
}

int hex_val(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Python's unicode-escape decoding of a string literal body.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out.push_back(s[i]);
      continue;
    }
    char c = s[++i];
    switch (c) {
      case '\n': break;
      case '\\': out.push_back('\\'); break;
      case '\'': out.push_back('\''); break;
      case '"': out.push_back('"'); break;
      case 'a': out.push_back('\a'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'v': out.push_back('\v'); break;
      case 'x':
      case 'u':
      case 'U': {
        size_t len = c == 'x' ? 2 : c == 'u' ? 4 : 8;
        char32_t cp = 0;
        bool ok = i + len < s.size();
        for (size_t k = 1; ok && k <= len; ++k) {
          int h = hex_val(s[i + k]);
          if (h < 0) ok = false;
          else cp = cp * 16 + static_cast<char32_t>(h);
        }
        if (!ok || cp > 0x10FFFF) {
          out.push_back('\\');
          out.push_back(c);
          break;
        }
        utf8_append(out, cp);
        i += len;
        break;
      }
      default:
        if (c >= '0' && c <= '7') {
          char32_t cp = 0;
          size_t k = 0;
          while (k < 3 && i + k < s.size() && s[i + k] >= '0' && s[i + k] <= '7') {
            cp = cp * 8 + static_cast<char32_t>(s[i + k] - '0');
            ++k;
          }
          utf8_append(out, cp);
          i += k - 1;
        } else {
          out.push_back('\\');
          out.push_back(c);
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(const std::string& src) : s_(src) {}

  Result<std::vector<Token>> run() {
    bool line_starting = true;
    while (pos_ < s_.size()) {
      size_t tag = find_tag(pos_);
      if (tag == std::string::npos) {
        emit_data(s_.substr(pos_), pos_);
        break;
      }
      std::string text = s_.substr(pos_, tag - pos_);
      char kind = s_[tag + 1];  // '{', '%' or '#'
      char sign = tag + 2 < s_.size() ? s_[tag + 2] : '\0';
      if (sign != '-' && sign != '+') sign = '\0';
      if (sign == '-') {
        text = rstrip_ws(text);
      } else if (sign != '+' && kind != '{') {
        text = lstrip_block(text, line_starting);
      }
      size_t text_off = pos_;
      pos_ = tag + 2 + (sign ? 1 : 0);
      if (kind == '%' && is_raw_begin()) {
        emit_data(text, text_off);
        LM_TRY_STATUS(lex_raw(tag, line_starting));
        continue;
      }
      emit_data(text, text_off);
      if (kind == '#') {
        LM_TRY_STATUS(lex_comment(tag, line_starting));
      } else {
        LM_TRY_STATUS(lex_tag(kind == '%', tag, line_starting));
      }
    }
    toks_.push_back(Token{Tok::Eof, "", 0, 0, s_.size()});
    return std::move(toks_);
  }

 private:
  size_t find_tag(size_t from) const {
    for (size_t i = s_.find('{', from); i != std::string::npos; i = s_.find('{', i + 1)) {
      if (i + 1 < s_.size() && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  void emit_data(std::string text, size_t off) {
    if (!text.empty()) toks_.push_back(Token{Tok::Data, std::move(text), 0, 0, off});
  }

  Error err(size_t off, const std::string& msg) const {
    return Error(fmt::format("template syntax error at {}: {}", source_pos(s_, off), msg));
  }

  // After "{%[-+]": is this `raw\s*(-%}|%})`?
  bool is_raw_begin() {
    size_t p = pos_;
    while (p < s_.size() && is_space(s_[p])) ++p;
    if (s_.compare(p, 3, "raw") != 0) return false;
    p += 3;
    while (p < s_.size() && is_space(s_[p])) ++p;
    if (s_.compare(p, 3, "-%}") == 0) {
      p += 3;
      while (p < s_.size() && is_space(s_[p])) ++p;
    } else if (s_.compare(p, 2, "%}") == 0) {
      p += 2;
    } else {
      return false;
    }
    pos_ = p;
    return true;
  }

  // Finds `{%[-+]?\s*endraw\s*(+%}|-%}\s*|%}\n?)`; the text before it is data.
  Status lex_raw(size_t tag, bool& line_starting) {
    for (size_t i = s_.find("{%", pos_); i != std::string::npos; i = s_.find("{%", i + 1)) {
      size_t p = i + 2;
      char sign = p < s_.size() && (s_[p] == '-' || s_[p] == '+') ? s_[p++] : '\0';
      while (p < s_.size() && is_space(s_[p])) ++p;
      if (s_.compare(p, 6, "endraw") != 0) continue;
      p += 6;
      while (p < s_.size() && is_space(s_[p])) ++p;
      std::string text = s_.substr(pos_, i - pos_);
      if (sign == '-') text = rstrip_ws(text);
      else if (sign != '+') text = lstrip_block(text, false);
      if (s_.compare(p, 3, "+%}") == 0) {
        p += 3;
      } else if (s_.compare(p, 3, "-%}") == 0) {
        p += 3;
        while (p < s_.size() && is_space(s_[p])) ++p;
      } else if (s_.compare(p, 2, "%}") == 0) {
        p += 2;
        if (p < s_.size() && s_[p] == '\n') ++p;
      } else {
        continue;
      }
      emit_data(text, pos_);
      line_starting = s_[p - 1] == '\n';
      pos_ = p;
      return Ok{};
    }
    return err(tag, "missing end of raw directive");
  }

  Status lex_comment(size_t tag, bool& line_starting) {
    size_t e = s_.find("#}", pos_);
    if (e == std::string::npos) return err(tag, "missing end of comment tag");
    size_t p = e + 2;
    if (e > pos_ && s_[e - 1] == '-') {
      while (p < s_.size() && is_space(s_[p])) ++p;
    } else if (!(e > pos_ && s_[e - 1] == '+')) {
      if (p < s_.size() && s_[p] == '\n') ++p;
    }
    line_starting = s_[p - 1] == '\n';
    pos_ = p;
    return Ok{};
  }

  // Tries the end of the tag at pos_; returns true and advances when found.
  bool try_end(bool block, bool& line_starting) {
    const char* end = block ? "%}" : "}}";
    size_t p = pos_;
    if (s_[p] == '-' && s_.compare(p + 1, 2, end) == 0) {
      p += 3;
      while (p < s_.size() && is_space(s_[p])) ++p;
    } else if (block && s_[p] == '+' && s_.compare(p + 1, 2, end) == 0) {
      p += 3;
    } else if (s_.compare(p, 2, end) == 0) {
      p += 2;
      if (block && p < s_.size() && s_[p] == '\n') ++p;
    } else {
      return false;
    }
    toks_.push_back(Token{block ? Tok::BlockEnd : Tok::VarEnd, "", 0, 0, pos_});
    line_starting = s_[p - 1] == '\n';
    pos_ = p;
    return true;
  }

  Status lex_tag(bool block, size_t tag, bool& line_starting) {
    toks_.push_back(Token{block ? Tok::BlockBegin : Tok::VarBegin, "", 0, 0, tag});
    int balance = 0;
    while (true) {
      while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
      if (pos_ >= s_.size()) {
        return err(tag, block ? "unexpected end of template: missing '%}'"
                              : "unexpected end of template: missing '}}'");
      }
      if (balance == 0 && try_end(block, line_starting)) return Ok{};
      LM_TRY_STATUS(lex_token(balance));
    }
  }

  Status lex_token(int& balance) {
    size_t start = pos_;
    char c = s_[pos_];
    if (is_name_start(c)) {
      while (pos_ < s_.size() && is_name_char(s_[pos_])) ++pos_;
      toks_.push_back(Token{Tok::Name, s_.substr(start, pos_ - start), 0, 0, start});
      return Ok{};
    }
    if (c == '\'' || c == '"') return lex_string(c);
    if (is_digit(c)) return lex_number();
    static const char* kOps[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~",
                                 "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"};
    for (const char* op : kOps) {
      size_t n = std::strlen(op);
      if (s_.compare(pos_, n, op) == 0) {
        if (op[0] == '(' || op[0] == '[' || op[0] == '{') ++balance;
        if (op[0] == ')' || op[0] == ']' || op[0] == '}') {
          if (balance == 0) return err(start, fmt::format("unexpected '{}'", op));
          --balance;
        }
        pos_ += n;
        toks_.push_back(Token{Tok::Op, op, 0, 0, start});
        return Ok{};
      }
    }
    return err(start, fmt::format("unexpected char '{}'", c));
  }

  Status lex_string(char q) {
    size_t start = pos_++;
    std::string body;
    while (pos_ < s_.size() && s_[pos_] != q) {
      if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) body.push_back(s_[pos_++]);
      body.push_back(s_[pos_++]);
    }
    if (pos_ >= s_.size()) return err(start, "unterminated string");
    ++pos_;
    toks_.push_back(Token{Tok::String, unescape(body), 0, 0, start});
    return Ok{};
  }

  // Digits with optional '_' separators.
  std::string digits() {
    std::string d;
    while (pos_ < s_.size() && (is_digit(s_[pos_]) || (s_[pos_] == '_' && pos_ + 1 < s_.size() &&
                                                       is_digit(s_[pos_ + 1]) && !d.empty()))) {
      if (s_[pos_] != '_') d.push_back(s_[pos_]);
      ++pos_;
    }
    return d;
  }

  Status lex_number() {
    size_t start = pos_;
    bool after_dot = start > 0 && s_[start - 1] == '.';
    std::string text = digits();
    bool is_float = false;
    if (!after_dot && pos_ + 1 < s_.size() && s_[pos_] == '.' && is_digit(s_[pos_ + 1])) {
      ++pos_;
      text += "." + digits();
      is_float = true;
    }
    if (!after_dot && pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      if (p < s_.size() && (s_[p] == '+' || s_[p] == '-')) ++p;
      if (p < s_.size() && is_digit(s_[p])) {
        std::string e = s_.substr(pos_, p - pos_);
        pos_ = p;
        text += e + digits();
        is_float = true;
      }
    }
    Token t{is_float ? Tok::Float : Tok::Int, text, 0, 0, start};
    if (is_float) {
      t.fval = std::strtod(text.c_str(), nullptr);
    } else {
      errno = 0;
      t.ival = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == ERANGE) return err(start, "integer literal too large");
    }
    toks_.push_back(std::move(t));
    return Ok{};
  }

  const std::string& s_;
  size_t pos_ = 0;
  std::vector<Token> toks_;
};

}  // namespace

std::string normalize_source(const std::string& src) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
    } else {
      out.push_back(src[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string source_pos(const std::string& src, size_t off) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < off && i < src.size(); ++i) {
    if (src[i] == '\n') {
      ++line;
      col = 1;
    } else if ((static_cast<unsigned char>(src[i]) & 0xC0) != 0x80) {
      ++col;
    }
  }
  return fmt::format("{}:{}", line, col);
}

Result<std::vector<Token>> lex(const std::string& src) { return Lexer(src).run(); }

}  // namespace lm::chat::jinja
