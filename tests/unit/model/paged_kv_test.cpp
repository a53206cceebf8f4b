// The paged KV cache (model/kv_cache.h) through the forward pass, on a small synthetic model:
// blocks taken as sequences grow and given back on clear/truncate, exhaustion as an error that
// changes nothing, reference counts and copy-on-write of shared prefixes, and logits that do not
// depend on where a sequence's blocks lie in the pool (bit for bit, every cache type).
#include <gtest/gtest.h>

#include <set>

#include "model/model.h"
#include "synthetic.h"

namespace lm::model {
namespace {

constexpr int32_t kB = KvCache::kBlockSize;

class PagedKvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::SynthSpec spec;
    spec.n_ctx = 256;
    spec.qk_norm = true;  // qwen3
    auto m = Model::load(test::write_synthetic(spec));
    ASSERT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message());
    model_ = std::move(*m);
  }

  // Token of position p in sequence stream `stream` (different streams, different texts).
  static int32_t token(int32_t stream, int32_t p) { return (p * 7 + stream * 13 + 1) % 50; }

  // Feeds positions [p0, p1) of `stream` into seq, in one batch; returns every row's logits.
  Status feed(Forward& fwd, KvCache& cache, int32_t seq, int32_t stream, int32_t p0, int32_t p1,
              std::vector<float>* logits) {
    std::vector<BatchToken> batch;
    for (int32_t p = p0; p < p1; ++p) batch.push_back({token(stream, p), p, seq, true});
    return fwd.run(cache, batch, logits);
  }
  std::vector<float> feed_ok(Forward& fwd, KvCache& cache, int32_t seq, int32_t stream, int32_t p0,
                             int32_t p1) {
    std::vector<float> logits;
    Status st = feed(fwd, cache, seq, stream, p0, p1, &logits);
    EXPECT_TRUE(st.ok()) << st.error().message();
    return logits;
  }

  const ModelConfig& config() const { return model_->config(); }
  std::unique_ptr<Model> model_;
};

TEST_F(PagedKvTest, DefaultPoolHoldsNCtxForEverySequence) {
  KvCache cache(config(), 100, 3);
  EXPECT_EQ(cache.n_blocks(), 3 * 4);  // ceil(100 / 32) blocks per sequence
  EXPECT_EQ(cache.n_free_blocks(), 12);
  KvCache pooled(config(), 100, 3, DType::F32, DType::F32, 70);
  EXPECT_EQ(pooled.n_blocks(), 3);     // 70 positions round up to 3 blocks
  EXPECT_EQ(pooled.bytes(), KvCache::bytes_for(config(), 70, DType::F32, DType::F32));
  EXPECT_EQ(pooled.bytes(), 3u * kB * config().n_layer * 2 * config().kv_dim() * sizeof(float));
}

TEST_F(PagedKvTest, BlocksAreTakenAsSequencesGrowAndReturned) {
  ThreadPool pool(2);
  Forward fwd(*model_, pool);
  KvCache cache(config(), 160, 3, DType::F32, DType::F32, 4 * kB);
  feed_ok(fwd, cache, 0, 0, 0, 40);
  EXPECT_EQ(cache.block_table(0).size(), 2u);
  EXPECT_EQ(cache.n_free_blocks(), 2);
  EXPECT_EQ(cache.n_pos_used(), 40);
  feed_ok(fwd, cache, 1, 1, 0, 1);
  EXPECT_EQ(cache.n_free_blocks(), 1);
  feed_ok(fwd, cache, 1, 1, 1, kB);  // fills its first block: no new one
  EXPECT_EQ(cache.n_free_blocks(), 1);
  std::set<int32_t> distinct;
  for (int32_t s = 0; s < 2; ++s)
    for (int32_t b : cache.block_table(s)) {
      EXPECT_EQ(cache.block_refs(b), 1);
      distinct.insert(b);
    }
  EXPECT_EQ(distinct.size(), 3u);
  cache.truncate_seq(0, kB + 1);  // still needs both blocks
  EXPECT_EQ(cache.n_free_blocks(), 1);
  cache.truncate_seq(0, kB);
  EXPECT_EQ(cache.block_table(0).size(), 1u);
  EXPECT_EQ(cache.n_free_blocks(), 2);
  cache.clear_seq(0);
  EXPECT_EQ(cache.n_free_blocks(), 3);
  EXPECT_TRUE(cache.block_table(0).empty());
  EXPECT_EQ(cache.n_pos_used(), kB);
  cache.clear();
  EXPECT_EQ(cache.n_free_blocks(), 4);
  EXPECT_EQ(cache.n_pos_used(), 0);
}

