#include "sampling/grammar.h"

#include <gtest/gtest.h>

#include <random>

namespace lm::sampling {
namespace {

std::shared_ptr<const Grammar> gbnf(std::string_view text) {
  auto g = parse_gbnf(text);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message());
  return g.ok() ? *g : nullptr;
}

// Full match: every byte accepted and the grammar complete at the end.
bool matches(const std::shared_ptr<const Grammar>& g, std::string_view s) {
  GrammarMatcher m(g);
  return m.accept_bytes(s) && m.is_complete();
}

struct Case {
  const char* grammar;
  std::vector<std::string> accept, reject;
};

TEST(Grammar, AcceptRejectTable) {
  const std::vector<Case> cases = {
      {R"(root ::= "ab" [c-e]* | "x")", {"ab", "abc", "abcdeedc", "x"}, {"", "a", "abf", "xx", "xab"}},
      {R"(root ::= [0-9]{2,3})", {"12", "123"}, {"1", "1234", "1a"}},
      {R"(root ::= "a"{2,} "b")", {"aab", "aaaaab"}, {"ab", "b"}},
      {R"g(root ::= ("a" | "b")+ "c"?)g", {"a", "abba", "abc"}, {"c", "abcc", ""}},
      {"root ::= item (\",\" item)*\nitem ::= [a-z]+\n", {"a", "ab,c,def"}, {"a,", ",a", "a,,b"}},
      {R"(root ::= [^"\\]* # comment
)", {"", "hello world", "é"}, {"a\"", "\\"}},
      {R"(root ::= "\x41\u00e9\n")", {"A\xc3\xa9\n"}, {"A\xe9\n"}},
      {R"g(root ::= "(" root ")" | "")g", {"", "()", "((()))"}, {"(", "())", "(()"}},
      {"root ::= a b\na ::= \"x\"?\nb ::= \"y\"?", {"", "x", "y", "xy"}, {"yx", "xx"}},
  };
  for (const Case& c : cases) {
    auto g = gbnf(c.grammar);
    ASSERT_NE(g, nullptr) << c.grammar;
    for (const auto& s : c.accept) EXPECT_TRUE(matches(g, s)) << c.grammar << " should accept '" << s << "'";
    for (const auto& s : c.reject) EXPECT_FALSE(matches(g, s)) << c.grammar << " should reject '" << s << "'";
  }
}

TEST(Grammar, Utf8Classes) {
  auto g = gbnf(R"(root ::= [α-ω]+)");
  EXPECT_TRUE(matches(g, "αβω"));
  EXPECT_FALSE(matches(g, "a"));
  EXPECT_FALSE(matches(g, "\xce"));   // half a character: accepted so far, not complete
  GrammarMatcher m(g);
  EXPECT_TRUE(m.accept_byte(0xce));
  EXPECT_FALSE(m.is_complete());
  EXPECT_TRUE(m.accept_byte(0xb1));   // α = CE B1
  EXPECT_TRUE(m.is_complete());

  // Any character: every valid UTF-8 length, never invalid bytes or surrogates.
  auto any = gbnf(R"(root ::= .*)");
  EXPECT_TRUE(matches(any, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));   // a é € 😀
  EXPECT_FALSE(matches(any, "\xff"));
  EXPECT_FALSE(matches(any, "\xc0\x80"));       // overlong NUL
  EXPECT_FALSE(matches(any, "\xed\xa0\x80"));   // U+D800, a surrogate
  EXPECT_FALSE(matches(any, "\xf4\x90\x80\x80"));   // past U+10FFFF
  EXPECT_TRUE(matches(any, "\xef\xbf\xbf\xf4\x8f\xbf\xbf"));   // U+FFFF, U+10FFFF

  // A class spanning every encoded length, boundaries included.
  auto wide = gbnf(R"(root ::= [\x7f-\U00010000])");
  EXPECT_TRUE(matches(wide, "\x7f"));
  EXPECT_TRUE(matches(wide, "\xc2\x80"));
  EXPECT_TRUE(matches(wide, "\xdf\xbf"));
  EXPECT_TRUE(matches(wide, "\xe0\xa0\x80"));
  EXPECT_TRUE(matches(wide, "\xf0\x90\x80\x80"));
  EXPECT_FALSE(matches(wide, "\xf0\x90\x80\x81"));
  EXPECT_FALSE(matches(wide, "~"));
}

