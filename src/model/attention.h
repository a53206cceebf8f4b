// Causal attention of a tile of queries over one sequence's cached keys and values, for one KV
// head and all the query heads that share it (GQA), with an online softmax (Milakov & Gimelshein
// 2018, "Online normalizer calculation for softmax"; the running-max rescaling of
// FlashAttention): keys are visited in tiles of kKeyTile positions and no n_ctx-sized score
// buffer exists.
//
// Exactness: the operations applied to one (query, head) row depend only on its query, its
// position and the cache, never on the other rows of the tile, so a token's result does not
// depend on its batch. Key tiles start at multiples of kKeyTile.
// Cost: per (query, head), 2 * head_dim flops per key for the scores and as many for the values;
// K/V rows of a tile are read (and, for F16 / Q8_0 caches, converted) once per tile for every
// row that shares them. With AVX2 / AVX-512 (head_dim % 8 == 0) the rows go through the
// multi-row kernel of kernels/cpu/attention_kernels.h, one lane per row: n_q * group rows fill
// a vector (16 lanes with AVX-512), fewer leave lanes idle.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cpu/attention_kernels.h"
#include "tensor/dtype.h"

namespace lm::model {

// Keys or values of one sequence: position p holds kv_dim elements in `type`. Without a block
// table, position p is row p of data; with one (a paged cache, model/kv_cache.h), position p is
// row blocks[p / block_size] * block_size + p % block_size. block_size is a multiple of kKeyTile,
// so the rows of one key tile are contiguous either way.
struct KvRows {
  DType type = DType::F32;
  const uint8_t* data = nullptr;  // [n_rows, kv_dim] in type
  size_t row_bytes = 0;
  const int32_t* blocks = nullptr;  // [ceil(n_pos / block_size)] physical block of each; or null
  int32_t block_size = 0;

  // The row of position p.
  const uint8_t* row(int32_t p) const {
    if (!blocks) return data + row_bytes * static_cast<size_t>(p);
    const size_t r = static_cast<size_t>(blocks[p / block_size]) * block_size + p % block_size;
    return data + row_bytes * r;
  }
};

struct AttentionShape {
  int32_t head_dim = 0;
  int32_t group = 1;   // query heads per KV head (n_head / n_head_kv)
  int32_t kv_dim = 0;  // n_head_kv * head_dim
  float scale = 1.0f;  // applied to q.k
};

// Per-thread scratch; grows as needed (no allocation once warm).
struct AttentionScratch {
  std::vector<float> rows;  // running max, sum and output of each (query, head) row
  std::vector<float> lanes;  // the SIMD kernel's row state, transposed queries and scores
  std::vector<int32_t> lim;  // the SIMD kernel's keys per row in the current tile
  std::vector<float> kv;    // converted K and V tiles (non-F32 caches)
  std::vector<float> tmp;   // one block-aligned row span being converted
};

constexpr int32_t kKeyTile = 32;  // keys per tile; a KvRows block_size is a multiple of it

// Grows scratch for tiles of up to n_q queries (attend_tile then allocates nothing).
void reserve_attention(const AttentionShape& s, int32_t n_q, AttentionScratch& scratch);

// For i in [0, n_q): q[i] is the query of all n_head heads ([n_q, n_head * head_dim] with row
// stride q_stride floats) at position pos[i]; writes out[i] (stride out_stride) for the `group`
// heads of KV head kv_head, attending to positions 0..pos[i] of k / v.
void attend_tile(const AttentionShape& s, int32_t kv_head, const float* q, int64_t q_stride,
                 const int32_t* pos, int32_t n_q, const KvRows& k, const KvRows& v, float* out,
                 int64_t out_stride, AttentionScratch& scratch);

// attend_tile with a given tile kernel instead of the selected ISA's (nullptr: the portable
// loop), for tests and benchmarks that compare them. fn must suit s.head_dim
// (attention_kernels.h).
void attend_tile_with(kernels::AttnTileFn fn, const AttentionShape& s, int32_t kv_head,
                      const float* q, int64_t q_stride, const int32_t* pos, int32_t n_q,
                      const KvRows& k, const KvRows& v, float* out, int64_t out_stride,
                      AttentionScratch& scratch);

}  // namespace lm::model
