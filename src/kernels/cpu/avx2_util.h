// Small AVX2 helpers shared by the *_avx2.cpp / *_avx512.cpp files, and only by them (they need
// the ISA flags). `static inline`: each file gets its own copy, so no AVX code can be picked by the
// linker for a caller outside those files.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "tensor/fp16.h"

namespace lm::kernels::avx2 {

static inline float half_to_float(fp16_t h) { return _cvtsh_ss(h); }

static inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

static inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

// 32 signed bytes a times 32 signed bytes b, summed by groups of 4 into 8 int32. Exact when
// b is in [-127, 127] (a may be -128): |a| * sign(b, a) pairs stay within int16.
static inline __m256i dot_i8_i8(__m256i a, __m256i b) {
  const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

// The 32 nibbles of a Q4_0 block in element order (low nibbles, then high), as bytes 0..15.
static inline __m256i unpack_nibbles_32(const uint8_t* qs) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(x, 4), x);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// Bit j of the little-endian uint32 qh as 0x10 in byte j (the fifth bit of element j of a
// Q5_0 / Q5_1 block).
static inline __m256i fifth_bits(const uint8_t* qh) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  const __m256i v = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(h)),
      _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                       2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// Unsigned levels (<= 31) times 32 int8: 8 int32 partial sums.
static inline __m256i dot_u8_i8(__m256i u, __m256i y) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, y), _mm256_set1_epi16(1));
}

// Round half away from zero, as std::lround on values of an int8 range (exact: v - trunc(v)
// is exact in float).
static inline __m256 round_away(__m256 v) {
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 sign = _mm256_and_ps(v, _mm256_set1_ps(-0.0f));
  const __m256 frac = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(v, t));
  const __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  const __m256 one = _mm256_or_ps(_mm256_and_ps(up, _mm256_set1_ps(1.0f)), sign);
  return _mm256_add_ps(t, _mm256_and_ps(up, one));
}

// Packs 4 x 8 int32 (each in int8 range) into 32 int8 in order.
static inline __m256i pack_i32_to_i8(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b);   // lanes: a0 b0 | a1 b1
  const __m256i cd = _mm256_packs_epi32(c, d);
  const __m256i abcd = _mm256_packs_epi16(ab, cd);  // a0 b0 c0 d0 | a1 b1 c1 d1
  return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

static inline float hmax_ps(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// The 8-bit quantization of Q8_0 / Q8_1 blocks, bit-identical to ref:: (d = max|x| / 127,
// q = lround(x / d)): writes qs[32], returns d (as a float) and, when sum != nullptr, sum(qs).
static inline float quantize_block_32(const float* src, int8_t* qs, int32_t* sum) {
  __m256 v[4];
  for (int k = 0; k < 4; ++k) v[k] = _mm256_loadu_ps(src + 8 * k);
  const __m256 mx = _mm256_max_ps(_mm256_max_ps(abs_ps(v[0]), abs_ps(v[1])),
                                  _mm256_max_ps(abs_ps(v[2]), abs_ps(v[3])));
  const float d = hmax_ps(mx) / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  const __m256 vid = _mm256_set1_ps(id);
  __m256i q[4];
  for (int k = 0; k < 4; ++k) q[k] = _mm256_cvttps_epi32(round_away(_mm256_mul_ps(v[k], vid)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), pack_i32_to_i8(q[0], q[1], q[2], q[3]));
  if (sum) {
    *sum = hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
  }
  return d;
}

// Q3_K's 16 6-bit scales (layout in tensor/quants.h) minus 32, as int16 sc[16]: low 4 bits of
// scale j from packed[j % 8] (low nibble for j < 8, high for j >= 8), high 2 bits from bits
// 2 (j / 4) of packed[8 + j % 4].
static inline void unpack_q3_k_scales(const uint8_t* packed, int16_t* sc) {
  const __m128i raw = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(packed));
  const __m128i lo4 = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_unpacklo_epi64(_mm_and_si128(raw, lo4),
                                        _mm_and_si128(_mm_srli_epi16(raw, 4), lo4));
  uint32_t u2;
  std::memcpy(&u2, packed + 8, 4);
  const uint32_t m2 = 0x03030303u;
  const __m128i hi = _mm_setr_epi32(static_cast<int>(u2 & m2), static_cast<int>((u2 >> 2) & m2),
                                    static_cast<int>((u2 >> 4) & m2), static_cast<int>((u2 >> 6) & m2));
  const __m128i v = _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), _mm_set1_epi8(32));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(sc), _mm256_cvtepi8_epi16(v));
}

// The 6-bit scales and mins of a Q4_K / Q5_K block (layout in tensor/quants.h), four bytes at a
// time: u0 = q[0..3], u1 = q[4..7], u2 = q[8..11]. Scalar; shared by the decode and GEMM kernels.
static inline void unpack_scales_k4(const uint8_t* q, uint8_t* sc, uint8_t* m) {
  uint32_t u[3];
  std::memcpy(u, q, 12);
  const uint32_t lo6 = 0x3f3f3f3fu, lo4 = 0x0f0f0f0fu, lo2 = 0x03030303u;
  const uint32_t out[4] = {u[0] & lo6, (u[2] & lo4) | (((u[0] >> 6) & lo2) << 4),
                           u[1] & lo6, ((u[2] >> 4) & lo4) | (((u[1] >> 6) & lo2) << 4)};
  std::memcpy(sc, out, 8);
  std::memcpy(m, out + 2, 8);
}

}  // namespace lm::kernels::avx2
