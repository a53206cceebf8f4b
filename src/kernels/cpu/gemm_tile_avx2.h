// The AVX2 GEMM tile templates (see gemm_tile.h), shared by gemm_avx2.cpp (Q4_0, Q8_0, Q4_K,
// Q6_K) and gemm_more_avx2.cpp (Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q5_K). A weight format supplies
// how to unpack one block (or one chunk of a super-block); the templates own the register
// blocking. Included only by *_avx2.cpp files (anonymous namespace: one copy per file).
#pragma once

#include <immintrin.h>

#include "kernels/cpu/avx2_util.h"
#include "kernels/cpu/gemm_tile.h"
#include "tensor/quants.h"

namespace lm::kernels::avx2 {
namespace {

// 32-element block formats. W provides: Block, XBlock (Q8_0 or Q8_1), levels(block) -> 32
// bytes, offset(y) and dot(levels, y, offset) -> 8 int32 partial sums of the block's integer
// dot product, and kHasMin (Q4_1 / Q5_1: + m * s per block, with s from the Q8_1 block).
// Per (row, token): sum over blocks of d_w d_x sumi (+ m s), float sums in the 8 lanes (the min
// term in lane 0), reduced at the end in a fixed order.
template <class W>
struct LegacyTile {
  template <int R, int T>
  struct Tile {
    static void run(int64_t n, const TilePtrs& p) {
      __m256 acc[R][T];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
      for (int64_t i = 0; i < n / QK8_0; ++i) {
        __m256i qa[R];
        float dw[R];
        __m256 mw[R];
        for (int r = 0; r < R; ++r) {
          const auto& b = reinterpret_cast<const typename W::Block*>(p.w + p.w_stride * r)[i];
          qa[r] = W::levels(b);
          dw[r] = half_to_float(b.d);
          if constexpr (W::kHasMin) mw[r] = _mm256_setr_ps(half_to_float(b.m), 0, 0, 0, 0, 0, 0, 0);
        }
        for (int t = 0; t < T; ++t) {
          const auto& b = reinterpret_cast<const typename W::XBlock*>(p.x + p.x_stride * t)[i];
          const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
          const __m256i off = W::offset(qb);
          const float dx = half_to_float(b.d);
          for (int r = 0; r < R; ++r) {
            const __m256 s = _mm256_cvtepi32_ps(W::dot(qa[r], qb, off));
            acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(dw[r] * dx), s, acc[r][t]);
            if constexpr (W::kHasMin) {
              acc[r][t] = _mm256_fmadd_ps(mw[r], _mm256_set1_ps(half_to_float(b.s)), acc[r][t]);
            }
          }
        }
      }
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) p.y[t * p.ldy + r] = hsum_ps(acc[r][t]);
    }
  };
};

// Super-block formats (Q8_K activations). Row (one weight row's super-block) provides
// init(block), levels(c) -> unsigned levels of the 32-element chunk c (elements 32 c ..), scales(c)
// -> the int16 scale of each VPMADDUBSW lane of that chunk, and finish(sumi, y) -> the ref's
// float formula of the block. The integer sums are exact and the blocks are added in the ref's
// order, so results are bit-identical to ref:: (and to the vec_dot kernels).
template <class Row, class Block>
struct KTile {
  template <int R, int T>
  struct Tile {
    static void run(int64_t n, const TilePtrs& p) {
      float sum[R][T] = {};
      for (int64_t i = 0; i < n / QK_K; ++i) superblock(i, p, sum);
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) p.y[t * p.ldy + r] = sum[r][t];
    }
    static void superblock(int64_t i, const TilePtrs& p, float (&sum)[R][T]) {
      Row rows[R];
      for (int r = 0; r < R; ++r) rows[r].init(reinterpret_cast<const Block*>(p.w + p.w_stride * r) + i);
      const BlockQ8_K* ys[T];
      for (int t = 0; t < T; ++t) ys[t] = reinterpret_cast<const BlockQ8_K*>(p.x + p.x_stride * t) + i;
      __m256i acc[R][T];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_si256();
      for (int c = 0; c < QK_K / 32; ++c) {
        __m256i q[R], s[R];
        for (int r = 0; r < R; ++r) {
          q[r] = rows[r].levels(c);
          s[r] = rows[r].scales(c);
        }
        for (int t = 0; t < T; ++t) {
          const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ys[t]->qs + 32 * c));
          for (int r = 0; r < R; ++r) {
            acc[r][t] = _mm256_add_epi32(acc[r][t], _mm256_madd_epi16(_mm256_maddubs_epi16(q[r], yv), s[r]));
          }
        }
      }
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) sum[r][t] += rows[r].finish(hsum_epi32(acc[r][t]), *ys[t]);
    }
  };
};

// Q4_K / Q5_K: y.d * (d * sumi - dmin * sum_j m_j (bsums_2j + bsums_2j+1)), the ref's formula.
inline float finish_q45_k(int32_t sumi, const uint8_t* m, fp16_t d, fp16_t dmin, const BlockQ8_K& y) {
  const __m128i m8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(m));
  const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
  const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.bsums));
  const int32_t summ = hsum_epi32(_mm256_madd_epi16(bs, mins16));
  return y.d * (half_to_float(d) * static_cast<float>(sumi) - half_to_float(dmin) * static_cast<float>(summ));
}

}  // namespace
}  // namespace lm::kernels::avx2
