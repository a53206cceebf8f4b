// Session: one loaded model with its tokenizer, a thread pool, a KV cache and forward-pass scratch.
//
// Ownership: owns all of the above. Thread-safety: none; one caller at a time (the server's
// scheduler will own sessions). Cost: open() maps the file and allocates the KV cache
// (n_kv_pool, default n_ctx * n_seq_max, positions of n_layer * 2 * n_head_kv * head_dim
// elements).
#pragma once

#include <memory>
#include <string>

#include "core/result.h"
#include "core/thread_pool.h"
#include "model/forward.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace lm::engine {

struct SessionOptions {
  std::string model_path;
  int32_t n_ctx = 0;       // 0: the model's training context
  int32_t n_threads = 0;   // 0: all hardware threads (decode: one token per forward pass)
  int32_t n_threads_batch = 0;  // 0: same as n_threads (batches of more than one token)
  int32_t n_seq_max = 1;
  // Positions of the paged KV cache's block pool, shared by all sequences (each may still grow to
  // n_ctx while blocks are free); 0: n_ctx * n_seq_max (every sequence can always reach n_ctx).
  int32_t n_kv_pool = 0;
  std::string cache_type_k = "f32";  // KV cache storage of keys: f32, f16 or q8_0
  std::string cache_type_v = "f32";  // ... and of values
};

// Positions the KV block pool of a session holds (SessionOptions::n_kv_pool, else n_ctx per
// sequence), rounded up to whole blocks: what memory estimates count.
int64_t kv_pool_positions(int32_t n_ctx, int32_t n_seq_max, int32_t n_kv_pool);

// "f32", "f16", "q8_0" (any case) as a DType; an error names the accepted values.
Result<DType> parse_cache_type(const std::string& name);

class Session {
 public:
  static Result<std::unique_ptr<Session>> open(const SessionOptions& options);

  const model::Model& model() const { return *model_; }
  const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }
  ThreadPool& pool() { return *pool_; }  // decode pool
  // The pool of multi-token batches: pool() when n_threads_batch equals n_threads.
  ThreadPool& batch_pool() { return batch_pool_ ? *batch_pool_ : *pool_; }
  model::KvCache& kv() { return *kv_; }
  model::Forward& forward() { return *forward_; }
  int32_t n_ctx() const { return n_ctx_; }

 private:
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<ThreadPool> batch_pool_;  // null when it would equal pool_
  std::unique_ptr<model::KvCache> kv_;
  std::unique_ptr<model::Forward> forward_;
  int32_t n_ctx_ = 0;
};

}  // namespace lm::engine
