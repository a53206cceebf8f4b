// Embeddings: pooling math (engine/embed.h), and embedding requests through the Scheduler on the
// demo model, compared with an independent loop over Forward (one sequence, whole input in one
// call, mean computed here), alone, batched, chunked and beside running chat streams.
#include "engine/embed.h"

#include <gtest/gtest.h>

#include <cmath>

#include "gguf/gguf.h"
#include "engine/scheduler.h"
#include "test_util.h"

namespace lm::engine {
namespace {

using namespace std::chrono_literals;

const std::string kDemo = std::string(LM_SOURCE_DIR) + "/models/demo.gguf";

double norm2(std::span<const float> v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

TEST(Pooling, GgufTypesMapAndRankIsRefused) {
  EXPECT_EQ(*pooling_from_gguf(-1), Pooling::kMean);
  EXPECT_EQ(*pooling_from_gguf(0), Pooling::kMean);
  EXPECT_EQ(*pooling_from_gguf(1), Pooling::kMean);
  EXPECT_EQ(*pooling_from_gguf(2), Pooling::kCls);
  EXPECT_EQ(*pooling_from_gguf(3), Pooling::kLast);
  auto rank = pooling_from_gguf(4);
  ASSERT_FALSE(rank.ok());
  EXPECT_NE(rank.error().message().find("rank"), std::string::npos);
  auto bad = pooling_from_gguf(9);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("9"), std::string::npos);
}

TEST(Pooling, MeanClsLastOfKnownRows) {
  const std::vector<float> rows = {1, 2, 2,  3, 0, 4,  -1, 4, 0};   // [3, 3]
  auto pool = [&](Pooling p) {
    Pooler pl(p, 3);
    for (int32_t i = 0; i < 3; ++i) pl.add(i, std::span<const float>(rows.data() + 3 * i, 3));
    EXPECT_EQ(pl.n_rows(), 3);
    return pl.finish();
  };
  // mean = (1, 2, 2), |.| = 3
  std::vector<float> mean = pool(Pooling::kMean);
  EXPECT_NEAR(mean[0], 1.0 / 3, 1e-7);
  EXPECT_NEAR(mean[1], 2.0 / 3, 1e-7);
  EXPECT_NEAR(mean[2], 2.0 / 3, 1e-7);
  std::vector<float> cls = pool(Pooling::kCls);   // (1, 2, 2) / 3
  EXPECT_NEAR(cls[0], 1.0 / 3, 1e-7);
  EXPECT_NEAR(cls[2], 2.0 / 3, 1e-7);
  std::vector<float> last = pool(Pooling::kLast);   // (-1, 4, 0) / sqrt(17)
  EXPECT_NEAR(last[0], -1.0 / std::sqrt(17.0), 1e-7);
  EXPECT_NEAR(last[1], 4.0 / std::sqrt(17.0), 1e-7);
  EXPECT_EQ(last[2], 0.0f);
}

TEST(Pooling, NormalisationAndTruncation) {
  std::vector<float> zero(4, 0.0f);
  l2_normalize(zero);
  EXPECT_EQ(zero, std::vector<float>(4, 0.0f));
  Pooler empty(Pooling::kMean, 4);
  EXPECT_EQ(empty.finish(), std::vector<float>(4, 0.0f));
  std::vector<float> v = {3, 4, 12};   // |v| = 13
  l2_normalize(v);
  EXPECT_NEAR(norm2(v), 1.0, 1e-7);
  EXPECT_NEAR(v[2], 12.0 / 13, 1e-7);
  std::vector<float> t = truncate_dims(v, 2);   // (3, 4) / 5
  ASSERT_EQ(t.size(), 2u);
  EXPECT_NEAR(t[0], 0.6, 1e-7);
  EXPECT_NEAR(t[1], 0.8, 1e-7);
}

std::unique_ptr<Session> open_session(int32_t n_ctx, int32_t n_seq, const std::string& path = kDemo) {
  SessionOptions so;
  so.model_path = path;
  so.n_ctx = n_ctx;
  so.n_threads = 2;
  so.n_seq_max = n_seq;
  auto s = Session::open(so);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message());
  return s.ok() ? std::move(*s) : nullptr;
}

// n_embd_slots: KV slots beyond n_parallel that only embeddings use.
std::unique_ptr<Scheduler> start(int32_t n_parallel, int32_t n_ctx, int32_t n_batch,
                                 int32_t n_embd_slots = 0) {
  auto session = open_session(n_ctx, n_parallel + n_embd_slots);
  if (!session) return nullptr;
  SchedulerOptions o;
  o.n_parallel = n_parallel;
  o.n_embedding_slots = n_embd_slots;
  o.n_batch = n_batch;
  auto s = Scheduler::start(std::move(session), o);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message());
  return s.ok() ? std::move(*s) : nullptr;
}

