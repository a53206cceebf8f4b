// AVX-512 decode kernels (one token: n_tok == 1) for the k-quants, through the GemmFn
// interface (type_kernels.h matvec_kernel). Decode reads every weight once per token, so these
// are built to stream: 4 weight rows at a time, each activation super-block (Q8_K, 292 bytes)
// loaded once into registers for the 4 rows, the sub-block scales applied with one VPERMW per 64
// elements, the -32 / min corrections folded into the integer accumulators, and the 4 rows'
// horizontal sums and per-block float formulas done together in one xmm (lane r = row r).
//
// Bit-identical to ref:: (and so to the vec_dot and GEMM kernels): the integer sum of a
// super-block is exact whatever its order, and the float formula per super-block and the sum
// over super-blocks are the ref's operations in the ref's order, lane by lane (IEEE, no FMA:
// -ffp-contract=off in CMakeLists.txt).
// Compiled with the AVX-512 flags (CMakeLists.txt): call only through dispatch.cpp.
#include <immintrin.h>

#include "kernels/cpu/simd_kernels.h"
#include "tensor/quants.h"

namespace lm::kernels::avx512 {
namespace {

constexpr int kRows = 4;

// The four row sums of a[0..3] (16 int32 each) as lanes 0..3.
__m128i hsum4_epi32(const __m512i (&a)[kRows]) {
  __m256i h[kRows];
  for (int r = 0; r < kRows; ++r)
    h[r] = _mm256_add_epi32(_mm512_castsi512_si256(a[r]), _mm512_extracti64x4_epi64(a[r], 1));
  const __m256i h01 = _mm256_hadd_epi32(h[0], h[1]);  // per 128-bit half: r0 r0 r1 r1
  const __m256i h23 = _mm256_hadd_epi32(h[2], h[3]);
  const __m256i all = _mm256_hadd_epi32(h01, h23);    // per half: r0 r1 r2 r3
  return _mm_add_epi32(_mm256_castsi256_si128(all), _mm256_extracti128_si256(all, 1));
}

// Index vectors for VPERMW: int16 lane k of 64-element chunk c takes scale entry
// 4 c + k / 8 (Q6_K: 16 scales of 16 elements) or 2 c + k / 16 (Q4_K: 8 scales of 32).
__m512i scale_index(int c, int shift, int per_chunk) {
  const __m512i lane = _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18,
                                        17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  return _mm512_add_epi16(_mm512_srli_epi16(lane, shift), _mm512_set1_epi16(per_chunk * c));
}

// ---- Q6_K ------------------------------------------------------------------------------------

// Integer sum of one Q6_K super-block against the activations yv[4] (64 each):
// sum_j sc_j sum_e (q_e - 32) y_e, as 16 int32 lanes.
inline __m512i q6_k_block(const BlockQ6_K& b, const __m512i (&yv)[4], __m256i bsums,
                          const __m512i (&idx)[4]) {
  const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)));
  const __m512i sc = _mm512_zextsi256_si512(sc16);
  const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
  // The -32 offset: 32 * sum_j sc_j bsum_j, subtracted from the first 8 lanes.
  const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(bsums, sc16), 5);
  __m512i acc = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_zextsi256_si512(off));
  for (int h = 0; h < 2; ++h) {
    const __m512i l = _mm512_loadu_si512(b.ql + 64 * h);
    const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * h));
    const __m512i hi0 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_slli_epi16(hb, 4)),
                                           _mm256_slli_epi16(hb, 2), 1);
    const __m512i hi1 = _mm512_inserti64x4(_mm512_castsi256_si512(hb), _mm256_srli_epi16(hb, 2), 1);
    const __m512i q0 = _mm512_or_si512(_mm512_and_si512(l, low4), _mm512_and_si512(hi0, bits45));
    const __m512i q1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), low4),
                                       _mm512_and_si512(hi1, bits45));
    const __m512i p0 = _mm512_maddubs_epi16(q0, yv[2 * h]);
    const __m512i p1 = _mm512_maddubs_epi16(q1, yv[2 * h + 1]);
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(p0, _mm512_permutexvar_epi16(idx[2 * h], sc)));
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(p1, _mm512_permutexvar_epi16(idx[2 * h + 1], sc)));
  }
  return acc;
}

