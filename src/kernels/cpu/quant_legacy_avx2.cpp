// AVX2 kernels for the remaining 32-element block types: Q4_1, Q5_0, Q5_1 dot products and the
// Q8_1 activation quantizer; see simd_kernels.h for the contract.
// Compiled with -mavx2 -mfma -mf16c (CMakeLists.txt): call only through dispatch.cpp.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/avx2_util.h"
#include "kernels/cpu/simd_kernels.h"
#include "tensor/quants.h"

namespace lm::kernels::avx2 {
namespace {

__m256i load_32(const int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

}  // namespace

void quantize_row_q8_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / QK8_1; ++i, src += QK8_1) {
    int32_t sum = 0;
    const float d = quantize_block_32(src, b[i].qs, &sum);
    b[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
    b[i].s = _cvtss_sh(d * static_cast<float>(sum), _MM_FROUND_TO_NEAREST_INT);
  }
}

// Q4_1 / Q5_1: the min term m * s needs no pass over the quants; it is summed in a scalar.
float vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_1*>(w);
  const auto* b = static_cast<const BlockQ8_1*>(x);
  __m256 acc = _mm256_setzero_ps();
  float summ = 0.0f;
  for (int64_t i = 0; i < n / QK4_1; ++i) {
    const __m256i p = dot_u8_i8(unpack_nibbles_32(a[i].qs), load_32(b[i].qs));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(a[i].d) * half_to_float(b[i].d)),
                          _mm256_cvtepi32_ps(p), acc);
    summ += half_to_float(a[i].m) * half_to_float(b[i].s);
  }
  return hsum_ps(acc) + summ;
}

float vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_1*>(w);
  const auto* b = static_cast<const BlockQ8_1*>(x);
  __m256 acc = _mm256_setzero_ps();
  float summ = 0.0f;
  for (int64_t i = 0; i < n / QK5_1; ++i) {
    const __m256i q = _mm256_or_si256(unpack_nibbles_32(a[i].qs), fifth_bits(a[i].qh));
    const __m256i p = dot_u8_i8(q, load_32(b[i].qs));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(a[i].d) * half_to_float(b[i].d)),
                          _mm256_cvtepi32_ps(p), acc);
    summ += half_to_float(a[i].m) * half_to_float(b[i].s);
  }
  return hsum_ps(acc) + summ;
}

float vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const __m256i sixteen = _mm256_set1_epi8(16);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK5_0; ++i) {
    const __m256i q = _mm256_or_si256(unpack_nibbles_32(a[i].qs), fifth_bits(a[i].qh));
    const __m256i p = dot_i8_i8(_mm256_sub_epi8(q, sixteen), load_32(b[i].qs));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(a[i].d) * half_to_float(b[i].d)),
                          _mm256_cvtepi32_ps(p), acc);
  }
  return hsum_ps(acc);
}

}  // namespace lm::kernels::avx2
