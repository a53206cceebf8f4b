// AVX-512 VNNI GEMM over the repacked Q6_K layout of repack.h against Q8_K activations: a tile
// is one group of 16 weight rows (one row per zmm lane) x up to kToks tokens; n_tok == 1 is the
// decode path. Per sub-block of 16 elements the 16 rows' 6-bit levels are assembled once into 4
// zmm (4 elements of every row each; one AND per zmm for 3 quarters of the super-block, 6 ops
// for the last, see repack.h) and reused for every token of the tile; a token then costs 4
// VPDPBUSD against broadcast activation bytes, started at -32 * the token's sub-block sum (Q8_K
// bsums: the -32 offset of the levels), and one VPMULLD by the 16 rows' sub-block scales. The
// float work is once per super-block for 16 rows: (d * y.d) * (float)sumi added to the row sums,
// the same operations in the same order as ref::vec_dot_q6_k_q8_k (built with
// -ffp-contract=off), so the result is bit-identical to it.
// Compiled with the AVX-512 flags (CMakeLists.txt): call only through repack.cpp's dispatch.
// No std:: containers here (their inline code would be compiled with AVX-512 flags).
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/gemm_r16_avx512.h"
#include "kernels/cpu/repack.h"
#include "tensor/quants.h"

namespace lm::kernels::avx512 {
namespace {

constexpr int kToks = 8;
constexpr size_t kSbBytes = detail::kQ6KGroupBlockBytes;
// Software prefetch distance: 2 super-blocks ahead (the hardware prefetchers alone left the
// decode at half the streaming rate; mvbench Q6_K 1 65536, 1 vs 2 vs 4 super-blocks).
constexpr size_t kPrefetch = 2 * kSbBytes;
constexpr size_t kScales = 32, kLevels = kScales + 256;  // offsets, repack.h

// acc + VPDPBUSD(w, 4 bytes at p broadcast), the broadcast folded into the instruction as a
// {1to16} memory operand (GCC 12 emits a separate VPBROADCASTD for the intrinsic form).
inline __m512i dpbusd_bcast(__m512i acc, __m512i w, const void* p) {
  __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*static_cast<const int32_t*>(p)));
  return acc;
}

// The activation data of a (token, super-block) (gemm_r16_avx512.h's Pre): -32 x its 16
// sub-block sums, the start values of the integer sums (the levels' offset), computed once per
// call instead of once per group.
struct Pre {
  struct Entry {
    int32_t bias[16];
  };
  static constexpr int64_t kBlock = QK_K;
  static constexpr int64_t kEntries = 1024;
  using Block = BlockQ8_K;
  static void entry(const BlockQ8_K& xb, Entry& out) {
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.bsums));
    const __m512i neg = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_cvtepi16_epi32(bs));
    _mm512_storeu_si512(out.bias, _mm512_slli_epi32(neg, 5));
  }
};

// The 4 zmm of levels 0..63 of sub-block 8 h + 2 P + mh (zmm i: its elements 4 i .. 4 i + 3).
// z zmm 3 (8 h + m) + p: levels of quarter p in bits 0..5, 2 bits of quarter 3 in bits 6, 7.
template <int P>
inline void levels(const uint8_t* sb, int h, int mh, __m512i (&w)[4]) {
  const __m512i lo6 = _mm512_set1_epi8(0x3F);
  for (int i = 0; i < 4; ++i) {
    const uint8_t* z = sb + kLevels + 64 * 3 * (8 * h + 4 * mh + i);
    if constexpr (P < 3) {
      w[i] = _mm512_and_si512(_mm512_loadu_si512(z + 64 * P), lo6);
    } else {  // bits 6, 7 of the three z moved to bits 0, 1 / 2, 3 / 4, 5 (16-bit shifts: the
              // bits they pull in from the next byte are masked off)
      const __m512i s0 = _mm512_srli_epi16(_mm512_loadu_si512(z), 6);
      const __m512i s1 = _mm512_srli_epi16(_mm512_loadu_si512(z + 64), 4);
      const __m512i s2 = _mm512_srli_epi16(_mm512_loadu_si512(z + 128), 2);
      // 0xCA: mask ? a : b, bit by bit
      const __m512i u = _mm512_ternarylogic_epi32(_mm512_set1_epi8(0x30), s2, s1, 0xCA);
      const __m512i v = _mm512_ternarylogic_epi32(_mm512_set1_epi8(0x03), s0, u, 0xCA);
      w[i] = _mm512_and_si512(v, lo6);
    }
  }
}

