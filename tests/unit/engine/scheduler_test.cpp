// Scheduler tests on real models: concurrent requests must give exactly what each request gives
// alone (computed here by a plain one-sequence loop over Forward, independent of the scheduler).
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <thread>

#include "sampling/sampler.h"
#include "test_util.h"

namespace lm::engine {
namespace {

using namespace std::chrono_literals;

const std::string kStories = "models/stories260K.gguf";
const std::string kDemo = std::string(LM_SOURCE_DIR) + "/models/demo.gguf";

std::unique_ptr<Session> open_session(const std::string& path, int32_t n_ctx, int32_t n_seq,
                                      int32_t n_kv_pool = 0) {
  SessionOptions so;
  so.n_kv_pool = n_kv_pool;
  so.model_path = path;
  so.n_ctx = n_ctx;
  so.n_threads = 2;
  so.n_seq_max = n_seq;
  auto s = Session::open(so);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message());
  return s.ok() ? std::move(*s) : nullptr;
}

std::unique_ptr<Scheduler> start(const std::string& path, SchedulerOptions o) {
  auto session = open_session(path, o.n_ctx, o.n_parallel, o.n_kv_pool);
  if (!session) return nullptr;
  o.n_ctx = 0;
  auto s = Scheduler::start(std::move(session), o);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message());
  return s.ok() ? std::move(*s) : nullptr;
}

struct Output {
  std::vector<int32_t> ids;
  std::string text;
  FinishReason finish = FinishReason::kError;
  Usage usage;
  std::vector<TokenInfo> tokens;
};

// The request run alone: one sequence, whole prompt in one forward call, then token by token.
Output reference(Session& s, const CompletionRequest& r) {
  const auto& tok = s.tokenizer();
  Output out;
  sampling::Sampler sampler(r.sampling, tok.n_vocab());
  tokenizer::StreamDecoder dec(tok);
  for (int32_t t : r.prompt) {
    sampler.accept(t);
    (void)dec.push(t);
  }
  s.kv().clear_seq(0);
  std::vector<model::BatchToken> batch;
  const int32_t n_prompt = static_cast<int32_t>(r.prompt.size());
  for (int32_t i = 0; i < n_prompt; ++i) batch.push_back({r.prompt[i], i, 0, i == n_prompt - 1});
  std::vector<float> logits;
  EXPECT_TRUE(s.forward().run(s.kv(), batch, &logits).ok());
  int32_t pos = n_prompt;
  out.finish = FinishReason::kLength;
  for (;;) {
    int32_t id = sampler.sample(std::span<const float>(logits.data(), tok.n_vocab()));
    sampler.accept(id);
    if (tok.is_eog(id) && !r.ignore_eos) {
      out.finish = FinishReason::kStop;
      break;
    }
    out.ids.push_back(id);
    out.text += dec.push(id);
    if (r.max_tokens >= 0 && static_cast<int32_t>(out.ids.size()) >= r.max_tokens) break;
    if (pos >= s.n_ctx()) break;
    model::BatchToken bt{id, pos++, 0, true};
    EXPECT_TRUE(s.forward().run(s.kv(), std::span<const model::BatchToken>(&bt, 1), &logits).ok());
  }
  out.text += dec.flush();
  return out;
}

// Reads a stream to its end (fails the test on a 20 s silence).
Output collect(RequestHandle& h) {
  Output out;
  StreamEvent ev;
  for (;;) {
    if (!h.next(&ev, 20s)) {
      ADD_FAILURE() << "no event in 20 s";
      return out;
    }
    out.text += ev.text;
    for (auto& t : ev.tokens) {
      out.ids.push_back(t.id);
      out.tokens.push_back(t);
    }
    if (ev.done) {
      out.finish = ev.finish;
      out.usage = ev.usage;
      return out;
    }
  }
}

std::shared_ptr<RequestHandle> submit_ok(Scheduler& s, CompletionRequest r) {
  auto res = s.submit(std::move(r));
  if (auto* e = std::get_if<1>(&res)) {
    ADD_FAILURE() << "submit failed: " << e->second;
    return nullptr;
  }
  return std::get<0>(res);
}

CompletionRequest greedy(const Scheduler& s, const std::string& text, int32_t max_tokens) {
  CompletionRequest r;
  r.prompt = s.tokenizer().encode(text, true, false);
  r.sampling.temperature = 0;
  r.max_tokens = max_tokens;
  return r;
}

