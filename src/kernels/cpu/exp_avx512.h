// e^x over 16 float lanes (AVX-512F), for the *_avx512.cpp kernels that need exponentials
// (activation_avx512.cpp: SwiGLU). Include only from *_avx512.cpp files: the functions live in an
// anonymous namespace, so each includer gets its own copy and its object exports no weak
// (COMDAT) symbol that a non-AVX caller could bind to (tests/e2e/test_isa_isolation.py).
#pragma once

#include <immintrin.h>

namespace lm::kernels::avx512 {
namespace {

// e^x, lanewise: x clamped to [-87, 88] (results stay normal and finite: e^-87 ~ 1.6e-38,
// e^88 ~ 1.7e38), x = k ln2 + r with k = round(x log2 e) and r by a two-constant Cody-Waite
// reduction (|r| <= ln2 / 2), e^r = 1 + r + r^2 P(r) with the Cephes expf polynomial P, and
// 2^k put into the exponent bits. Relative error below 1.5e-7 (measured 8.5e-8; tested in
// tests/unit/kernels/activation_test.cpp). NaN lanes come back as e^-87 (max/min drop NaN):
// callers that care must carry NaN themselves.
inline __m512 exp_ps(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
  const __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f));
  const __m512 k = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // ln2 = 0.693359375 - 2.12194440e-4: the first part has few mantissa bits, so k * it is exact.
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 er = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
  const __m512i ki = _mm512_cvtps_epi32(k);
  const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(ki, _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(er, _mm512_castsi512_ps(bits));
}

}  // namespace
}  // namespace lm::kernels::avx512
