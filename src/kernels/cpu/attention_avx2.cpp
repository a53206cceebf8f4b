// attention_kernels.h with AVX2: 8 rows per vector (head_dim % 8 == 0). Compiled with the AVX2
// flags (CMakeLists.txt): called only through attn_tile_kernel.
#include <immintrin.h>

#include "kernels/cpu/attention_simd.h"

namespace lm::kernels::avx2 {
namespace {

struct Traits {
  using V = __m256;
  using I = __m256i;
  static constexpr int W = 8;
  // 4 x 2 score and 2 x 4 output accumulators: 8 independent FMA chains within 16 registers.
  static constexpr int kScoreKeys = 4, kScoreVecs = 2;
  static constexpr int kPvRows = 2, kPvVecs = 4;

  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V x) { _mm256_storeu_ps(p, x); }
  static I loadi(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const I*>(p)); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V keep_lt(int32_t j, I lim, V x, V other) {
    const V keep = _mm256_castsi256_ps(_mm256_cmpgt_epi32(lim, _mm256_set1_epi32(j)));
    return _mm256_blendv_ps(other, x, keep);
  }

  // e^x, lanewise: x clamped to [-87, 88] (max / min return the bound for NaN), x = k ln2 + r
  // (|r| <= ln2 / 2), e^r by the Cephes expf polynomial (relative error about 2e-7), 2^k put in
  // the exponent bits. The same operations as the AVX-512 version: the same bits.
  static V exp(V x) {
    x = _mm256_min_ps(_mm256_max_ps(x, set1(-87.0f)), set1(88.0f));
    const V k = _mm256_round_ps(_mm256_mul_ps(x, set1(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    V r = _mm256_fnmadd_ps(k, set1(0.693359375f), x);
    r = _mm256_fnmadd_ps(k, set1(-2.12194440e-4f), r);
    V p = set1(1.9875691500e-4f);
    p = fmadd(p, r, set1(1.3981999507e-3f));
    p = fmadd(p, r, set1(8.3334519073e-3f));
    p = fmadd(p, r, set1(4.1665795894e-2f));
    p = fmadd(p, r, set1(1.6666665459e-1f));
    p = fmadd(p, r, set1(5.0000001201e-1f));
    const V er = add(fmadd(mul(p, r), r, r), set1(1.0f));
    const I e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return mul(er, _mm256_castsi256_ps(e));
  }
};

}  // namespace

void attn_tile(const AttnTileArgs& a) { simd::attn_tile<Traits>(a); }

}  // namespace lm::kernels::avx2