const char* kPrompts[] = {
    "Zoo", "Once upon a time", "Lily and Tom went to the park. They saw a big dog",
    "The cat", "One day, a little bird flew", "Tim had a red ball", "Sue",
    "The sun was shining and the children were playing outside in the garden near the old tree",
    "Mom said", "A boy named Max", "The fish swam", "Ben liked to run", "There was a small house",
    "Anna found a box", "The bear was hungry", "Spot the dog",
};

// 16 requests of different prompts and lengths, greedy and seeded, through n_parallel slots with a
// small n_batch (chunked prefill beside decoding): each equals its run alone, token for token.
void expect_concurrent_equals_alone(const std::string& path) {
  SchedulerOptions o;
  o.n_parallel = 6;
  o.n_ctx = 128;
  o.n_batch = 16;
  auto sched = start(path, o);
  ASSERT_NE(sched, nullptr);
  auto ref = open_session(path, 128, 1);
  ASSERT_NE(ref, nullptr);
  std::vector<CompletionRequest> reqs;
  for (int i = 0; i < 16; ++i) {
    CompletionRequest r = greedy(*sched, kPrompts[i], 8 + (i * 7) % 40);
    if (i % 4 == 3) {   // sampled with a fixed seed
      r.sampling.temperature = 0.9f;
      r.sampling.seed = 1000 + i;
    }
    if (i % 5 == 4) r.ignore_eos = true;
    reqs.push_back(r);
  }
  std::vector<std::shared_ptr<RequestHandle>> handles;
  for (const auto& r : reqs) handles.push_back(submit_ok(*sched, r));
  for (int i = 0; i < 16; ++i) {
    ASSERT_NE(handles[i], nullptr);
    Output got = collect(*handles[i]);
    Output want = reference(*ref, reqs[i]);
    EXPECT_EQ(got.ids, want.ids) << "request " << i << " (" << kPrompts[i] << ")";
    EXPECT_EQ(got.text, want.text) << "request " << i;
    EXPECT_EQ(got.finish, want.finish) << "request " << i;
    EXPECT_EQ(got.usage.completion_tokens, static_cast<int32_t>(want.ids.size()));
    EXPECT_EQ(got.usage.prompt_tokens, static_cast<int32_t>(reqs[i].prompt.size()));
  }
  auto st = sched->stats();
  EXPECT_EQ(st.running, 0);
  EXPECT_EQ(st.requests, 16);
  EXPECT_EQ(st.ttft.count, 16);
  // Sequences shared forward calls (else each call would carry about one token).
  EXPECT_GT(st.batch_tokens, 3 * st.steps) << st.batch_tokens << " tokens in " << st.steps << " steps";
}

TEST(Scheduler, ConcurrentEqualsAloneStories) {
  LM_REQUIRE_FIXTURE(path, kStories);
  expect_concurrent_equals_alone(path);
}

TEST(Scheduler, ConcurrentEqualsAloneDemo) { expect_concurrent_equals_alone(kDemo); }

TEST(Scheduler, KnownGreedyTextOfStories) {
  LM_REQUIRE_FIXTURE(path, kStories);
  auto sched = start(path, {});
  ASSERT_NE(sched, nullptr);
  // The fixture's "60 tokens" count the 3 prompt tokens after BOS (see model/stories_test.cpp).
  auto h = submit_ok(*sched, greedy(*sched, "Zoo", 57));
  ASSERT_NE(h, nullptr);
  Output got = collect(*h);
  EXPECT_EQ("Zoo" + got.text,
            "Zoo was a little girl named Lily. She loved to play outside in the park. One day, she "
            "saw a big, red ball. She wanted to play with it, but she didn't want to play with");
  EXPECT_EQ(got.finish, FinishReason::kLength);
  EXPECT_EQ(got.usage.prompt_tokens, 4);
  EXPECT_EQ(got.usage.completion_tokens, 57);
  EXPECT_GT(got.usage.total_ms, 0);
}

TEST(Scheduler, StopStringsCutTheTextAtTheEarliestMatch) {
  LM_REQUIRE_FIXTURE(path, kStories);
  auto sched = start(path, {});
  ASSERT_NE(sched, nullptr);
  auto ref = open_session(path, 0, 1);
  Output full = reference(*ref, greedy(*sched, "Zoo", 60));
  for (const std::string stop : {"park", "Lily", ", red", "saw a"}) {
    size_t at = full.text.find(stop);
    ASSERT_NE(at, std::string::npos) << stop;
    CompletionRequest r = greedy(*sched, "Zoo", 60);
    r.stop = {"never appears", stop};
    auto h = submit_ok(*sched, r);
    ASSERT_NE(h, nullptr);
    Output got = collect(*h);
    EXPECT_EQ(got.text, full.text.substr(0, at)) << stop;
    EXPECT_EQ(got.finish, FinishReason::kStop) << stop;
    EXPECT_LT(got.usage.completion_tokens, 60) << stop;
  }
}

