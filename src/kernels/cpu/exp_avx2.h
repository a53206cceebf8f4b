// e^x over 8 float lanes (AVX2 + FMA), for the *_avx2.cpp kernels that need exponentials
// (activation_avx2.cpp: SwiGLU). Include only from *_avx2.cpp files: the functions live in an
// anonymous namespace, so each includer gets its own copy and its object exports no weak
// (COMDAT) symbol that a non-AVX caller could bind to (tests/e2e/test_isa_isolation.py).
#pragma once

#include <immintrin.h>

namespace lm::kernels::avx2 {
namespace {

// e^x, lanewise: x clamped to [-87, 88] (results stay normal and finite: e^-87 ~ 1.6e-38,
// e^88 ~ 1.7e38), x = k ln2 + r with k = round(x log2 e) and r by a two-constant Cody-Waite
// reduction (|r| <= ln2 / 2), e^r = 1 + r + r^2 P(r) with the Cephes expf polynomial P, and
// 2^k put into the exponent bits. Relative error below 1.5e-7 (measured 8.5e-8; tested in
// tests/unit/kernels/activation_test.cpp). NaN lanes come back as e^-87 (max/min drop NaN):
// callers that care must carry NaN themselves.
inline __m256 exp_ps(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
  const __m256 t = _mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f));
  const __m256 k = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // ln2 = 0.693359375 - 2.12194440e-4: the first part has few mantissa bits, so k * it is exact.
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 er = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), _mm256_set1_ps(1.0f));
  const __m256i ki = _mm256_cvtps_epi32(k);
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(ki, _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(er, _mm256_castsi256_ps(bits));
}

}  // namespace
}  // namespace lm::kernels::avx2