// The reference: the whole input in one Forward call with every hidden state returned, the mean
// taken and normalised here (not with Pooler).
std::vector<float> reference(Session& s, const std::vector<int32_t>& ids) {
  s.kv().clear_seq(0);
  std::vector<model::BatchToken> batch;
  for (size_t i = 0; i < ids.size(); ++i)
    batch.push_back({ids[i], static_cast<int32_t>(i), 0, false, true});
  std::vector<float> logits, hidden;
  EXPECT_TRUE(s.forward().run(s.kv(), batch, &logits, &hidden).ok());
  EXPECT_TRUE(logits.empty());   // no LM head for embeddings
  const int32_t n_embd = s.model().config().n_embd;
  EXPECT_EQ(hidden.size(), ids.size() * n_embd);
  std::vector<double> mean(n_embd, 0.0);
  for (size_t t = 0; t < ids.size(); ++t)
    for (int32_t i = 0; i < n_embd; ++i) mean[i] += hidden[t * n_embd + i] / double(ids.size());
  double ss = 0;
  for (double x : mean) ss += x * x;
  std::vector<float> out(n_embd);
  for (int32_t i = 0; i < n_embd; ++i) out[i] = static_cast<float>(mean[i] / std::sqrt(ss));
  return out;
}

std::shared_ptr<RequestHandle> submit_embedding(Scheduler& s, std::vector<int32_t> ids) {
  CompletionRequest r;
  r.prompt = std::move(ids);
  r.embedding = true;
  auto res = s.submit(std::move(r));
  if (auto* e = std::get_if<1>(&res)) {
    ADD_FAILURE() << "submit failed: " << e->second;
    return nullptr;
  }
  return std::get<0>(res);
}

StreamEvent wait_done(RequestHandle& h) {
  StreamEvent ev;
  while (h.next(&ev, 20s)) {
    if (ev.done) return ev;
  }
  ADD_FAILURE() << "no done event in 20 s";
  return ev;
}

const char* kTexts[] = {"Once upon a time", "Lily and Tom went to the park. They saw a big dog",
                        "The cat", "Tim had a red ball and he liked to play with it every day"};

std::vector<std::vector<int32_t>> inputs(const Scheduler& s) {
  std::vector<std::vector<int32_t>> out;
  for (const char* t : kTexts) out.push_back(s.tokenizer().encode(t, true, false));
  return out;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, double tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double err = 0;
  for (size_t i = 0; i < got.size(); ++i) err = std::max(err, std::fabs(double(got[i]) - want[i]));
  EXPECT_LE(err, tol) << what;
}

TEST(Embeddings, AloneMatchesTheReferenceAndIsAUnitVector) {
  auto sched = start(2, 128, 512);
  ASSERT_NE(sched, nullptr);
  auto ref = open_session(128, 1);
  ASSERT_NE(ref, nullptr);
  EXPECT_EQ(sched->pooling(), Pooling::kMean);   // demo.gguf has no pooling_type
  for (const auto& ids : inputs(*sched)) {
    auto h = submit_embedding(*sched, ids);
    ASSERT_NE(h, nullptr);
    StreamEvent ev = wait_done(*h);
    EXPECT_EQ(ev.finish, FinishReason::kStop);
    EXPECT_EQ(ev.usage.prompt_tokens, static_cast<int32_t>(ids.size()));
    EXPECT_EQ(ev.usage.completion_tokens, 0);
    EXPECT_NEAR(norm2(ev.embedding), 1.0, 1e-6);
    expect_close(ev.embedding, reference(*ref, ids), 1e-6, "vs reference");
  }
  auto st = sched->stats();
  EXPECT_EQ(st.embedding_requests, 4);
  EXPECT_EQ(st.running, 0);
}

