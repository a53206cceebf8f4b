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
#include "kernels/cpu/gemm_tile.h"
#include "kernels/cpu/simd_kernels.h"
#include "tensor/quants.h"

namespace lm::kernels::avx2 {
namespace {

constexpr int kRows = 2, kToks = 4;

struct Q4_0W {
  using Block = BlockQ4_0;
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
  static __m256i levels(const Block& b) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
  }
  static __m256i dot(__m256i a, __m256i y, __m256i) { return dot_i8_i8(a, y); }
  static __m256i offset(__m256i) { return _mm256_setzero_si256(); }
};

template <class W>
struct LegacyTile {
  template <int R, int T>
  struct Tile {
    static void run(int64_t n, const TilePtrs& p) {
      __m256 acc[R][T];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
      for (int64_t i = 0; i < n / QK8_0; ++i) {
        __m256i qa[R];
        float dw[R];
        for (int r = 0; r < R; ++r) {
          const auto& b = reinterpret_cast<const typename W::Block*>(p.w + p.w_stride * r)[i];
          qa[r] = W::levels(b);
          dw[r] = half_to_float(b.d);
        }
        for (int t = 0; t < T; ++t) {
          const auto& b = reinterpret_cast<const BlockQ8_0*>(p.x + p.x_stride * t)[i];
          const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
          const __m256i off = W::offset(qb);
          const float dx = half_to_float(b.d);
          for (int r = 0; r < R; ++r) {
            const __m256 s = _mm256_cvtepi32_ps(W::dot(qa[r], qb, off));
            acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(dw[r] * dx), s, acc[r][t]);
          }
        }
      }
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) p.y[t * p.ldy + r] = hsum_ps(acc[r][t]);
    }
  };
};

// ---- k-quants -------------------------------------------------------------------------------

void unpack_scales_k4(const uint8_t* q, uint8_t* sc, uint8_t* m) {
  uint32_t u[3];
  std::memcpy(u, q, 12);
  const uint32_t lo6 = 0x3f3f3f3fu, lo4 = 0x0f0f0f0fu, lo2 = 0x03030303u;
  const uint32_t out[4] = {u[0] & lo6, (u[2] & lo4) | (((u[0] >> 6) & lo2) << 4),
                           u[1] & lo6, ((u[2] >> 4) & lo4) | (((u[1] >> 6) & lo2) << 4)};
  std::memcpy(sc, out, 8);
  std::memcpy(m, out + 2, 8);
}

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
    const __m128i m8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(m));
    const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.bsums));
    const int32_t summ = hsum_epi32(_mm256_madd_epi16(bs, mins16));
    return y.d * (half_to_float(b->d) * static_cast<float>(sumi) -
                  half_to_float(b->dmin) * static_cast<float>(summ));
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

template <class Row, class Block>
struct KTile {
  template <int R, int T>
  struct Tile {
    static void run(int64_t n, const TilePtrs& p) {
      float sum[R][T] = {};
      for (int64_t i = 0; i < n / QK_K; ++i) superblock(i, p, sum);
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) p.y[t * p.ldy + r] = sum[r][t];
    }
    static void superblock(int64_t i, const TilePtrs& p, float (&sum)[R][T]) {
      Row rows[R];
      for (int r = 0; r < R; ++r) rows[r].init(reinterpret_cast<const Block*>(p.w + p.w_stride * r) + i);
      const BlockQ8_K* ys[T];
      for (int t = 0; t < T; ++t) ys[t] = reinterpret_cast<const BlockQ8_K*>(p.x + p.x_stride * t) + i;
      __m256i acc[R][T];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_si256();
      for (int c = 0; c < QK_K / 32; ++c) {
        __m256i q[R], s[R];
        for (int r = 0; r < R; ++r) {
          q[r] = rows[r].levels(c);
          s[r] = rows[r].scales(c);
        }
        for (int t = 0; t < T; ++t) {
          const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ys[t]->qs + 32 * c));
          for (int r = 0; r < R; ++r) {
            acc[r][t] = _mm256_add_epi32(acc[r][t], _mm256_madd_epi16(_mm256_maddubs_epi16(q[r], yv), s[r]));
          }
        }
      }
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) sum[r][t] += rows[r].finish(hsum_epi32(acc[r][t]), *ys[t]);
    }
  };
};

}  // namespace

void gemm_q4_0_q8_0(const GemmArgs& a) { gemm_grid<LegacyTile<Q4_0W>::Tile, kRows, kToks>(a); }
void gemm_q8_0_q8_0(const GemmArgs& a) { gemm_grid<LegacyTile<Q8_0W>::Tile, kRows, kToks>(a); }
void gemm_q4_k_q8_k(const GemmArgs& a) { gemm_grid<KTile<Q4KRow, BlockQ4_K>::Tile, kRows, kToks>(a); }
void gemm_q6_k_q8_k(const GemmArgs& a) { gemm_grid<KTile<Q6KRow, BlockQ6_K>::Tile, kRows, kToks>(a); }

}  // namespace lm::kernels::avx2
