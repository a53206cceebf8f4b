// SentencePiece tokenizer on real vocabularies: llama.cpp's test vectors for the Llama-2 vocab
// (encoded without BOS and without parsing special tokens, as its test-tokenizer-0 does) and
// the stories260K model's vocab.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "gguf/gguf.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace lm::tokenizer {
namespace {

constexpr const char* kLlamaVocab = "tokenizer/ggml-vocab-llama-spm.gguf";
constexpr const char* kStories = "models/stories260K.gguf";

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

// .inp: texts separated by "\n__ggml_vocab_test__\n"; .out: one line of ids per text.
std::vector<Case> read_cases(const std::string& vocab_path) {
  const std::string inp = read_all(vocab_path + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t pos = 0; pos < inp.size();) {
    size_t next = inp.find(sep, pos);
    if (next == std::string::npos) {
      texts.push_back(inp.substr(pos));
      break;
    }
    texts.push_back(inp.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::ifstream out(vocab_path + ".out");
  std::vector<Case> cases;
  size_t i = 0;
  for (std::string line; std::getline(out, line); ++i) {
    Case c;
    c.text = i < texts.size() ? texts[i] : std::string();
    std::istringstream ls(line);
    for (int32_t id; ls >> id;) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  EXPECT_EQ(cases.size(), texts.size()) << "input and output files disagree on the case count";
  return cases;
}

struct Loaded {
  std::unique_ptr<gguf::File> file;
  std::unique_ptr<Tokenizer> tok;
};

Loaded load(const std::string& path) {
  Loaded l;
  auto f = gguf::File::open(path);
  EXPECT_TRUE(f.ok()) << f.error().message();
  if (!f.ok()) return l;
  l.file = std::move(f).value();
  auto t = Tokenizer::from_gguf(*l.file);
  EXPECT_TRUE(t.ok()) << t.error().message();
  if (t.ok()) l.tok = std::move(t).value();
  return l;
}

std::string ids_str(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += std::to_string(id) + " ";
  return s;
}

TEST(SpmFixture, LlamaVocabMatchesAllTestVectors) {
  LM_REQUIRE_FIXTURE(path, kLlamaVocab);
  Loaded l = load(path);
  ASSERT_TRUE(l.tok);
  EXPECT_EQ(l.tok->n_vocab(), 32000);
  EXPECT_EQ(l.tok->bos(), 1);
  EXPECT_EQ(l.tok->eos(), 2);
  std::vector<Case> cases = read_cases(path);
  ASSERT_EQ(cases.size(), 46u);
  int passed = 0;
  for (const Case& c : cases) {
    std::vector<int32_t> got = l.tok->encode(c.text, /*add_bos=*/false, /*parse_special=*/false);
    EXPECT_EQ(got, c.ids) << "text: '" << c.text << "'\n got: " << ids_str(got)
                          << "\n want: " << ids_str(c.ids);
    passed += got == c.ids;
  }
  EXPECT_EQ(passed, static_cast<int>(cases.size()));
  std::printf("llama-spm vectors: %d/%zu passed\n", passed, cases.size());
}

TEST(SpmFixture, LlamaVocabDecodesTestVectorsBack) {
  LM_REQUIRE_FIXTURE(path, kLlamaVocab);
  Loaded l = load(path);
  ASSERT_TRUE(l.tok);
  for (const Case& c : read_cases(path)) {
    EXPECT_EQ(l.tok->decode(c.ids), c.text);
    // With BOS in front, the leading-space rule still applies to the first text piece.
    std::vector<int32_t> with_bos = l.tok->encode(c.text, true, false);
    EXPECT_EQ(l.tok->decode(with_bos), c.text);
  }
}

TEST(SpmFixture, LlamaVocabSpecialTokensAndEog) {
  LM_REQUIRE_FIXTURE(path, kLlamaVocab);
  Loaded l = load(path);
  ASSERT_TRUE(l.tok);
  const Tokenizer& t = *l.tok;
  EXPECT_TRUE(t.is_control(1));
  EXPECT_TRUE(t.is_eog(2));
  EXPECT_FALSE(t.is_eog(1));
  EXPECT_EQ(t.token_text(1), "<s>");
  EXPECT_EQ(t.decode_token(1), "");
  EXPECT_EQ(t.decode_token(1, /*render_special=*/true), "<s>");
  EXPECT_EQ(t.decode_token(15043), " Hello");
  EXPECT_EQ(t.decode_token(t.piece_to_id("<0x41>")), "A");
  // "<s>" in the text is a control token only when parse_special.
  std::vector<int32_t> parsed = t.encode("<s>Hello</s>", false, true);
  EXPECT_EQ(parsed, (std::vector<int32_t>{1, 15043, 2}));  // "▁Hello" after a special token
  std::vector<int32_t> plain = t.encode("<s>Hello</s>", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 1), 0);
  EXPECT_EQ(t.decode(plain), "<s>Hello</s>");
}

TEST(SpmFixture, StoriesZooWithBos) {
  LM_REQUIRE_FIXTURE(path, kStories);
  Loaded l = load(path);
  ASSERT_TRUE(l.tok);
  EXPECT_EQ(l.tok->n_vocab(), 512);
  std::vector<int32_t> ids = l.tok->encode("Zoo", /*add_bos=*/true, /*parse_special=*/false);
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 410, 469, 347}));
  EXPECT_EQ(l.tok->decode(ids), "Zoo");
  // Streaming the prompt and then a generated "▁was": the space before "was" stays.
  const int32_t was = l.tok->piece_to_id("▁was");
  ASSERT_GE(was, 0);
  StreamDecoder sd(*l.tok);
  std::string shown;
  for (int32_t id : ids) shown += sd.push(id);
  shown += sd.push(was);
  EXPECT_EQ(shown, "Zoo was");
  StreamDecoder generated_only(*l.tok, StreamStart::kContinuation);
  EXPECT_EQ(generated_only.push(was), " was");
}