// Submitted together (one forward batch), and with small chunks (several steps per input), each
// vector equals the one computed alone.
TEST(Embeddings, BatchedAndChunkedEqualAlone) {
  auto alone_sched = start(1, 128, 512);
  auto batched = start(4, 128, 512);
  auto chunked = start(4, 128, 5);
  ASSERT_TRUE(alone_sched && batched && chunked);
  const auto ins = inputs(*alone_sched);
  std::vector<std::vector<float>> alone;
  for (const auto& ids : ins) alone.push_back(wait_done(*submit_embedding(*alone_sched, ids)).embedding);
  for (Scheduler* s : {batched.get(), chunked.get()}) {
    std::vector<std::shared_ptr<RequestHandle>> hs;
    for (const auto& ids : ins) hs.push_back(submit_embedding(*s, ids));
    for (size_t i = 0; i < hs.size(); ++i) {
      ASSERT_NE(hs[i], nullptr);
      expect_close(wait_done(*hs[i]).embedding, alone[i], 1e-6, kTexts[i]);
    }
  }
  // Chunks of 5 tokens: every input took several steps.
  EXPECT_GT(chunked->stats().steps, 4);
}

// Embeddings submitted while 4 greedy chat streams decode are unchanged, and the streams finish.
TEST(Embeddings, UnchangedWhileFourStreamsRun) {
  // Long streams (4000 tokens in a 4096 context), cancelled at the end, so that they are still
  // decoding when the last embedding finishes however fast the machine is.
  auto sched = start(6, 4096, 16);
  ASSERT_NE(sched, nullptr);
  auto ref = open_session(256, 1);
  ASSERT_NE(ref, nullptr);
  std::vector<std::shared_ptr<RequestHandle>> streams;
  for (int i = 0; i < 4; ++i) {
    CompletionRequest r;
    r.prompt = sched->tokenizer().encode(kTexts[i], true, false);
    r.sampling.temperature = 0;
    r.max_tokens = 4000;
    r.ignore_eos = true;
    auto res = sched->submit(std::move(r));
    ASSERT_EQ(res.index(), 0u);
    streams.push_back(std::get<0>(res));
  }
  StreamEvent first;
  ASSERT_TRUE(streams[0]->next(&first, 20s));   // the streams are decoding
  for (int round = 0; round < 3; ++round) {
    for (const auto& ids : inputs(*sched)) {
      auto h = submit_embedding(*sched, ids);
      ASSERT_NE(h, nullptr);
      expect_close(wait_done(*h).embedding, reference(*ref, ids), 1e-6, "beside streams");
    }
  }
  EXPECT_EQ(sched->stats().running, 4) << "the streams ended before the embeddings ran";
  for (auto& h : streams) {
    h->cancel();
    EXPECT_EQ(wait_done(*h).finish, FinishReason::kCancelled);
  }
}

// Every chat slot busy and a chat request queued: an embedding still runs, in its own slot,
// passing the queued chat request, and equals the reference.
TEST(Embeddings, OwnSlotRunsWhileEveryChatSlotIsBusy) {
  // Long chats (a context beyond the demo's 256 and 4000 tokens each), cancelled at the end: the
  // chat slots must stay busy for the whole test however fast the machine decodes.
  auto sched = start(2, 4096, 16, /*n_embd_slots=*/1);
  ASSERT_NE(sched, nullptr);
  auto ref = open_session(256, 1);
  ASSERT_NE(ref, nullptr);
  std::vector<std::shared_ptr<RequestHandle>> chats;
  for (int i = 0; i < 3; ++i) {
    CompletionRequest r;
    r.prompt = sched->tokenizer().encode(kTexts[i], true, false);
    r.sampling.temperature = 0;
    r.max_tokens = 4000;
    r.ignore_eos = true;
    auto res = sched->submit(std::move(r));
    ASSERT_EQ(res.index(), 0u);
    chats.push_back(std::get<0>(res));
  }
  StreamEvent first;
  ASSERT_TRUE(chats[0]->next(&first, 20s));
  const auto ids = inputs(*sched)[3];
  for (int round = 0; round < 3; ++round) {
    auto h = submit_embedding(*sched, ids);
    ASSERT_NE(h, nullptr);
    expect_close(wait_done(*h).embedding, reference(*ref, ids), 1e-6, "in its own slot");
    auto st = sched->stats();
    EXPECT_EQ(st.queued, 1) << "the third chat request waits for a chat slot";
    EXPECT_EQ(st.running, 2);
  }
  for (auto& h : chats) {
    h->cancel();
    EXPECT_EQ(wait_done(*h).finish, FinishReason::kCancelled);
  }
}

