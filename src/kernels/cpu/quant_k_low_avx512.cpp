// AVX-512 (BW) dot products for Q2_K and Q3_K; see simd_kernels.h. One zmm holds 64 elements
// (two bit groups g, g + 1 of one half h: four 16-element sub-blocks, contiguous in the
// activations); VPMADDUBSW then VPMADDWD with a per-sub-block scale vector built by VPERMW.
// Bit-exact with ref:: (exact integer sums, the ref's per-block float formula and block order).
// Compiled with the AVX-512 flags (CMakeLists.txt): call only through dispatch.cpp.
#include <immintrin.h>

#include "kernels/cpu/avx2_util.h"
#include "kernels/cpu/simd_kernels.h"
#include "tensor/quants.h"

namespace lm::kernels::avx512 {
namespace {

int32_t hsum_epi32(__m512i v) { return _mm512_reduce_add_epi32(v); }

// sum_j s_j * (q_j . y_j) over the 16 sub-blocks; levels(h, g) gives the 32 unsigned levels
// (<= 7) of elements 128 h + 32 g .. + 31 as a ymm.
template <typename Levels>
int32_t scaled_sum(const int8_t* qy, const int16_t* s, Levels levels) {
  const __m512i sv = _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s)));
  // int16 lane i of the scale vector for the 64 elements starting at sub-block 4m: s[4m + i / 8].
  const __m512i lane_sub = _mm512_srli_epi16(
      _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16,
                       15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), 3);
  __m512i acc = _mm512_setzero_si512();
  for (int h = 0; h < 2; ++h) {
    for (int g = 0; g < 4; g += 2) {
      const int e = 128 * h + 32 * g;
      const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(levels(h, g)), levels(h, g + 1), 1);
      const __m512i p = _mm512_maddubs_epi16(q, _mm512_loadu_si512(qy + e));
      const __m512i idx = _mm512_add_epi16(lane_sub, _mm512_set1_epi16(static_cast<int16_t>(e / 16)));
      acc = _mm512_add_epi32(acc, _mm512_madd_epi16(p, _mm512_permutexvar_epi16(idx, sv)));
    }
  }
  return hsum_epi32(acc);
}

}  // namespace

float vec_dot_q2_k_q8_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ2_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  const __m256i three = _mm256_set1_epi8(3);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[i].scales));
    alignas(32) int16_t sc[16];
    _mm256_store_si256(reinterpret_cast<__m256i*>(sc),
                       _mm256_cvtepu8_epi16(_mm_and_si128(raw, _mm_set1_epi8(0x0F))));
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0F)));
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].bsums));
    const int32_t summ = hsum_epi32(_mm512_zextsi256_si512(_mm256_madd_epi16(bsums, mins)));
    const int32_t sumi = scaled_sum(y[i].qs, sc, [&](int h, int g) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * h));
      return _mm256_and_si256(_mm256_srl_epi16(q, _mm_cvtsi32_si128(2 * g)), three);
    });
    sum += y[i].d * (avx2::half_to_float(a[i].d) * static_cast<float>(sumi) -
                     avx2::half_to_float(a[i].dmin) * static_cast<float>(summ));
  }
  return sum;
}

// Q3_K: levels q in 0..7 (value q - 4); the -4 offset comes from the activation block sums.
float vec_dot_q3_k_q8_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ3_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    alignas(32) int16_t sc[16];
    avx2::unpack_q3_k_scales(a[i].scales, sc);
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].bsums));
    const __m256i scv = _mm256_load_si256(reinterpret_cast<const __m256i*>(sc));
    const int32_t offset = 4 * hsum_epi32(_mm512_zextsi256_si512(_mm256_madd_epi16(bsums, scv)));
    const __m256i hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].hmask));
    const int32_t sumi = scaled_sum(y[i].qs, sc, [&](int h, int g) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * h));
      const __m256i lo = _mm256_and_si256(_mm256_srl_epi16(q, _mm_cvtsi32_si128(2 * g)), three);
      const __m256i hb = _mm256_and_si256(_mm256_srl_epi16(hm, _mm_cvtsi32_si128(4 * h + g)), one);
      return _mm256_or_si256(lo, _mm256_slli_epi16(hb, 2));
    });
    sum += avx2::half_to_float(a[i].d) * y[i].d * static_cast<float>(sumi - offset);
  }
  return sum;
}

}  // namespace lm::kernels::avx512
