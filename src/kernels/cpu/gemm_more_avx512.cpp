// AVX-512 VNNI GEMM tiles for Q4_1, Q5_0, Q5_1, Q2_K, Q3_K and Q5_K (gemm_kernels.h), on the
// templates of gemm_tile_avx512.h: 4 weight rows x 4 tokens per tile. 32-element blocks: two per
// zmm into VPDPBUSD (levels as unsigned bytes, Q5_0's offset 16 * sum(y) as the accumulator's
// start); super-blocks: 64 elements per zmm, VPMADDUBSW + VPMADDWD with the sub-block scales.
// Compiled with the AVX-512 flags (CMakeLists.txt): call only through dispatch.cpp.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/avx2_util.h"
#include "kernels/cpu/gemm_kernels.h"
#include "kernels/cpu/gemm_tile_avx512.h"
#include "tensor/quants.h"

namespace lm::kernels::avx512 {
namespace {

constexpr int kRows = 4, kToks = 4;

// Bit j of the little-endian uint32 qh as 0x10 in byte j (the fifth bit of element j).
__m256i fifth_bits(const uint8_t* qh) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  const __mmask32 m = _cvtu32_mask32(h);
  return _mm256_maskz_mov_epi8(m, _mm256_set1_epi8(0x10));
}

template <class Block>
__m512i nibble_levels(const Block* b, bool two) {
  const __m256i hi = two ? unpack_nibbles_32(b[1].qs) : _mm256_setzero_si256();
  return _mm512_inserti64x4(_mm512_castsi256_si512(unpack_nibbles_32(b[0].qs)), hi, 1);
}

template <class Block>
__m512i five_bit_levels(const Block* b, bool two) {
  const __m256i lo = _mm256_or_si256(unpack_nibbles_32(b[0].qs), fifth_bits(b[0].qh));
  const __m256i hi = two ? _mm256_or_si256(unpack_nibbles_32(b[1].qs), fifth_bits(b[1].qh))
                         : _mm256_setzero_si256();
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

struct Q4_1W {
  using Block = BlockQ4_1;
  using XBlock = BlockQ8_1;
  static constexpr bool kHasMin = true;
  static constexpr int8_t kBias = 0;
  static __m512i levels(const Block* b, bool two) { return nibble_levels(b, two); }
};

struct Q5_1W {
  using Block = BlockQ5_1;
  using XBlock = BlockQ8_1;
  static constexpr bool kHasMin = true;
  static constexpr int8_t kBias = 0;
  static __m512i levels(const Block* b, bool two) { return five_bit_levels(b, two); }
};

struct Q5_0W {
  using Block = BlockQ5_0;
  using XBlock = BlockQ8_0;
  static constexpr bool kHasMin = false;
  static constexpr int8_t kBias = 16;
  static __m512i levels(const Block* b, bool two) { return five_bit_levels(b, two); }
};

// ---- super-blocks ---------------------------------------------------------------------------

// int16 shift counts: s0 in the low 256 bits, s1 in the high.
__m512i shift_halves(int s0, int s1) {
  return _mm512_inserti64x4(_mm512_set1_epi16(static_cast<int16_t>(s0)),
                            _mm256_set1_epi16(static_cast<int16_t>(s1)), 1);
}

// Q2_K / Q3_K chunk c = 2 h + g2: bit groups g = 2 g2, 2 g2 + 1 of half h (elements 128 h + 64 g2
// + 0..63): bits 2 g of qs[32 h + l].
__m512i two_bits(const uint8_t* qs, int c) {
  const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * (c / 2)));
  const __m512i qq = _mm512_inserti64x4(_mm512_castsi256_si512(q), q, 1);
  const int g = 2 * (c % 2);
  return _mm512_and_si512(_mm512_srlv_epi16(qq, shift_halves(2 * g, 2 * g + 2)), _mm512_set1_epi8(3));
}