TEST(Scheduler, MaxTokensAndContextFullEndWithLength) {
  auto sched = start(kDemo, {.n_parallel = 2, .n_ctx = 40});
  ASSERT_NE(sched, nullptr);
  CompletionRequest r = greedy(*sched, "Once upon a time", 5);
  r.ignore_eos = true;
  Output got = collect(*submit_ok(*sched, r));
  EXPECT_EQ(got.usage.completion_tokens, 5);
  EXPECT_EQ(got.ids.size(), 5u);
  EXPECT_EQ(got.finish, FinishReason::kLength);

  r.max_tokens = -1;   // until the context is full: n_ctx - n_prompt + 1 tokens (the last not fed)
  got = collect(*submit_ok(*sched, r));
  EXPECT_EQ(got.finish, FinishReason::kLength);
  EXPECT_EQ(got.usage.completion_tokens, 40 - static_cast<int32_t>(r.prompt.size()) + 1);

  r.max_tokens = 0;
  got = collect(*submit_ok(*sched, r));
  EXPECT_EQ(got.finish, FinishReason::kLength);
  EXPECT_EQ(got.usage.completion_tokens, 0);
}

TEST(Scheduler, SubmitRejectsBadRequestsWithReasons) {
  auto sched = start(kDemo, {.n_parallel = 1, .n_ctx = 32});
  ASSERT_NE(sched, nullptr);
  CompletionRequest r;
  r.prompt.assign(40, 5);
  auto res = sched->submit(r);
  ASSERT_EQ(res.index(), 1u);
  EXPECT_EQ(std::get<1>(res).first, SubmitError::kPromptTooLong);
  EXPECT_NE(std::get<1>(res).second.find("40 tokens"), std::string::npos) << std::get<1>(res).second;
  EXPECT_NE(std::get<1>(res).second.find("holds 32"), std::string::npos) << std::get<1>(res).second;

  r.prompt.assign(32, 5);   // no room left for one generated token
  EXPECT_EQ(std::get<1>(sched->submit(r)).first, SubmitError::kPromptTooLong);
  r.prompt.clear();
  EXPECT_EQ(std::get<1>(sched->submit(r)).first, SubmitError::kInvalid);
  r.prompt = {1, 100000};
  EXPECT_EQ(std::get<1>(sched->submit(r)).first, SubmitError::kInvalid);
  r.prompt = {1, 5};
  r.top_logprobs = 21;
  EXPECT_EQ(std::get<1>(sched->submit(r)).first, SubmitError::kInvalid);
  r.top_logprobs = -1;
  r.sampling.top_p = -1;
  EXPECT_EQ(std::get<1>(sched->submit(r)).first, SubmitError::kInvalid);
}

TEST(Scheduler, QueueFullRejectsBeyondMaxQueue) {
  auto sched = start(kDemo, {.n_parallel = 1, .n_ctx = 256, .max_queue = 2});
  ASSERT_NE(sched, nullptr);
  CompletionRequest r = greedy(*sched, "Once upon a time", 200);
  r.ignore_eos = true;
  // Submitting takes microseconds, 200 tokens take far longer: one runs, two wait, the rest are
  // turned away.
  std::vector<std::shared_ptr<RequestHandle>> accepted;
  int rejected = 0;
  for (int i = 0; i < 8; ++i) {
    auto res = sched->submit(r);
    if (res.index() == 0) {
      accepted.push_back(std::get<0>(res));
    } else {
      EXPECT_EQ(std::get<1>(res).first, SubmitError::kQueueFull);
      EXPECT_NE(std::get<1>(res).second.find("queue is full"), std::string::npos);
      ++rejected;
    }
  }
  EXPECT_GE(rejected, 4);
  EXPECT_LE(accepted.size(), 4u);
  for (auto& h : accepted) EXPECT_EQ(collect(*h).usage.completion_tokens, 200);
}

