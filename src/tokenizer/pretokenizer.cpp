#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <fmt/format.h>

namespace lm::tokenizer {
namespace {

// Regexes by pre-tokenizer name, as llama.cpp (llama-vocab.cpp) lists them. Characters with a
// canonical decomposition to another code point (U+1F7D, U+1FBE, U+1FD3, U+1FDB, U+2126,
// U+212A) are written as \x{...} so that no editor or tool can normalize them away.
constexpr std::string_view kGpt2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
constexpr std::string_view kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr std::string_view kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr std::string_view kDeepseekLlmLetters =
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\\x{1F7D}ᾀ-ᾴᾶ-ᾼ\\x{1FBE}ῂ-ῄῆ-ῌῐ-\\x{1FD3}ῖ-\\x{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\\x{2126}ℨ\\x{212A}-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ\\x{10400}-\\x{1044f}𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+";

struct Named {
  std::string_view name;
  std::vector<std::string_view> patterns;
};

const std::vector<Named>& table() {
  static const std::vector<Named> t = {
      {"gpt2", {kGpt2}},
      {"default", {kGpt2}},
      {"llama-bpe", {kLlama3}},
      {"llama3", {kLlama3}},
      {"dbrx", {kLlama3}},
      {"smaug-bpe", {kLlama3}},
      {"qwen2", {kQwen2}},
      {"stablelm2", {kQwen2}},
      {"deepseek-llm",
       {"[\\r\\n]", kDeepseekLlmLetters, "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$",
        "[一-龥ࠀ-一가-퟿]+", "\\p{N}+"}},
      {"deepseek-v3",
       {"\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?"
        "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
      {"smollm", {"\\p{N}", kGpt2}},
      {"starcoder", {"\\p{N}", kGpt2}},
  };
  return t;
}

pcre2_code* code_of(void* p) { return static_cast<pcre2_code*>(p); }

}  // namespace

Result<std::vector<std::string>> Pretokenizer::patterns_for(std::string_view pre) {
  if (pre.empty()) pre = "default";
  std::string known;
  for (const Named& n : table()) {
    if (n.name == pre) return std::vector<std::string>(n.patterns.begin(), n.patterns.end());
    known += known.empty() ? "" : ", ";
    known += n.name;
  }
  return errorf("pre-tokenizer '{}' is not supported (supported: {})", pre, known);
}

Result<std::shared_ptr<const Pretokenizer>> Pretokenizer::compile(
    std::vector<std::string> patterns) {
  std::shared_ptr<Pretokenizer> p(new Pretokenizer());
  p->patterns_ = std::move(patterns);
  for (const std::string& pat : p->patterns_) {
    int err = 0;
    PCRE2_SIZE at = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.data()), pat.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &at, nullptr);
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      return errorf("pre-tokenizer regex '{}': {} at offset {}", pat,
                    reinterpret_cast<const char*>(msg), at);
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);   // no JIT: the interpreter still works
    p->codes_.push_back(code);
  }
  return std::shared_ptr<const Pretokenizer>(std::move(p));
}

Pretokenizer::~Pretokenizer() {
  for (void* c : codes_) pcre2_code_free(code_of(c));
}

void Pretokenizer::split_one(size_t ir, std::string_view text,
                             std::vector<std::string_view>& out) const {
  pcre2_code* code = code_of(codes_[ir]);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0, emitted = 0;
  while (pos < text.size()) {
    int rc = pcre2_match(code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {   // JIT stack exhausted: the interpreter uses heap
      rc = pcre2_match(code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md,
                       nullptr);
    }
    if (rc < 0) break;   // no more matches (after a resource error too: the rest is one piece)
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t b = ov[0], e = ov[1];
    if (b > emitted) out.push_back(text.substr(emitted, b - emitted));
    if (e > b) {
      out.push_back(text.substr(b, e - b));
      emitted = e;
      pos = e;
    } else {   // empty match: step over one character
      pos = b + 1;
      while (pos < text.size() && (static_cast<uint8_t>(text[pos]) & 0xC0) == 0x80) ++pos;
    }
  }
  if (emitted < text.size()) out.push_back(text.substr(emitted));
  pcre2_match_data_free(md);
}

void Pretokenizer::split(std::string_view text, std::vector<std::string_view>& out) const {
  if (text.empty()) return;
  std::vector<std::string_view> cur{text}, next;
  for (size_t ir = 0; ir < codes_.size(); ++ir) {
    next.clear();
    for (std::string_view piece : cur) split_one(ir, piece, next);
    cur.swap(next);
  }
  out.insert(out.end(), cur.begin(), cur.end());
}

}  // namespace lm::tokenizer
