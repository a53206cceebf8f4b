// Loading tokenizer metadata: valid vocabularies load, malformed ones give a clear error.
#include <gtest/gtest.h>

#include <functional>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace lm::tokenizer {
namespace {

// A small, valid llama vocabulary; `edit` changes it before it is serialised.
struct VocabFile {
  std::vector<uint8_t> bytes;
  std::unique_ptr<gguf::File> file;
};

VocabFile make_file(const std::function<void(gguf::Writer&)>& edit) {
  gguf::Writer w;
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_array_string("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "<0x41>", "▁", "a", "▁a"});
  std::vector<float> scores = {0, 0, 0, 0, -1, -2, -3};
  std::vector<int32_t> types = {2, 3, 3, 6, 1, 1, 1};
  w.set_array_f32("tokenizer.ggml.scores", scores);
  w.set_array_i32("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  edit(w);
  VocabFile vf;
  vf.bytes = w.to_bytes();
  auto f = gguf::File::parse(vf.bytes, "vocab.gguf");
  EXPECT_TRUE(f.ok()) << f.error().message();
  if (f.ok()) vf.file = std::move(f).value();
  return vf;
}

// Loads and returns the error message ("" when it loaded).
std::string load_error(const std::function<void(gguf::Writer&)>& edit) {
  VocabFile vf = make_file(edit);
  if (!vf.file) return "gguf parse failed";
  auto t = Tokenizer::from_gguf(*vf.file);
  return t.ok() ? std::string() : t.error().message();
}

void expect_error(const std::function<void(gguf::Writer&)>& edit, const std::string& needle) {
  std::string err = load_error(edit);
  EXPECT_NE(err.find(needle), std::string::npos) << "error was: '" << err << "'";
  EXPECT_NE(err.find("tokenizer of vocab.gguf"), std::string::npos) << err;
}

TEST(Vocab, LoadsValidVocabulary) {
  VocabFile vf = make_file([](gguf::Writer&) {});
  ASSERT_TRUE(vf.file);
  auto t = Tokenizer::from_gguf(*vf.file);
  ASSERT_TRUE(t.ok()) << t.error().message();
  const Tokenizer& tok = **t;
  EXPECT_EQ(tok.n_vocab(), 7);
  EXPECT_EQ(tok.bos(), 1);
  EXPECT_EQ(tok.eos(), 2);
  EXPECT_EQ(tok.unk(), 0);
  EXPECT_EQ(tok.pad(), -1);
  EXPECT_TRUE(tok.add_bos());
  EXPECT_FALSE(tok.add_eos());
  EXPECT_TRUE(tok.add_space_prefix());
  EXPECT_EQ(tok.token_type(3), TokenType::kByte);
  EXPECT_EQ(tok.encode("a a", true, false), (std::vector<int32_t>{1, 6, 6}));
  EXPECT_EQ(tok.encode("A", false, false), (std::vector<int32_t>{4, 3}));
  // The file can go away: the tokenizer owns its vocabulary.
  vf.file.reset();
  vf.bytes.clear();
  EXPECT_EQ(tok.token_text(6), "▁a");
}

TEST(Vocab, MissingScoresIsAnError) {
  expect_error([](gguf::Writer& w) { w.remove("tokenizer.ggml.scores"); },
               "missing 'tokenizer.ggml.scores'");
}

TEST(Vocab, MissingTokensIsAnError) {
  expect_error([](gguf::Writer& w) { w.remove("tokenizer.ggml.tokens"); }, "tokenizer.ggml.tokens");
}

TEST(Vocab, MissingModelIsAnError) {
  expect_error([](gguf::Writer& w) { w.remove("tokenizer.ggml.model"); }, "tokenizer.ggml.model");
}

TEST(Vocab, UnsupportedModelIsAnError) {
  expect_error([](gguf::Writer& w) {
    w.set_string("tokenizer.ggml.model", "t5");
  }, "tokenizer model 't5' is not supported");
}

TEST(Vocab, Gpt2WithoutMergesIsAnError) {
  expect_error([](gguf::Writer& w) {
    w.set_string("tokenizer.ggml.model", "gpt2");
  }, "missing metadata key 'tokenizer.ggml.merges'");
}

TEST(Vocab, ScoresLengthMismatchIsAnError) {
  expect_error([](gguf::Writer& w) {
    std::vector<float> s = {0, 0, 0};
    w.set_array_f32("tokenizer.ggml.scores", s);
  }, "'tokenizer.ggml.scores' has 3 entries but 'tokenizer.ggml.tokens' has 7");
}

TEST(Vocab, TypesLengthMismatchIsAnError) {
  expect_error([](gguf::Writer& w) {
    std::vector<int32_t> t = {1, 1, 1, 1, 1, 1, 1, 1};
    w.set_array_i32("tokenizer.ggml.token_type", t);
  }, "'tokenizer.ggml.token_type' has 8 entries");
}

TEST(Vocab, WrongArrayTypesAreErrors) {
  expect_error([](gguf::Writer& w) {
    std::vector<int32_t> s = {0, 0, 0, 0, 0, 0, 0};
    w.set_array_i32("tokenizer.ggml.scores", s);
  }, "'tokenizer.ggml.scores' must be an array of floats");
  expect_error([](gguf::Writer& w) {
    std::vector<float> t = {1, 1, 1, 1, 1, 1, 1};
    w.set_array_f32("tokenizer.ggml.token_type", t);
  }, "'tokenizer.ggml.token_type' must be an array of int32");
}

TEST(Vocab, UnknownTokenTypeIsAnError) {
  expect_error([](gguf::Writer& w) {
    std::vector<int32_t> t = {2, 3, 3, 6, 1, 9, 1};
    w.set_array_i32("tokenizer.ggml.token_type", t);
  }, "'tokenizer.ggml.token_type'[5] = 9 is not a token type");
}

TEST(Vocab, BytePieceMustLookLikeOne) {
  expect_error([](gguf::Writer& w) {
    std::vector<int32_t> t = {2, 3, 3, 6, 1, 6, 1};
    w.set_array_i32("tokenizer.ggml.token_type", t);
  }, "token 5 has type byte but its piece 'a' is not of the form <0xXX>");
}

TEST(Vocab, SpecialIdsOutOfRangeAreErrors) {
  expect_error([](gguf::Writer& w) { w.set_u32("tokenizer.ggml.bos_token_id", 7); },
               "'tokenizer.ggml.bos_token_id' = 7 is out of range (n_vocab 7)");
  expect_error([](gguf::Writer& w) { w.set_u32("tokenizer.ggml.eos_token_id", 100); },
               "'tokenizer.ggml.eos_token_id' = 100 is out of range");
  expect_error([](gguf::Writer& w) { w.set_u32("tokenizer.ggml.unknown_token_id", 1000); },
               "'tokenizer.ggml.unknown_token_id' = 1000");
  expect_error([](gguf::Writer& w) { w.set_u32("tokenizer.ggml.eot_token_id", 9); },
               "'tokenizer.ggml.eot_token_id' = 9");
  expect_error([](gguf::Writer& w) { w.set_string("tokenizer.ggml.bos_token_id", "1"); },
               "'tokenizer.ggml.bos_token_id' must be an integer");
}

TEST(Vocab, NoneAndPaddingIdsAreLenient) {
  // -1 (as i32 or as u32 0xFFFFFFFF) means "none"; a bad padding id is only warned about.
  VocabFile vf = make_file([](gguf::Writer& w) {
    w.set_i32("tokenizer.ggml.eot_token_id", -1);
    w.set_u32("tokenizer.ggml.eom_token_id", 0xFFFFFFFFu);
    w.set_u32("tokenizer.ggml.padding_token_id", 7);
  });
  ASSERT_TRUE(vf.file);
  auto t = Tokenizer::from_gguf(*vf.file);
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_EQ((*t)->pad(), -1);
  EXPECT_TRUE((*t)->is_eog(2));
  EXPECT_FALSE((*t)->is_eog(0));
}

TEST(Vocab, BoolFlagsAreRead) {
  VocabFile vf = make_file([](gguf::Writer& w) {
    w.set_bool("tokenizer.ggml.add_bos_token", false);
    w.set_bool("tokenizer.ggml.add_eos_token", true);
    w.set_bool("tokenizer.ggml.add_space_prefix", false);
  });
  ASSERT_TRUE(vf.file);
  auto t = Tokenizer::from_gguf(*vf.file);
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_FALSE((*t)->add_bos());
  EXPECT_TRUE((*t)->add_eos());
  EXPECT_FALSE((*t)->add_space_prefix());
  EXPECT_EQ((*t)->encode("a a", false, false), (std::vector<int32_t>{5, 6}));
  expect_error([](gguf::Writer& w) { w.set_u32("tokenizer.ggml.add_bos_token", 1); },
               "tokenizer.ggml.add_bos_token");
}

TEST(Vocab, MissingTokenTypesAreInferred) {
  VocabFile vf = make_file([](gguf::Writer& w) { w.remove("tokenizer.ggml.token_type"); });
  ASSERT_TRUE(vf.file);
  auto t = Tokenizer::from_gguf(*vf.file);
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_EQ((*t)->token_type(0), TokenType::kUnknown);
  EXPECT_EQ((*t)->token_type(1), TokenType::kControl);
  EXPECT_EQ((*t)->token_type(3), TokenType::kByte);
  EXPECT_EQ((*t)->token_type(5), TokenType::kNormal);
}

TEST(Vocab, HandBuiltVocabIsValidated) {
  Vocab v;
  v.model = "llama";
  v.pieces = {"<unk>", "a"};
  v.scores = {0};
  v.types = {TokenType::kUnknown, TokenType::kNormal};
  auto t = Tokenizer::from_vocab(v);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message().find("2 pieces but 1 scores"), std::string::npos);
  v.scores = {0, 0};
  v.bos = 5;
  t = Tokenizer::from_vocab(v);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message().find("bos token id 5 is out of range"), std::string::npos);
  v.bos = -1;
  v.types[1] = TokenType::kByte;
  t = Tokenizer::from_vocab(v);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message().find("not of the form <0xXX>"), std::string::npos);
  v.types[1] = TokenType::kNormal;
  EXPECT_TRUE(Tokenizer::from_vocab(v).ok());
}

TEST(Vocab, EmptyTokenListIsAnError) {
  expect_error([](gguf::Writer& w) {
    w.set_array_string("tokenizer.ggml.tokens", {});
  }, "'tokenizer.ggml.tokens' is empty");
}

}  // namespace
}  // namespace lm::tokenizer
