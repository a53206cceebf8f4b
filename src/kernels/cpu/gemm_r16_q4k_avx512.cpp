// AVX-512 VNNI GEMM over the repacked Q4_K layout of repack.h against Q8_K activations: a tile
// is one group of 16 weight rows (row j in zmm lane j) x up to kToks tokens; n_tok == 1 is the
// decode path. The low and high nibbles of the same bytes are sub-blocks 2 jp and 2 jp + 1: each zmm
// of them (4 bytes of every row) is loaded once, masked twice and reused for every token of the
// tile; a token costs 8 VPDPBUSD per sub-block against broadcast activation bytes. Nothing is
// shifted per element: the high nibbles are used in place (v & 0xF0 = 16 q), and the even
// (low-nibble) sub-blocks' scales are taken x16 instead, so that the scaled sum is exactly
// 16 x sumi and one arithmetic shift recovers it. The mins term is 4 VPDPWSSD of [m_2k, m_2k+1]
// word pairs against the activation's paired 32-element sums (computed once per call).
//
// Bit-identical to ref::vec_dot_q4_k_q8_k: the integer sums (sumi, summ) of a super-block are
// exact whatever their order (|16 sumi| < 2^29), and the float formula per super-block,
// y.d * (d * (float)sumi - dmin * (float)summ), and the sum over super-blocks are the ref's
// operations in the ref's order, lane by lane (no FMA: -ffp-contract=off in CMakeLists.txt).
// Compiled with the AVX-512 flags (CMakeLists.txt): call only through repack.cpp's dispatch.
// No std:: containers here (their inline code would be compiled with AVX-512 flags).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/gemm_r16_avx512.h"
#include "kernels/cpu/repack.h"
#include "tensor/quants.h"

namespace lm::kernels::avx512 {
namespace {

constexpr int kToks = 8;
constexpr size_t kBlockBytes = 16 * sizeof(BlockQ4_K);  // one super-block of a group
// Software prefetch distance: the next super-block (the next group's first one after a group's
// last: the groups of a thread's rows are one contiguous stream). The hardware prefetcher stops
// at 4 KiB pages; this keeps the decode stream going across them (measured: +10-20% GB/s).
constexpr size_t kPrefetchAhead = kBlockBytes;
constexpr size_t kScalesOff = 64, kQsOff = 256;           // repack.h: d[16], dmin[16], scales, qs

// acc + VPDPBUSD(w, 4 bytes at p broadcast) with the broadcast folded into the instruction as
// a {1to16} memory operand (GCC 12 emits a separate VPBROADCASTD for the intrinsic form: one
// more uop per instruction, and this is the kernel's inner loop).
inline __m512i dpbusd_bcast(__m512i acc, __m512i w, const void* p) {
  __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*static_cast<const int32_t*>(p)));
  return acc;
}

// The same, starting from zero (an xor zeroing idiom: no register copy of a zero vector).
inline __m512i dpbusd_bcast0(__m512i w, const void* p) {
  __m512i acc;
  __asm__("vpxord %0, %0, %0\n\tvpdpbusd %2%{1to16%}, %1, %0"
          : "=&v"(acc)
          : "v"(w), "m"(*static_cast<const int32_t*>(p)));
  return acc;
}

