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

#include "kernels/cpu/gemm_tile.h"
#include "kernels/cpu/simd_kernels.h"
#include "tensor/quants.h"

namespace lm::kernels::avx512 {
namespace {

float half_to_float(fp16_t h) { return _cvtsh_ss(h); }

// Two 32-byte rows in one register (the second zero when absent).
__m512i load_pair(const int8_t* p0, const int8_t* p1) {
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p0));
  const __m256i hi = p1 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p1))
                        : _mm256_setzero_si256();
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// Lanes 0-7 = d0, lanes 8-15 = d1.
__m512 scale_pair(float d0, float d1) {
  return _mm512_insertf32x8(_mm512_set1_ps(d0), _mm256_set1_ps(d1), 1);
}

// The 32 nibbles of a Q4_0 block in element order (low nibbles, then high) as bytes 0..15.
__m256i unpack_nibbles_32(const uint8_t* qs) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(x, 4), x);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// Weight formats of the 32-element family: unsigned levels of blocks b[0] and (when two) b[1],
// and the offset subtracted from every level.
struct Q4_0W {
  using Block = BlockQ4_0;
  static constexpr int8_t kBias = 8;
  static __m512i levels(const Block* b, bool two) {
    const __m256i hi = two ? unpack_nibbles_32(b[1].qs) : _mm256_setzero_si256();
    return _mm512_inserti64x4(_mm512_castsi256_si512(unpack_nibbles_32(b[0].qs)), hi, 1);
  }
};

struct Q8_0W {
  using Block = BlockQ8_0;
  static constexpr int8_t kBias = -128;  // 0x80: the levels are quants + 128, as unsigned bytes
  static __m512i levels(const Block* b, bool two) {
    return _mm512_xor_si512(load_pair(b[0].qs, two ? b[1].qs : nullptr), _mm512_set1_epi8(kBias));
  }
};

// One block pair (i, i + 1), or the last odd block i when !kTwo, into acc[R][T].
template <class W, int R, int T, bool kTwo>
[[gnu::always_inline]] inline void legacy_step(int64_t i, const TilePtrs& p, __m512 (&acc)[R][T]) {
  const __m512i zero = _mm512_setzero_si512(), bias = _mm512_set1_epi8(W::kBias);
  __m512i qa[R];
  __m512 dw[R];
  for (int r = 0; r < R; ++r) {
    const auto* b = reinterpret_cast<const typename W::Block*>(p.w + p.w_stride * r) + i;
    qa[r] = W::levels(b, kTwo);
    dw[r] = scale_pair(half_to_float(b[0].d), kTwo ? half_to_float(b[1].d) : 0.0f);
  }
  for (int t = 0; t < T; ++t) {
    const auto* b = reinterpret_cast<const BlockQ8_0*>(p.x + p.x_stride * t) + i;
    const __m512i qb = load_pair(b[0].qs, kTwo ? b[1].qs : nullptr);
    const __m512i neg_off = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, bias, qb));
    const __m512 dx = scale_pair(half_to_float(b[0].d), kTwo ? half_to_float(b[1].d) : 0.0f);
    for (int r = 0; r < R; ++r) {
      const __m512 s = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(neg_off, qa[r], qb));
      acc[r][t] = _mm512_fmadd_ps(_mm512_mul_ps(dw[r], dx), s, acc[r][t]);
    }
  }
}

template <class W>
struct LegacyTile {
  template <int R, int T>
  struct Tile {
    static void run(int64_t n, const TilePtrs& p) {
      __m512 acc[R][T];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
      const int64_t nb = n / QK8_0;
      int64_t i = 0;
      for (; i + 2 <= nb; i += 2) legacy_step<W, R, T, true>(i, p, acc);
      if (i < nb) legacy_step<W, R, T, false>(i, p, acc);
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) p.y[t * p.ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
    }
  };
};

// ---- k-quants -------------------------------------------------------------------------------

int32_t hsum_epi32(__m256i v) { return _mm512_reduce_add_epi32(_mm512_zextsi256_si512(v)); }

// The 6-bit scales and mins of a Q4_K block (layout in tensor/quants.h).
void unpack_scales_k4(const uint8_t* q, uint8_t* sc, uint8_t* m) {
  uint32_t u[3];
  std::memcpy(u, q, 12);
  const uint32_t lo6 = 0x3f3f3f3fu, lo4 = 0x0f0f0f0fu, lo2 = 0x03030303u;
  const uint32_t out[4] = {u[0] & lo6, (u[2] & lo4) | (((u[0] >> 6) & lo2) << 4),
                           u[1] & lo6, ((u[2] >> 4) & lo4) | (((u[1] >> 6) & lo2) << 4)};
  std::memcpy(sc, out, 8);
  std::memcpy(m, out + 2, 8);
}

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
    const __m128i m8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(m));
    mins16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
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
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.bsums));
    const int32_t summ = hsum_epi32(_mm256_madd_epi16(bs, mins16));
    return y.d * (half_to_float(b->d) * static_cast<float>(sumi) -
                  half_to_float(b->dmin) * static_cast<float>(summ));
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
  // int16 lane k of chunk c belongs to sub-block 4 c + k / 8.
  __m512i scales(int c) const {
    const __m512i lane = _mm512_srli_epi16(
        _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14,
                         13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), 3);
    return _mm512_permutexvar_epi16(_mm512_add_epi16(lane, _mm512_set1_epi16(4 * c)), sc512);
  }
  // The ref's formula (vec_dot_q6_k_q8_k): levels are q + 32, so subtract 32 * sum sc_j bsum_j.
  float finish(int32_t sumi, const BlockQ8_K& y) const {
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
      __m512i acc[R][T];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_si512();
      for (int c = 0; c < QK_K / 64; ++c) {
        __m512i q[R], s[R];
        for (int r = 0; r < R; ++r) {
          q[r] = rows[r].levels(c);
          s[r] = rows[r].scales(c);
        }
        for (int t = 0; t < T; ++t) {
          const __m512i yv = _mm512_loadu_si512(ys[t]->qs + 64 * c);
          for (int r = 0; r < R; ++r) {
            acc[r][t] = _mm512_add_epi32(acc[r][t], _mm512_madd_epi16(_mm512_maddubs_epi16(q[r], yv), s[r]));
          }
        }
      }
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t)
          sum[r][t] += rows[r].finish(_mm512_reduce_add_epi32(acc[r][t]), *ys[t]);
    }
  };
};

}  // namespace

void gemm_q4_0_q8_0(const GemmArgs& a) { gemm_grid<LegacyTile<Q4_0W>::Tile, 4, 4>(a); }
void gemm_q8_0_q8_0(const GemmArgs& a) { gemm_grid<LegacyTile<Q8_0W>::Tile, 4, 4>(a); }
void gemm_q4_k_q8_k(const GemmArgs& a) { gemm_grid<KTile<Q4KRow, BlockQ4_K>::Tile, 4, 4>(a); }
void gemm_q6_k_q8_k(const GemmArgs& a) { gemm_grid<KTile<Q6KRow, BlockQ6_K>::Tile, 4, 4>(a); }

}  // namespace lm::kernels::avx512
