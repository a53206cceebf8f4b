// ChatSession on the real stories260K model: reusing the cached prefix of the conversation gives
// the same greedy tokens as feeding the whole prompt again, and only the new tokens are fed.
#include "engine/chat_session.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace lm::engine {
namespace {

constexpr const char* kStories = "models/stories260K.gguf";

std::unique_ptr<Session> open_stories(const std::string& path) {
  SessionOptions o;
  o.model_path = path;
  o.n_ctx = 256;
  o.n_threads = 2;
  auto s = Session::open(o);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message());
  return s.ok() ? std::move(*s) : nullptr;
}

GenerateRequest greedy(std::string prompt, int32_t n_predict) {
  GenerateRequest r;
  r.prompt = std::move(prompt);
  r.n_predict = n_predict;
  r.sampling.temperature = 0;
  return r;
}

std::string run_turn(ChatSession& chat, const GenerateRequest& req, ChatTurnResult* out = nullptr) {
  std::string text;
  auto res = chat.generate(req, [&](std::string_view t) {
    text += t;
    return true;
  });
  EXPECT_TRUE(res.ok()) << (res.ok() ? "" : res.error().message());
  if (out && res.ok()) *out = *res;
  return text;
}

TEST(ChatSession, ReusedPrefixMatchesAFreshPrompt) {
  LM_REQUIRE_FIXTURE(path, kStories);
  auto session = open_stories(path);
  ASSERT_TRUE(session);
  ChatSession chat(*session);
  ChatTurnResult r1, r2, fresh;
  const std::string p1 = "Once upon a time, there was a little girl named Lily.";
  std::string reply1 = run_turn(chat, greedy(p1, 12), &r1);
  EXPECT_EQ(r1.n_reused, 0);
  EXPECT_EQ(r1.gen.n_generated, 12);
  ASSERT_FALSE(reply1.empty());

  const std::string p2 = p1 + reply1 + " One day, she";
  std::string reply2 = run_turn(chat, greedy(p2, 12), &r2);
  // The first turn's prompt and most of its reply were still cached.
  EXPECT_GE(r2.n_reused, r1.gen.n_prompt_tokens);
  EXPECT_LT(r2.n_reused, r2.gen.n_prompt_tokens);

  chat.reset();
  std::string again = run_turn(chat, greedy(p2, 12), &fresh);
  EXPECT_EQ(fresh.n_reused, 0);
  EXPECT_EQ(again, reply2);

  // The engine's one-shot generate() agrees.
  std::string oneshot;
  auto g = generate(*session, greedy(p2, 12), [&](std::string_view t) {
    oneshot += t;
    return true;
  });
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(oneshot, reply2);
}

TEST(ChatSession, SamePromptTwiceFeedsOneTokenAndCancelKeepsCache) {
  LM_REQUIRE_FIXTURE(path, kStories);
  auto session = open_stories(path);
  ASSERT_TRUE(session);
  ChatSession chat(*session);
  ChatTurnResult a, b;
  const std::string p = "Tom had a big red ball.";
  std::string first = run_turn(chat, greedy(p, 8), &a);
  std::string second = run_turn(chat, greedy(p, 8), &b);
  EXPECT_EQ(first, second);
  EXPECT_EQ(b.n_reused, b.gen.n_prompt_tokens - 1);

  int pieces = 0;
  auto c = chat.generate(greedy(p, 50), [&](std::string_view) { return ++pieces < 3; });
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->gen.stop, StopReason::kCancelled);
  EXPECT_EQ(pieces, 3);
  // The cache holds the prompt and the fed reply tokens, and matches the sequence length.
  EXPECT_EQ(static_cast<int32_t>(chat.cached_tokens().size()), session->kv().seq_len(0));
  EXPECT_GT(static_cast<int32_t>(chat.cached_tokens().size()), c->gen.n_prompt_tokens);
}

TEST(ChatSession, TooLongConversationIsAnError) {
  LM_REQUIRE_FIXTURE(path, kStories);
  auto session = open_stories(path);
  ASSERT_TRUE(session);
  ChatSession chat(*session);
  std::string longp;
  for (int i = 0; i < 200; ++i) longp += "The cat sat on the mat. ";
  auto r = chat.generate(greedy(longp, 4), [](std::string_view) { return true; });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("context"), std::string::npos);
}

}  // namespace
}  // namespace lm::engine
