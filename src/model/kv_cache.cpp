#include "model/kv_cache.h"

#include <algorithm>

#include <cstring>

#include "core/check.h"
#include "kernels/type_kernels.h"

namespace lm::model {

Status KvCache::check_type(const ModelConfig& config, DType type) {
  if (type != DType::F32 && type != DType::F16 && type != DType::Q8_0) {
    return errorf("KV cache type {} is not supported (f32, f16, q8_0)", dtype_name(type));
  }
  const int64_t bs = dtype_info(type).block_size;
  if (config.kv_dim() % bs != 0) {
    return errorf("KV cache type {} needs kv_dim to be a multiple of {}; this model has {}",
                  dtype_name(type), bs, config.kv_dim());
  }
  return Ok{};
}

KvCache::KvCache(const ModelConfig& config, int32_t n_ctx, int32_t n_seq_max, DType type_k,
                 DType type_v)
    : n_layer_(config.n_layer), kv_dim_(config.kv_dim()), n_ctx_(n_ctx), n_seq_max_(n_seq_max),
      type_k_(type_k), type_v_(type_v), k_row_(row_bytes(type_k, kv_dim_)),
      v_row_(row_bytes(type_v, kv_dim_)) {
  LM_CHECK(n_ctx > 0 && n_seq_max > 0, "KvCache: n_ctx {} and n_seq_max {} must be positive", n_ctx,
           n_seq_max);
  LM_CHECK(check_type(config, type_k).ok() && check_type(config, type_v).ok(),
           "KvCache: unsupported cache types {} / {}", dtype_name(type_k), dtype_name(type_v));
  const size_t rows = static_cast<size_t>(n_layer_) * n_seq_max_ * n_ctx_;
  // Default-initialised (not zeroed): positions are always written before they are read.
  k_.reset(new uint8_t[rows * k_row_]);
  v_.reset(new uint8_t[rows * v_row_]);
  len_.assign(static_cast<size_t>(n_seq_max_), 0);
}

void KvCache::write(int32_t il, int32_t seq, int32_t pos, const float* k, const float* v) {
  const size_t row = offset(il, seq) + static_cast<size_t>(pos);
  uint8_t* kd = k_.get() + row * k_row_;
  uint8_t* vd = v_.get() + row * v_row_;
  if (type_k_ == DType::F32) std::memcpy(kd, k, k_row_);
  else kernels::type_kernels(type_k_)->from_float(k, kd, kv_dim_);
  if (type_v_ == DType::F32) std::memcpy(vd, v, v_row_);
  else kernels::type_kernels(type_v_)->from_float(v, vd, kv_dim_);
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
  return static_cast<size_t>(n_layer_) * n_seq_max_ * n_ctx_ * (k_row_ + v_row_);
}

}  // namespace lm::model
