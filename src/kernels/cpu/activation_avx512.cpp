// activation.h with AVX-512F: 16 elements per step, the last partial step with masked loads and
// stores (the same arithmetic for every element). Called only through activation.cpp.
#include <immintrin.h>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/exp_avx512.h"

namespace lm::kernels::avx512 {
namespace {

// Lanes [0, rem) set (rem in [1, 15]).
inline __mmask16 tail_mask(int64_t rem) { return static_cast<__mmask16>((1u << rem) - 1u); }

// g / (1 + e^-g) * u. Where e^-g overflows float (g < -88, the clamp of exp_ps), e is +inf as
// in ref, so silu is -0 rather than g / e^88 (not small for g = -1e30); g = -inf gives NaN as ref.
inline __m512 swiglu16(__m512 g, __m512 u) {
  __m512 e = exp_ps(_mm512_xor_ps(g, _mm512_set1_ps(-0.0f)));
  const __mmask16 big = _mm512_cmp_ps_mask(g, _mm512_set1_ps(-88.0f), _CMP_LT_OQ);
  e = _mm512_mask_blend_ps(big, e, _mm512_set1_ps(__builtin_huge_valf()));
  const __m512 silu = _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
  return _mm512_mul_ps(silu, u);
}

}  // namespace

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(out + i, swiglu16(_mm512_loadu_ps(gate + i), _mm512_loadu_ps(up + i)));
  }
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 r = swiglu16(_mm512_maskz_loadu_ps(m, gate + i), _mm512_maskz_loadu_ps(m, up + i));
    _mm512_mask_storeu_ps(out + i, m, r);
  }
}

void vec_exp(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, exp_ps(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, exp_ps(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

}  // namespace lm::kernels::avx512
