// Fairness of the Scheduler, checked by counting tokens (never by timing): every step decodes one
// token of every running stream, so no stream falls behind one admitted after it, and a long
// prompt prefills in chunks beside the running streams instead of stalling them. Also the time
// limit (CompletionRequest::timeout_ms, SchedulerOptions::request_timeout_ms).
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "test_util.h"

namespace lm::engine {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kDemo = std::string(LM_SOURCE_DIR) + "/models/demo.gguf";

std::unique_ptr<Scheduler> start_demo(SchedulerOptions o) {
  SessionOptions so;
  so.model_path = kDemo;
  so.n_ctx = o.n_ctx;
  so.n_threads = 2;
  so.n_seq_max = o.n_parallel;
  auto session = Session::open(so);
  EXPECT_TRUE(session.ok()) << (session.ok() ? "" : session.error().message());
  if (!session.ok()) return nullptr;
  o.n_ctx = 0;
  o.n_embedding_slots = 0;
  auto s = Scheduler::start(std::move(*session), o);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message());
  return s.ok() ? std::move(*s) : nullptr;
}

// Greedy, through EOG tokens, so every stream generates until max_tokens or a full context.
CompletionRequest endless(const Scheduler& s, const std::string& prompt, int32_t max_tokens) {
  CompletionRequest r;
  r.prompt = s.tokenizer().encode(prompt, true, false);
  r.sampling.temperature = 0;
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  return r;
}

std::shared_ptr<RequestHandle> submit_ok(Scheduler& s, CompletionRequest r) {
  auto res = s.submit(std::move(r));
  auto* h = std::get_if<std::shared_ptr<RequestHandle>>(&res);
  EXPECT_NE(h, nullptr) << std::get<1>(res).second;
  return h ? *h : nullptr;
}

// Tokens a stream has delivered so far (events read without waiting), and whether it is done.
struct Progress {
  int64_t tokens = 0;
  bool done = false;
  StreamEvent last;
};

void drain(RequestHandle& h, Progress* p, std::chrono::milliseconds wait = 0ms) {
  StreamEvent ev;
  while (!p->done && h.next(&ev, wait)) {
    p->tokens += static_cast<int64_t>(ev.tokens.size());
    p->done = ev.done;
    p->last = std::move(ev);
    wait = 0ms;
  }
}

void wait_done(RequestHandle& h, Progress* p) {
  const auto deadline = Clock::now() + 120s;
  while (!p->done && Clock::now() < deadline) drain(h, p, 100ms);
  ASSERT_TRUE(p->done);
}

TEST(SchedulerFairness, NoStreamFallsBehindTheLastAdmitted) {
  constexpr int32_t kStreams = 16, kProbe = 24;
  auto sched = start_demo({.n_parallel = kStreams, .n_ctx = 256, .n_batch = 64});
  ASSERT_NE(sched, nullptr);
  std::vector<std::shared_ptr<RequestHandle>> handles;
  for (int i = 0; i + 1 < kStreams; ++i) {
    handles.push_back(submit_ok(*sched, endless(*sched, "Story " + std::to_string(i) + ": once upon a time", -1)));
    ASSERT_NE(handles.back(), nullptr);
  }
  // Submitted last, so admitted and prefilled last (FIFO): every other stream decodes in every
  // step the probe decodes in, and must have at least its tokens when it ends.
  auto probe = submit_ok(*sched, endless(*sched, "Story 99: a dog ran home", kProbe));
  ASSERT_NE(probe, nullptr);
  Progress p;
  wait_done(*probe, &p);
  EXPECT_EQ(p.last.finish, FinishReason::kLength);
  EXPECT_EQ(p.tokens, kProbe);
  std::vector<int64_t> counts;
  for (auto& h : handles) {
    Progress q;
    drain(*h, &q);
    EXPECT_FALSE(q.done) << "a stream ended early";
    counts.push_back(q.tokens);
  }
  // Up to 3 tokens of a stream may be held back as an unfinished UTF-8 character.
  auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
  EXPECT_GE(*lo, kProbe - 3) << "a stream fell behind the last admitted one (max " << *hi << ")";
  for (auto& h : handles) h->cancel();
}