TEST_F(PagedKvTest, ExhaustionIsAnErrorThatChangesNothing) {
  ThreadPool pool(1);
  Forward fwd(*model_, pool);
  KvCache cache(config(), 160, 2, DType::F32, DType::F32, 2 * kB);
  KvCache fresh(config(), 160, 1);
  feed_ok(fwd, cache, 0, 0, 0, 2 * kB - 1);
  feed_ok(fwd, fresh, 0, 0, 0, 2 * kB - 1);
  std::vector<float> logits;
  Status st = feed(fwd, cache, 1, 1, 0, 1, &logits);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("KV cache full"), std::string::npos) << st.error().message();
  // A batch that fits for seq 0 but not for seq 1 fails as a whole.
  std::vector<BatchToken> both = {{token(0, 2 * kB - 1), 2 * kB - 1, 0, true}, {3, 0, 1, true}};
  EXPECT_FALSE(fwd.run(cache, both, &logits).ok());
  EXPECT_EQ(cache.seq_len(0), 2 * kB - 1);
  EXPECT_EQ(cache.seq_len(1), 0);
  EXPECT_EQ(cache.n_free_blocks(), 0);
  // Sequence 0 is intact: it continues exactly as in a cache that never ran out.
  EXPECT_EQ(feed_ok(fwd, cache, 0, 0, 2 * kB - 1, 2 * kB), feed_ok(fwd, fresh, 0, 0, 2 * kB - 1, 2 * kB));
  st = feed(fwd, cache, 0, 0, 2 * kB, 2 * kB + 1, &logits);
  EXPECT_FALSE(st.ok());
  cache.clear_seq(0);
  KvCache fresh1(config(), 160, 1);
  EXPECT_EQ(feed_ok(fwd, cache, 1, 1, 0, 40), feed_ok(fwd, fresh1, 0, 1, 0, 40));
}

