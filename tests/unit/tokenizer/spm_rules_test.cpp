// SentencePiece BPE rules on hand-built vocabularies: merge order, ties, byte and UNK fallback,
// special-token splitting, space prefix, unused pieces.
#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"

namespace lm::tokenizer {
namespace {

struct Piece {
  std::string text;
  float score;
  TokenType type;
};

// ids: 0 <unk>, 1 <s>, 2 </s>, then `extra` in order.
std::unique_ptr<Tokenizer> make(const std::vector<Piece>& extra, bool with_bytes = false,
                                bool add_space_prefix = true) {
  Vocab v;
  v.model = "llama";
  auto add = [&](std::string text, float score, TokenType type) {
    v.pieces.push_back(std::move(text));
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0, TokenType::kUnknown);
  add("<s>", 0, TokenType::kControl);
  add("</s>", 0, TokenType::kControl);
  for (const Piece& p : extra) add(p.text, p.score, p.type);
  if (with_bytes) {
    for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b), 0, TokenType::kByte);
  }
  v.bos = 1;
  v.eos = 2;
  v.unk = 0;
  v.add_space_prefix = add_space_prefix;
  auto t = Tokenizer::from_vocab(std::move(v));
  EXPECT_TRUE(t.ok());
  return std::move(t).value();
}

constexpr TokenType N = TokenType::kNormal;

using Ids = std::vector<int32_t>;

TEST(SpmRules, HighestScoreMergesFirst) {
  // "▁abc": "bc" (-1) beats "ab" (-2), so the result is "▁" "a" "bc", not "ab" ...
  auto t = make({{"▁", -5, N}, {"a", -5, N}, {"b", -5, N}, {"c", -5, N}, {"ab", -2, N},
                 {"bc", -1, N}});
  EXPECT_EQ(t->encode("abc", false, false), (Ids{3, 4, 8}));
  // ... and flipping the scores flips the result.
  auto u = make({{"▁", -5, N}, {"a", -5, N}, {"b", -5, N}, {"c", -5, N}, {"ab", -1, N},
                 {"bc", -2, N}});
  EXPECT_EQ(u->encode("abc", false, false), (Ids{3, 7, 6}));
}

TEST(SpmRules, TiesGoToTheLeftmostPair) {
  // "aaa": both pairs are "aa" with the same score; the left one merges.
  auto t = make({{"a", -5, N}, {"aa", -1, N}}, false, /*add_space_prefix=*/false);
  EXPECT_EQ(t->encode("aaa", false, false), (Ids{4, 3}));
  EXPECT_EQ(t->encode("aaaaa", false, false), (Ids{4, 4, 3}));
}

TEST(SpmRules, MergesChainIntoLongerPieces) {
  auto t = make({{"▁", -9, N}, {"h", -9, N}, {"e", -9, N}, {"l", -9, N}, {"o", -9, N},
                 {"ll", -1, N}, {"he", -2, N}, {"hell", -3, N}, {"hello", -4, N},
                 {"▁hello", -5, N}});
  EXPECT_EQ(t->encode("hello", false, false), (Ids{12}));
  EXPECT_EQ(t->encode("hello hello", false, false), (Ids{12, 12}));
  EXPECT_EQ(t->decode(Ids{12, 12}), "hello hello");
}

TEST(SpmRules, PiecesWithInnerSpacesMergeAcrossWords) {
  // "a▁b" spans a word boundary: the encoder must not cut the text into words here.
  auto t = make({{"▁", -5, N}, {"a", -5, N}, {"b", -5, N}, {"▁b", -2, N}, {"a▁b", -1, N}});
  EXPECT_EQ(t->encode("a b", false, false), (Ids{3, 7}));
  // Runs of spaces stay whole either way ("▁▁" pieces are allowed with word cutting).
  auto u = make({{"▁", -5, N}, {"a", -5, N}, {"▁▁", -1, N}, {"▁a", -2, N}});
  EXPECT_EQ(u->encode("a  a", false, false), (Ids{6, 5, 4}));
}

TEST(SpmRules, UnknownCharactersFallBackToBytes) {
  auto t = make({{"▁", -1, N}, {"a", -1, N}}, /*with_bytes=*/true);
  const int32_t byte0 = 5;   // <0x00>
  Ids ids = t->encode("aé", false, false);   // é = C3 A9
  EXPECT_EQ(ids, (Ids{3, 4, byte0 + 0xC3, byte0 + 0xA9}));
  EXPECT_EQ(t->decode(ids), "aé");
}

