#include "engine/session.h"

namespace lm::engine {

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
  int threads = o.n_threads > 0 ? o.n_threads : ThreadPool::hardware_threads();
  s->pool_ = std::make_unique<ThreadPool>(threads);
  s->kv_ = std::make_unique<model::KvCache>(cfg, s->n_ctx_, std::max(1, o.n_seq_max));
  s->forward_ = std::make_unique<model::Forward>(*s->model_, *s->pool_);
  return s;
}

}  // namespace lm::engine
