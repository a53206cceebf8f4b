// AVX2 GEMM tiles for Q4_1, Q5_0, Q5_1, Q2_K, Q3_K and Q5_K (gemm_kernels.h), on the templates
// of gemm_tile_avx2.h: 2 weight rows x 4 tokens per tile, one 32-element chunk per ymm.
// Levels always enter VPMADDUBSW as unsigned bytes; a constant offset of the levels (Q5_0: 16,
// Q3_K: 4) is taken out with the activation sums.
// Compiled with the AVX2 flags (CMakeLists.txt): call only through dispatch.cpp.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/avx2_util.h"
#include "kernels/cpu/gemm_kernels.h"
#include "kernels/cpu/gemm_tile_avx2.h"
#include "tensor/quants.h"

namespace lm::kernels::avx2 {
namespace {

constexpr int kRows = 2, kToks = 4;

// ---- 32-element blocks ----------------------------------------------------------------------

struct UnsignedDot {
  static __m256i offset(__m256i) { return _mm256_setzero_si256(); }
  static __m256i dot(__m256i a, __m256i y, __m256i) { return dot_u8_i8(a, y); }
};

struct Q4_1W : UnsignedDot {
  using Block = BlockQ4_1;
  using XBlock = BlockQ8_1;
  static constexpr bool kHasMin = true;
  static __m256i levels(const Block& b) { return unpack_nibbles_32(b.qs); }
};

struct Q5_1W : UnsignedDot {
  using Block = BlockQ5_1;
  using XBlock = BlockQ8_1;
  static constexpr bool kHasMin = true;
  static __m256i levels(const Block& b) {
    return _mm256_or_si256(unpack_nibbles_32(b.qs), fifth_bits(b.qh));
  }
};

// Q5_0: levels 0..31 stand for q - 16; off = 16 * sums of y by groups of 4.
struct Q5_0W {
  using Block = BlockQ5_0;
  using XBlock = BlockQ8_0;
  static constexpr bool kHasMin = false;
  static __m256i levels(const Block& b) {
    return _mm256_or_si256(unpack_nibbles_32(b.qs), fifth_bits(b.qh));
  }
  static __m256i offset(__m256i y) { return dot_u8_i8(_mm256_set1_epi8(16), y); }
  static __m256i dot(__m256i a, __m256i y, __m256i off) { return _mm256_sub_epi32(dot_u8_i8(a, y), off); }
};

// ---- super-blocks ---------------------------------------------------------------------------

// Lanes 0-7 (elements 0-15 of a chunk) scale s0, lanes 8-15 scale s1.
__m256i scale_halves(int16_t s0, int16_t s1) {
  return _mm256_set_m128i(_mm_set1_epi16(s1), _mm_set1_epi16(s0));
}

// Q2_K / Q3_K chunk c = 4 h + g: elements 128 h + 32 g + l, bits 2 g of qs[32 h + l]; sub-blocks
// 2 c and 2 c + 1.
__m256i two_bits(const uint8_t* qs, int c) {
  const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * (c / 4)));
  return _mm256_and_si256(_mm256_srl_epi16(q, _mm_cvtsi32_si128(2 * (c % 4))), _mm256_set1_epi8(3));
}

struct Q2KRow {
  const BlockQ2_K* b;
  void init(const BlockQ2_K* blk) { b = blk; }
  __m256i levels(int c) const { return two_bits(b->qs, c); }
  __m256i scales(int c) const {
    return scale_halves(b->scales[2 * c] & 0xF, b->scales[2 * c + 1] & 0xF);
  }
  // The ref's formula: y.d * (d * sumi - dmin * sum_j m_j bsums_j).
  float finish(int32_t sumi, const BlockQ8_K& y) const {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b->scales));
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0F)));
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.bsums));
    const int32_t summ = hsum_epi32(_mm256_madd_epi16(bs, mins));
    return y.d * (half_to_float(b->d) * static_cast<float>(sumi) -
                  half_to_float(b->dmin) * static_cast<float>(summ));
  }
};

// Q3_K: levels 0..7 stand for q - 4; the 4 sum_j sc_j bsums_j offset is taken out in finish.
struct Q3KRow {
  const BlockQ3_K* b;
  alignas(32) int16_t sc[16];
  void init(const BlockQ3_K* blk) {
    b = blk;
    unpack_q3_k_scales(b->scales, sc);
  }
  __m256i levels(int c) const {
    const __m256i hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->hmask));
    const __m256i hb = _mm256_and_si256(_mm256_srl_epi16(hm, _mm_cvtsi32_si128(c)), _mm256_set1_epi8(1));
    return _mm256_or_si256(two_bits(b->qs, c), _mm256_slli_epi16(hb, 2));
  }
  __m256i scales(int c) const { return scale_halves(sc[2 * c], sc[2 * c + 1]); }
  float finish(int32_t sumi, const BlockQ8_K& y) const {
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.bsums));
    const __m256i scv = _mm256_load_si256(reinterpret_cast<const __m256i*>(sc));
    const int32_t off = 4 * hsum_epi32(_mm256_madd_epi16(bs, scv));
    return half_to_float(b->d) * y.d * static_cast<float>(sumi - off);
  }
};

// Q5_K: as Q4_K; chunk c (sub-block c) takes its fifth bit from bit c of qh[l].
struct Q5KRow {
  const BlockQ5_K* b;
  uint8_t sc[8], m[8];
  void init(const BlockQ5_K* blk) {
    b = blk;
    unpack_scales_k4(b->scales, sc, m);
  }
  __m256i levels(int c) const {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qs + 32 * (c / 2)));
    const __m256i lo = _mm256_and_si256(c % 2 ? _mm256_srli_epi16(q, 4) : q, _mm256_set1_epi8(0x0F));
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qh));
    const __m256i hb = _mm256_and_si256(_mm256_srl_epi16(h, _mm_cvtsi32_si128(c)), _mm256_set1_epi8(1));
    return _mm256_or_si256(lo, _mm256_slli_epi16(hb, 4));
  }
  __m256i scales(int c) const { return _mm256_set1_epi16(sc[c]); }
  float finish(int32_t sumi, const BlockQ8_K& y) const {
    return finish_q45_k(sumi, m, b->d, b->dmin, y);
  }
};

}  // namespace

void gemm_q4_1_q8_1(const GemmArgs& a) { gemm_grid<LegacyTile<Q4_1W>::Tile, kRows, kToks>(a); }
void gemm_q5_0_q8_0(const GemmArgs& a) { gemm_grid<LegacyTile<Q5_0W>::Tile, kRows, kToks>(a); }
void gemm_q5_1_q8_1(const GemmArgs& a) { gemm_grid<LegacyTile<Q5_1W>::Tile, kRows, kToks>(a); }
void gemm_q2_k_q8_k(const GemmArgs& a) { gemm_grid<KTile<Q2KRow, BlockQ2_K>::Tile, kRows, kToks>(a); }
void gemm_q3_k_q8_k(const GemmArgs& a) { gemm_grid<KTile<Q3KRow, BlockQ3_K>::Tile, kRows, kToks>(a); }
void gemm_q5_k_q8_k(const GemmArgs& a) { gemm_grid<KTile<Q5KRow, BlockQ5_K>::Tile, kRows, kToks>(a); }

}  // namespace lm::kernels::avx2