TEST(Scheduler, CancelFreesTheSlotWithinOneStep) {
  auto sched = start(kDemo, {.n_parallel = 1, .n_ctx = 256});
  ASSERT_NE(sched, nullptr);
  CompletionRequest r = greedy(*sched, "Once upon a time", -1);
  r.ignore_eos = true;
  auto h = submit_ok(*sched, r);
  ASSERT_NE(h, nullptr);
  StreamEvent ev;
  ASSERT_TRUE(h->next(&ev, 20s));
  const int64_t steps_at_cancel = sched->stats().steps;
  h->cancel();
  Output rest = collect(*h);
  EXPECT_EQ(rest.finish, FinishReason::kCancelled);
  auto st = sched->stats();
  EXPECT_EQ(st.running, 0);
  // At most the step already under way when cancel() came; the next one frees the slot.
  EXPECT_LE(st.steps - steps_at_cancel, 1);
  EXPECT_LT(rest.usage.completion_tokens, 256);

  // The freed slot serves the next request.
  Output next = collect(*submit_ok(*sched, greedy(*sched, "The cat", 4)));
  EXPECT_EQ(next.usage.completion_tokens, 4);
}

TEST(Scheduler, CancelledWhileQueuedEndsWithoutWaitingForASlot) {
  auto sched = start(kDemo, {.n_parallel = 1, .n_ctx = 256});
  ASSERT_NE(sched, nullptr);
  CompletionRequest r = greedy(*sched, "Once upon a time", -1);
  r.ignore_eos = true;
  auto running = submit_ok(*sched, r);
  auto queued = submit_ok(*sched, r);
  ASSERT_NE(queued, nullptr);
  queued->cancel();
  Output got = collect(*queued);
  EXPECT_EQ(got.finish, FinishReason::kCancelled);
  EXPECT_EQ(got.usage.completion_tokens, 0);
  EXPECT_EQ(sched->stats().queued, 0);
  running->cancel();
  EXPECT_EQ(collect(*running).finish, FinishReason::kCancelled);
}

TEST(Scheduler, StartRejectsMoreStreamsThanKvSlots) {
  auto session = open_session(kDemo, 64, 2);
  ASSERT_NE(session, nullptr);
  auto s = Scheduler::start(std::move(session), {.n_parallel = 3});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("n_parallel = 3"), std::string::npos) << s.error().message();
}