TEST(SchedulerFairness, LongPromptPrefillsInChunksBesideRunningStreams) {
  constexpr int32_t kBatch = 16;
  auto sched = start_demo({.n_parallel = 5, .n_ctx = 400, .n_batch = kBatch});
  ASSERT_NE(sched, nullptr);
  std::vector<std::shared_ptr<RequestHandle>> streams;
  for (int i = 0; i < 4; ++i) {
    streams.push_back(submit_ok(*sched, endless(*sched, "Tale " + std::to_string(i) + ": a cat", -1)));
    ASSERT_NE(streams.back(), nullptr);
  }
  std::vector<Progress> before(streams.size());
  for (size_t i = 0; i < streams.size(); ++i) {   // every stream is decoding
    while (before[i].tokens == 0) drain(*streams[i], &before[i], 100ms);
  }
  std::string text;
  while (sched->tokenizer().encode(text, true, false).size() < 240) text += "the little bird sang a song in the tree. ";
  CompletionRequest long_req = endless(*sched, text, 2);
  const int64_t n_long = static_cast<int64_t>(long_req.prompt.size());
  auto lh = submit_ok(*sched, long_req);
  ASSERT_NE(lh, nullptr);
  Progress lp;
  while (lp.tokens == 0 && !lp.done) drain(*lh, &lp, 100ms);
  // The long prompt needs at least ceil(n_long / n_batch) steps, and each of them also decodes a
  // token of every running stream; one step may have been under way when it was submitted, and
  // up to 3 tokens may be held back as an unfinished UTF-8 character.
  const int64_t min_steps = (n_long + kBatch - 1) / kBatch - 1 - 3;
  for (size_t i = 0; i < streams.size(); ++i) {
    Progress after = before[i];
    drain(*streams[i], &after);
    EXPECT_FALSE(after.done);
    EXPECT_GE(after.tokens - before[i].tokens, min_steps)
        << "stream " << i << " stalled while a " << n_long << "-token prompt prefilled";
  }
  for (auto& h : streams) h->cancel();
}

TEST(SchedulerFairness, TimeLimitEndsWithLengthAndFreesTheSlot) {
  auto sched = start_demo({.n_parallel = 1, .n_ctx = 4096, .request_timeout_ms = 60000});
  ASSERT_NE(sched, nullptr);
  CompletionRequest r = endless(*sched, "Once upon a time", -1);
  r.timeout_ms = 300;
  auto h = submit_ok(*sched, r);
  ASSERT_NE(h, nullptr);
  // Queued behind it, with the same limit: it ends (kLength, nothing generated) without a slot.
  auto queued = submit_ok(*sched, r);
  ASSERT_NE(queued, nullptr);
  Progress p, q;
  wait_done(*h, &p);
  wait_done(*queued, &q);
  EXPECT_EQ(p.last.finish, FinishReason::kLength);
  EXPECT_GT(p.tokens, 0);
  EXPECT_LT(p.tokens, 4000);
  EXPECT_EQ(p.last.usage.completion_tokens, p.tokens);
  EXPECT_GE(p.last.usage.total_ms, 300);
  EXPECT_EQ(q.last.finish, FinishReason::kLength);
  EXPECT_EQ(q.tokens, 0);
  EXPECT_EQ(sched->stats().running, 0);

  CompletionRequest bad = r;
  bad.timeout_ms = -1;
  auto res = sched->submit(bad);
  ASSERT_EQ(res.index(), 1u);
  EXPECT_EQ(std::get<1>(res).first, SubmitError::kInvalid);
}

TEST(SchedulerFairness, ServerTimeLimitCapsTheRequests) {
  auto sched = start_demo({.n_parallel = 1, .n_ctx = 4096, .request_timeout_ms = 200});
  ASSERT_NE(sched, nullptr);
  CompletionRequest r = endless(*sched, "Once upon a time", -1);
  r.timeout_ms = 600000;   // may only shorten the scheduler's limit
  auto h = submit_ok(*sched, r);
  ASSERT_NE(h, nullptr);
  Progress p;
  wait_done(*h, &p);
  EXPECT_EQ(p.last.finish, FinishReason::kLength);
  EXPECT_LT(p.tokens, 4000);
  EXPECT_LT(p.last.usage.total_ms, 60000);
}

}  // namespace
}  // namespace lm::engine
