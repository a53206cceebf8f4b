// AVX2 GEMM tiles (see gemm_tile.h and type_kernels.h GemmArgs): 2 weight rows x 4 tokens per
// tile (16 ymm registers: 8 accumulators plus operands), one 32-element block per ymm.
//
// Q4_0: levels 0..15 as unsigned bytes into VPMADDUBSW (no saturation: 2 * 15 * 127 < 2^15), the
// 8 * sum(y) offset computed once per token and block. Q8_0: the sign trick (|w|, sign(y, w)).
// Float sums over blocks run in the 8 lanes, reduced at the end in a fixed order.
// Q4_K / Q6_K: VPMADDUBSW + VPMADDWD with the sub-block scales, exact int32 super-block sums and
// the ref's float formula: bit-identical to ref::.
// Compiled with the AVX2 flags (CMakeLists.txt): call only through dispatch.cpp.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/avx2_util.h"
#include "kernels/cpu/gemm_tile_avx2.h"
#include "kernels/cpu/simd_kernels.h"
#include "tensor/quants.h"

namespace lm::kernels::avx2 {
namespace {

constexpr int kRows = 2, kToks = 4;

struct Q4_0W {
  using Block = BlockQ4_0;
  using XBlock = BlockQ8_0;
  static constexpr bool kHasMin = false;
  static __m256i levels(const Block& b) { return unpack_nibbles_32(b.qs); }
  // Integer dot of levels a with activations y, given off = 8 * sums of y by groups of 4.
  static __m256i dot(__m256i a, __m256i y, __m256i off) {
    return _mm256_sub_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(a, y), _mm256_set1_epi16(1)), off);
  }
  static __m256i offset(__m256i y) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(8), y), _mm256_set1_epi16(1));
  }
};

struct Q8_0W {
  using Block = BlockQ8_0;
  using XBlock = BlockQ8_0;
  static constexpr bool kHasMin = false;
  static __m256i levels(const Block& b) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
  }
  static __m256i dot(__m256i a, __m256i y, __m256i) { return dot_i8_i8(a, y); }
  static __m256i offset(__m256i) { return _mm256_setzero_si256(); }
};

// ---- k-quants -------------------------------------------------------------------------------

// Per-row data of one super-block: levels of 32-element chunk c as unsigned bytes, the int16
// scale of each VPMADDUBSW lane of that chunk, and the ref's float formula.
struct Q4KRow {
  const BlockQ4_K* b;
  uint8_t sc[8], m[8];
  void init(const BlockQ4_K* blk) {
    b = blk;
    unpack_scales_k4(b->scales, sc, m);
  }
  // Chunk c: low nibbles of qs[32 (c / 2) ..] for even c, high nibbles for odd c.
  __m256i levels(int c) const {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qs + 32 * (c / 2)));
    return _mm256_and_si256(c % 2 ? _mm256_srli_epi16(q, 4) : q, _mm256_set1_epi8(0x0F));
  }
  __m256i scales(int c) const { return _mm256_set1_epi16(sc[c]); }
  float finish(int32_t sumi, const BlockQ8_K& y) const {
    return finish_q45_k(sumi, m, b->d, b->dmin, y);
  }
};

struct Q6KRow {
  const BlockQ6_K* b;
  void init(const BlockQ6_K* blk) { b = blk; }
  // Chunk c = 4 h + k: elements 128 h + 32 k + 0..31: nibble k / 2 of ql[64 h + 32 (k % 2) ..],
  // bits 4-5 from bits 2 k, 2 k + 1 of qh[32 h ..].
  __m256i levels(int c) const {
    const int h = c / 4, k = c % 4;
    const __m256i l = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->ql + 64 * h + 32 * (k % 2)));
    const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qh + 32 * h));
    const __m256i lo = _mm256_and_si256(k < 2 ? l : _mm256_srli_epi16(l, 4), _mm256_set1_epi8(0x0F));
    const __m256i hi = k < 2 ? _mm256_slli_epi16(hb, 4 - 2 * k) : _mm256_srli_epi16(hb, 2 * k - 4);
    return _mm256_or_si256(lo, _mm256_and_si256(hi, _mm256_set1_epi8(0x30)));
  }
  // Lanes 0-7: sub-block 2 c, lanes 8-15: sub-block 2 c + 1.
  __m256i scales(int c) const {
    return _mm256_set_m128i(_mm_set1_epi16(b->scales[2 * c + 1]), _mm_set1_epi16(b->scales[2 * c]));
  }
  float finish(int32_t sumi, const BlockQ8_K& y) const {
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b->scales)));
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.bsums));
    const int32_t off = 32 * hsum_epi32(_mm256_madd_epi16(bs, sc16));
    return half_to_float(b->d) * y.d * static_cast<float>(sumi - off);
  }
};

}  // namespace

void gemm_q4_0_q8_0(const GemmArgs& a) { gemm_grid<LegacyTile<Q4_0W>::Tile, kRows, kToks>(a); }
void gemm_q8_0_q8_0(const GemmArgs& a) { gemm_grid<LegacyTile<Q8_0W>::Tile, kRows, kToks>(a); }
void gemm_q4_k_q8_k(const GemmArgs& a) { gemm_grid<KTile<Q4KRow, BlockQ4_K>::Tile, kRows, kToks>(a); }
void gemm_q6_k_q8_k(const GemmArgs& a) { gemm_grid<KTile<Q6KRow, BlockQ6_K>::Tile, kRows, kToks>(a); }

}  // namespace lm::kernels::avx2
