// AVX2 (+FMA, F16C) kernels for the quantized types; see simd_kernels.h for the contract.
// Compiled with -mavx2 -mfma -mf16c (CMakeLists.txt): call only through dispatch.cpp.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/avx2_util.h"
#include "kernels/cpu/simd_kernels.h"
#include "tensor/quants.h"

namespace lm::kernels::avx2 {

void quantize_row_q8_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / QK8_0; ++i, src += QK8_0) {
    b[i].d = _cvtss_sh(quantize_block_32(src, b[i].qs, nullptr), _MM_FROUND_TO_NEAREST_INT);
  }
}

// q = (int)(v + copysign(0.5, v)) after clamping to [-127, 127], as ref::round_clamp.
void quantize_row_q8_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_K*>(dst);
  const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  const __m256 half = _mm256_set1_ps(0.5f), sign_mask = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < n / QK_K; ++i, src += QK_K) {
    __m256 mx = _mm256_setzero_ps();
    for (int k = 0; k < QK_K; k += 8) mx = _mm256_max_ps(mx, abs_ps(_mm256_loadu_ps(src + k)));
    const float amax = hmax_ps(mx);
    const float iscale = amax > 0.0f ? 127.0f / amax : 0.0f;
    b[i].d = iscale > 0.0f ? 1.0f / iscale : 0.0f;
    const __m256 vis = _mm256_set1_ps(iscale);
    for (int g = 0; g < QK_K / 32; ++g) {
      __m256i q[4];
      for (int k = 0; k < 4; ++k) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(src + 32 * g + 8 * k), vis);
        v = _mm256_max_ps(_mm256_min_ps(v, hi), lo);
        v = _mm256_add_ps(v, _mm256_or_ps(half, _mm256_and_ps(v, sign_mask)));
        q[k] = _mm256_cvttps_epi32(v);
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(b[i].qs + 32 * g),
                          pack_i32_to_i8(q[0], q[1], q[2], q[3]));
      b[i].bsums[2 * g] = static_cast<int16_t>(hsum_epi32(_mm256_add_epi32(q[0], q[1])));
      b[i].bsums[2 * g + 1] = static_cast<int16_t>(hsum_epi32(_mm256_add_epi32(q[2], q[3])));
    }
  }
}

float vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ8_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK8_0; ++i) {
    const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    const __m256 d = _mm256_set1_ps(half_to_float(a[i].d) * half_to_float(b[i].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8_i8(qa, qb)), acc);
  }
  return hsum_ps(acc);
}

float vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const __m256i eight = _mm256_set1_epi8(8);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK8_0; ++i) {
    const __m256i qa = _mm256_sub_epi8(unpack_nibbles_32(a[i].qs), eight);
    const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    const __m256 d = _mm256_set1_ps(half_to_float(a[i].d) * half_to_float(b[i].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8_i8(qa, qb)), acc);
  }
  return hsum_ps(acc);
}

namespace {

// Shared by Q4_K and Q5_K: the levels of one block come from `levels(c, &lo, &hi)`, which gives
// chunk c's 32 elements of sub-block 2c (lo) and 2c + 1 (hi) as bytes 0..31 (Q5_K: 0..31, so
// VPMADDUBSW stays within int16). Per-block float formula and block order as the ref.
template <typename Levels>
float dot_q45_k(const uint8_t* scales, fp16_t d, fp16_t dmin, const BlockQ8_K& y,
                Levels levels) {
  uint8_t sc[8], m[8];
  unpack_scales_k4(scales, sc, m);
  const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.bsums));
  const __m256i mins = _mm256_cvtepu8_epi16(
      _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(m)),
                        _mm_loadl_epi64(reinterpret_cast<const __m128i*>(m))));
  const int32_t summ = hsum_epi32(_mm256_madd_epi16(bsums, mins));
  __m256i acc = _mm256_setzero_si256();
  for (int c = 0; c < 4; ++c) {
    __m256i q_lo, q_hi;
    levels(c, &q_lo, &q_hi);
    const auto* yq = reinterpret_cast<const __m256i*>(y.qs + 64 * c);
    const __m256i p_lo = _mm256_maddubs_epi16(q_lo, _mm256_loadu_si256(yq));
    const __m256i p_hi = _mm256_maddubs_epi16(q_hi, _mm256_loadu_si256(yq + 1));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p_lo, _mm256_set1_epi16(sc[2 * c])));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p_hi, _mm256_set1_epi16(sc[2 * c + 1])));
  }
  const int32_t sumi = hsum_epi32(acc);
  return y.d * (half_to_float(d) * static_cast<float>(sumi) -
                half_to_float(dmin) * static_cast<float>(summ));
}

}  // namespace

float vec_dot_q4_k_q8_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    auto levels = [&](int c, __m256i* lo, __m256i* hi) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * c));
      *lo = _mm256_and_si256(q, low4);
      *hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
    };
    sum += dot_q45_k(a[i].scales, a[i].d, a[i].dmin, y[i], levels);
  }
  return sum;
}

// Q5_K: bit 4 of chunk c's low / high elements is bit 2c / 2c + 1 of qh[l].
float vec_dot_q5_k_q8_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  const __m256i low4 = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh));
    auto levels = [&](int c, __m256i* lo, __m256i* hi) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * c));
      const __m256i h = _mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * c));  // bits 2c, 2c+1 -> 0, 1
      *lo = _mm256_or_si256(_mm256_and_si256(q, low4), _mm256_and_si256(_mm256_slli_epi16(h, 4), bit4));
      *hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low4),
                            _mm256_and_si256(_mm256_slli_epi16(h, 3), bit4));
    };
    sum += dot_q45_k(a[i].scales, a[i].d, a[i].dmin, y[i], levels);
  }
  return sum;
}

// Q6_K: levels q in 0..63 (maddubs with the activations stays within int16), the -32 offset
// applied through the activation block sums: sum sc_j (q - 32) y = sum sc_j q y - 32 sum sc_j bsum_j.
float vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  const __m256i low4 = _mm256_set1_epi8(0x0F), bits45 = _mm256_set1_epi8(0x30);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const __m256i scales16 = _mm256_cvtepi8_epi16(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[i].scales)));
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].bsums));
    const int32_t offset = 32 * hsum_epi32(_mm256_madd_epi16(scales16, bsums));
    __m256i acc = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const auto* ql = reinterpret_cast<const __m256i*>(a[i].ql + 64 * h);
      const __m256i l0 = _mm256_loadu_si256(ql), l1 = _mm256_loadu_si256(ql + 1);
      const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh + 32 * h));
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(l0, low4),
                             _mm256_and_si256(_mm256_slli_epi16(hb, 4), bits45));
      q[1] = _mm256_or_si256(_mm256_and_si256(l1, low4),
                             _mm256_and_si256(_mm256_slli_epi16(hb, 2), bits45));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4),
                             _mm256_and_si256(hb, bits45));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                             _mm256_and_si256(_mm256_srli_epi16(hb, 2), bits45));
      for (int k = 0; k < 4; ++k) {
        const int e = 128 * h + 32 * k;  // first element of this vector: sub-blocks e/16, +1
        const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs + e));
        const __m256i sc = _mm256_set_m128i(_mm_set1_epi16(a[i].scales[e / 16 + 1]),
                                            _mm_set1_epi16(a[i].scales[e / 16]));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], yv), sc));
      }
    }
    const int32_t sumi = hsum_epi32(acc) - offset;
    sum += half_to_float(a[i].d) * y[i].d * static_cast<float>(sumi);
  }
  return sum;
}

}  // namespace lm::kernels::avx2