// Round trips over text the small vocab mostly lacks: exercises byte fallback heavily.
TEST(SpmFixture, RoundTripsVariedTextOnBothVocabs) {
  LM_REQUIRE_FIXTURE(llama, kLlamaVocab);
  LM_REQUIRE_FIXTURE(stories, kStories);
  const std::vector<std::string> corpus = {
      "Hello world", "  leading and trailing spaces  ", "tabs\tand\nnewlines\r\n",
      "     ", "multiple   inner    spaces", "日本語のテキスト、中文文本", "한국어 텍스트",
      "emoji 🦙🚀 👨‍👩‍👧 flags 🇫🇷", "ñandú über façade", "Ω≈ç√∫ math ∑∏",
      "mixed: 3.14159, x^2 + y^2 = z^2; {\"json\": [1, 2]}", "a", " ", "\n",
      std::string("nul\0byte", 8), "ends with space ", "Once upon a time, there was a cat.",
  };
  for (const std::string& path : {llama, stories}) {
    Loaded l = load(path);
    ASSERT_TRUE(l.tok);
    for (const std::string& text : corpus) {
      std::vector<int32_t> ids = l.tok->encode(text, true, false);
      EXPECT_EQ(l.tok->decode(ids), text) << path << ": '" << text << "'";
    }
  }
}

TEST(SpmFixture, InvalidUtf8RoundTripsThroughByteTokens) {
  LM_REQUIRE_FIXTURE(path, kLlamaVocab);
  Loaded l = load(path);
  ASSERT_TRUE(l.tok);
  const std::vector<std::string> bad = {"\xff", "abc\xc3", "\xe2\x82x", "\xed\xa0\x80 surrogate",
                                        "\xc0\xaf overlong", "ok \xf4\x90\x80\x80 too big"};
  for (const std::string& text : bad) {
    std::vector<int32_t> ids = l.tok->encode(text, false, false);
    EXPECT_EQ(l.tok->decode(ids), text);
    StreamDecoder sd(*l.tok);
    std::string streamed;
    for (int32_t id : ids) streamed += sd.push(id);
    streamed += sd.flush();
    EXPECT_TRUE(is_valid_utf8(streamed));
    EXPECT_EQ(streamed, sanitize_utf8(text));
  }
}

// Encoding speed is reported (not asserted): a 100 KB text through the 32000-piece vocab.
TEST(SpmFixture, EncodesLargeTextQuickly) {
  LM_REQUIRE_FIXTURE(path, kLlamaVocab);
  Loaded l = load(path);
  ASSERT_TRUE(l.tok);
  std::string text;
  std::string inp = read_all(path + ".inp");
  while (text.size() < 100000) text += inp;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<int32_t> ids = l.tok->encode(text, true, false);
  auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(l.tok->decode(ids), text);
  double ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  std::printf("encoded %zu bytes into %zu tokens in %.1f ms (%.1f MB/s)\n", text.size(), ids.size(),
              ms, text.size() / ms / 1000.0);
}

}  // namespace
}  // namespace lm::tokenizer
