// AVX-512 (F/BW/DQ/VL/VNNI) kernels for the quantized types; see simd_kernels.h.
// Two 32-element blocks share one zmm register; VPDPBUSD does the int8 dot products.
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

float vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ8_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / QK8_0;
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < nb; i += 2) {
    const bool two = i + 1 < nb;
    const __m512i qa = load_pair(a[i].qs, two ? a[i + 1].qs : nullptr);
    const __m512i qb = load_pair(b[i].qs, two ? b[i + 1].qs : nullptr);
    const float d0 = half_to_float(a[i].d) * half_to_float(b[i].d);
    const float d1 = two ? half_to_float(a[i + 1].d) * half_to_float(b[i + 1].d) : 0.0f;
    acc = _mm512_fmadd_ps(scale_pair(d0, d1), _mm512_cvtepi32_ps(dot_i8_i8(qa, qb)), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

// Levels q in 0..15 go straight into VPDPBUSD as unsigned; the -8 offset is 8 * sum(y).
float vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / QK8_0;
  const __m512i eight = _mm512_set1_epi8(8);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < nb; i += 2) {
    const bool two = i + 1 < nb;
    const __m256i q1 = two ? unpack_nibbles_32(a[i + 1].qs) : _mm256_setzero_si256();
    const __m512i qa = _mm512_inserti64x4(_mm512_castsi256_si512(unpack_nibbles_32(a[i].qs)), q1, 1);
    const __m512i qb = load_pair(b[i].qs, two ? b[i + 1].qs : nullptr);
    const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), qa, qb);
    const __m512i off = _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, qb);
    const float d0 = half_to_float(a[i].d) * half_to_float(b[i].d);
    const float d1 = two ? half_to_float(a[i + 1].d) * half_to_float(b[i + 1].d) : 0.0f;
    acc = _mm512_fmadd_ps(scale_pair(d0, d1), _mm512_cvtepi32_ps(_mm512_sub_epi32(dot, off)), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

}  // namespace lm::kernels::avx512
