// The inner step of tiled attention with online softmax (model/attention.cpp), per ISA: all the
// (query, head) rows that share one KV head against one tile of n_k keys. Each row r keeps a
// running max m, a running sum l and an unnormalised output out[head_dim]; the tile's scores
// s_j = (q_r . k_j) * scale, for the keys j < lim[r] it may see, update it as
//   m' = max(m, max_j s_j), c = exp(m - m'), l' = l c + sum_j exp(s_j - m'),
//   out' = out c + sum_j exp(s_j - m') v_j.
// Layout: vectors run across rows (one lane per row), so a score needs no horizontal sum: the
// queries come transposed (qt[d][r]) once per call of attend_tile, and s[j][rows] accumulates
// qt[d] * k_j[d] (broadcast) over d. The probabilities then multiply V rows, each V load serving
// several rows.
// Exactness: every operation on a row is lanewise, in an order fixed by the row alone (d, then
// j in increasing order); keys past a row's lim add exact zeros. So a row's bits do not depend on
// the other rows of the call, nor on n_k beyond its lim: a token's result is the same whatever
// its batch. They differ from the portable loop (model/attention.cpp) by rounding.
#pragma once

#include <cstdint>

namespace lm::kernels {

constexpr int32_t kAttnMaxKeys = 64;  // keys per tile at most
constexpr int32_t kAttnRowAlign = 16;  // rs, the lane arrays' row stride, is a multiple of it

// One key tile for n_rows rows. Arrays indexed by row have rs entries; rows in [n_rows, rs) are
// padding that the caller initialises like a row with lim 0 and m 0 (they then stay finite).
struct AttnTileArgs {
  const float* k = nullptr;  // [n_k, k_stride]: key j at k + j * k_stride, head_dim floats
  int64_t k_stride = 0;
  const float* v = nullptr;  // [n_k, v_stride]
  int64_t v_stride = 0;
  int32_t n_k = 0;  // 1 ..kAttnMaxKeys
  int32_t head_dim = 0;
  float scale = 1.0f;  // applied to q.k
  int32_t n_rows = 0;
  int32_t rs = 0;              // row stride: n_rows rounded up to kAttnRowAlign
  const float* qt = nullptr;   // [head_dim, rs] queries, transposed
  const int32_t* lim = nullptr;  // [rs] keys of this tile row r sees (<= 0: none; padding 0)
  float* m = nullptr;          // [rs] running max (-inf before the first tile)
  float* l = nullptr;          // [rs] running sum (0 before the first tile)
  float* out = nullptr;        // [rs, head_dim] unnormalised output (0 before the first tile)
  float* p = nullptr;          // [kAttnMaxKeys, rs] scratch: scores, then probabilities
  float* c = nullptr;          // [rs] scratch: rescale factors
};

using AttnTileFn = void (*)(const AttnTileArgs& a);

// The kernel at the selected ISA for this head_dim, nullptr when none (head_dim not a multiple of
// 8, or no AVX2): the caller then uses its portable loop.
AttnTileFn attn_tile_kernel(int32_t head_dim);

namespace avx2 {
void attn_tile(const AttnTileArgs& a);  // head_dim % 8 == 0
}
namespace avx512 {
void attn_tile(const AttnTileArgs& a);  // head_dim % 16 == 0
}

}  // namespace lm::kernels
