// StreamDecoder: chunks are always valid UTF-8 and concatenate to decode(); UTF-8 helpers.
#include <gtest/gtest.h>

#include <random>

#include "gguf/gguf.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace lm::tokenizer {
namespace {

TEST(Utf8, StepsClassifySequences) {
  auto step = [](std::string_view s) { return utf8_step(s, 0); };
  EXPECT_EQ(step("a").status, Utf8Status::kValid);
  EXPECT_EQ(step("é").len, 2u);
  EXPECT_EQ(step("€").len, 3u);
  EXPECT_EQ(step("🦙").len, 4u);
  EXPECT_EQ(step("\xF0\x9F").status, Utf8Status::kIncomplete);
  EXPECT_EQ(step("\xF0\x9F").len, 2u);
  EXPECT_EQ(step("\x80").status, Utf8Status::kInvalid);       // lone continuation
  EXPECT_EQ(step("\xC0\xAF").status, Utf8Status::kInvalid);   // overlong
  EXPECT_EQ(step("\xED\xA0\x80").status, Utf8Status::kInvalid);   // surrogate
  EXPECT_EQ(step("\xF4\x90\x80\x80").status, Utf8Status::kInvalid);   // > U+10FFFF
  Utf8Step st = step("\xE2\x82x");
  EXPECT_EQ(st.status, Utf8Status::kInvalid);
  EXPECT_EQ(st.len, 2u);   // the maximal subpart E2 82
}

TEST(Utf8, SanitizeReplacesMaximalSubparts) {
  EXPECT_EQ(sanitize_utf8("ok"), "ok");
  EXPECT_EQ(sanitize_utf8("a\xE2\x82x"), "a\xEF\xBF\xBDx");
  EXPECT_EQ(sanitize_utf8("\xFF\xFE"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(sanitize_utf8("end\xF0\x9F\x98"), "end\xEF\xBF\xBD");
  EXPECT_TRUE(is_valid_utf8("日本🦙"));
  EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x98"));
}

class StreamDecoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string path = test::fixture_path("tokenizer/ggml-vocab-llama-spm.gguf");
    if (path.empty()) GTEST_SKIP() << "fixture tokenizer/ggml-vocab-llama-spm.gguf not found";
    auto f = gguf::File::open(path);
    ASSERT_TRUE(f.ok()) << f.error().message();
    file_ = std::move(f).value();
    auto t = Tokenizer::from_gguf(*file_);
    ASSERT_TRUE(t.ok()) << t.error().message();
    tok_ = std::move(t).value();
  }
  std::unique_ptr<gguf::File> file_;
  std::unique_ptr<Tokenizer> tok_;
};

const std::vector<std::string> kCorpus = {
    "Hello world", " leading space", "  two leading", "tabs\tand\nnewlines\n\n",
    "日本語のテキスト、中文文本と한국어", "emoji 🦙🚀 👨‍👩‍👧 flags 🇫🇷 done", "ñandú über façade",
    "ሰላም ዓለም and ภาษาไทย", "x", "",
};

// For every prefix of the token sequence, streamed chunks concatenate to decode(prefix) once
// flushed, and every chunk is valid UTF-8 on its own.
TEST_F(StreamDecoderTest, ChunksAreValidAndMatchDecodeForEveryPrefix) {
  for (const std::string& text : kCorpus) {
    for (bool bos : {false, true}) {
      std::vector<int32_t> ids = tok_->encode(text, bos, false);
      for (size_t n = 0; n <= ids.size(); ++n) {
        StreamDecoder sd(*tok_);
        std::string streamed;
        for (size_t i = 0; i < n; ++i) {
          std::string chunk = sd.push(ids[i]);
          ASSERT_TRUE(is_valid_utf8(chunk)) << "text '" << text << "' token " << i;
          streamed += chunk;
        }
        std::string rest = sd.flush();
        std::string want = tok_->decode(std::span(ids.data(), n));
        if (is_valid_utf8(want)) {
          EXPECT_EQ(rest, "");
          EXPECT_EQ(streamed, want) << "text '" << text << "' prefix " << n;
        } else {
          // The prefix cut a character in two: what is held back comes out as U+FFFD.
          EXPECT_EQ(streamed + rest, sanitize_utf8(want));
        }
      }
      if (!ids.empty()) {
        StreamDecoder sd(*tok_);
        std::string all;
        for (int32_t id : ids) all += sd.push(id);
        EXPECT_EQ(all + sd.flush(), text);
      }
    }
  }
}

TEST_F(StreamDecoderTest, HoldsBackSplitCharacterUntilComplete) {
  std::vector<int32_t> ids = tok_->encode("🦙", false, false);   // ▁ + four byte tokens
  ASSERT_EQ(ids.size(), 5u);
  StreamDecoder sd(*tok_);
  EXPECT_EQ(sd.push(ids[0]), "");       // the dummy-prefix space is dropped
  EXPECT_EQ(sd.push(ids[1]), "");
  EXPECT_EQ(sd.push(ids[2]), "");
  EXPECT_EQ(sd.push(ids[3]), "");
  EXPECT_EQ(sd.push(ids[4]), "🦙");
  EXPECT_EQ(sd.flush(), "");
}

TEST_F(StreamDecoderTest, InvalidBytesBecomeReplacementNotHeld) {
  const int32_t b_f0 = tok_->piece_to_id("<0xF0>");
  const int32_t b_9f = tok_->piece_to_id("<0x9F>");
  const int32_t b_ff = tok_->piece_to_id("<0xFF>");
  const int32_t hello = tok_->piece_to_id("▁Hello");
  ASSERT_GE(b_f0, 0);
  StreamDecoder sd(*tok_);
  EXPECT_EQ(sd.push(b_ff), "\xEF\xBF\xBD");           // never valid: out at once
  EXPECT_EQ(sd.push(b_f0), "");
  EXPECT_EQ(sd.push(b_9f), "");
  EXPECT_EQ(sd.push(hello), "\xEF\xBF\xBD Hello");    // the broken sequence ends: U+FFFD
  EXPECT_EQ(sd.push(b_f0), "");
  EXPECT_EQ(sd.flush(), "\xEF\xBF\xBD");              // unfinished at the end
}

TEST_F(StreamDecoderTest, LeadingSpaceRuleMatchesDecode) {
  std::vector<int32_t> ids = {tok_->bos(), tok_->piece_to_id("▁Hello"), tok_->piece_to_id("▁world")};
  StreamDecoder sd(*tok_);
  std::string s;
  for (int32_t id : ids) s += sd.push(id);
  EXPECT_EQ(s, "Hello world");
  EXPECT_EQ(s, tok_->decode(ids));
  // After flush, a new stream starts: the rule applies again.
  sd.flush();
  EXPECT_EQ(sd.push(ids[1]), "Hello");
  // A continuation (generated tokens after a prompt) keeps the space of its first token.
  StreamDecoder cont(*tok_, StreamStart::kContinuation);
  EXPECT_EQ(cont.push(ids[2]), " world");
  // Rendering control tokens on request.
  StreamDecoder special(*tok_, StreamStart::kSequenceStart, /*render_special=*/true);
  EXPECT_EQ(special.push(tok_->bos()), "<s>");
  EXPECT_EQ(special.push(ids[1]), " Hello");
}

// Random token sequences (bytes, pieces, control tokens): chunks stay valid UTF-8 and equal
// sanitize(decode()) overall.
TEST_F(StreamDecoderTest, RandomTokenSequences) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> any(0, tok_->n_vocab() - 1);
  std::uniform_int_distribution<int32_t> byte(3, 258);   // <0x00>..<0xFF> in the Llama vocab
  for (int iter = 0; iter < 300; ++iter) {
    std::vector<int32_t> ids;
    for (int i = 0; i < 12; ++i) ids.push_back(rng() % 2 ? byte(rng) : any(rng));
    StreamDecoder sd(*tok_);
    std::string all;
    for (int32_t id : ids) {
      std::string chunk = sd.push(id);
      ASSERT_TRUE(is_valid_utf8(chunk));
      all += chunk;
    }
    all += sd.flush();
    EXPECT_EQ(all, sanitize_utf8(tok_->decode(ids)));
  }
}

}  // namespace
}  // namespace lm::tokenizer
