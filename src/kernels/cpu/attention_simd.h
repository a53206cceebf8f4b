// The multi-row attention step of attention_kernels.h, written once over a per-ISA traits struct
// T (attention_avx2.cpp, attention_avx512.cpp). Included only by those files: everything here is
// in an anonymous namespace (one copy per file, no weak symbols for the linker to share).
//
// T provides: V (float vector), I (int32 vector), W (lanes), the blocking constants below, and
// zero, set1, load, store, loadi, fmadd (a * b + c, one rounding), mul, add, sub, max, exp
// (lanewise; NaN and -inf give exp(-87)), and keep_lt(j, lim, x, other): x in the lanes where
// j < lim, other elsewhere.
//   kScoreKeys x kScoreVecs  score accumulators (keys x row vectors), one pass over head_dim;
//   kPvRows x kPvVecs        output accumulators (rows x head_dim vectors), one pass over keys.
// Every row's arithmetic is lanewise and in a fixed order whatever the blocking: blocking only
// shares the loads of q, k and v between rows.
#pragma once

#include <cstdint>

#include "kernels/cpu/attention_kernels.h"

namespace lm::kernels::simd {
namespace {

// Largest lim among rows [r0, r1) (padding rows have lim 0).
inline int32_t max_lim(const int32_t* lim, int32_t r0, int32_t r1) {
  int32_t m = 0;
  for (int32_t r = r0; r < r1; ++r) m = lim[r] > m ? lim[r] : m;
  return m;
}

// Scores of keys [j0, j0 + KB) for row vectors [v0, v0 + RV): p[j][rows] = (qt . k_j) * scale,
// each lane a chain of FMAs over d = 0 .. head_dim - 1.
template <class T, int KB, int RV>
void score_block(const AttnTileArgs& a, int32_t j0, int32_t v0) {
  using V = typename T::V;
  V acc[KB][RV];
  for (int kb = 0; kb < KB; ++kb)
    for (int rv = 0; rv < RV; ++rv) acc[kb][rv] = T::zero();
  const float* q = a.qt + static_cast<int64_t>(v0) * T::W;
  const float* k = a.k + j0 * a.k_stride;
  for (int32_t d = 0; d < a.head_dim; ++d, q += a.rs) {
    V qv[RV];
    for (int rv = 0; rv < RV; ++rv) qv[rv] = T::load(q + rv * T::W);
    for (int kb = 0; kb < KB; ++kb) {
      const V kv = T::set1(k[kb * a.k_stride + d]);
      for (int rv = 0; rv < RV; ++rv) acc[kb][rv] = T::fmadd(qv[rv], kv, acc[kb][rv]);
    }
  }
  const V sc = T::set1(a.scale);
  for (int kb = 0; kb < KB; ++kb) {
    float* p = a.p + static_cast<int64_t>(j0 + kb) * a.rs + v0 * T::W;
    for (int rv = 0; rv < RV; ++rv) T::store(p + rv * T::W, T::mul(acc[kb][rv], sc));
  }
}

// The last n < kScoreKeys keys from j0, as one block of n.
template <class T, int KB, int RV>
void score_tail(const AttnTileArgs& a, int32_t j0, int32_t n, int32_t v0) {
  if constexpr (KB > 1) {
    if (n < KB) return score_tail<T, KB - 1, RV>(a, j0, n, v0);
  }
  score_block<T, KB, RV>(a, j0, v0);
}

// Scores of keys [0, n_k) for row vectors [v0, v0 + RV).
template <class T, int RV>
void scores(const AttnTileArgs& a, int32_t n_k, int32_t v0) {
  int32_t j0 = 0;
  for (; j0 + T::kScoreKeys <= n_k; j0 += T::kScoreKeys) score_block<T, T::kScoreKeys, RV>(a, j0, v0);
  if (j0 < n_k) score_tail<T, T::kScoreKeys - 1, RV>(a, j0, n_k - j0, v0);
}

// The online-softmax update of one row vector from its scores p[0 .. n_k): m, l, c, and p turned
// into probabilities (0 past each row's lim).
template <class T>
void softmax_vec(const AttnTileArgs& a, int32_t n_k, int32_t v) {
  using V = typename T::V;
  const int64_t o = static_cast<int64_t>(v) * T::W;
  const auto lim = T::loadi(a.lim + o);
  const V ninf = T::set1(-__builtin_huge_valf());
  V mt = ninf;
  for (int32_t j = 0; j < n_k; ++j) mt = T::max(mt, T::keep_lt(j, lim, T::load(a.p + j * a.rs + o), ninf));
  const V m_old = T::load(a.m + o);
  const V m_new = T::max(m_old, mt);
  const V c = T::exp(T::sub(m_old, m_new));  // exp(-87) * 0 on a row's first tile
  V l = T::mul(T::load(a.l + o), c);
  for (int32_t j = 0; j < n_k; ++j) {
    float* pj = a.p + j * a.rs + o;
    const V e = T::keep_lt(j, lim, T::exp(T::sub(T::load(pj), m_new)), T::zero());
    l = T::add(l, e);
    T::store(pj, e);
  }
  T::store(a.m + o, m_new);
  T::store(a.l + o, l);
  T::store(a.c + o, c);
}

// out[r] = out[r] * c[r] + sum_{j < n} p[j][r] v_j for rows [r0, r0 + R), head_dim vectors
// [dv0, dv0 + DV).
template <class T, int R, int DV>
void pv_block(const AttnTileArgs& a, int32_t n, int32_t r0, int32_t dv0) {
  using V = typename T::V;
  V acc[R][DV];
  const int32_t d0 = dv0 * T::W;
  for (int r = 0; r < R; ++r) {
    const V c = T::set1(a.c[r0 + r]);
    const float* o = a.out + static_cast<int64_t>(r0 + r) * a.head_dim + d0;
    for (int dv = 0; dv < DV; ++dv) acc[r][dv] = T::mul(T::load(o + dv * T::W), c);
  }
  const float* vj = a.v + d0;
  const float* pj = a.p + r0;
  for (int32_t j = 0; j < n; ++j, vj += a.v_stride, pj += a.rs) {
    V vv[DV];
    for (int dv = 0; dv < DV; ++dv) vv[dv] = T::load(vj + dv * T::W);
    for (int r = 0; r < R; ++r) {
      const V pr = T::set1(pj[r]);
      for (int dv = 0; dv < DV; ++dv) acc[r][dv] = T::fmadd(pr, vv[dv], acc[r][dv]);
    }
  }
  for (int r = 0; r < R; ++r) {
    float* o = a.out + static_cast<int64_t>(r0 + r) * a.head_dim + d0;
    for (int dv = 0; dv < DV; ++dv) T::store(o + dv * T::W, acc[r][dv]);
  }
}

// The last n < kPvVecs head_dim vectors from dv0, as one block of n.
template <class T, int DV>
void pv_tail(const AttnTileArgs& a, int32_t n, int32_t r0, int32_t dv0, int32_t n_dv) {
  if constexpr (DV > 1) {
    if (n_dv < DV) return pv_tail<T, DV - 1>(a, n, r0, dv0, n_dv);
  }
  pv_block<T, T::kPvRows, DV>(a, n, r0, dv0);
}

// Rows [r0, r1) (r1 - r0 a multiple of kPvRows): their outputs over the keys they see.
template <class T>
void pv_rows(const AttnTileArgs& a, int32_t r0, int32_t r1) {
  const int32_t n_dv = a.head_dim / T::W;
  for (int32_t r = r0; r < r1; r += T::kPvRows) {
    const int32_t n = max_lim(a.lim, r, r + T::kPvRows);
    if (n <= 0) continue;  // c = 1 and p = 0 for all of them: nothing changes
    const int32_t nj = n < a.n_k ? n : a.n_k;
    int32_t dv = 0;
    for (; dv + T::kPvVecs <= n_dv; dv += T::kPvVecs) pv_block<T, T::kPvRows, T::kPvVecs>(a, nj, r, dv);
    if (dv < n_dv) pv_tail<T, T::kPvVecs - 1>(a, nj, r, dv, n_dv - dv);
  }
}

// Row vectors [v0, v0 + RV): scores, softmax, outputs, over the keys any of them sees.
template <class T, int RV>
void row_chunk(const AttnTileArgs& a, int32_t v0) {
  const int32_t r0 = v0 * T::W, r1 = r0 + RV * T::W;
  const int32_t n = max_lim(a.lim, r0, r1);
  if (n <= 0) return;
  const int32_t n_k = n < a.n_k ? n : a.n_k;
  scores<T, RV>(a, n_k, v0);
  for (int rv = 0; rv < RV; ++rv) softmax_vec<T>(a, n_k, v0 + rv);
  pv_rows<T>(a, r0, r1);
}

template <class T>
void attn_tile(const AttnTileArgs& a) {
  static_assert(T::W % T::kPvRows == 0 && kAttnRowAlign % T::W == 0, "row blocks tile a vector");
  const int32_t n_vec = (a.n_rows + T::W - 1) / T::W;
  int32_t v = 0;
  for (; v + T::kScoreVecs <= n_vec; v += T::kScoreVecs) row_chunk<T, T::kScoreVecs>(a, v);
  for (; v < n_vec; ++v) row_chunk<T, 1>(a, v);
}

}  // namespace
}  // namespace lm::kernels::simd
