#include "model/kv_cache.h"

#include <algorithm>

#include "core/check.h"

namespace lm::model {

KvCache::KvCache(const ModelConfig& config, int32_t n_ctx, int32_t n_seq_max)
    : n_layer_(config.n_layer), kv_dim_(config.kv_dim()), n_ctx_(n_ctx), n_seq_max_(n_seq_max) {
  LM_CHECK(n_ctx > 0 && n_seq_max > 0, "KvCache: n_ctx {} and n_seq_max {} must be positive", n_ctx,
           n_seq_max);
  const size_t n = static_cast<size_t>(n_layer_) * n_seq_max_ * n_ctx_ * kv_dim_;
  // Default-initialised (not zeroed): positions are always written before they are read.
  k_.reset(new float[n]);
  v_.reset(new float[n]);
  len_.assign(static_cast<size_t>(n_seq_max_), 0);
}

void KvCache::clear() {
  std::fill(len_.begin(), len_.end(), 0);
}

void KvCache::clear_seq(int32_t seq) {
  LM_CHECK(seq >= 0 && seq < n_seq_max_, "clear_seq: seq {} out of [0, {})", seq, n_seq_max_);
  len_[seq] = 0;
}

int32_t KvCache::seq_len(int32_t seq) const {
  LM_CHECK(seq >= 0 && seq < n_seq_max_, "seq_len: seq {} out of [0, {})", seq, n_seq_max_);
  return len_[seq];
}

void KvCache::truncate_seq(int32_t seq, int32_t n_pos) {
  LM_CHECK(seq >= 0 && seq < n_seq_max_, "truncate_seq: seq {} out of [0, {})", seq, n_seq_max_);
  LM_CHECK(n_pos >= 0, "truncate_seq: negative n_pos {}", n_pos);
  len_[seq] = std::min(len_[seq], n_pos);
}

size_t KvCache::bytes() const {
  return 2 * static_cast<size_t>(n_layer_) * n_seq_max_ * n_ctx_ * kv_dim_ * sizeof(float);
}

}  // namespace lm::model