struct Q2KRow {
  const BlockQ2_K* b;
  __m512i sc512;
  void init(const BlockQ2_K* blk) {
    b = blk;
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b->scales));
    sc512 = _mm512_zextsi256_si512(_mm256_cvtepu8_epi16(_mm_and_si128(raw, _mm_set1_epi8(0x0F))));
  }
  __m512i levels(int c) const { return two_bits(b->qs, c); }
  __m512i scales(int c) const { return scales_16(sc512, c); }
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
  __m256i sc16;
  __m512i sc512;
  void init(const BlockQ3_K* blk) {
    b = blk;
    alignas(32) int16_t sc[16];
    avx2::unpack_q3_k_scales(b->scales, sc);
    sc16 = _mm256_load_si256(reinterpret_cast<const __m256i*>(sc));
    sc512 = _mm512_zextsi256_si512(sc16);
  }
  // Bit 2 of the element at half h, group g, position l: bit 4 h + g of hmask[l].
  __m512i levels(int c) const {
    const __m256i hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->hmask));
    const __m512i hh = _mm512_inserti64x4(_mm512_castsi256_si512(hm), hm, 1);
    const int bit = 4 * (c / 2) + 2 * (c % 2);
    const __m512i hb = _mm512_and_si512(_mm512_srlv_epi16(hh, shift_halves(bit, bit + 1)), _mm512_set1_epi8(1));
    return _mm512_or_si512(two_bits(b->qs, c), _mm512_slli_epi16(hb, 2));
  }
  __m512i scales(int c) const { return scales_16(sc512, c); }
  float finish(int32_t sumi, const BlockQ8_K& y) const {
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.bsums));
    const int32_t off = 4 * hsum_epi32(_mm256_madd_epi16(bs, sc16));
    return half_to_float(b->d) * y.d * static_cast<float>(sumi - off);
  }
};

// Q5_K: as Q4_K (chunk c: low nibbles of qs[32 c ..] then high); fifth bits 2 c and 2 c + 1 of qh[l].
struct Q5KRow {
  const BlockQ5_K* b;
  uint8_t sc[8], m[8];
  __m256i mins16;
  void init(const BlockQ5_K* blk) {
    b = blk;
    unpack_scales_k4(b->scales, sc, m);
    mins16 = mins_k4(m);
  }
  __m512i levels(int c) const {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qs + 32 * c));
    const __m256i lo4 = _mm256_set1_epi8(0x0F);
    const __m512i nib = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(q, lo4)),
                                           _mm256_and_si256(_mm256_srli_epi16(q, 4), lo4), 1);
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qh));
    const __m512i hh = _mm512_inserti64x4(_mm512_castsi256_si512(h), h, 1);
    const __m512i hb = _mm512_and_si512(_mm512_srlv_epi16(hh, shift_halves(2 * c, 2 * c + 1)), _mm512_set1_epi8(1));
    return _mm512_or_si512(nib, _mm512_slli_epi16(hb, 4));
  }
  __m512i scales(int c) const {
    return _mm512_inserti64x4(_mm512_set1_epi16(sc[2 * c]), _mm256_set1_epi16(sc[2 * c + 1]), 1);
  }
  float finish(int32_t sumi, const BlockQ8_K& y) const {
    return finish_q45_k(sumi, mins16, b->d, b->dmin, y);
  }
};

}  // namespace

void gemm_q4_1_q8_1(const GemmArgs& a) { gemm_grid<LegacyTile<Q4_1W>::Tile, kRows, kToks>(a); }
void gemm_q5_0_q8_0(const GemmArgs& a) { gemm_grid<LegacyTile<Q5_0W>::Tile, kRows, kToks>(a); }
void gemm_q5_1_q8_1(const GemmArgs& a) { gemm_grid<LegacyTile<Q5_1W>::Tile, kRows, kToks>(a); }
void gemm_q2_k_q8_k(const GemmArgs& a) { gemm_grid<KTile<Q2KRow, BlockQ2_K>::Tile, kRows, kToks>(a); }
void gemm_q3_k_q8_k(const GemmArgs& a) { gemm_grid<KTile<Q3KRow, BlockQ3_K>::Tile, kRows, kToks>(a); }
void gemm_q5_k_q8_k(const GemmArgs& a) { gemm_grid<KTile<Q5KRow, BlockQ5_K>::Tile, kRows, kToks>(a); }

}  // namespace lm::kernels::avx512