TEST(Scheduler, DroppedHandleFreesTheSlot) {
  auto sched = start(kDemo, {.n_parallel = 1, .n_ctx = 256});
  ASSERT_NE(sched, nullptr);
  CompletionRequest r = greedy(*sched, "Once upon a time", -1);
  r.ignore_eos = true;
  auto h = submit_ok(*sched, r);
  StreamEvent ev;
  ASSERT_TRUE(h->next(&ev, 20s));
  h.reset();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (sched->stats().running > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(sched->stats().running, 0);
  // Idle, the engine thread sleeps: no step runs.
  const int64_t steps = sched->stats().steps;
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(sched->stats().steps, steps);
}

TEST(Scheduler, PrefixCacheHitGivesTheSameOutput) {
  auto sched = start(kDemo, {.n_parallel = 2, .n_ctx = 128});
  ASSERT_NE(sched, nullptr);
  auto ref = open_session(kDemo, 128, 1);
  CompletionRequest r = greedy(*sched, "Lily and Tom went to the park. They saw a big dog", 20);
  Output first = collect(*submit_ok(*sched, r));
  EXPECT_EQ(first.usage.cached_tokens, 0);
  Output again = collect(*submit_ok(*sched, r));
  EXPECT_EQ(again.usage.cached_tokens, static_cast<int32_t>(r.prompt.size()) - 1);
  EXPECT_EQ(again.ids, first.ids);
  EXPECT_EQ(again.text, first.text);

  // A longer prompt that starts with the first one (the chat-turn case) reuses all of it.
  CompletionRequest longer = r;
  auto more = sched->tokenizer().encode(" and a cat", false, false);
  longer.prompt.insert(longer.prompt.end(), more.begin(), more.end());
  Output got = collect(*submit_ok(*sched, longer));
  EXPECT_GE(got.usage.cached_tokens, static_cast<int32_t>(r.prompt.size()));
  Output want = reference(*ref, longer);
  EXPECT_EQ(got.ids, want.ids);
  EXPECT_EQ(got.text, want.text);
  auto st = sched->stats();
  EXPECT_EQ(st.prefix_hits, 2);
  EXPECT_GT(st.cached_prompt_tokens, 0);
  EXPECT_GT(st.kv_cells_used, 0);
  EXPECT_EQ(st.kv_cells_total, 256);
}

TEST(Scheduler, LogprobsOfGreedyTokensAreTheTopAlternative) {
  auto sched = start(kDemo, {.n_parallel = 1, .n_ctx = 64});
  ASSERT_NE(sched, nullptr);
  CompletionRequest r = greedy(*sched, "The cat", 6);
  r.top_logprobs = 3;
  r.ignore_eos = true;
  Output got = collect(*submit_ok(*sched, r));
  ASSERT_EQ(got.tokens.size(), 6u);
  for (const auto& t : got.tokens) {
    ASSERT_EQ(t.top.size(), 3u);
    EXPECT_EQ(t.top[0].first, t.id);
    EXPECT_FLOAT_EQ(t.top[0].second, t.logprob);
    EXPECT_LE(t.logprob, 0.0f);
    EXPECT_GE(t.top[0].second, t.top[1].second);
    EXPECT_GE(t.top[1].second, t.top[2].second);
    EXPECT_EQ(t.text, sched->tokenizer().decode_token(t.id));
  }
}

TEST(Scheduler, DestructionWithRequestsInFlightEndsEveryStream) {
  std::vector<std::shared_ptr<RequestHandle>> handles;
  {
    auto sched = start(kDemo, {.n_parallel = 2, .n_ctx = 256});
    ASSERT_NE(sched, nullptr);
    CompletionRequest r = greedy(*sched, "Once upon a time", -1);
    r.ignore_eos = true;
    for (int i = 0; i < 6; ++i) handles.push_back(submit_ok(*sched, r));
    StreamEvent ev;
    ASSERT_TRUE(handles[0]->next(&ev, 20s));
  }
  // Every stream ends; those still running or queued (all of them, unless the machine generated
  // 250 tokens before the destructor ran) with kCancelled.
  int cancelled = 0;
  for (auto& h : handles) {
    ASSERT_NE(h, nullptr);
    cancelled += collect(*h).finish == FinishReason::kCancelled;
  }
  EXPECT_GE(cancelled, 4);
}

// ---- the KV block pool (SchedulerOptions::n_kv_pool) ----

// 16 requests through 8 slots whose KV pool holds only 6 blocks (192 positions, where 8 slots of
// n_ctx would take 32 blocks): admission waits for blocks, and each request still equals its run
// alone. Every request fits in 2 blocks, so the headroom kept per running sequence means none is
// cut short.
TEST(SchedulerPool, ManyStreamsThroughASmallPoolEqualAlone) {
  auto sched = start(kDemo, {.n_parallel = 8, .n_ctx = 128, .n_batch = 16, .n_kv_pool = 192});
  ASSERT_NE(sched, nullptr);
  auto ref = open_session(kDemo, 128, 1);
  ASSERT_NE(ref, nullptr);
  std::vector<CompletionRequest> reqs;
  std::vector<std::shared_ptr<RequestHandle>> handles;
  for (int i = 0; i < 16; ++i) {
    CompletionRequest r = greedy(*sched, kPrompts[i], 8 + (i * 7) % 30);
    r.ignore_eos = i % 2 == 0;
    ASSERT_LE(r.prompt.size() + r.max_tokens, 64u) << i;
    reqs.push_back(r);
    handles.push_back(submit_ok(*sched, r));
  }
  for (int i = 0; i < 16; ++i) {
    ASSERT_NE(handles[i], nullptr);
    Output got = collect(*handles[i]);
    Output want = reference(*ref, reqs[i]);
    EXPECT_EQ(got.ids, want.ids) << "request " << i;
    EXPECT_EQ(got.text, want.text) << "request " << i;
    EXPECT_EQ(got.finish, want.finish) << "request " << i;
  }
  auto st = sched->stats();
  EXPECT_EQ(st.running, 0);
  EXPECT_EQ(st.requests, 16);
  EXPECT_EQ(st.kv_full_ends, 0);
  EXPECT_EQ(st.kv_blocks_total, 6);
  EXPECT_EQ(st.kv_cells_total, 192);
  EXPECT_LE(st.kv_blocks_used, 6);
  EXPECT_GT(st.batch_tokens, 2 * st.steps) << st.batch_tokens << " tokens in " << st.steps << " steps";
}

// Streams that outgrow the pool: each ends with kLength (never an error, never a crash), its
// tokens a prefix of what it gives alone; the others go on, and the scheduler keeps serving.
TEST(SchedulerPool, ExhaustedPoolEndsStreamsWithLength) {
  auto sched = start(kDemo, {.n_parallel = 3, .n_ctx = 128, .n_kv_pool = 128});
  ASSERT_NE(sched, nullptr);
  auto ref = open_session(kDemo, 128, 1);
  ASSERT_NE(ref, nullptr);
  std::vector<CompletionRequest> reqs;
  std::vector<std::shared_ptr<RequestHandle>> handles;
  for (int i = 0; i < 4; ++i) {
    CompletionRequest r = greedy(*sched, kPrompts[i + 1], -1);
    r.ignore_eos = true;
    reqs.push_back(r);
    handles.push_back(submit_ok(*sched, r));
  }
  int32_t full_context = 0;
  for (int i = 0; i < 4; ++i) {
    ASSERT_NE(handles[i], nullptr);
    Output got = collect(*handles[i]);
    EXPECT_EQ(got.finish, FinishReason::kLength) << "request " << i;
    Output want = reference(*ref, reqs[i]);
    ASSERT_LE(got.ids.size(), want.ids.size());
    EXPECT_TRUE(std::equal(got.ids.begin(), got.ids.end(), want.ids.begin())) << "request " << i;
    EXPECT_GT(got.ids.size(), 0u);
    full_context += got.ids.size() == want.ids.size();
  }
  auto st = sched->stats();
  EXPECT_GE(st.kv_full_ends, 1);
  EXPECT_GE(full_context, 1);  // a stream left alone with the pool reaches n_ctx
  EXPECT_EQ(st.running, 0);
  CompletionRequest r = greedy(*sched, "The cat", 12);
  Output after = collect(*submit_ok(*sched, r));
  EXPECT_EQ(after.ids, reference(*ref, r).ids);
}

TEST(SchedulerPool, PromptLargerThanThePoolIsRejected) {
  auto sched = start(kDemo, {.n_parallel = 2, .n_ctx = 256, .n_kv_pool = 64});
  ASSERT_NE(sched, nullptr);
  CompletionRequest r;
  r.prompt.assign(65, 1);
  auto res = sched->submit(r);
  ASSERT_EQ(res.index(), 1u);
  EXPECT_EQ(std::get<1>(res).first, SubmitError::kPromptTooLong);
  EXPECT_NE(std::get<1>(res).second.find("KV cache pool holds 64"), std::string::npos)
      << std::get<1>(res).second;
  r.prompt.assign(60, 1);
  r.max_tokens = 2;
  EXPECT_EQ(collect(*submit_ok(*sched, r)).usage.completion_tokens, 2);
}

// A request whose prompt starts with the whole blocks of a running stream's tokens maps them
// (no copy, no recompute) and gives what it gives alone.
TEST(SchedulerPool, RunningStreamSharesItsPrefixBlocks) {
  auto sched = start(kDemo, {.n_parallel = 2, .n_ctx = 256});
  ASSERT_NE(sched, nullptr);
  auto ref = open_session(kDemo, 256, 1);
  std::string text;
  for (int i = 0; i < 6; ++i) text += "Lily and Tom went to the park. They saw a big dog. ";
  CompletionRequest a = greedy(*sched, text, 60);
  a.ignore_eos = true;
  ASSERT_GE(a.prompt.size(), 70u);
  auto ha = submit_ok(*sched, a);
  ASSERT_NE(ha, nullptr);
  StreamEvent ev;
  ASSERT_TRUE(ha->next(&ev, 20s));   // a is decoding: its prompt is in the cache
  CompletionRequest b = a;
  auto more = sched->tokenizer().encode(" The cat", false, false);
  b.prompt.insert(b.prompt.end(), more.begin(), more.end());
  b.max_tokens = 10;
  Output got_b = collect(*submit_ok(*sched, b));
  const int32_t whole = static_cast<int32_t>(a.prompt.size()) / 32 * 32;
  EXPECT_EQ(got_b.usage.cached_tokens, whole);
  EXPECT_EQ(got_b.ids, reference(*ref, b).ids);
  EXPECT_EQ(sched->stats().shared_prefix_tokens, whole);
  Output got_a = collect(*ha);
  Output want_a = reference(*ref, a);
  std::vector<int32_t> first;
  for (const auto& t : ev.tokens) first.push_back(t.id);
  got_a.ids.insert(got_a.ids.begin(), first.begin(), first.end());
  EXPECT_EQ(got_a.ids, want_a.ids);
}

}  // namespace
}  // namespace lm::engine
