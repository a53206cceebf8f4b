// Decoding allocates nothing once the scratch buffers have grown: counts global operator new
// calls (this replacement is process-wide in test_model; only this test reads the counter).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "model/model.h"
#include "synthetic.h"

namespace {
std::atomic<long> g_allocs{0};
}

void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace lm::model {
namespace {

// Wide enough that the elementwise steps and the attention use the thread pool.
test::SynthSpec wide_spec() {
  test::SynthSpec s;
  s.qk_norm = true;
  s.n_embd = 256;
  s.n_head = 8;
  s.n_head_kv = 4;
  s.head_dim = 32;
  s.n_rot = 32;
  s.n_ff = 512;
  return s;
}

TEST(AllocTest, DecodeStepsDoNotAllocate) {
  auto m = Model::load(test::write_synthetic(wide_spec()));
  ASSERT_TRUE(m.ok()) << m.error().message();
  ThreadPool pool(3);
  Forward fwd(**m, pool);
  KvCache cache((*m)->config(), 64, 2);
  std::vector<float> logits;
  std::vector<BatchToken> prompt;
  for (int32_t i = 0; i < 8; ++i) prompt.push_back({i, i, 0, i == 7});
  ASSERT_TRUE(fwd.run(cache, prompt, &logits).ok());  // grows the buffers
  BatchToken one{5, 8, 0, true};
  ASSERT_TRUE(fwd.run(cache, std::span<const BatchToken>(&one, 1), &logits).ok());
  const long before = g_allocs.load();
  ASSERT_GT(before, 0);  // the counter sees allocations (loading, warm-up)
  for (int32_t p = 9; p < 40; ++p) {
    one = {p % 50, p, 0, true};
    Status st = fwd.run(cache, std::span<const BatchToken>(&one, 1), &logits);
    if (!st.ok()) FAIL() << st.error().message();
  }
  EXPECT_EQ(g_allocs.load() - before, 0);
}

TEST(AllocTest, RepeatedPromptBatchesDoNotAllocate) {
  auto m = Model::load(test::write_synthetic(wide_spec()));
  ASSERT_TRUE(m.ok()) << m.error().message();
  ThreadPool pool(2);
  Forward fwd(**m, pool);
  KvCache cache((*m)->config(), 64, 2);
  std::vector<float> logits;
  // 40 tokens: wide enough that the elementwise steps run on the pool too.
  std::vector<BatchToken> prompt;
  for (int32_t i = 0; i < 40; ++i) prompt.push_back({i % 50, i, 0, i % 3 == 0});
  ASSERT_TRUE(fwd.run(cache, prompt, &logits).ok());
  for (auto& t : prompt) t.seq = 1;
  const long before = g_allocs.load();
  Status st = fwd.run(cache, prompt, &logits);
  const long after = g_allocs.load();
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(after - before, 0);
}

}  // namespace
}  // namespace lm::model
