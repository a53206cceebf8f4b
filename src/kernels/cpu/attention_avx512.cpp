// attention_kernels.h with AVX-512: 16 rows per vector (head_dim % 16 == 0). Compiled with the
// AVX-512 flags (CMakeLists.txt): called only through attn_tile_kernel.
#include <immintrin.h>

#include "kernels/cpu/attention_simd.h"

namespace lm::kernels::avx512 {
namespace {

struct Traits {
  using V = __m512;
  using I = __m512i;
  static constexpr int W = 16;
  // 8 x 2 score and 4 x 4 output accumulators: 16 independent FMA chains, room for the operands
  // in the 32 registers.
  static constexpr int kScoreKeys = 8, kScoreVecs = 2;
  static constexpr int kPvRows = 4, kPvVecs = 4;

  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V x) { _mm512_storeu_ps(p, x); }
  static I loadi(const int32_t* p) { return _mm512_loadu_si512(p); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V keep_lt(int32_t j, I lim, V x, V other) {
    return _mm512_mask_blend_ps(_mm512_cmpgt_epi32_mask(lim, _mm512_set1_epi32(j)), other, x);
  }

  // e^x, lanewise: x clamped to [-87, 88] (max / min return the bound for NaN), x = k ln2 + r
  // (|r| <= ln2 / 2), e^r by the Cephes expf polynomial (relative error about 2e-7), 2^k put in
  // the exponent bits. The same operations as the AVX2 version: the same bits.
  static V exp(V x) {
    x = _mm512_min_ps(_mm512_max_ps(x, set1(-87.0f)), set1(88.0f));
    const V k = _mm512_roundscale_ps(_mm512_mul_ps(x, set1(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    V r = _mm512_fnmadd_ps(k, set1(0.693359375f), x);
    r = _mm512_fnmadd_ps(k, set1(-2.12194440e-4f), r);
    V p = set1(1.9875691500e-4f);
    p = fmadd(p, r, set1(1.3981999507e-3f));
    p = fmadd(p, r, set1(8.3334519073e-3f));
    p = fmadd(p, r, set1(4.1665795894e-2f));
    p = fmadd(p, r, set1(1.6666665459e-1f));
    p = fmadd(p, r, set1(5.0000001201e-1f));
    const V er = add(fmadd(mul(p, r), r, r), set1(1.0f));
    const I e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23);
    return mul(er, _mm512_castsi512_ps(e));
  }
};

}  // namespace

void attn_tile(const AttnTileArgs& a) { simd::attn_tile<Traits>(a); }

}  // namespace lm::kernels::avx512
