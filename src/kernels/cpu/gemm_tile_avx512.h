// The AVX-512 GEMM tile templates (see gemm_tile.h), shared by gemm_avx512.cpp (Q4_0, Q8_0, Q4_K,
// Q6_K) and gemm_more_avx512.cpp (Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q5_K). A weight format supplies
// how to unpack blocks (or 64-element chunks of a super-block); the templates own the register
// blocking. Included only by *_avx512.cpp files (anonymous namespace: one copy per file).
#pragma once

#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/avx2_util.h"
#include "kernels/cpu/gemm_tile.h"
#include "tensor/quants.h"

namespace lm::kernels::avx512 {
namespace {

using avx2::unpack_scales_k4;

inline float half_to_float(fp16_t h) { return _cvtsh_ss(h); }

// Two 32-byte rows in one register (the second zero when absent).
inline __m512i load_pair(const int8_t* p0, const int8_t* p1) {
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p0));
  const __m256i hi = p1 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p1))
                        : _mm256_setzero_si256();
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// Lanes 0-7 = d0, lanes 8-15 = d1.
inline __m512 scale_pair(float d0, float d1) {
  return _mm512_insertf32x8(_mm512_set1_ps(d0), _mm256_set1_ps(d1), 1);
}

// The 32 nibbles of a Q4_0-style block in element order (low nibbles, then high) as bytes 0..15.
inline __m256i unpack_nibbles_32(const uint8_t* qs) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(x, 4), x);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// 32-element block formats, two blocks per zmm. W provides Block, XBlock (Q8_0 or Q8_1),
// levels(b, two) -> unsigned levels of b[0] and (when two) b[1], kBias (the value subtracted from
// every level: 8 * sum(y) etc. is the VPDPBUSD accumulator's start; 0: none) and kHasMin (+ m * s
// per block, Q4_1 / Q5_1; the min terms in lanes 0 and 8).
template <class W, int R, int T, bool kTwo>
[[gnu::always_inline]] inline void legacy_step(int64_t i, const TilePtrs& p, __m512 (&acc)[R][T]) {
  const __m512i zero = _mm512_setzero_si512();
  __m512i qa[R];
  __m512 dw[R], mw[R];
  for (int r = 0; r < R; ++r) {
    const auto* b = reinterpret_cast<const typename W::Block*>(p.w + p.w_stride * r) + i;
    qa[r] = W::levels(b, kTwo);
    dw[r] = scale_pair(half_to_float(b[0].d), kTwo ? half_to_float(b[1].d) : 0.0f);
    if constexpr (W::kHasMin) {
      mw[r] = _mm512_maskz_mov_ps(0x0101, scale_pair(half_to_float(b[0].m), kTwo ? half_to_float(b[1].m) : 0.0f));
    }
  }
  for (int t = 0; t < T; ++t) {
    const auto* b = reinterpret_cast<const typename W::XBlock*>(p.x + p.x_stride * t) + i;
    const __m512i qb = load_pair(b[0].qs, kTwo ? b[1].qs : nullptr);
    __m512i start = zero;
    if constexpr (W::kBias != 0) {
      start = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, _mm512_set1_epi8(W::kBias), qb));
    }
    const __m512 dx = scale_pair(half_to_float(b[0].d), kTwo ? half_to_float(b[1].d) : 0.0f);
    __m512 sx;
    if constexpr (W::kHasMin) sx = scale_pair(half_to_float(b[0].s), kTwo ? half_to_float(b[1].s) : 0.0f);
    for (int r = 0; r < R; ++r) {
      const __m512 s = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start, qa[r], qb));
      acc[r][t] = _mm512_fmadd_ps(_mm512_mul_ps(dw[r], dx), s, acc[r][t]);
      if constexpr (W::kHasMin) acc[r][t] = _mm512_fmadd_ps(mw[r], sx, acc[r][t]);
    }
  }
}

template <class W>
struct LegacyTile {
  template <int R, int T>
  struct Tile {
    static void run(int64_t n, const TilePtrs& p) {
      __m512 acc[R][T];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
      const int64_t nb = n / QK8_0;
      int64_t i = 0;
      for (; i + 2 <= nb; i += 2) legacy_step<W, R, T, true>(i, p, acc);
      if (i < nb) legacy_step<W, R, T, false>(i, p, acc);
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) p.y[t * p.ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
    }
  };
};

// Super-block formats (Q8_K activations). Row provides init(block), levels(c) -> unsigned levels
// of the 64-element chunk c, scales(c) -> int16 scale per VPMADDUBSW lane, finish(sumi, y) -> the
// ref's float formula. Exact integer sums, blocks added in the ref's order: bit-identical to ref::.
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
      __m512i acc[R][T];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_si512();
      for (int c = 0; c < QK_K / 64; ++c) {
        __m512i q[R], s[R];
        for (int r = 0; r < R; ++r) {
          q[r] = rows[r].levels(c);
          s[r] = rows[r].scales(c);
        }
        for (int t = 0; t < T; ++t) {
          const __m512i yv = _mm512_loadu_si512(ys[t]->qs + 64 * c);
          for (int r = 0; r < R; ++r) {
            acc[r][t] = _mm512_add_epi32(acc[r][t], _mm512_madd_epi16(_mm512_maddubs_epi16(q[r], yv), s[r]));
          }
        }
      }
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t)
          sum[r][t] += rows[r].finish(_mm512_reduce_add_epi32(acc[r][t]), *ys[t]);
    }
  };
};

inline int32_t hsum_epi32(__m256i v) { return _mm512_reduce_add_epi32(_mm512_zextsi256_si512(v)); }

// int16 lane k of 64-element chunk c of a 16-sub-block format belongs to sub-block 4 c + k / 8:
// the scale vector from the 16 int16 scales held in the low half of sc512.
inline __m512i scales_16(const __m512i& sc512, int c) {
  const __m512i lane = _mm512_srli_epi16(
      _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14,
                       13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), 3);
  return _mm512_permutexvar_epi16(_mm512_add_epi16(lane, _mm512_set1_epi16(static_cast<int16_t>(4 * c))), sc512);
}

// Q4_K / Q5_K: y.d * (d * sumi - dmin * sum_j m_j (bsums_2j + bsums_2j+1)), the ref's formula.
inline float finish_q45_k(int32_t sumi, __m256i mins16, fp16_t d, fp16_t dmin, const BlockQ8_K& y) {
  const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.bsums));
  const int32_t summ = hsum_epi32(_mm256_madd_epi16(bs, mins16));
  return y.d * (half_to_float(d) * static_cast<float>(sumi) - half_to_float(dmin) * static_cast<float>(summ));
}

// mins16 lane k = m[k / 2] (against the 16 bsums).
inline __m256i mins_k4(const uint8_t* m) {
  const __m128i m8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(m));
  return _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
}

}  // namespace
}  // namespace lm::kernels::avx512
