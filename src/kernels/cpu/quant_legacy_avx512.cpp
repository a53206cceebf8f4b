// AVX-512 (F/BW/DQ/VL/VNNI) dot products for Q4_1, Q5_0 and Q5_1; see simd_kernels.h.
// Two 32-element blocks share one zmm; levels are unsigned, so VPDPBUSD takes them directly
// (Q5_0's -16 offset is 16 * sum(y), a second VPDPBUSD). The fifth bits come from a mask
// register (VPMOVM2B). Compiled with the AVX-512 flags (CMakeLists.txt): call only through
// dispatch.cpp.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/simd_kernels.h"
#include "tensor/quants.h"

namespace lm::kernels::avx512 {
namespace {

float half_to_float(fp16_t h) { return _cvtsh_ss(h); }

// The 32 nibbles of a block in element order (low nibbles, then high) as bytes.
__m256i unpack_nibbles_32(const uint8_t* qs) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(x, 4), x);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

__m512i join(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }

__m512i load_y_pair(const BlockQ8_0* b, int64_t i, bool two) {
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
  return join(lo, two ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i + 1].qs))
                      : _mm256_setzero_si256());
}
__m512i load_y_pair(const BlockQ8_1* b, int64_t i, bool two) {
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
  return join(lo, two ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i + 1].qs))
                      : _mm256_setzero_si256());
}

__m512 scale_pair(float d0, float d1) {
  return _mm512_insertf32x8(_mm512_set1_ps(d0), _mm256_set1_ps(d1), 1);
}

// Nibble levels of blocks i and i + 1 (zero when absent).
template <typename Block>
__m512i levels_pair(const Block* a, int64_t i, bool two) {
  return join(unpack_nibbles_32(a[i].qs),
              two ? unpack_nibbles_32(a[i + 1].qs) : _mm256_setzero_si256());
}

// 0x10 in byte j where bit j of the blocks' qh is set (block i in bytes 0..31).
__m512i fifth_bits_pair(const uint8_t* qh0, const uint8_t* qh1) {
  const uint64_t bits = load_u32(qh0) | (qh1 ? static_cast<uint64_t>(load_u32(qh1)) << 32 : 0);
  return _mm512_and_si512(_mm512_movm_epi8(bits), _mm512_set1_epi8(0x10));
}

}  // namespace

float vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_1*>(w);
  const auto* b = static_cast<const BlockQ8_1*>(x);
  const int64_t nb = n / QK4_1;
  __m512 acc = _mm512_setzero_ps();
  float summ = 0.0f;
  for (int64_t i = 0; i < nb; i += 2) {
    const bool two = i + 1 < nb;
    const __m512i q = levels_pair(a, i, two);
    const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, load_y_pair(b, i, two));
    const float d0 = half_to_float(a[i].d) * half_to_float(b[i].d);
    const float d1 = two ? half_to_float(a[i + 1].d) * half_to_float(b[i + 1].d) : 0.0f;
    acc = _mm512_fmadd_ps(scale_pair(d0, d1), _mm512_cvtepi32_ps(p), acc);
    summ += half_to_float(a[i].m) * half_to_float(b[i].s);
    if (two) summ += half_to_float(a[i + 1].m) * half_to_float(b[i + 1].s);
  }
  return _mm512_reduce_add_ps(acc) + summ;
}

float vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_1*>(w);
  const auto* b = static_cast<const BlockQ8_1*>(x);
  const int64_t nb = n / QK5_1;
  __m512 acc = _mm512_setzero_ps();
  float summ = 0.0f;
  for (int64_t i = 0; i < nb; i += 2) {
    const bool two = i + 1 < nb;
    const __m512i q = _mm512_or_si512(levels_pair(a, i, two),
                                      fifth_bits_pair(a[i].qh, two ? a[i + 1].qh : nullptr));
    const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, load_y_pair(b, i, two));
    const float d0 = half_to_float(a[i].d) * half_to_float(b[i].d);
    const float d1 = two ? half_to_float(a[i + 1].d) * half_to_float(b[i + 1].d) : 0.0f;
    acc = _mm512_fmadd_ps(scale_pair(d0, d1), _mm512_cvtepi32_ps(p), acc);
    summ += half_to_float(a[i].m) * half_to_float(b[i].s);
    if (two) summ += half_to_float(a[i + 1].m) * half_to_float(b[i + 1].s);
  }
  return _mm512_reduce_add_ps(acc) + summ;
}

float vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / QK5_0;
  const __m512i sixteen = _mm512_set1_epi8(16);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < nb; i += 2) {
    const bool two = i + 1 < nb;
    const __m512i q = _mm512_or_si512(levels_pair(a, i, two),
                                      fifth_bits_pair(a[i].qh, two ? a[i + 1].qh : nullptr));
    const __m512i y = load_y_pair(b, i, two);
    const __m512i p = _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), q, y),
                                       _mm512_dpbusd_epi32(_mm512_setzero_si512(), sixteen, y));
    const float d0 = half_to_float(a[i].d) * half_to_float(b[i].d);
    const float d1 = two ? half_to_float(a[i + 1].d) * half_to_float(b[i + 1].d) : 0.0f;
    acc = _mm512_fmadd_ps(scale_pair(d0, d1), _mm512_cvtepi32_ps(p), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

}  // namespace lm::kernels::avx512
