#include "engine/session.h"

#include <algorithm>
#include <cctype>

namespace lm::engine {

Result<DType> parse_cache_type(const std::string& name) {
  std::string n;
  for (char c : name) n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n == "f32") return DType::F32;
  if (n == "f16") return DType::F16;
  if (n == "q8_0") return DType::Q8_0;
  return errorf("unknown KV cache type '{}' (expected f32, f16 or q8_0)", name);
}

int64_t kv_pool_positions(int32_t n_ctx, int32_t n_seq_max, int32_t n_kv_pool) {
  constexpr int64_t kB = model::KvCache::kBlockSize;
  if (n_kv_pool > 0) return (n_kv_pool + kB - 1) / kB * kB;
  return (static_cast<int64_t>(std::max(n_ctx, 1)) + kB - 1) / kB * kB * std::max(n_seq_max, 1);
}

Result<std::unique_ptr<Session>> Session::open(const SessionOptions& o) {
  auto s = std::make_unique<Session>();
  LM_TRY(s->model_, model::Model::load(o.model_path));
  auto tok = tokenizer::Tokenizer::from_gguf(s->model_->file());
  if (!tok.ok()) return std::move(tok).error().wrap(fmt::format("loading the tokenizer of {}", o.model_path));
  s->tokenizer_ = std::move(*tok);
  const auto& cfg = s->model_->config();
  if (o.n_ctx < 0) return errorf("context size {} is negative", o.n_ctx);
  s->n_ctx_ = o.n_ctx > 0 ? o.n_ctx : static_cast<int32_t>(cfg.n_ctx_train);
  if (s->n_ctx_ <= 0) return errorf("{}: context size is unknown; pass one", o.model_path);
  DType type_k, type_v;
  LM_TRY(type_k, parse_cache_type(o.cache_type_k));
  LM_TRY(type_v, parse_cache_type(o.cache_type_v));
  LM_TRY_STATUS(model::KvCache::check_type(cfg, type_k));
  LM_TRY_STATUS(model::KvCache::check_type(cfg, type_v));
  const int threads = o.n_threads > 0 ? o.n_threads : ThreadPool::hardware_threads();
  const int threads_batch = o.n_threads_batch > 0 ? o.n_threads_batch : threads;
  s->pool_ = std::make_unique<ThreadPool>(threads);
  if (threads_batch != threads) s->batch_pool_ = std::make_unique<ThreadPool>(threads_batch);
  if (o.n_kv_pool < 0) return errorf("KV pool size {} is negative", o.n_kv_pool);
  s->kv_ = std::make_unique<model::KvCache>(cfg, s->n_ctx_, std::max(1, o.n_seq_max), type_k, type_v,
                                            o.n_kv_pool);
  s->forward_ = std::make_unique<model::Forward>(*s->model_, *s->pool_, s->batch_pool_.get());
  return s;
}

}  // namespace lm::engine