TEST(Embeddings, InputMayFillTheContextButNotExceedIt) {
  auto sched = start(1, 32, 512);
  ASSERT_NE(sched, nullptr);
  std::vector<int32_t> ids(32, 300);
  ids[0] = 1;
  auto h = submit_embedding(*sched, ids);
  ASSERT_NE(h, nullptr);
  StreamEvent ev = wait_done(*h);
  EXPECT_EQ(ev.finish, FinishReason::kStop);
  EXPECT_EQ(ev.embedding.size(), static_cast<size_t>(sched->config().n_embd));
  ids.push_back(300);
  CompletionRequest r;
  r.prompt = ids;
  r.embedding = true;
  auto res = sched->submit(std::move(r));
  ASSERT_EQ(res.index(), 1u);
  EXPECT_EQ(std::get<1>(res).first, SubmitError::kPromptTooLong);
  EXPECT_NE(std::get<1>(res).second.find("33 tokens"), std::string::npos) << std::get<1>(res).second;
  EXPECT_NE(std::get<1>(res).second.find("32"), std::string::npos);
}

// The demo model with llama.pooling_type = type, in a temporary file.
std::string demo_with_pooling(uint32_t type) {
  auto f = gguf::File::open(kDemo);
  EXPECT_TRUE(f.ok());
  if (!f.ok()) return "";
  gguf::Writer w((*f)->version());
  for (const auto& kv : (*f)->metadata()) w.set_value(kv.key, kv.value);
  w.set_alignment((*f)->alignment());
  w.set_u32("llama.pooling_type", type);
  for (const auto& t : (*f)->tensors())
    EXPECT_TRUE(w.add_tensor_view(t.name, t.type, t.dims, {t.data, t.n_bytes}).ok());
  const std::string path = lm::test::temp_path("demo_pooling.gguf");
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

// {arch}.pooling_type from the file: cls takes the first token's hidden state, last the last one;
// rank is refused at submit with a reason.
TEST(Embeddings, PoolingTypeFromTheFile) {
  const std::vector<int32_t> ids = {1, 5, 7, 9, 11};
  for (uint32_t type : {2u, 3u, 4u}) {
    const std::string path = demo_with_pooling(type);
    auto ref = open_session(64, 1, path);
    auto session = open_session(64, 1, path);
    ASSERT_TRUE(ref && session);
    EXPECT_EQ(session->model().config().pooling_type, static_cast<int32_t>(type));
    SchedulerOptions o;
    o.n_parallel = 1;
    auto sched = Scheduler::start(std::move(session), o);
    ASSERT_TRUE(sched.ok()) << sched.error().message();
    CompletionRequest r;
    r.prompt = ids;
    r.embedding = true;
    auto res = (*sched)->submit(r);
    if (type == 4) {
      ASSERT_EQ(res.index(), 1u);
      EXPECT_EQ(std::get<1>(res).first, SubmitError::kInvalid);
      EXPECT_NE(std::get<1>(res).second.find("rank"), std::string::npos);
      continue;
    }
    EXPECT_EQ((*sched)->pooling(), type == 2 ? Pooling::kCls : Pooling::kLast);
    ASSERT_EQ(res.index(), 0u);
    std::vector<float> got = wait_done(*std::get<0>(res)).embedding;
    std::vector<model::BatchToken> batch;
    for (size_t i = 0; i < ids.size(); ++i) batch.push_back({ids[i], int32_t(i), 0, false, true});
    std::vector<float> logits, hidden;
    ASSERT_TRUE(ref->forward().run(ref->kv(), batch, &logits, &hidden).ok());
    const size_t n_embd = ref->model().config().n_embd, row = type == 2 ? 0 : ids.size() - 1;
    std::vector<float> want(hidden.begin() + row * n_embd, hidden.begin() + (row + 1) * n_embd);
    double ss = 0;
    for (float x : want) ss += double(x) * x;
    for (float& x : want) x = float(x / std::sqrt(ss));
    expect_close(got, want, 1e-6, type == 2 ? "cls" : "last");
  }
}

}  // namespace
}  // namespace lm::engine
