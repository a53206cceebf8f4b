// activation.h with AVX2 + FMA: 8 elements per step, the last partial step with masked loads and
// stores (the same arithmetic for every element). Called only through activation.cpp.
#include <immintrin.h>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/exp_avx2.h"

namespace lm::kernels::avx2 {
namespace {

// Lanes [0, rem) set, for maskload / maskstore (rem in [1, 7]).
inline __m256i tail_mask(int64_t rem) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(rem)), lane);
}

// g / (1 + e^-g) * u. Where e^-g overflows float (g < -88, the clamp of exp_ps), e is +inf as
// in ref, so silu is -0 rather than g / e^88 (not small for g = -1e30); g = -inf gives NaN as ref.
inline __m256 swiglu8(__m256 g, __m256 u) {
  __m256 e = exp_ps(_mm256_xor_ps(g, _mm256_set1_ps(-0.0f)));
  const __m256 big = _mm256_cmp_ps(g, _mm256_set1_ps(-88.0f), _CMP_LT_OQ);
  e = _mm256_blendv_ps(e, _mm256_set1_ps(__builtin_huge_valf()), big);
  const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
  return _mm256_mul_ps(silu, u);
}

}  // namespace

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(out + i, swiglu8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
  }
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    const __m256 r = swiglu8(_mm256_maskload_ps(gate + i, m), _mm256_maskload_ps(up + i, m));
    _mm256_maskstore_ps(out + i, m, r);
  }
}

void vec_exp(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp_ps(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(y + i, m, exp_ps(_mm256_maskload_ps(x + i, m)));
  }
}

}  // namespace lm::kernels::avx2