// Sub-block s = 8 h + 2 P + mh of super-block b for T tokens: sumi[t] += scale * isum.
// Dot products token-inner: consecutive VPDPBUSD are independent (T chains in flight).
template <int P, int T>
inline void sub_block(const uint8_t* sb, int h, int mh, const BlockQ8_K* const (&xb)[T],
                      const Pre::Entry (&bias)[T], __m512i (&sumi)[T]) {
  const int s = 8 * h + 2 * P + mh;
  __m512i w[4];
  levels<P>(sb, h, mh, w);
  const __m512i sc = _mm512_cvtepi8_epi32(
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(sb + kScales + 16 * s)));
  __m512i a[T];
  for (int t = 0; t < T; ++t) a[t] = _mm512_set1_epi32(bias[t].bias[s]);  // the -32 offset term
  for (int i = 0; i < 4; ++i) {
    for (int t = 0; t < T; ++t) a[t] = dpbusd_bcast(a[t], w[i], xb[t]->qs + 16 * s + 4 * i);
  }
  for (int t = 0; t < T; ++t) sumi[t] = _mm512_add_epi32(sumi[t], _mm512_mullo_epi32(a[t], sc));
}

// One group (`rows` of its 16 rows valid) x T tokens; y [T, ldy]; pre: the first token's entries.
template <int T>
void tile(const uint8_t* g, int64_t nb, const uint8_t* x, size_t x_stride, const Pre::Entry* pre,
          float* y, int64_t ldy, int rows) {
  // The accumulators live in memory (one load and store per super-block): registers go to the
  // dot products' chains.
  alignas(64) float acc[T][16];
  for (int t = 0; t < T; ++t) _mm512_store_ps(acc[t], _mm512_setzero_ps());
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* sb = g + kSbBytes * static_cast<size_t>(b);
    for (size_t l = 0; l < kSbBytes; l += 64)
      _mm_prefetch(reinterpret_cast<const char*>(sb + kPrefetch + l), _MM_HINT_T0);
    const BlockQ8_K* xb[T];
    __m512i sumi[T];
    for (int t = 0; t < T; ++t) {
      xb[t] = reinterpret_cast<const BlockQ8_K*>(x + x_stride * static_cast<size_t>(t)) + b;
      sumi[t] = _mm512_setzero_si512();
    }
    // The tokens' entries copied to the stack: constant offsets in the loop below (measured
    // ~15% faster than indexing the table by t * nb there).
    alignas(64) Pre::Entry bias[T];
    for (int t = 0; t < T; ++t) _mm512_store_si512(bias[t].bias, _mm512_loadu_si512(pre[t * nb + b].bias));
    for (int h = 0; h < 2; ++h) {
      for (int mh = 0; mh < 2; ++mh) {
        sub_block<0, T>(sb, h, mh, xb, bias, sumi);
        sub_block<1, T>(sb, h, mh, xb, bias, sumi);
        sub_block<2, T>(sb, h, mh, xb, bias, sumi);
        sub_block<3, T>(sb, h, mh, xb, bias, sumi);
      }
    }
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb)));
    for (int t = 0; t < T; ++t) {  // sum += (d * y.d) * (float)sumi, as ref:: (no FMA)
      const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(xb[t]->d));
      _mm512_store_ps(acc[t], _mm512_add_ps(_mm512_load_ps(acc[t]), _mm512_mul_ps(d, _mm512_cvtepi32_ps(sumi[t]))));
    }
  }
  const __mmask16 mask = static_cast<__mmask16>(rows >= 16 ? 0xFFFF : (1u << rows) - 1);
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * ldy, mask, _mm512_load_ps(acc[t]));
}

template <int T>
struct Tile {
  static void run(const uint8_t* g, int64_t nb, const uint8_t* x, size_t xs, const Pre::Entry* pre,
                  float* y, int64_t ldy, int rows) {
    tile<T>(g, nb, x, xs, pre, y, ldy, rows);
  }
};

}  // namespace

void gemm_r16_q6_k_q8_k(const GemmArgs& a) { gemm_groups<Pre, Tile, kToks>(a, a.n / QK_K); }

}  // namespace lm::kernels::avx512
