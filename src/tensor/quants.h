// Block layouts of the GGUF quantized types, byte for byte as ggml stores them (the de-facto
// spec: ggml's `ggml-common.h` block structs and the reference dequantizers in `ggml-quants.c`;
// the layouts below are written from that format description, not copied).
//
// Every block is a packed little-endian struct with no padding; `fp16_t` is an IEEE half.
// A tensor row is a sequence of blocks; element i of a row is element i % QK of block i / QK.
// Byte sizes are checked against the dtype table (tensor/dtype.cpp) by static_assert here and
// by a unit test.
#pragma once

#include <cstdint>

#include "tensor/fp16.h"

namespace lm {

constexpr int QK4_0 = 32;
constexpr int QK4_1 = 32;
constexpr int QK5_0 = 32;
constexpr int QK5_1 = 32;
constexpr int QK8_0 = 32;
constexpr int QK8_1 = 32;
constexpr int QK_K = 256;         // super-block size of the k-quants
constexpr int K_SCALE_SIZE = 12;  // bytes of packed 6-bit scales/mins in Q3_K, Q4_K, Q5_K

// ---- "legacy" 32-element blocks -------------------------------------------------------------

// Q4_0: x[j] = d * (q[j] - 8), q in 0..15.
// qs[j] (j < 16): low nibble = q[j], high nibble = q[j + 16].
struct BlockQ4_0 {
  fp16_t d;
  uint8_t qs[QK4_0 / 2];
};

// Q4_1: x[j] = d * q[j] + m, q in 0..15; nibbles packed as in Q4_0.
struct BlockQ4_1 {
  fp16_t d;
  fp16_t m;
  uint8_t qs[QK4_1 / 2];
};

// Q5_0: x[j] = d * (q[j] - 16), q in 0..31. The low 4 bits are packed as in Q4_0; bit 4 of
// q[j] is bit j of qh (read as a little-endian uint32, so qh[j / 8] bit j % 8).
struct BlockQ5_0 {
  fp16_t d;
  uint8_t qh[4];
  uint8_t qs[QK5_0 / 2];
};

// Q5_1: x[j] = d * q[j] + m, q in 0..31; bits packed as in Q5_0.
struct BlockQ5_1 {
  fp16_t d;
  fp16_t m;
  uint8_t qh[4];
  uint8_t qs[QK5_1 / 2];
};

// Q8_0: x[j] = d * qs[j].
struct BlockQ8_0 {
  fp16_t d;
  int8_t qs[QK8_0];
};

// Q8_1 (activations for Q4_1 / Q5_1): x[j] = d * qs[j]; s = d * sum(qs), so the min term
// of a Q4_1/Q5_1 dot product needs no pass over the activations.
struct BlockQ8_1 {
  fp16_t d;
  fp16_t s;
  int8_t qs[QK8_1];
};

// ---- k-quants: 256-element super-blocks ---------------------------------------------------

// Q2_K: 16 sub-blocks of 16. x = d * sc * q - dmin * m, q in 0..3, where scales[i] holds the
// sub-block's 4-bit scale sc (low nibble) and 4-bit min m (high nibble).
// qs: the super-block is two halves of 128; in half h, element 32 * g + l (g, bit group 0..3;
// l 0..31) is bits 2g..2g+1 of qs[32 h + l]; it belongs to sub-block 8 h + 2 g + l / 16.
struct BlockQ2_K {
  uint8_t scales[QK_K / 16];
  uint8_t qs[QK_K / 4];
  fp16_t d;
  fp16_t dmin;
};

// Q3_K: 16 sub-blocks of 16. x = d * (sc - 32) * (q - 4), q in 0..7 (so levels -4..3).
// Low 2 bits of q: as in Q2_K (qs). Bit 2 of q: bit (4 h + g) of hmask[l] for the element at
// half h, bit group g, position l (0..31).
// scales: 16 6-bit values: low 4 bits of scale j are scales[j] & 15 (j < 8) or
// scales[j - 8] >> 4 (j >= 8); the high 2 bits are bits 2 (j / 4) .. +1 of scales[8 + j % 4].
struct BlockQ3_K {
  uint8_t hmask[QK_K / 8];
  uint8_t qs[QK_K / 4];
  uint8_t scales[K_SCALE_SIZE];
  fp16_t d;
};

// Q4_K: 8 sub-blocks of 32. x = d * sc[j] * q - dmin * m[j], q in 0..15, sc and m 6-bit.
// scales (12 bytes) pack 8 scales and 8 mins: for j < 4, sc[j] = scales[j] & 63 and
// m[j] = scales[j + 4] & 63; for j >= 4, sc[j] = (scales[j + 4] & 15) | (scales[j - 4] >> 6) << 4
// and m[j] = (scales[j + 4] >> 4) | (scales[j] >> 6) << 4.
// qs: in each 64-element chunk c (0..3), qs[32 c + l] holds element 64 c + l (low nibble,
// sub-block 2 c) and element 64 c + 32 + l (high nibble, sub-block 2 c + 1).
struct BlockQ4_K {
  fp16_t d;
  fp16_t dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qs[QK_K / 2];
};

// Q5_K: as Q4_K with a fifth bit: q in 0..31; bit 4 of element 64 c + l is bit 2 c of qh[l],
// of element 64 c + 32 + l bit 2 c + 1 of qh[l].
struct BlockQ5_K {
  fp16_t d;
  fp16_t dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qh[QK_K / 8];
  uint8_t qs[QK_K / 2];
};

// Q6_K: 16 sub-blocks of 16. x = d * scales[j] * (q - 32), q in 0..63, scales int8.
// Two halves of 128; in half h (ql += 64 h, qh += 32 h), for l in 0..31:
//   element  l      : low nibble of ql[l],      bits 0-1 of qh[l] as bits 4-5
//   element  l + 32 : low nibble of ql[l + 32], bits 2-3 of qh[l]
//   element  l + 64 : high nibble of ql[l],     bits 4-5 of qh[l]
//   element  l + 96 : high nibble of ql[l + 32],bits 6-7 of qh[l]
// Element e of the block uses scales[e / 16].
struct BlockQ6_K {
  uint8_t ql[QK_K / 2];
  uint8_t qh[QK_K / 4];
  int8_t scales[QK_K / 16];
  fp16_t d;
};

// Q8_K (activations for every k-quant): x = d * qs[j] with a float d; bsums[i] is the sum of
// qs[16 i .. 16 i + 15], used for the min terms of the k-quant dot products.
struct BlockQ8_K {
  float d;
  int8_t qs[QK_K];
  int16_t bsums[QK_K / 16];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 2 * 2 + QK_K / 16 + QK_K / 4);                  // 84
static_assert(sizeof(BlockQ3_K) == 2 + QK_K / 4 + QK_K / 8 + K_SCALE_SIZE);        // 110
static_assert(sizeof(BlockQ4_K) == 2 * 2 + K_SCALE_SIZE + QK_K / 2);               // 144
static_assert(sizeof(BlockQ5_K) == 2 * 2 + K_SCALE_SIZE + QK_K / 2 + QK_K / 8);    // 176
static_assert(sizeof(BlockQ6_K) == 2 + QK_K / 16 + 3 * QK_K / 4);                  // 210
static_assert(sizeof(BlockQ8_K) == 4 + QK_K + QK_K / 16 * 2);                      // 292

// Unpacks the 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block.
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Unpacks the 16 6-bit scales of a Q3_K block, already offset: result in -32..31.
inline void unpack_q3_k_scales(const uint8_t* packed, int8_t* out) {
  for (int j = 0; j < 16; ++j) {
    int lo = j < 8 ? (packed[j] & 0xF) : (packed[j - 8] >> 4);
    int hi = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    out[j] = static_cast<int8_t>((lo | (hi << 4)) - 32);
  }
}

}  // namespace lm
