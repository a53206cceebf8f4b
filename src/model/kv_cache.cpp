#include "model/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <random>

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

size_t KvCache::bytes_for(const ModelConfig& config, int64_t n_pos, DType type_k, DType type_v) {
  const int64_t rows = (n_pos + kBlockSize - 1) / kBlockSize * kBlockSize;
  return static_cast<size_t>(rows) * static_cast<size_t>(config.n_layer) *
         (row_bytes(type_k, config.kv_dim()) + row_bytes(type_v, config.kv_dim()));
}

KvCache::KvCache(const ModelConfig& config, int32_t n_ctx, int32_t n_seq_max, DType type_k,
                 DType type_v, int32_t n_pos_total)
    : n_layer_(config.n_layer), kv_dim_(config.kv_dim()), n_ctx_(n_ctx), n_seq_max_(n_seq_max),
      n_blocks_(0), type_k_(type_k), type_v_(type_v), k_row_(row_bytes(type_k, kv_dim_)),
      v_row_(row_bytes(type_v, kv_dim_)) {
  LM_CHECK(n_ctx > 0 && n_seq_max > 0, "KvCache: n_ctx {} and n_seq_max {} must be positive", n_ctx,
           n_seq_max);
  LM_CHECK(n_pos_total >= 0, "KvCache: n_pos_total {} is negative", n_pos_total);
  LM_CHECK(check_type(config, type_k).ok() && check_type(config, type_v).ok(),
           "KvCache: unsupported cache types {} / {}", dtype_name(type_k), dtype_name(type_v));
  const int64_t blocks = n_pos_total > 0 ? blocks_for(n_pos_total)
                                         : static_cast<int64_t>(n_seq_max) * blocks_for(n_ctx);
  LM_CHECK(blocks <= INT32_MAX / kBlockSize, "KvCache: {} blocks is too many", blocks);
  n_blocks_ = static_cast<int32_t>(blocks);
  const size_t rows = static_cast<size_t>(n_layer_) * n_blocks_ * kBlockSize;
  // Default-initialised (not zeroed): positions are always written before they are read.
  k_.reset(new uint8_t[rows * k_row_]);
  v_.reset(new uint8_t[rows * v_row_]);
  len_.assign(static_cast<size_t>(n_seq_max_), 0);
  tables_.resize(static_cast<size_t>(n_seq_max_));
  for (auto& t : tables_) t.reserve(static_cast<size_t>(blocks_for(n_ctx_)));
  refs_.assign(static_cast<size_t>(n_blocks_), 0);
  free_.reserve(static_cast<size_t>(n_blocks_));
  for (int32_t b = n_blocks_ - 1; b >= 0; --b) free_.push_back(b);  // block 0 is taken first
}

int32_t KvCache::take_block() {
  LM_CHECK(!free_.empty(), "KvCache: no free block (the caller checks blocks_needed)");
  const int32_t b = free_.back();
  free_.pop_back();
  refs_[b] = 1;
  return b;
}

void KvCache::release(int32_t block) {
  LM_CHECK(refs_[block] > 0, "KvCache: block {} released while free", block);
  if (--refs_[block] == 0) free_.push_back(block);
}

void KvCache::copy_block(int32_t dst, int32_t src) {
  const size_t n = static_cast<size_t>(kBlockSize);
  for (int32_t il = 0; il < n_layer_; ++il) {
    const size_t d = layer_offset(il) + static_cast<size_t>(dst) * n;
    const size_t s = layer_offset(il) + static_cast<size_t>(src) * n;
    std::memcpy(k_.get() + d * k_row_, k_.get() + s * k_row_, n * k_row_);
    std::memcpy(v_.get() + d * v_row_, v_.get() + s * v_row_, n * v_row_);
  }
}

int32_t KvCache::blocks_needed(int32_t seq, int32_t pos_begin, int32_t pos_end) const {
  LM_CHECK(seq >= 0 && seq < n_seq_max_, "blocks_needed: seq {} out of [0, {})", seq, n_seq_max_);
  if (pos_end <= pos_begin) return 0;
  const auto& t = tables_[seq];
  const int32_t have = static_cast<int32_t>(t.size());
  const int32_t b0 = pos_begin / kBlockSize, b1 = blocks_for(pos_end);  // blocks [b0, b1)
  int32_t need = std::max(0, b1 - std::max(b0, have));
  for (int32_t b = b0; b < std::min(b1, have); ++b) need += refs_[t[b]] > 1;
  return need;
}