// acc + VPDPWSSD(w, the int16 pair at p broadcast), folded as dpbusd_bcast.
inline __m512i dpwssd_bcast(__m512i acc, __m512i w, const void* p) {
  __asm__("vpdpwssd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*static_cast<const int32_t*>(p)));
  return acc;
}

inline __m512i and_c(__m512i v, int32_t c) { return _mm512_and_si512(v, _mm512_set1_epi32(c)); }
inline __m512i or_(__m512i a, __m512i b) { return _mm512_or_si512(a, b); }
inline __m512i shl(__m512i v, int n) { return _mm512_slli_epi32(v, static_cast<unsigned>(n)); }
inline __m512i shr(__m512i v, int n) { return _mm512_srli_epi32(v, static_cast<unsigned>(n)); }

// Scale of sub-block j (0..7) of the 16 rows as int32 lanes, x16 for even j (the low nibbles).
// s0, s2: the rows' packed scale bytes 0..3 and 8..11 (repack.h scales[0], scales[2]).
//   j < 4: sc = byte j of s0 & 63;  j >= 4: sc = (byte j-4 of s2 & 15) | (byte j-4 of s0 >> 6) << 4
inline __m512i scale_x(int j, __m512i s0, __m512i s2) {
  switch (j) {
    case 0: return and_c(shl(s0, 4), 0x3F0);
    case 1: return and_c(shr(s0, 8), 0x3F);
    case 2: return and_c(shr(s0, 12), 0x3F0);
    case 3: return and_c(shr(s0, 24), 0x3F);
    case 4: return or_(and_c(shl(s2, 4), 0xF0), and_c(shl(s0, 2), 0x300));
    case 5: return or_(and_c(shr(s2, 8), 0x0F), and_c(shr(s0, 10), 0x30));
    case 6: return or_(and_c(shr(s2, 12), 0xF0), and_c(shr(s0, 14), 0x300));
    default: return or_(and_c(shr(s2, 24), 0x0F), and_c(shr(s0, 26), 0x30));
  }
}

// The mins of the 16 rows as int16 pairs per lane: mp[k] = [m_2k, m_2k+1] (low, high word).
// s1, s2: the rows' packed scale bytes 4..7 and 8..11 (repack.h scales[1], scales[2]).
//   j < 4: m_j = byte j of s1 & 63;  j >= 4: m_j = (byte j-4 of s2 >> 4) | (byte j-4 of s1 >> 6) << 4
inline void min_pairs(__m512i s1, __m512i s2, __m512i (&mp)[4]) {
  // VPSHUFB: bytes b, b + 1 of each dword to its two words, zero-extended.
  auto words = [](int b) {
    auto pair = [b](int d) { return static_cast<int>(0x80008000u | (4u * d + b + 1) << 16 | (4u * d + b)); };
    return _mm512_set4_epi32(pair(3), pair(2), pair(1), pair(0));
  };
  for (int h = 0; h < 2; ++h) {  // h = 0: m0 m1 (and m4 m5), h = 1: m2 m3 (and m6 m7)
    const __m512i idx = words(2 * h);
    const __m512i u = _mm512_shuffle_epi8(s1, idx), v = _mm512_shuffle_epi8(s2, idx);
    mp[h] = and_c(u, 0x003F003F);
    // (v >> 4) | ((u >> 2) & 0x30): VPTERNLOG A | (B & C) = 0xF8.
    mp[h + 2] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(v, 4), _mm512_srli_epi16(u, 2),
                                          _mm512_set1_epi32(0x00300030), 0xF8);
  }
}

// The activation's sums per sub-block of 32, s_j = bsums[2 j] + bsums[2 j + 1], as int16 pairs:
// out[k] = [s_2k, s_2k+1] (low, high word), matching min_pairs.
inline void bsum_pairs(const BlockQ8_K& xb, int32_t (&out)[4]) {
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.bsums));
  const __m256i s = _mm256_madd_epi16(b, _mm256_set1_epi16(1));  // int32 sums of the 8 sub-blocks
  const __m256i p = _mm256_packs_epi32(s, s);                      // per 128-bit half: s0..3 s0..3
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm256_castsi256_si128(p));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out + 2), _mm256_extracti128_si256(p, 1));
}

// sumi16[t] = 16 * sum_j sc_j (q_j . y_j) of super-block blk for token t, exact in int32.
// Sub-blocks 2 jp (low nibbles) and 2 jp + 1 (high) share their bytes: each zmm of them is loaded
// once and masked twice. The dot products run token-inner, so consecutive VPDPBUSD are
// independent (2 T chains in flight: the instruction's latency is hidden).
template <int T>
inline void level_sums(const uint8_t* blk, const BlockQ8_K* const (&xb)[T], __m512i (&sumi16)[T]) {
  const __m512i s0 = _mm512_loadu_si512(blk + kScalesOff);
  const __m512i s2 = _mm512_loadu_si512(blk + kScalesOff + 128);
  const __m512i lo4 = _mm512_set1_epi8(0x0F), hi4 = _mm512_set1_epi8(static_cast<char>(0xF0));
  for (int t = 0; t < T; ++t) sumi16[t] = _mm512_setzero_si512();
#pragma GCC unroll 4
  for (int jp = 0; jp < 4; ++jp) {
    const uint8_t* qs = blk + kQsOff + 64 * 8 * jp;
    __m512i lo[T], hi[T];
    const __m512i v0 = _mm512_loadu_si512(qs);
    const __m512i w0l = _mm512_and_si512(v0, lo4), w0h = _mm512_and_si512(v0, hi4);
    for (int t = 0; t < T; ++t) {
      lo[t] = dpbusd_bcast0(w0l, xb[t]->qs + 64 * jp);
      hi[t] = dpbusd_bcast0(w0h, xb[t]->qs + 64 * jp + 32);
    }
#pragma GCC unroll 8
    for (int k = 1; k < 8; ++k) {
      const __m512i v = _mm512_loadu_si512(qs + 64 * k);
      const __m512i wl = _mm512_and_si512(v, lo4), wh = _mm512_and_si512(v, hi4);
      for (int t = 0; t < T; ++t) {
        lo[t] = dpbusd_bcast(lo[t], wl, xb[t]->qs + 64 * jp + 4 * k);
        hi[t] = dpbusd_bcast(hi[t], wh, xb[t]->qs + 64 * jp + 32 + 4 * k);
      }
    }
    const __m512i scl = scale_x(2 * jp, s0, s2), sch = scale_x(2 * jp + 1, s0, s2);
    for (int t = 0; t < T; ++t) {
      sumi16[t] = _mm512_add_epi32(
          sumi16[t], _mm512_add_epi32(_mm512_mullo_epi32(lo[t], scl), _mm512_mullo_epi32(hi[t], sch)));
    }
  }
}

