// AVX-512 VNNI GEMM tiles (see gemm_tile.h and type_kernels.h GemmArgs): 4 weight rows x 4
// tokens per tile, 16 accumulators in registers; each weight block is unpacked once per tile and
// used for 4 tokens, each activation block loaded once and used for 4 rows.
//
// Q4_0 / Q8_0 (Q8_0 activations): two blocks per zmm. Weights enter VPDPBUSD as unsigned bytes
// (Q4_0 levels 0..15; Q8_0 quants + 128), the offset (8 or 128) * sum(y) is computed once per
// token and block pair and is the starting value of the VPDPBUSD accumulator, so a (row, token)
// pair costs VPDPBUSD + convert + scale multiply + FMA per 64 elements. The float sum over blocks
// runs in the 16 lanes and is reduced at the end in a fixed order.
//
// Q4_K / Q6_K (Q8_K activations): 64 elements per zmm, VPMADDUBSW then VPMADDWD with the
// sub-block scales, exact int32 sums per super-block, then the ref's per-block float formula in
// the ref's block order: bit-identical to ref:: (and so to the vec_dot kernels).
// Compiled with the AVX-512 flags (CMakeLists.txt): call only through dispatch.cpp.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/gemm_tile_avx512.h"
#include "kernels/cpu/simd_kernels.h"
#include "tensor/quants.h"

namespace lm::kernels::avx512 {
namespace {

// Weight formats of the 32-element family: unsigned levels of blocks b[0] and (when two) b[1],
// and the offset subtracted from every level.
struct Q4_0W {
  using Block = BlockQ4_0;
  using XBlock = BlockQ8_0;
  static constexpr bool kHasMin = false;
  static constexpr int8_t kBias = 8;
  static __m512i levels(const Block* b, bool two) {
    const __m256i hi = two ? unpack_nibbles_32(b[1].qs) : _mm256_setzero_si256();
    return _mm512_inserti64x4(_mm512_castsi256_si512(unpack_nibbles_32(b[0].qs)), hi, 1);
  }
};

struct Q8_0W {
  using Block = BlockQ8_0;
  using XBlock = BlockQ8_0;
  static constexpr bool kHasMin = false;
  static constexpr int8_t kBias = -128;  // 0x80: the levels are quants + 128, as unsigned bytes
  static __m512i levels(const Block* b, bool two) {
    return _mm512_xor_si512(load_pair(b[0].qs, two ? b[1].qs : nullptr), _mm512_set1_epi8(kBias));
  }
};

// ---- k-quants -------------------------------------------------------------------------------

// Per-row data of one super-block for the k-quant tiles: the levels of 64-element chunk c as
// unsigned bytes, the int16 scale of each VPMADDUBSW lane of that chunk, the per-token integer
// correction (mins or offset) and the final float formula.
struct Q4KRow {
  const BlockQ4_K* b;
  uint8_t sc[8], m[8];
  __m256i mins16;  // int16 lane k = m[k / 2], against the 16 bsums
  void init(const BlockQ4_K* blk) {
    b = blk;
    unpack_scales_k4(b->scales, sc, m);
    mins16 = mins_k4(m);
  }
  __m512i levels(int c) const {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qs + 32 * c));
    const __m256i lo4 = _mm256_set1_epi8(0x0F);
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(q, lo4)),
                              _mm256_and_si256(_mm256_srli_epi16(q, 4), lo4), 1);
  }
  __m512i scales(int c) const {
    return _mm512_inserti64x4(_mm512_set1_epi16(sc[2 * c]), _mm256_set1_epi16(sc[2 * c + 1]), 1);
  }
  // The ref's formula (kernels/ref/quant_ref_k.cpp dot_block_q45_k).
  float finish(int32_t sumi, const BlockQ8_K& y) const {
    return finish_q45_k(sumi, mins16, b->d, b->dmin, y);
  }
};

struct Q6KRow {
  const BlockQ6_K* b;
  __m256i sc16;   // the 16 scales as int16
  __m512i sc512;  // the same in the low half of a zmm (for VPERMW)
  void init(const BlockQ6_K* blk) {
    b = blk;
    sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b->scales)));
    sc512 = _mm512_zextsi256_si512(sc16);
  }
  // Chunk c = 2 h + part: elements 128 h + 64 part + 0..63 (low nibbles of ql for part 0, high
  // for part 1; bits 4-5 from qh).
  __m512i levels(int c) const {
    const int h = c / 2;
    const __m512i l = _mm512_loadu_si512(b->ql + 64 * h);
    const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qh + 32 * h));
    const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
    if (c % 2 == 0) {
      const __m512i hi = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_slli_epi16(hb, 4)),
                                            _mm256_slli_epi16(hb, 2), 1);
      return _mm512_or_si512(_mm512_and_si512(l, low4), _mm512_and_si512(hi, bits45));
    }
    const __m512i hi = _mm512_inserti64x4(_mm512_castsi256_si512(hb), _mm256_srli_epi16(hb, 2), 1);
    return _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), low4),
                           _mm512_and_si512(hi, bits45));
  }
  __m512i scales(int c) const { return scales_16(sc512, c); }
  // The ref's formula (vec_dot_q6_k_q8_k): levels are q + 32, so subtract 32 * sum sc_j bsum_j.
  float finish(int32_t sumi, const BlockQ8_K& y) const {
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.bsums));
    const int32_t off = 32 * hsum_epi32(_mm256_madd_epi16(bs, sc16));
    return half_to_float(b->d) * y.d * static_cast<float>(sumi - off);
  }
};

}  // namespace

void gemm_q4_0_q8_0(const GemmArgs& a) { gemm_grid<LegacyTile<Q4_0W>::Tile, 4, 4>(a); }
void gemm_q8_0_q8_0(const GemmArgs& a) { gemm_grid<LegacyTile<Q8_0W>::Tile, 4, 4>(a); }
void gemm_q4_k_q8_k(const GemmArgs& a) { gemm_grid<KTile<Q4KRow, BlockQ4_K>::Tile, 4, 4>(a); }
void gemm_q6_k_q8_k(const GemmArgs& a) { gemm_grid<KTile<Q6KRow, BlockQ6_K>::Tile, 4, 4>(a); }

}  // namespace lm::kernels::avx512