// R (1..4) rows of Q6_K (w_stride bytes apart) against one Q8_K activation row: y[0..R).
template <int R>
void q6_k_rows(int64_t nb, const uint8_t* w, size_t w_stride, const BlockQ8_K* x, float* y) {
  __m512i idx[4];
  for (int c = 0; c < 4; ++c) idx[c] = scale_index(c, 3, 4);
  __m128 sum = _mm_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const BlockQ8_K& xb = x[i];
    __m512i yv[4];
    for (int c = 0; c < 4; ++c) yv[c] = _mm512_loadu_si512(xb.qs + 64 * c);
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.bsums));
    __m512i acc[kRows];
    alignas(16) float d[kRows] = {};
    for (int r = 0; r < kRows; ++r) {
      if (r >= R) {
        acc[r] = _mm512_setzero_si512();
        continue;
      }
      const auto& b = reinterpret_cast<const BlockQ6_K*>(w + w_stride * r)[i];
      acc[r] = q6_k_block(b, yv, bsums, idx);
      d[r] = _cvtsh_ss(b.d);
    }
    // The ref: sum += d * y.d * (float)sumi.
    const __m128 f = _mm_mul_ps(_mm_mul_ps(_mm_load_ps(d), _mm_set1_ps(xb.d)),
                                _mm_cvtepi32_ps(hsum4_epi32(acc)));
    sum = _mm_add_ps(sum, f);
  }
  alignas(16) float out[kRows];
  _mm_store_ps(out, sum);
  for (int r = 0; r < R; ++r) y[r] = out[r];
}

// ---- Q4_K ------------------------------------------------------------------------------------

// The 6-bit scales and mins of a Q4_K block (layout in tensor/quants.h) as 16 int16: lanes 0-7
// the scales sc[0..7], lanes 8-15 the mins m[0..7]. With q = the 12 packed bytes:
//   j < 4:  sc = q[j] & 63,                         m = q[j + 4] & 63
//   j >= 4: sc = (q[j + 4] & 15) | (q[j - 4] >> 6) << 4,  m = (q[j + 4] >> 4) | (q[j] >> 6) << 4
// Reads 16 bytes from `packed` (the 12 scale bytes and the first 4 of qs, in the same block).
inline __m256i unpack_scales_mins_k4(const uint8_t* packed) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed));
  // Low parts: bytes of q[0..3], q[8..11] (sc), q[4..7], q[8..11] (m).
  const __m128i lo_src = _mm_shuffle_epi8(v, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
  // High parts (bits 6-7 moved to 4-5) of sc[4..7] from q[0..3] and of m[4..7] from q[4..7].
  const __m128i hi_src = _mm_shuffle_epi8(v, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
  const __m128i lo_mask = _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0);
  const __m128i lo_a = _mm_and_si128(lo_src, lo_mask);
  const __m128i lo_b = _mm_and_si128(_mm_srli_epi16(lo_src, 4),  // m[4..7]: high nibble
                                     _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15));
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(hi_src, 2), _mm_set1_epi8(0x30));
  return _mm256_cvtepu8_epi16(_mm_or_si128(_mm_or_si128(lo_a, lo_b), hi));
}

// Integer sums of one Q4_K super-block: *sumi (16 lanes) = sum_j sc_j sum_e q_e y_e, and
// *summ (8 lanes) = sum_j m_j (bsum_2j + bsum_2j+1), kept apart as the ref's formula needs.
inline void q4_k_block(const BlockQ4_K& b, const __m512i (&yv)[4], __m256i bsums,
                       const __m512i (&idx)[4], __m512i* sumi, __m256i* summ) {
  const __m256i scm = unpack_scales_mins_k4(b.scales);
  const __m512i sc16 = _mm512_zextsi256_si512(scm);
  // int16 lane k of the bsums is sub-block k / 2 of 32: min m[k / 2] = entry 8 + k / 2.
  const __m256i min_idx = _mm256_setr_epi16(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  *summ = _mm256_madd_epi16(bsums, _mm256_permutexvar_epi16(min_idx, scm));
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m512i acc = _mm512_setzero_si512();
  for (int c = 0; c < 4; ++c) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * c));
    const __m512i lv = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(q, low4)),
                                          _mm256_and_si256(_mm256_srli_epi16(q, 4), low4), 1);
    const __m512i p = _mm512_maddubs_epi16(lv, yv[c]);
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(p, _mm512_permutexvar_epi16(idx[c], sc16)));
  }
  *sumi = acc;
}

