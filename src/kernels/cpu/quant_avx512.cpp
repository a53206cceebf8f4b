// AVX-512 (F/BW/DQ/VL/VNNI) kernels for the quantized types; see simd_kernels.h.
// Q4_0 / Q8_0: two 32-element blocks share one zmm register, VPDPBUSD does the int8 dot
// products. Q6_K: 64 elements per zmm, VPDPBUSD + VPMULLD for the sub-block scales.
// Compiled with the AVX-512 flags (CMakeLists.txt): call only through dispatch.cpp.
#include <immintrin.h>

#include "kernels/cpu/simd_kernels.h"
#include "tensor/quants.h"

namespace lm::kernels::avx512 {
namespace {

float half_to_float(fp16_t h) { return _cvtsh_ss(h); }

// Two 32-byte rows in one register (the second zero when absent).
__m512i load_pair(const int8_t* p0, const int8_t* p1) {
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p0));
  const __m256i hi = p1 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p1))
                        : _mm256_setzero_si256();
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// The 32 nibbles of a Q4_0 block in element order (low nibbles, then high) as bytes 0..15.
__m256i unpack_nibbles_32(const uint8_t* qs) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(x, 4), x);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// Lanes 0-7 = d0, lanes 8-15 = d1.
__m512 scale_pair(float d0, float d1) {
  return _mm512_insertf32x8(_mm512_set1_ps(d0), _mm256_set1_ps(d1), 1);
}

// Signed a times signed b (b in [-127, 127]) by groups of 4, as u8 x s8 via |a| and sign(b, a).
__m512i dot_i8_i8(__m512i a, __m512i b) {
  const __mmask64 neg = _mm512_movepi8_mask(a);
  const __m512i sb = _mm512_mask_sub_epi8(b, neg, _mm512_setzero_si512(), b);
  return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(a), sb);
}

}  // namespace

namespace {

// Runs step(acc, i, two) over the nb blocks two at a time (two == false for a last odd
// block), alternating two accumulators so consecutive FMAs do not wait on each other.
template <typename Step>
float sum_pairs(int64_t nb, Step step) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 4 <= nb; i += 4) {
    step(acc0, i, true);
    step(acc1, i + 2, true);
  }
  for (; i < nb; i += 2) step(acc0, i, i + 1 < nb);
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

}  // namespace

float vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ8_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  return sum_pairs(n / QK8_0, [&](__m512& acc, int64_t i, bool two) {
    const __m512i qa = load_pair(a[i].qs, two ? a[i + 1].qs : nullptr);
    const __m512i qb = load_pair(b[i].qs, two ? b[i + 1].qs : nullptr);
    const float d0 = half_to_float(a[i].d) * half_to_float(b[i].d);
    const float d1 = two ? half_to_float(a[i + 1].d) * half_to_float(b[i + 1].d) : 0.0f;
    acc = _mm512_fmadd_ps(scale_pair(d0, d1), _mm512_cvtepi32_ps(dot_i8_i8(qa, qb)), acc);
  });
}

// Levels q in 0..15 go straight into VPDPBUSD as unsigned; the -8 offset is 8 * sum(y).
float vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const __m512i eight = _mm512_set1_epi8(8);
  return sum_pairs(n / QK8_0, [&](__m512& acc, int64_t i, bool two) {
    const __m256i q1 = two ? unpack_nibbles_32(a[i + 1].qs) : _mm256_setzero_si256();
    const __m512i qa = _mm512_inserti64x4(_mm512_castsi256_si512(unpack_nibbles_32(a[i].qs)), q1, 1);
    const __m512i qb = load_pair(b[i].qs, two ? b[i + 1].qs : nullptr);
    const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), qa, qb);
    const __m512i off = _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, qb);
    const float d0 = half_to_float(a[i].d) * half_to_float(b[i].d);
    const float d1 = two ? half_to_float(a[i + 1].d) * half_to_float(b[i + 1].d) : 0.0f;
    acc = _mm512_fmadd_ps(scale_pair(d0, d1), _mm512_cvtepi32_ps(_mm512_sub_epi32(dot, off)), acc);
  });
}

namespace {

int32_t hsum_epi32(__m512i v) { return _mm512_reduce_add_epi32(v); }

}  // namespace

// Q6_K: in half h, one zmm of ql with the matching qh bits gives elements 128 h + 0..63, the
// high nibbles elements 128 h + 64..127, each against 64 contiguous activations. Each int32 of
// VPDPBUSD covers 4 elements, so 4 lanes share a sub-block scale. Levels 0..63 are unsigned;
// the -32 offset comes from the activation block sums. Bit-exact with the ref.
float vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
  const __m512i quad = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[i].scales));
    const __m512i sc = _mm512_cvtepi8_epi32(sc8);  // 16 scales as int32
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].bsums));
    const int32_t offset =
        32 * hsum_epi32(_mm512_zextsi256_si512(_mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8), bsums)));
    __m512i acc = _mm512_setzero_si512();
    for (int h = 0; h < 2; ++h) {
      const __m512i l = _mm512_loadu_si512(a[i].ql + 64 * h);
      const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh + 32 * h));
      // Bits 4-5 of element l (from qh bits 0-1) and l + 32 (bits 2-3); then l + 64, l + 96.
      const __m512i h01 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_slli_epi16(hb, 4)),
                                             _mm256_slli_epi16(hb, 2), 1);
      const __m512i h23 = _mm512_inserti64x4(_mm512_castsi256_si512(hb), _mm256_srli_epi16(hb, 2), 1);
      const __m512i q01 = _mm512_or_si512(_mm512_and_si512(l, low4), _mm512_and_si512(h01, bits45));
      const __m512i q23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), low4),
                                          _mm512_and_si512(h23, bits45));
      const __m512i p01 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q01,
                                              _mm512_loadu_si512(y[i].qs + 128 * h));
      const __m512i p23 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q23,
                                              _mm512_loadu_si512(y[i].qs + 128 * h + 64));
      const __m512i s01 = _mm512_permutexvar_epi32(_mm512_add_epi32(quad, _mm512_set1_epi32(8 * h)), sc);
      const __m512i s23 = _mm512_permutexvar_epi32(_mm512_add_epi32(quad, _mm512_set1_epi32(8 * h + 4)), sc);
      acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(p01, s01));
      acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(p23, s23));
    }
    const int32_t sumi = hsum_epi32(acc) - offset;
    sum += half_to_float(a[i].d) * y[i].d * static_cast<float>(sumi);
  }
  return sum;
}

}  // namespace lm::kernels::avx512