// The activation data of a (token, super-block) (gemm_r16_avx512.h's Pre): its paired 32-element
// sums for the mins term, computed once per call instead of once per group.
struct Pre {
  struct Entry {
    int32_t bp[4];
  };
  static constexpr int64_t kBlock = QK_K;
  static constexpr int64_t kEntries = 2048;
  using Block = BlockQ8_K;
  static void entry(const BlockQ8_K& xb, Entry& out) { bsum_pairs(xb, out.bp); }
};

// summ[t] = sum_j m_j (bsums[2 j] + bsums[2 j + 1]) of super-block blk for token t; pre: the
// token's entry of this super-block at pre[t * nb].
template <int T>
inline void min_sums(const uint8_t* blk, const Pre::Entry* pre, int64_t nb, __m512i (&summ)[T]) {
  __m512i mp[4];
  min_pairs(_mm512_loadu_si512(blk + kScalesOff + 64), _mm512_loadu_si512(blk + kScalesOff + 128), mp);
  for (int t = 0; t < T; ++t) {
    const int32_t* bp = pre[t * nb].bp;
    summ[t] = _mm512_madd_epi16(mp[0], _mm512_set1_epi32(bp[0]));
    for (int k = 1; k < 4; ++k) summ[t] = dpwssd_bcast(summ[t], mp[k], bp + k);
  }
}

// One group (`rows` of its 16 lanes valid) x T tokens (x: the first token's Q8_K row).
template <int T>
void tile(const uint8_t* g, int64_t nb, const uint8_t* x, size_t x_stride, const Pre::Entry* pre,
          float* y, int64_t ldy, int rows) {
  // The accumulators live in memory: one load and store per super-block frees 8 registers for the
  // dot products' chains.
  alignas(64) float acc[T][16];
  for (int t = 0; t < T; ++t) _mm512_store_ps(acc[t], _mm512_setzero_ps());
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = g + kBlockBytes * static_cast<size_t>(b);
    // Past the end of the matrix this is a hint to an unmapped or foreign line: harmless (a
    // prefetch never faults); the address is formed as an integer, not by pointer arithmetic.
    const uintptr_t ahead = reinterpret_cast<uintptr_t>(blk) + kPrefetchAhead;
    for (size_t l = 0; l < kBlockBytes; l += 64) _mm_prefetch(reinterpret_cast<const char*>(ahead + l), _MM_HINT_T0);
    const BlockQ8_K* xb[T];
    for (int t = 0; t < T; ++t) xb[t] = reinterpret_cast<const BlockQ8_K*>(x + x_stride * static_cast<size_t>(t)) + b;
    __m512i sumi16[T], summ[T];
    level_sums<T>(blk, xb, sumi16);
    min_sums<T>(blk, pre + b, nb, summ);
    // The ref: sum += y.d * (d * (float)sumi - dmin * (float)summ), lane by lane.
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
    const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 32)));
    for (int t = 0; t < T; ++t) {
      const __m512 a = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_srai_epi32(sumi16[t], 4)));
      const __m512 s = _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(summ[t]));
      const __m512 r = _mm512_mul_ps(_mm512_set1_ps(xb[t]->d), _mm512_sub_ps(a, s));
      _mm512_store_ps(acc[t], _mm512_add_ps(_mm512_load_ps(acc[t]), r));
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

void gemm_r16_q4_k_q8_k(const GemmArgs& a) { gemm_groups<Pre, Tile, kToks>(a, a.n / QK_K); }

}  // namespace lm::kernels::avx512
