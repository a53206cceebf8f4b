// The heap-based SPM encoder against a direct transcription of the algorithm (scan every
// adjacent pair, merge the best, repeat: O(n^2)), on random text over real vocabularies; and
// concurrent encoding from several threads.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "gguf/gguf.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace lm::tokenizer {
namespace {

bool mergeable(const Tokenizer& t, int32_t id) {
  TokenType ty = t.token_type(id);
  return id >= 0 && (ty == TokenType::kNormal || ty == TokenType::kUserDefined || ty == TokenType::kUnused);
}

// Plain text only (no special tokens), add_space_prefix vocabularies, no unused pieces.
std::vector<int32_t> naive_encode(const Tokenizer& t, std::string_view text) {
  std::string s = "\xE2\x96\x81";
  for (char c : text) s += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
  std::vector<std::string> syms;
  for (size_t pos = 0; pos < s.size();) {
    Utf8Step st = utf8_step(s, pos);
    size_t len = st.status == Utf8Status::kValid ? st.len : 1;
    syms.push_back(s.substr(pos, len));
    pos += len;
  }
  while (true) {
    int best = -1;
    float best_score = 0;
    for (size_t i = 0; i + 1 < syms.size(); ++i) {
      int32_t id = t.piece_to_id(syms[i] + syms[i + 1]);
      if (!mergeable(t, id)) continue;
      float score = t.vocab().scores[id];
      if (best < 0 || score > best_score) {   // strict: the leftmost wins ties
        best = static_cast<int>(i);
        best_score = score;
      }
    }
    if (best < 0) break;
    syms[best] += syms[best + 1];
    syms.erase(syms.begin() + best + 1);
  }
  std::vector<int32_t> out;
  for (const std::string& sym : syms) {
    int32_t id = t.piece_to_id(sym);
    if (mergeable(t, id)) {
      out.push_back(id);
      continue;
    }
    for (char c : sym) out.push_back(t.piece_to_id(fmt::format("<0x{:02X}>", static_cast<uint8_t>(c))));
  }
  return out;
}

// Random text from fragments that interact in the vocabularies: letters, spaces, digits,
// punctuation, accented and CJK characters, emoji and stray bytes.
std::string random_text(std::mt19937& rng) {
  static const std::vector<std::string> atoms = {
      "a", "e", "t", "th", "he", "in", "er", "an", " ", "  ", "   ", "\n", "\t", "1", "33",
      ".", ",", "!", "'", "é", "ü", "日", "本", "語", "🦙", "👨‍👩‍👧", "\xff", "\xe2\x82", "Zoo",
      "the", "ing", "ll", "o", "Hello", "world", "once", "upon", "time", "-", "ab", "ba"};
  std::uniform_int_distribution<size_t> pick(0, atoms.size() - 1);
  std::uniform_int_distribution<int> len(0, 40);
  std::string s;
  for (int n = len(rng); n > 0; --n) s += atoms[pick(rng)];
  return s;
}

std::unique_ptr<Tokenizer> load(const std::string& path, std::unique_ptr<gguf::File>& file) {
  auto f = gguf::File::open(path);
  EXPECT_TRUE(f.ok()) << f.error().message();
  if (!f.ok()) return nullptr;
  file = std::move(f).value();
  auto t = Tokenizer::from_gguf(*file);
  EXPECT_TRUE(t.ok()) << t.error().message();
  return t.ok() ? std::move(t).value() : nullptr;
}

void check_against_naive(const std::string& path, uint32_t seed) {
  std::unique_ptr<gguf::File> file;
  auto tok = load(path, file);
  ASSERT_TRUE(tok);
  std::mt19937 rng(seed);
  for (int i = 0; i < 400; ++i) {
    std::string text = random_text(rng);
    std::vector<int32_t> want = naive_encode(*tok, text);
    if (text.empty()) want.clear();
    ASSERT_EQ(tok->encode(text, false, false), want) << "text: '" << text << "'";
    ASSERT_EQ(tok->decode(want), text);
  }
}

TEST(SpmReference, MatchesNaiveMergeLoopOnLlamaVocab) {
  LM_REQUIRE_FIXTURE(path, "tokenizer/ggml-vocab-llama-spm.gguf");
  check_against_naive(path, 7);
}

TEST(SpmReference, MatchesNaiveMergeLoopOnStoriesVocab) {
  LM_REQUIRE_FIXTURE(path, "models/stories260K.gguf");
  check_against_naive(path, 11);
}

// Arbitrary bytes (a poor man's fuzzer): encode never fails, ids are in range, decode gives
// the bytes back exactly, and streaming gives their sanitized form in valid UTF-8 chunks.
TEST(SpmReference, RandomBytesRoundTrip) {
  LM_REQUIRE_FIXTURE(path, "tokenizer/ggml-vocab-llama-spm.gguf");
  std::unique_ptr<gguf::File> file;
  auto tok = load(path, file);
  ASSERT_TRUE(tok);
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> len(0, 64);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> ascii(0x20, 0x7E);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string text;
    for (int n = len(rng); n > 0; --n) {
      text.push_back(static_cast<char>(iter % 2 ? byte(rng) : ascii(rng)));
    }
    if (text.find("\xE2\x96\x81") != std::string::npos) continue;   // "▁" reads as a space
    std::vector<int32_t> ids = tok->encode(text, true, true);
    for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok->n_vocab());
    if (text.find("<s>") != std::string::npos || text.find("</s>") != std::string::npos ||
        text.find("<unk>") != std::string::npos) {
      continue;   // parsed as control tokens, which decode to nothing
    }
    ASSERT_EQ(tok->decode(ids), text);
    StreamDecoder sd(*tok);
    std::string streamed;
    for (int32_t id : ids) {
      std::string chunk = sd.push(id);
      ASSERT_TRUE(is_valid_utf8(chunk));
      streamed += chunk;
    }
    ASSERT_EQ(streamed + sd.flush(), sanitize_utf8(text));
  }
}

TEST(SpmReference, ConcurrentEncodeDecodeAgree) {
  LM_REQUIRE_FIXTURE(path, "tokenizer/ggml-vocab-llama-spm.gguf");
  std::unique_ptr<gguf::File> file;
  auto tok = load(path, file);
  ASSERT_TRUE(tok);
  std::mt19937 rng(3);
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) texts.push_back(random_text(rng));
  std::vector<std::vector<int32_t>> want;
  for (const auto& t : texts) want.push_back(tok->encode(t, true, true));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int th = 0; th < 4; ++th) {
    threads.emplace_back([&, th] {
      for (int rep = 0; rep < 3; ++rep) {
        for (size_t i = 0; i < texts.size(); ++i) {
          if (tok->encode(texts[i], true, true) != want[i]) ++mismatches[th];
          if (tok->decode(want[i]) != texts[i]) ++mismatches[th];
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

}  // namespace
}  // namespace lm::tokenizer
