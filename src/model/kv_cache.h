// KvCache: the keys and values of every layer for up to n_seq_max sequences, indexed by
// position (0 .. n_ctx-1), plus the length of each sequence (positions written so far). Keys and
// values are stored as F32 (default), F16 or Q8_0, chosen separately: each position's row of
// kv_dim elements is converted once when written (Q8_0 needs kv_dim % 32 == 0).
//
// Ownership: owns its buffers, allocated once in the constructor (n_layer * n_seq_max * n_ctx
// rows of K and of V; pages are touched only when written).
// Thread-safety: none; one Forward at a time writes it. Sequences are independent slots.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/result.h"
#include "model/attention.h"
#include "model/config.h"

namespace lm::model {

class KvCache {
 public:
  // n_ctx and n_seq_max must be positive and the types pass check_type (LM_CHECK).
  KvCache(const ModelConfig& config, int32_t n_ctx, int32_t n_seq_max,
          DType type_k = DType::F32, DType type_v = DType::F32);

  // Whether keys or values of this model can be cached in `type` (F32, F16, or Q8_0 when kv_dim
  // is a multiple of 32); the error names the reason.
  static Status check_type(const ModelConfig& config, DType type);

  DType type_k() const { return type_k_; }
  DType type_v() const { return type_v_; }

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
  KvRows k(int32_t il, int32_t seq) const {
    return {type_k_, k_.get() + offset(il, seq) * k_row_, k_row_};
  }
  KvRows v(int32_t il, int32_t seq) const {
    return {type_v_, v_.get() + offset(il, seq) * v_row_, v_row_};
  }
  // Stores the K and V rows ([kv_dim] floats each) of position pos.
  void write(int32_t il, int32_t seq, int32_t pos, const float* k, const float* v);
  size_t offset(int32_t il, int32_t seq) const {  // in rows
    return (static_cast<size_t>(il) * n_seq_max_ + seq) * n_ctx_;
  }
  void set_seq_len(int32_t seq, int32_t n) { len_[seq] = n; }

  int32_t n_layer_, kv_dim_, n_ctx_, n_seq_max_;
  DType type_k_, type_v_;
  size_t k_row_, v_row_;          // bytes per position row
  std::unique_ptr<uint8_t[]> k_;  // [n_layer, n_seq_max, n_ctx, kv_dim] in type_k
  std::unique_ptr<uint8_t[]> v_;  // [n_layer, n_seq_max, n_ctx, kv_dim] in type_v
  std::vector<int32_t> len_;      // [n_seq_max]
};

}  // namespace lm::model
