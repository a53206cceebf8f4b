// attention_kernels.h with AVX512: 16 lanes of head_dim per instruction (head_dim % 16 == 0).
// Compiled with the AVX512 flags (CMakeLists.txt): called only through attn_row_kernel.
// expf is libm's (a call, not an inline function of a shared header); the scores' exponentials
// are a lanewise polynomial.
#include <immintrin.h>
#include <math.h>

#include "kernels/cpu/attention_kernels.h"

namespace lm::kernels::avx512 {
namespace {

// e^x, lanewise: x clamped to [-87, 88], x = k ln2 + r (|r| <= ln2 / 2), e^r by the Cephes expf
// polynomial (relative error about 2e-7), 2^k put in the exponent bits.
inline __m512 exp_ps(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
  const __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f));
  const __m512 k = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 er = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
  const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(er, _mm512_castsi512_ps(bits));
}

}  // namespace

void attn_row(float* row, const float* q, const float* kp, int64_t ks, const float* vp, int64_t vs,
              int32_t n, int32_t head_dim, float scale) {
  float sc[kAttnMaxKeys + 16];
  float mt = -__builtin_huge_valf();
  for (int32_t j = 0; j < n; ++j) {
    const float* k = kp + j * ks;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int32_t d = 0;
    for (; d + 32 <= head_dim; d += 32) {
      acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + d), _mm512_loadu_ps(k + d), acc0);
      acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + d + 16), _mm512_loadu_ps(k + d + 16), acc1);
    }
    if (d < head_dim) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + d), _mm512_loadu_ps(k + d), acc0);
    sc[j] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) * scale;
    mt = sc[j] > mt ? sc[j] : mt;
  }
  const float m_new = row[0] > mt ? row[0] : mt;
  const float c = expf(row[0] - m_new);  // 0 on the first tile (row[0] = -inf)
  float l = row[1] * c;
  float e[kAttnMaxKeys + 16];
  const __m512 mv = _mm512_set1_ps(m_new);
  for (int32_t j = n; j < (n + 15) / 16 * 16; ++j) sc[j] = 0.0f;  // lanes past n: computed, never used
  for (int32_t j = 0; j < n; j += 16) _mm512_storeu_ps(e + j, exp_ps(_mm512_sub_ps(_mm512_loadu_ps(sc + j), mv)));
  for (int32_t j = 0; j < n; ++j) l += e[j];
  float* out = row + 2;
  for (int32_t d = 0; d < head_dim; d += 16) {
    __m512 o = _mm512_mul_ps(_mm512_loadu_ps(out + d), _mm512_set1_ps(c));
    for (int32_t j = 0; j < n; ++j) o = _mm512_fmadd_ps(_mm512_set1_ps(e[j]), _mm512_loadu_ps(vp + j * vs + d), o);
    _mm512_storeu_ps(out + d, o);
  }
  row[0] = m_new;
  row[1] = l;
}

}  // namespace lm::kernels::avx512
