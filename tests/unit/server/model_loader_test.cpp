// The real GGUF loader: the scheduler it starts has its embedding-only slot, and the memory
// estimate counts that slot's KV cache.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "gguf/gguf.h"
#include "model/config.h"
#include "server/model_registry.h"

namespace lm::server {
namespace {

using namespace std::chrono_literals;

const std::string kDemo = std::string(LM_SOURCE_DIR) + "/models/demo.gguf";

ModelSpec demo_spec(int32_t n_parallel, int32_t n_embedding_slots) {
  ModelSpec spec;
  spec.name = "demo";
  spec.path = kDemo;
  spec.scheduler.n_parallel = n_parallel;
  spec.scheduler.n_ctx = 256;
  spec.scheduler.n_threads = 2;
  spec.scheduler.n_embedding_slots = n_embedding_slots;
  return spec;
}

engine::StreamEvent wait_done(engine::RequestHandle& h) {
  engine::StreamEvent ev;
  while (h.next(&ev, 60s)) {
    if (ev.done) return ev;
  }
  ADD_FAILURE() << "no done event in 60 s";
  return ev;
}

TEST(GgufLoader, EstimateCountsTheEmbeddingSlotsKv) {
  if (!std::filesystem::exists(kDemo)) GTEST_SKIP() << "models/demo.gguf not found";
  auto loader = make_gguf_loader();
  auto with = loader->estimate(demo_spec(2, 1));
  auto without = loader->estimate(demo_spec(2, 0));
  auto two = loader->estimate(demo_spec(2, 2));
  ASSERT_TRUE(with.ok() && without.ok() && two.ok());
  auto f = gguf::File::open(kDemo);
  ASSERT_TRUE(f.ok());
  auto c = model::read_config(**f);
  ASSERT_TRUE(c.ok());
  // One sequence of F32 K and V: n_ctx x n_layer x kv_dim x (4 + 4) bytes.
  const uint64_t one_seq = 256ull * c->n_layer * c->kv_dim() * 8;
  EXPECT_EQ(*with - *without, one_seq);
  EXPECT_EQ(*two - *with, one_seq);
}

// With n_parallel = 1 and that slot busy decoding, an embedding request still completes: it runs
// in the reserved slot instead of waiting for the chat stream to end.
TEST(GgufLoader, EmbeddingCompletesWhileEveryChatSlotDecodes) {
  if (!std::filesystem::exists(kDemo)) GTEST_SKIP() << "models/demo.gguf not found";
  auto loader = make_gguf_loader();
  auto entry = loader->load(demo_spec(1, 1));
  ASSERT_TRUE(entry.ok()) << entry.error().message();
  engine::Scheduler& sched = *(*entry)->scheduler;
  EXPECT_EQ(sched.n_parallel(), 1);

  engine::CompletionRequest chat;
  chat.prompt = sched.tokenizer().encode("Once upon a time", true, false);
  chat.sampling.temperature = 0;
  chat.ignore_eos = true;   // decodes until the context is full: far longer than one embedding
  auto chat_res = sched.submit(std::move(chat));
  ASSERT_EQ(chat_res.index(), 0u);
  auto chat_h = std::get<0>(chat_res);
  engine::StreamEvent first;
  ASSERT_TRUE(chat_h->next(&first, 60s));   // the chat stream has its slot and is decoding
  ASSERT_FALSE(first.done);

  engine::CompletionRequest emb;
  emb.prompt = sched.tokenizer().encode("The cat sat on the mat", true, false);
  emb.embedding = true;
  auto emb_res = sched.submit(std::move(emb));
  ASSERT_EQ(emb_res.index(), 0u);
  engine::StreamEvent ev = wait_done(*std::get<0>(emb_res));
  EXPECT_EQ(ev.finish, engine::FinishReason::kStop) << ev.error;
  EXPECT_FALSE(ev.embedding.empty());
  // The chat stream was still running when the embedding finished: cancelling it now ends it
  // as cancelled (had the embedding waited for the slot, the stream would have ended first).
  chat_h->cancel();
  EXPECT_EQ(wait_done(*chat_h).finish, engine::FinishReason::kCancelled);
}

}  // namespace
}  // namespace lm::server
