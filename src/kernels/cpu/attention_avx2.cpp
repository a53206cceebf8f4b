// attention_kernels.h with AVX2: 8 rows per vector (head_dim % 8 == 0). Compiled with the AVX2
// flags (CMakeLists.txt): called only through attn_tile_kernel.
#include <immintrin.h>

#include "kernels/cpu/attention_simd.h"
#include "kernels/cpu/exp_avx2.h"

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

  // e^x, lanewise (exp_avx2.h: the same operations at both widths, so the same bits).
  static V exp(V x) { return exp_ps(x); }
};

}  // namespace

void attn_tile(const AttnTileArgs& a) { simd::attn_tile<Traits>(a); }

}  // namespace lm::kernels::avx2
