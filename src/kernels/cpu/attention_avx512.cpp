// attention_kernels.h with AVX-512: 16 rows per vector (head_dim % 16 == 0). Compiled with the
// AVX-512 flags (CMakeLists.txt): called only through attn_tile_kernel.
#include <immintrin.h>

#include "kernels/cpu/attention_simd.h"
#include "kernels/cpu/exp_avx512.h"

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

  // e^x, lanewise (exp_avx512.h: the same operations at both widths, so the same bits).
  static V exp(V x) { return exp_ps(x); }
};

}  // namespace

void attn_tile(const AttnTileArgs& a) { simd::attn_tile<Traits>(a); }

}  // namespace lm::kernels::avx512
