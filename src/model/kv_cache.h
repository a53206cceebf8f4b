// KvCache: a paged cache of the keys and values of every layer for up to n_seq_max sequences
// (the vLLM idea: Kwon et al. 2023, "Efficient Memory Management for Large Language Model Serving
// with PagedAttention", written our way).
//
// Storage is a pool of n_blocks blocks of kBlockSize positions. One block id stands for the same
// rows in every layer: the K buffer is [n_layer, n_blocks, kBlockSize, kv_dim] (likewise V), so a
// sequence has ONE block table (logical block i -> physical block) used by all layers. Blocks are
// taken from a free list as a sequence grows and given back by clear_seq / truncate_seq. A block
// is reference-counted: share_prefix maps another sequence's blocks without copying, and a write
// to a block that more than one sequence holds first copies it (copy-on-write). kBlockSize is a
// multiple of the attention key tile (model/attention.h), so each key tile lies in one block and
// the attention inner loop stays contiguous.
//
// Pool size: n_pos_total positions (rounded up to whole blocks); 0 gives every sequence room for
// n_ctx positions (n_seq_max * ceil(n_ctx / kBlockSize) blocks: what an unpaged cache would hold).
// A sequence may still grow to n_ctx positions as long as the pool has free blocks; when it has
// none, Forward::run fails with a "KV cache full" error and changes nothing.
//
// Keys and values are stored as F32 (default), F16 or Q8_0, chosen separately: each position's
// row of kv_dim elements is converted once when written (Q8_0 needs kv_dim % 32 == 0).
//
// Ownership: owns its buffers, allocated once in the constructor (n_layer * n_blocks * kBlockSize
// rows of K and of V; pages are touched only when written; freed blocks are reused last-freed
// first, so the touched part stays small). Block tables have room for n_ctx positions from the
// start: growing a sequence allocates nothing.
// Thread-safety: none; one Forward at a time writes it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/result.h"
#include "model/attention.h"
#include "model/config.h"

namespace lm::model {

class KvCache {
 public:
  static constexpr int32_t kBlockSize = 32;  // positions per block
  static_assert(kBlockSize % kKeyTile == 0, "a key tile must not straddle two blocks");

  // n_ctx and n_seq_max must be positive, n_pos_total >= 0, and the types pass check_type
  // (LM_CHECK).
  KvCache(const ModelConfig& config, int32_t n_ctx, int32_t n_seq_max,
          DType type_k = DType::F32, DType type_v = DType::F32, int32_t n_pos_total = 0);

  // Whether keys or values of this model can be cached in `type` (F32, F16, or Q8_0 when kv_dim
  // is a multiple of 32); the error names the reason.
  static Status check_type(const ModelConfig& config, DType type);
  // Bytes of KV cache that n_pos positions take in these types (whole blocks).
  static size_t bytes_for(const ModelConfig& config, int64_t n_pos, DType type_k, DType type_v);

  DType type_k() const { return type_k_; }
  DType type_v() const { return type_v_; }

  int32_t n_ctx() const { return n_ctx_; }  // the most positions one sequence may hold
  int32_t n_seq_max() const { return n_seq_max_; }

  void clear();                                   // every sequence becomes empty
  void clear_seq(int32_t seq);                    // seq becomes empty; its blocks go back
  int32_t seq_len(int32_t seq) const;             // positions 0 .. seq_len-1 are valid
  void truncate_seq(int32_t seq, int32_t n_pos);  // keeps positions < n_pos
  // dst (emptied first) maps the blocks of positions [0, n_pos) of src (n_pos <= seq_len(src),
  // dst != src) without copying; a later write by either to a shared block copies it first.
  void share_prefix(int32_t dst, int32_t src, int32_t n_pos);
  size_t bytes() const;  // the whole pool

  // ---- the block pool ----
  int32_t n_blocks() const { return n_blocks_; }
  int32_t n_free_blocks() const { return static_cast<int32_t>(free_.size()); }
  int32_t n_used_blocks() const { return n_blocks_ - n_free_blocks(); }
  int32_t blocks_for(int32_t n_pos) const { return (n_pos + kBlockSize - 1) / kBlockSize; }
  // Physical block of each logical block of seq: [ceil(seq_len / kBlockSize)].
  std::span<const int32_t> block_table(int32_t seq) const;
  int32_t block_refs(int32_t block) const;  // sequences holding it; 0: free
  // Blocks the pool must give so that seq can write positions [pos_begin, pos_end)
  // (pos_begin <= seq_len): blocks past its table plus shared blocks in the range (copied on
  // write).
  int32_t blocks_needed(int32_t seq, int32_t pos_begin, int32_t pos_end) const;
  // Positions actually held in used blocks (a shared block counts once).
  int64_t n_pos_used() const;
  // Reorders the free list (seeded): later allocations take scattered blocks. For tests of the
  // block-table indirection; the contents of the cache are unchanged.
  void shuffle_free_blocks(uint64_t seed);

 private:
  friend class Forward;
  // Rows of layer il of sequence seq, read through its block table.
  KvRows k(int32_t il, int32_t seq) const {
    return {type_k_, k_.get() + layer_offset(il) * k_row_, k_row_, tables_[seq].data(), kBlockSize};
  }
  KvRows v(int32_t il, int32_t seq) const {
    return {type_v_, v_.get() + layer_offset(il) * v_row_, v_row_, tables_[seq].data(), kBlockSize};
  }
  // Makes positions [pos_begin, pos_end) of seq writable: new blocks and private copies of
  // shared ones. The caller has checked blocks_needed against n_free_blocks (LM_CHECK).
  void prepare_write(int32_t seq, int32_t pos_begin, int32_t pos_end);
  // Stores the K and V rows ([kv_dim] floats each) of position pos (prepared).
  void write(int32_t il, int32_t seq, int32_t pos, const float* k, const float* v);
  size_t layer_offset(int32_t il) const {  // in rows
    return static_cast<size_t>(il) * n_blocks_ * kBlockSize;
  }
  size_t row_index(int32_t il, int32_t seq, int32_t pos) const {
    return layer_offset(il) + static_cast<size_t>(tables_[seq][pos / kBlockSize]) * kBlockSize +
           pos % kBlockSize;
  }
  void set_seq_len(int32_t seq, int32_t n) { len_[seq] = n; }
  int32_t take_block();
  void release(int32_t block);
  void copy_block(int32_t dst, int32_t src);  // every layer's K and V rows

  int32_t n_layer_, kv_dim_, n_ctx_, n_seq_max_, n_blocks_;
  DType type_k_, type_v_;
  size_t k_row_, v_row_;          // bytes per position row
  std::unique_ptr<uint8_t[]> k_;  // [n_layer, n_blocks, kBlockSize, kv_dim] in type_k
  std::unique_ptr<uint8_t[]> v_;  // [n_layer, n_blocks, kBlockSize, kv_dim] in type_v
  std::vector<int32_t> len_;      // [n_seq_max]
  std::vector<std::vector<int32_t>> tables_;  // [n_seq_max][<= ceil(n_ctx / kBlockSize)]
  std::vector<int32_t> refs_;     // [n_blocks]
  std::vector<int32_t> free_;     // free block ids; the back is taken first
};

}  // namespace lm::model
