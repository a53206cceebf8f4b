// Constrained decoding in the scheduler: each sequence keeps its own grammar state while batched
// with others, constrained replies are complete sentences of their grammar, and unconstrained
// requests beside them give exactly what they give alone.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/scheduler.h"
#include "sampling/json_schema.h"
#include "test_util.h"

namespace lm::engine {
namespace {

using namespace std::chrono_literals;

struct Out {
  std::string text;
  FinishReason finish = FinishReason::kError;
  int32_t n_tokens = 0;
};

Out read_all(RequestHandle& h) {
  Out out;
  StreamEvent ev;
  while (h.next(&ev, 30s)) {
    out.text += ev.text;
    out.n_tokens += static_cast<int32_t>(ev.tokens.size());
    if (ev.done) {
      out.finish = ev.finish;
      return out;
    }
  }
  ADD_FAILURE() << "no event in 30 s";
  return out;
}

std::shared_ptr<RequestHandle> submit(Scheduler& s, CompletionRequest r) {
  auto res = s.submit(std::move(r));
  if (auto* e = std::get_if<1>(&res)) {
    ADD_FAILURE() << e->second;
    return nullptr;
  }
  return std::get<0>(res);
}

TEST(SchedulerGrammar, ConstrainedBesideUnconstrained) {
  const std::string demo = std::string(LM_SOURCE_DIR) + "/models/demo.gguf";
  if (!std::filesystem::exists(demo)) GTEST_SKIP() << "models/demo.gguf not found";
  SchedulerOptions o;
  o.n_parallel = 4;
  o.n_ctx = 256;
  o.n_threads = 2;
  auto sched = Scheduler::open(demo, o);
  ASSERT_TRUE(sched.ok()) << sched.error().message();
  Scheduler& s = **sched;
  auto schema = nlohmann::ordered_json::parse(R"({"type": "object", "properties": {
      "name": {"type": "string", "maxLength": 6}, "n": {"type": "integer", "minimum": 0, "maximum": 50},
      "ok": {"type": "boolean"}}, "required": ["name", "n", "ok"]})");
  auto grammar = sampling::json_schema_grammar(schema);
  ASSERT_TRUE(grammar.ok()) << grammar.error().message();

  auto plain = [&](const char* text, uint64_t seed) {
    CompletionRequest r;
    r.prompt = s.tokenizer().encode(text, true, false);
    r.sampling.temperature = 0.9f;
    r.sampling.seed = seed;
    r.max_tokens = 24;
    return r;
  };
  auto constrained = [&](uint64_t seed) {
    CompletionRequest r;
    r.prompt = s.tokenizer().encode("Tim", true, false);
    r.sampling.temperature = 1.5f;
    r.sampling.seed = seed;
    r.max_tokens = 200;
    r.grammar = *grammar;
    return r;
  };
  // Alone first.
  const Out plain_a = read_all(*submit(s, plain("Once upon a time", 1)));
  const Out plain_b = read_all(*submit(s, plain("The cat", 2)));
  const Out cons_alone = read_all(*submit(s, constrained(11)));
  // Then all together, twice the constrained ones.
  auto ha = submit(s, plain("Once upon a time", 1));
  auto h1 = submit(s, constrained(11));
  auto hb = submit(s, plain("The cat", 2));
  auto h2 = submit(s, constrained(12));
  const Out a = read_all(*ha), b = read_all(*hb), c1 = read_all(*h1), c2 = read_all(*h2);
  EXPECT_EQ(a.text, plain_a.text);
  EXPECT_EQ(b.text, plain_b.text);
  EXPECT_EQ(c1.text, cons_alone.text);
  for (const Out* c : {&c1, &c2}) {
    EXPECT_EQ(c->finish, FinishReason::kStop) << c->text;
    sampling::GrammarMatcher m(*grammar);
    EXPECT_TRUE(m.accept_bytes(c->text) && m.is_complete()) << c->text;
    auto v = nlohmann::json::parse(c->text, nullptr, false);
    ASSERT_FALSE(v.is_discarded()) << c->text;
    EXPECT_TRUE(v["ok"].is_boolean());
    EXPECT_LE(v["n"].get<int>(), 50);
  }
  EXPECT_NE(c1.text, c2.text);   // different seeds, different draws
}

}  // namespace
}  // namespace lm::engine