TEST(Grammar, CompletenessAndContinuation) {
  auto g = gbnf(R"(root ::= "a" "b"?)");
  GrammarMatcher m(g);
  EXPECT_FALSE(m.is_complete());
  EXPECT_TRUE(m.can_continue());
  EXPECT_TRUE(m.accept_byte('a'));
  EXPECT_TRUE(m.is_complete());
  EXPECT_TRUE(m.can_continue());
  EXPECT_FALSE(m.accept_byte('c'));   // rejected: the state is unchanged
  EXPECT_TRUE(m.accept_byte('b'));
  EXPECT_TRUE(m.is_complete());
  EXPECT_FALSE(m.can_continue());
  // accept_bytes is all or nothing.
  GrammarMatcher m2(g);
  EXPECT_FALSE(m2.accept_bytes("abc"));
  EXPECT_TRUE(m2.can_accept("ab"));
  EXPECT_FALSE(m2.is_complete());
}

TEST(Grammar, DeepRecursionKeepsStacksSmall) {
  auto g = gbnf(R"g(root ::= "[" root "]" | "x")g");
  GrammarMatcher m(g);
  const int depth = 500;
  for (int i = 0; i < depth; ++i) ASSERT_TRUE(m.accept_byte('['));
  ASSERT_TRUE(m.accept_byte('x'));
  for (int i = 0; i < depth; ++i) ASSERT_TRUE(m.accept_byte(']'));
  EXPECT_TRUE(m.is_complete());
  // Repetition is tail-recursive: a long run does not pile up parses.
  auto rep = gbnf(R"(root ::= [a-z]* "!")");
  GrammarMatcher r(rep);
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(r.accept_byte('q'));
  EXPECT_LE(r.n_stacks(), 2u);
  EXPECT_TRUE(r.accept_byte('!'));
  EXPECT_TRUE(r.is_complete());
}

TEST(Grammar, Errors) {
  const std::vector<std::pair<const char*, const char*>> bad = {
      {"root ::= root \"a\" | \"a\"", "left-recursive"},
      {"root ::= x* \"a\"\nx ::= \"b\"?", "left-recursive"},   // repeating a nullable rule
      {"root ::= undefined", "not defined"},
      {"root ::= \"abc", "unterminated"},
      {"root ::= [abc", "unterminated"},
      {"root ::= (\"a\"", "expected ')'"},
      {"root ::= \"a\"{3,1}", "n < m"},
      {"foo ::= \"a\"", "no 'root'"},
      {"", "empty"},
      {"root ::= \"a\"\nroot ::= \"b\"", "twice"},
      {"root ::= \"\\q\"", "escape"},
  };
  for (auto [text, want] : bad) {
    auto g = parse_gbnf(text);
    ASSERT_FALSE(g.ok()) << text;
    EXPECT_NE(g.error().message().find(want), std::string::npos) << text << " → " << g.error().message();
  }
}

// The trie walk gives exactly the tokens whose bytes can_accept() accepts, one by one.
TEST(Grammar, MaskEqualsBruteForce) {
  std::mt19937 rng(7);
  const std::string alphabet = "{}[]\":, abcx01-.e\\\xc3\xa9";
  std::vector<std::string> vocab;
  for (int i = 0; i < 3000; ++i) {
    std::string t;
    const int len = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < len; ++k) t += alphabet[rng() % alphabet.size()];
    vocab.push_back(t);
  }
  vocab.push_back("");   // a control token: never allowed
  vocab.push_back(vocab[5]);   // a duplicate piece
  TokenTrie trie(vocab);
  auto g = gbnf(R"g(root ::= "{" ws ( pair ( ws "," ws pair )* )? ws "}"
pair ::= str ws ":" ws val
val ::= str | [0-9]+ | "[" ws ( val ( "," ws val )* )? "]"
str ::= "\"" [^"\\]* "\""
ws ::= " "?)g");
  GrammarMatcher m(g);
  const std::string text = "{\"a\": [1, \"x\xc3\xa9\"], \"b\":2}";
  std::vector<uint8_t> mask;
  for (size_t i = 0; i <= text.size(); ++i) {
    m.fill_mask(trie, &mask);
    ASSERT_EQ(mask.size(), vocab.size());
    int n_allowed = 0;
    for (size_t t = 0; t < vocab.size(); ++t) {
      const bool want = !vocab[t].empty() && m.can_accept(vocab[t]);
      ASSERT_EQ(mask[t] != 0, want) << "after " << i << " bytes, token '" << vocab[t] << "'";
      n_allowed += want;
    }
    if (i < text.size()) {
      EXPECT_GT(n_allowed, 0) << i;
      ASSERT_TRUE(m.accept_byte(static_cast<uint8_t>(text[i]))) << i;
    }
  }
}

}  // namespace
}  // namespace lm::sampling
