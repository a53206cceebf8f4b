// CompletionRequest::preserved_tokens: a preserved control token renders as its text (event text
// and TokenInfo) and a grammar may match it as that text; control tokens not preserved are never
// sampled under a grammar. Demo model: <s> (id 1) is a control token, not an end of generation.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/scheduler.h"
#include "sampling/grammar.h"

namespace lm::engine {
namespace {

using namespace std::chrono_literals;

struct Out {
  std::string text;
  std::vector<TokenInfo> tokens;
  FinishReason finish = FinishReason::kError;
  std::string error;
};

Out run(Scheduler& s, CompletionRequest r) {
  Out out;
  auto res = s.submit(std::move(r));
  if (res.index() != 0) {
    ADD_FAILURE() << std::get<1>(res).second;
    return out;
  }
  auto h = std::get<0>(res);
  StreamEvent ev;
  while (h->next(&ev, 30s)) {
    out.text += ev.text;
    for (auto& t : ev.tokens) out.tokens.push_back(t);
    if (ev.done) {
      out.finish = ev.finish;
      out.error = ev.error;
      return out;
    }
  }
  ADD_FAILURE() << "no event in 30 s";
  return out;
}

TEST(SchedulerPreserved, ControlTokenMatchesTheGrammarAsItsText) {
  const std::string demo = std::string(LM_SOURCE_DIR) + "/models/demo.gguf";
  if (!std::filesystem::exists(demo)) GTEST_SKIP() << "models/demo.gguf not found";
  SchedulerOptions o;
  o.n_parallel = 2;
  o.n_ctx = 128;
  o.n_threads = 2;
  auto sched = Scheduler::open(demo, o);
  ASSERT_TRUE(sched.ok()) << sched.error().message();
  Scheduler& s = **sched;
  const int32_t bos = s.tokenizer().piece_to_id("<s>");
  ASSERT_GE(bos, 0);
  ASSERT_EQ(s.tokenizer().token_type(bos), tokenizer::TokenType::kControl);
  auto grammar = sampling::parse_gbnf(R"(root ::= "<s>" [a-z]+ "!")");
  ASSERT_TRUE(grammar.ok()) << grammar.error().message();

  int used_preserved = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    for (bool preserve : {false, true}) {
      CompletionRequest r;
      r.prompt = s.tokenizer().encode("Tim", true, false);
      r.sampling.temperature = 1.5f;
      r.sampling.seed = seed;
      r.max_tokens = 40;
      r.grammar = *grammar;
      if (preserve) r.preserved_tokens = {bos};
      Out out = run(s, r);
      ASSERT_NE(out.finish, FinishReason::kError) << out.error;
      EXPECT_EQ(out.text.rfind("<s>", 0), 0u) << out.text;   // spelled or the token: the same text
      std::string joined;
      for (const auto& t : out.tokens) {
        joined += t.text;
        if (t.id == bos) {
          EXPECT_TRUE(preserve) << "a control token not preserved was sampled";
          EXPECT_EQ(t.text, "<s>");
          ++used_preserved;
        }
      }
      EXPECT_EQ(joined, out.text);
    }
  }
  EXPECT_GT(used_preserved, 0) << "no seed sampled the preserved <s> token";
}

}  // namespace
}  // namespace lm::engine