TEST_F(PagedKvTest, SharedPrefixIsCountedAndCopiedOnWrite) {
  ThreadPool pool(2);
  Forward fwd(*model_, pool);
  KvCache cache(config(), 160, 3, DType::F32, DType::F32, 8 * kB);
  feed_ok(fwd, cache, 0, 0, 0, 40);
  const std::vector<int32_t> t0(cache.block_table(0).begin(), cache.block_table(0).end());
  cache.share_prefix(1, 0, 40);
  EXPECT_EQ(cache.seq_len(1), 40);
  EXPECT_EQ(cache.n_free_blocks(), 6);  // nothing copied
  for (int32_t b : t0) EXPECT_EQ(cache.block_refs(b), 2);
  EXPECT_EQ(cache.n_pos_used(), 40);
  EXPECT_EQ(cache.blocks_needed(1, 40, 41), 1);   // the shared partial block is copied
  EXPECT_EQ(cache.blocks_needed(1, 40, 2 * kB), 1);
  EXPECT_EQ(cache.blocks_needed(1, 40, 2 * kB + 1), 2);

  // Seq 1 continues with another text: its partial block is copied; the full one stays shared.
  KvCache ref(config(), 160, 1);
  feed_ok(fwd, ref, 0, 0, 0, 40);
  std::vector<BatchToken> b1 = {{5, 40, 1, true}, {6, 41, 1, true}};
  std::vector<BatchToken> r1 = {{5, 40, 0, true}, {6, 41, 0, true}};
  std::vector<float> got, want;
  ASSERT_TRUE(fwd.run(cache, b1, &got).ok());
  ASSERT_TRUE(fwd.run(ref, r1, &want).ok());
  EXPECT_EQ(got, want);
  EXPECT_EQ(cache.block_table(1)[0], t0[0]);
  EXPECT_NE(cache.block_table(1)[1], t0[1]);
  EXPECT_EQ(cache.block_refs(t0[0]), 2);
  EXPECT_EQ(cache.block_refs(t0[1]), 1);
  EXPECT_EQ(cache.n_free_blocks(), 5);

  // Seq 2 shares 35 positions of seq 0 and overwrites from there; seq 0 is unaffected: it
  // continues exactly like a cache of its own.
  cache.share_prefix(2, 0, 35);
  EXPECT_EQ(cache.block_refs(t0[1]), 2);
  feed_ok(fwd, cache, 2, 2, 35, 50);
  EXPECT_EQ(cache.block_refs(t0[1]), 1);
  KvCache alone(config(), 160, 1);
  feed_ok(fwd, alone, 0, 0, 0, 40);
  EXPECT_EQ(feed_ok(fwd, cache, 0, 0, 40, 70), feed_ok(fwd, alone, 0, 0, 40, 70));
  // Giving back: shared blocks return only when the last holder lets go.
  const int32_t free_before = cache.n_free_blocks();
  cache.clear_seq(1);   // its own copy of block 1 goes back; block 0 is still held by 0 and 2
  EXPECT_EQ(cache.n_free_blocks(), free_before + 1);
  EXPECT_EQ(cache.block_refs(t0[0]), 2);
  cache.clear_seq(0);
  cache.clear_seq(2);
  EXPECT_EQ(cache.n_free_blocks(), 8);
}

// A sequence fed in chunks beside another one, in a fresh cache (contiguous blocks) and in a
// cache whose free list was shuffled (scattered blocks): the same logits, bit for bit.
std::vector<float> interleaved(const Model& m, KvCache& cache) {
  ThreadPool pool(2);
  Forward fwd(m, pool);
  std::vector<float> all, logits;
  int32_t p0 = 0, p1 = 0;
  for (int32_t chunk : {5, 40, 1, 1, 33, 20, 1, 1, 1}) {
    std::vector<BatchToken> batch;
    for (int32_t i = 0; i < chunk; ++i, ++p0) batch.push_back({(p0 * 3 + 1) % 50, p0, 0, true});
    for (int32_t i = 0; i < 3; ++i, ++p1) batch.push_back({(p1 * 5 + 2) % 50, p1, 1, false});
    Status st = fwd.run(cache, batch, &logits);
    EXPECT_TRUE(st.ok()) << st.error().message();
    all.insert(all.end(), logits.begin(), logits.end());
  }
  return all;
}

TEST_F(PagedKvTest, ScatteredBlocksGiveTheSameLogitsBitForBit) {
  for (DType type : {DType::F32, DType::F16, DType::Q8_0}) {
    KvCache contiguous(config(), 160, 2, type, type, 20 * kB);
    KvCache scattered(config(), 160, 2, type, type, 20 * kB);
    scattered.shuffle_free_blocks(42);
    const auto want = interleaved(*model_, contiguous);
    const auto got = interleaved(*model_, scattered);
    ASSERT_FALSE(want.empty());
    EXPECT_EQ(got, want) << dtype_name(type);
    const auto t = scattered.block_table(0);
    ASSERT_EQ(t.size(), 4u);  // 103 positions
    bool in_order = true;
    for (size_t i = 1; i < t.size(); ++i) in_order &= t[i] == t[i - 1] + 1;
    EXPECT_FALSE(in_order) << "the shuffled pool gave consecutive blocks";
  }
}

}  // namespace
}  // namespace lm::model