template <int R>
void q4_k_rows(int64_t nb, const uint8_t* w, size_t w_stride, const BlockQ8_K* x, float* y) {
  __m512i idx[4];
  for (int c = 0; c < 4; ++c) idx[c] = scale_index(c, 4, 2);
  __m128 sum = _mm_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const BlockQ8_K& xb = x[i];
    __m512i yv[4];
    for (int c = 0; c < 4; ++c) yv[c] = _mm512_loadu_si512(xb.qs + 64 * c);
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.bsums));
    __m512i sumi[kRows], summ[kRows];
    alignas(16) float d[kRows] = {}, dmin[kRows] = {};
    for (int r = 0; r < kRows; ++r) {
      if (r >= R) {
        sumi[r] = summ[r] = _mm512_setzero_si512();
        continue;
      }
      const auto& b = reinterpret_cast<const BlockQ4_K*>(w + w_stride * r)[i];
      __m256i mm;
      q4_k_block(b, yv, bsums, idx, &sumi[r], &mm);
      summ[r] = _mm512_zextsi256_si512(mm);
      d[r] = _cvtsh_ss(b.d);
      dmin[r] = _cvtsh_ss(b.dmin);
    }
    // The ref: sum += y.d * (d * (float)sumi - dmin * (float)summ).
    const __m128 a = _mm_mul_ps(_mm_load_ps(d), _mm_cvtepi32_ps(hsum4_epi32(sumi)));
    const __m128 s = _mm_mul_ps(_mm_load_ps(dmin), _mm_cvtepi32_ps(hsum4_epi32(summ)));
    sum = _mm_add_ps(sum, _mm_mul_ps(_mm_set1_ps(xb.d), _mm_sub_ps(a, s)));
  }
  alignas(16) float out[kRows];
  _mm_store_ps(out, sum);
  for (int r = 0; r < R; ++r) y[r] = out[r];
}

// Walks the rows of a (n_tok == 1) 4 at a time, with a 1..3-row tail.
template <template <int> class Rows>
void matvec(const GemmArgs& a) {
  const int64_t nb = a.n / QK_K;
  const auto* w = static_cast<const uint8_t*>(a.w);
  const auto* x = static_cast<const BlockQ8_K*>(a.x);
  int64_t r = 0;
  for (; r + kRows <= a.n_rows; r += kRows) Rows<kRows>::run(nb, w + a.w_stride * r, a.w_stride, x, a.y + r);
  switch (a.n_rows - r) {
    case 1: Rows<1>::run(nb, w + a.w_stride * r, a.w_stride, x, a.y + r); break;
    case 2: Rows<2>::run(nb, w + a.w_stride * r, a.w_stride, x, a.y + r); break;
    case 3: Rows<3>::run(nb, w + a.w_stride * r, a.w_stride, x, a.y + r); break;
    default: break;
  }
}

template <int R>
struct Q6KRows {
  static void run(int64_t nb, const uint8_t* w, size_t s, const BlockQ8_K* x, float* y) {
    q6_k_rows<R>(nb, w, s, x, y);
  }
};
template <int R>
struct Q4KRows {
  static void run(int64_t nb, const uint8_t* w, size_t s, const BlockQ8_K* x, float* y) {
    q4_k_rows<R>(nb, w, s, x, y);
  }
};

}  // namespace

void matvec_q6_k_q8_k(const GemmArgs& a) { matvec<Q6KRows>(a); }
void matvec_q4_k_q8_k(const GemmArgs& a) { matvec<Q4KRows>(a); }

}  // namespace lm::kernels::avx512