TEST(SpmRules, WithoutByteTokensAnUnknownCharacterIsOneUnk) {
  auto t = make({{"▁", -1, N}, {"a", -1, N}});
  Ids ids = t->encode("aéa", false, false);
  EXPECT_EQ(ids, (Ids{3, 4, 0, 4}));
  EXPECT_EQ(t->decode(ids), "aa");               // UNK renders as nothing ...
  EXPECT_EQ(t->decode(ids, true), "a<unk>a");    // ... unless asked
}

TEST(SpmRules, ControlTokensAreParsedOnlyWhenAsked) {
  auto t = make({{"▁", -1, N}, {"x", -1, N}, {"<", -1, N}, {"s", -1, N}, {">", -1, N},
                 {"<s", -0.5f, N}});
  EXPECT_EQ(t->encode("<s>x", false, true), (Ids{1, 3, 4}));
  // Not parsed: the text is tokenized, and merging never produces the control piece "<s>".
  EXPECT_EQ(t->encode("<s>x", false, false), (Ids{3, 8, 7, 4}));
  // Split around special tokens, the space prefix is added after each one.
  EXPECT_EQ(t->encode("x</s>x", true, true), (Ids{1, 3, 4, 2, 3, 4}));
  EXPECT_EQ(t->encode("<unk>", false, true), (Ids{0}));
}

TEST(SpmRules, UserDefinedTokensAreAlwaysMatched) {
  auto t = make({{"▁", -1, N}, {"x", -1, N}, {"<tool>", 0, TokenType::kUserDefined},
                 {"<tool>x", 0, TokenType::kUserDefined}});
  // Longest first: "<tool>x" wins over "<tool>", with or without parse_special.
  EXPECT_EQ(t->encode("x<tool>x", false, false), (Ids{3, 4, 6}));
  EXPECT_EQ(t->encode("<tool><tool>", false, false), (Ids{5, 5}));
  EXPECT_EQ(t->decode(Ids{5}), "<tool>");
}

TEST(SpmRules, UnusedPiecesAreResegmented) {
  // "ab" is unused: merging may pass through it ("abc" is reachable), but it is never output.
  auto t = make({{"a", -5, N}, {"b", -5, N}, {"c", -5, N}, {"ab", -1, TokenType::kUnused},
                 {"abc", -2, N}}, false, false);
  EXPECT_EQ(t->encode("abc", false, false), (Ids{7}));
  EXPECT_EQ(t->encode("ab", false, false), (Ids{3, 4}));
}

TEST(SpmRules, LeadingSpaceRuleInDecode) {
  auto t = make({{"▁", -1, N}, {"▁a", -1, N}, {"a", -1, N}});
  EXPECT_EQ(t->decode(Ids{4}), "a");
  EXPECT_EQ(t->decode(Ids{1, 4}), "a");        // BOS does not count as text
  EXPECT_EQ(t->decode(Ids{3, 4}), " a");       // only one space is removed
  EXPECT_EQ(t->decode(Ids{4, 4}), "a a");
  EXPECT_EQ(t->decode_token(4), " a");
  EXPECT_EQ(t->decode(Ids{1, 4}, true), "<s> a");
  EXPECT_EQ(t->decode(Ids{-1, 99999, 4}), "a");  // ids out of range render nothing
  auto u = make({{"▁", -1, N}, {"▁a", -1, N}}, false, /*add_space_prefix=*/false);
  EXPECT_EQ(u->decode(Ids{4}), " a");
}

TEST(SpmRules, EmptyTextGivesOnlyBos) {
  auto t = make({{"▁", -1, N}});
  EXPECT_EQ(t->encode("", true, false), (Ids{1}));
  EXPECT_EQ(t->encode("", false, false), (Ids{}));
}

TEST(SpmRules, EogDetection) {
  auto t = make({{"<end_of_turn>", 0, TokenType::kControl}, {"<|eot_id|>", 0, N}});
  EXPECT_TRUE(t->is_eog(2));
  EXPECT_TRUE(t->is_eog(3));
  EXPECT_FALSE(t->is_eog(4));   // a normal piece with that text is not a marker
  EXPECT_FALSE(t->is_eog(1));
  EXPECT_FALSE(t->is_eog(-1));
}

}  // namespace
}  // namespace lm::tokenizer
