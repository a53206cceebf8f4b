// Forward: the one batched decoder forward pass for every supported family (llama, qwen2, qwen3),
// driven by ModelConfig flags.
//
// Ownership: holds references to the Model and ThreadPool (both must outlive it) and owns its
// scratch buffers, which grow to the largest batch seen and are reused (no allocation per token).
// Thread-safety: one Forward per engine thread; run() is not reentrant. Many Forwards may share
// one Model.
// Cost: per token, about 2 flops per weight plus attention over the sequence so far.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/result.h"
#include "core/thread_pool.h"
#include "kernels/cpu/matmul.h"
#include "model/attention.h"
#include "model/kv_cache.h"
#include "model/weights.h"

namespace lm::model {

class OpProfile;

struct BatchToken {
  int32_t token = 0;
  int32_t pos = 0;      // position in its sequence
  int32_t seq = 0;      // KvCache sequence slot
  bool logits = false;  // return this token's logits
  bool embd = false;    // return this token's final hidden state (after the output norm)
};

class Forward {
 public:
  // pool runs single-token batches (decode); batch_pool, when given, runs batches of more than
  // one token (prefill), so that the two can use different thread counts. Results do not depend
  // on the thread count.
  Forward(const Model& model, ThreadPool& pool, ThreadPool* batch_pool = nullptr);
  // Prints the per-op profile (LM_PROFILE=1, model/profile.h) to stderr.
  ~Forward();
  Forward(const Forward&) = delete;
  Forward& operator=(const Forward&) = delete;

  // Runs the batch: tokens of any sequences, in any order. A token at pos p of seq s attends to
  // positions 0..p of s, already in the cache or earlier in this batch; its K/V are written to the
  // cache and seq_len(s) grows to cover it. Returns in *logits the logits of the tokens with
  // logits=true, in batch order: [n_logits, n_vocab]; and, when embd is given, in *embd the final
  // hidden states (output norm applied, no LM head) of the tokens with embd=true, in batch order:
  // [n_embd_rows, n_embd]. A batch with no logits rows skips the LM head.
  // Errors (the cache is then unchanged): token id out of range, seq out of range, pos >= n_ctx,
  // pos > seq_len(seq) (counting earlier tokens of the batch), the same (seq, pos) twice, a cache
  // made for another model, "KV cache full" (the pool has fewer free blocks than the batch needs:
  // KvCache::blocks_needed of each sequence's written range, summed).
  Status run(KvCache& cache, std::span<const BatchToken> batch, std::vector<float>* logits,
             std::vector<float>* embd = nullptr);

 private:
  Status validate(const KvCache& cache, std::span<const BatchToken> batch);
  void reserve(int32_t n_tokens, int32_t n_ctx);
  bool positions_increase(std::span<const BatchToken> batch, int32_t n_seq);
  void run_slice(KvCache& cache, std::span<const BatchToken> batch, std::vector<float>* logits,
                 std::vector<float>* embd);
  void embed(std::span<const BatchToken> batch);
  void attention_block(int il, KvCache& cache, std::span<const BatchToken> batch);
  void qkv_hooks(const LayerWeights& l, int32_t n);
  void attend(int il, KvCache& cache, std::span<const BatchToken> batch);
  void ffn_block(int il, int32_t n);
  // xb_ = rmsnorm(x_) * norm for the n token rows: the input of a block.
  void norm_rows(const float* norm /* [n_embd] */, int32_t n);
  // x_ += xb_ for the n token rows: a block's output joins the residual stream.
  void add_residual(int32_t n);
  void output(std::span<const BatchToken> batch, std::vector<float>* logits);
  // y = x · wᵀ on the current pool, timed under LM_PROFILE (head: the output projection).
  void mm(const kernels::WeightView& w, const float* x /* [n, n_in] */, int32_t n,
          float* y /* [n, n_out] */, bool head = false);
  void hidden_states(std::span<const BatchToken> batch, std::vector<float>* embd);
  // Runs fn(begin, end) over token rows, on the pool when the work is big enough.
  template <typename F>
  void for_rows(int32_t n, int64_t width, const F& fn) {
    if (n == 1 || n * width < kParallelMinFloats)
      fn(0, n);
    else
      pool().parallel_for(n, [&fn](int64_t b, int64_t e) { fn(b, e); });  // no heap allocation
  }
  // Below this many floats an elementwise step runs on the calling thread: waking the pool would
  // cost more than the work.
  // SwiGLU uses it too (kernels/cpu/activation.h: ~0.9 ns an element with AVX-512, 1.3 with
  // AVX2): a decode token's n_ff = 8192 take ~7 us on one thread, no slower than split in two
  // when the machine is quiet and far faster when the pool's other thread is descheduled.
  static constexpr int64_t kParallelMinFloats = 16384;
  // Batch tokens of one sequence that share K/V tiles in attend().
  static constexpr int32_t kQueryTile = 8;
  // Most tokens per forward slice (run): bounds the activation buffers.
  static constexpr int32_t kMaxSlice = 128;
  ThreadPool& pool() { return *cur_; }

  const Model& model_;
  const ModelConfig& c_;
  ThreadPool& pool_;
  ThreadPool* batch_pool_;
  ThreadPool* cur_;  // the pool of the current run
  kernels::MatmulScratch mm_;
  std::unique_ptr<OpProfile> prof_;  // per-op timers, on with LM_PROFILE=1
  int32_t cap_tokens_ = 0;           // batch size the buffers below hold
  std::vector<float> x_;             // [n_tokens, n_embd] residual stream
  std::vector<uint8_t> embd_row_;    // one token_embd row read back from its repacked layout
  std::vector<float> xb_;            // [n_tokens, n_embd] normed input / block output
  std::vector<float> q_;             // [n_tokens, q_dim]
  std::vector<float> k_;             // [n_tokens, kv_dim]
  std::vector<float> v_;             // [n_tokens, kv_dim]
  std::vector<float> att_;           // [n_tokens, q_dim] attention output
  std::vector<float> gate_;          // [n_tokens, n_ff]
  std::vector<float> up_;            // [n_tokens, n_ff]
  std::vector<float> rope_cs_;       // [n_tokens, n_rot] cos/sin per token
  std::vector<AttentionScratch> attn_scratch_;  // [n_threads]
  std::vector<std::pair<int32_t, int32_t>> runs_;  // query runs [begin, end) of the batch
  std::vector<int32_t> pos_;         // [n_tokens] positions of the batch
  std::vector<int32_t> seq_len_;     // [n_seq_max] lengths while validating
  std::vector<int32_t> seq_first_;   // [n_seq_max] first position written (INT32_MAX: none)
  std::vector<int32_t> seq_last_;    // [n_seq_max] last position seen (positions_increase)
  std::vector<int64_t> keys_;        // [n_tokens] (seq, pos) keys while validating
  std::vector<int32_t> logit_rows_;  // [n_logits] batch index of each logits row
};

}  // namespace lm::model