void KvCache::prepare_write(int32_t seq, int32_t pos_begin, int32_t pos_end) {
  if (pos_end <= pos_begin) return;
  LM_CHECK(blocks_needed(seq, pos_begin, pos_end) <= n_free_blocks(),
           "prepare_write: seq {} needs more blocks than the {} free", seq, n_free_blocks());
  LM_CHECK(pos_end <= n_ctx_, "prepare_write: position {} beyond n_ctx {}", pos_end - 1, n_ctx_);
  auto& t = tables_[seq];
  const int32_t b0 = pos_begin / kBlockSize, b1 = blocks_for(pos_end);
  for (int32_t b = b0; b < std::min(b1, static_cast<int32_t>(t.size())); ++b) {
    if (refs_[t[b]] == 1) continue;
    const int32_t copy = take_block();  // copy-on-write
    copy_block(copy, t[b]);
    release(t[b]);
    t[b] = copy;
  }
  while (static_cast<int32_t>(t.size()) < b1) t.push_back(take_block());  // capacity reserved
}

void KvCache::write(int32_t il, int32_t seq, int32_t pos, const float* k, const float* v) {
  const size_t row = row_index(il, seq, pos);
  uint8_t* kd = k_.get() + row * k_row_;
  uint8_t* vd = v_.get() + row * v_row_;
  if (type_k_ == DType::F32) std::memcpy(kd, k, k_row_);
  else kernels::type_kernels(type_k_)->from_float(k, kd, kv_dim_);
  if (type_v_ == DType::F32) std::memcpy(vd, v, v_row_);
  else kernels::type_kernels(type_v_)->from_float(v, vd, kv_dim_);
}

void KvCache::clear() {
  for (int32_t s = 0; s < n_seq_max_; ++s) clear_seq(s);
}

void KvCache::clear_seq(int32_t seq) { truncate_seq(seq, 0); }

int32_t KvCache::seq_len(int32_t seq) const {
  LM_CHECK(seq >= 0 && seq < n_seq_max_, "seq_len: seq {} out of [0, {})", seq, n_seq_max_);
  return len_[seq];
}

void KvCache::truncate_seq(int32_t seq, int32_t n_pos) {
  LM_CHECK(seq >= 0 && seq < n_seq_max_, "truncate_seq: seq {} out of [0, {})", seq, n_seq_max_);
  LM_CHECK(n_pos >= 0, "truncate_seq: negative n_pos {}", n_pos);
  len_[seq] = std::min(len_[seq], n_pos);
  auto& t = tables_[seq];
  const size_t keep = static_cast<size_t>(blocks_for(len_[seq]));
  while (t.size() > keep) {
    release(t.back());
    t.pop_back();
  }
}

void KvCache::share_prefix(int32_t dst, int32_t src, int32_t n_pos) {
  LM_CHECK(dst >= 0 && dst < n_seq_max_ && src >= 0 && src < n_seq_max_ && dst != src,
           "share_prefix: bad sequences {} <- {}", dst, src);
  LM_CHECK(n_pos >= 0 && n_pos <= len_[src], "share_prefix: {} positions of a sequence of {}",
           n_pos, len_[src]);
  clear_seq(dst);
  const auto& s = tables_[src];
  auto& d = tables_[dst];
  for (int32_t b = 0; b < blocks_for(n_pos); ++b) {
    ++refs_[s[b]];
    d.push_back(s[b]);
  }
  len_[dst] = n_pos;
}

std::span<const int32_t> KvCache::block_table(int32_t seq) const {
  LM_CHECK(seq >= 0 && seq < n_seq_max_, "block_table: seq {} out of [0, {})", seq, n_seq_max_);
  return tables_[seq];
}

int32_t KvCache::block_refs(int32_t block) const {
  LM_CHECK(block >= 0 && block < n_blocks_, "block_refs: block {} out of [0, {})", block, n_blocks_);
  return refs_[block];
}

int64_t KvCache::n_pos_used() const {
  std::vector<int32_t> fill(static_cast<size_t>(n_blocks_), 0);
  for (int32_t s = 0; s < n_seq_max_; ++s) {
    const auto& t = tables_[s];
    for (size_t b = 0; b < t.size(); ++b) {
      const int32_t n = std::min(kBlockSize, len_[s] - static_cast<int32_t>(b) * kBlockSize);
      fill[t[b]] = std::max(fill[t[b]], n);
    }
  }
  int64_t total = 0;
  for (int32_t n : fill) total += n;
  return total;
}

void KvCache::shuffle_free_blocks(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::shuffle(free_.begin(), free_.end(), rng);
}

size_t KvCache::bytes() const {
  return static_cast<size_t>(n_layer_) * n_blocks_ * kBlockSize * (k_row_ + v_row_);
}

}  // namespace lm::model
