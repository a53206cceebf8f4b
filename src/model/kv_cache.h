// KvCache: the keys and values of every layer for up to n_seq_max sequences, F32, indexed by
// position (0 .. n_ctx-1), plus the length of each sequence (positions written so far).
//
// Ownership: owns its buffers, allocated once in the constructor (2 * n_layer * n_seq_max *
// n_ctx * kv_dim floats; pages are touched only when written).
// Thread-safety: none; one Forward at a time writes it. Sequences are independent slots.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "model/config.h"

namespace lm::model {

class KvCache {
 public:
  // n_ctx and n_seq_max must be positive (LM_CHECK).
  KvCache(const ModelConfig& config, int32_t n_ctx, int32_t n_seq_max);

  int32_t n_ctx() const { return n_ctx_; }
  int32_t n_seq_max() const { return n_seq_max_; }

  void clear();                                   // every sequence becomes empty
  void clear_seq(int32_t seq);                    // seq becomes empty
  int32_t seq_len(int32_t seq) const;             // positions 0 .. seq_len-1 are valid
  void truncate_seq(int32_t seq, int32_t n_pos);  // keeps positions < n_pos
  size_t bytes() const;

 private:
  friend class Forward;
  // [n_ctx, kv_dim] rows of layer il, sequence seq.
  float* k(int32_t il, int32_t seq) { return k_.get() + offset(il, seq); }
  float* v(int32_t il, int32_t seq) { return v_.get() + offset(il, seq); }
  size_t offset(int32_t il, int32_t seq) const {
    return (static_cast<size_t>(il) * n_seq_max_ + seq) * n_ctx_ * kv_dim_;
  }
  void set_seq_len(int32_t seq, int32_t n) { len_[seq] = n; }

  int32_t n_layer_, kv_dim_, n_ctx_, n_seq_max_;
  std::unique_ptr<float[]> k_;  // [n_layer, n_seq_max, n_ctx, kv_dim]
  std::unique_ptr<float[]> v_;  // [n_layer, n_seq_max, n_ctx, kv_dim]
  std::vector<int32_t> len_;    // [n_seq_max]
};

}  // namespace lm::model
