// Reference kernels for Q4_K, Q5_K, Q6_K and the activation type Q8_K (layouts in
// tensor/quants.h). Each block is first unpacked into its 256 integer levels in element order,
// so dequantization and dot products share one bit-layout decoder per type.
//
// Quantization (two levels, as in the published k-quant method):
//   1. per sub-block, fit_scale_min / fit_scale_symmetric (quant_search.h) find the float
//      scale (and min) minimising the weighted squared error;
//   2. the sub-block scales are themselves quantized (6 bits for Q4_K / Q5_K relative to
//      d = max_scale / 63; int8 for Q6_K relative to d = max|scale| / 128), and the elements
//      are re-rounded with the scales actually stored, so the rounding matches what a reader
//      reconstructs.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/ref/quant_ref.h"
#include "kernels/ref/quant_search.h"
#include "tensor/quants.h"

namespace lm::kernels::ref {
namespace {

// ---- bit layouts --------------------------------------------------------------------------

// q: [256] levels 0..15 (Q4_K) or 0..31 (qh != nullptr, Q5_K), in element order.
void unpack_q45_k(const uint8_t* qs, const uint8_t* qh, uint8_t* q) {
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      uint8_t lo = qs[32 * c + l] & 0xF, hi = qs[32 * c + l] >> 4;
      if (qh) {
        lo |= static_cast<uint8_t>(((qh[l] >> (2 * c)) & 1) << 4);
        hi |= static_cast<uint8_t>(((qh[l] >> (2 * c + 1)) & 1) << 4);
      }
      q[64 * c + l] = lo;
      q[64 * c + 32 + l] = hi;
    }
  }
}

void pack_q45_k(const uint8_t* q, uint8_t* qs, uint8_t* qh) {
  if (qh) std::memset(qh, 0, QK_K / 8);
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t lo = q[64 * c + l], hi = q[64 * c + 32 + l];
      qs[32 * c + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
      if (qh) {
        qh[l] |= static_cast<uint8_t>(((lo >> 4) & 1) << (2 * c));
        qh[l] |= static_cast<uint8_t>(((hi >> 4) & 1) << (2 * c + 1));
      }
    }
  }
}

void unpack_scales_k4(const uint8_t* packed, uint8_t* sc, uint8_t* m) {
  for (int j = 0; j < 8; ++j) get_scale_min_k4(j, packed, &sc[j], &m[j]);
}

// Inverse of get_scale_min_k4: sc, m: [8] 6-bit values -> 12 bytes.
void pack_scales_k4(const uint8_t* sc, const uint8_t* m, uint8_t* packed) {
  std::memset(packed, 0, K_SCALE_SIZE);
  for (int j = 0; j < 4; ++j) {
    packed[j] = sc[j] & 63;
    packed[j + 4] = m[j] & 63;
  }
  for (int j = 4; j < 8; ++j) {
    packed[j + 4] = static_cast<uint8_t>((sc[j] & 0xF) | ((m[j] & 0xF) << 4));
    packed[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
    packed[j] |= static_cast<uint8_t>((m[j] >> 4) << 6);
  }
}

// q: [256] levels 0..63 in element order.
void unpack_q6_k(const BlockQ6_K& b, uint8_t* q) {
  for (int h = 0; h < 2; ++h) {
    const uint8_t* ql = b.ql + 64 * h;
    const uint8_t* qh = b.qh + 32 * h;
    uint8_t* out = q + 128 * h;
    for (int l = 0; l < 32; ++l) {
      out[l] = static_cast<uint8_t>((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4));
      out[l + 32] = static_cast<uint8_t>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4));
      out[l + 64] = static_cast<uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
      out[l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
    }
  }
}

void pack_q6_k(const uint8_t* q, BlockQ6_K* b) {
  for (int h = 0; h < 2; ++h) {
    uint8_t* ql = b->ql + 64 * h;
    uint8_t* qh = b->qh + 32 * h;
    const uint8_t* in = q + 128 * h;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((in[l] & 0xF) | ((in[l + 64] & 0xF) << 4));
      ql[l + 32] = static_cast<uint8_t>((in[l + 32] & 0xF) | ((in[l + 96] & 0xF) << 4));
      qh[l] = static_cast<uint8_t>((in[l] >> 4) | ((in[l + 32] >> 4) << 2) |
                                   ((in[l + 64] >> 4) << 4) | ((in[l + 96] >> 4) << 6));
    }
  }
}

// ---- quantizers ---------------------------------------------------------------------------

// Q4_K / Q5_K super-block: 8 sub-blocks of 32, levels 0..nmax. Writes d, dmin, the packed
// scales and the levels q: [256].
void quantize_block_q45_k(const float* x, int nmax, fp16_t* d_out, fp16_t* dmin_out,
                          uint8_t* scales_out, uint8_t* q) {
  float scale[8], neg_min[8], w[32];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < 8; ++j) {
    subblock_weights(32, x + 32 * j, w);
    scale[j] = fit_scale_min(32, nmax, x + 32 * j, w, q + 32 * j, &neg_min[j]);
    max_scale = std::max(max_scale, scale[j]);
    max_min = std::max(max_min, neg_min[j]);
  }
  const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = static_cast<uint8_t>(round_clamp(inv_scale * scale[j], 0, 63));
    lm[j] = static_cast<uint8_t>(round_clamp(inv_min * neg_min[j], 0, 63));
  }
  *d_out = fp32_to_fp16(max_scale / 63.0f);
  *dmin_out = fp32_to_fp16(max_min / 63.0f);
  // Re-round with the scales a reader will reconstruct, after refining their codes.
  const float d = fp16_to_fp32(*d_out), dmin = fp16_to_fp32(*dmin_out);
  for (int j = 0; j < 8; ++j) {
    subblock_weights(32, x + 32 * j, w);
    refine_codes_affine(32, nmax, x + 32 * j, w, d, dmin, 63, &ls[j], &lm[j]);
  }
  pack_scales_k4(ls, lm, scales_out);
  for (int j = 0; j < 8; ++j) {
    const float sc = d * ls[j], m = dmin * lm[j];
    const float inv = sc > 0.0f ? 1.0f / sc : 0.0f;
    for (int i = 32 * j; i < 32 * j + 32; ++i) {
      q[i] = static_cast<uint8_t>(inv > 0.0f ? round_clamp((x[i] + m) * inv, 0, nmax) : 0);
    }
  }
}

// Dot of the levels of one Q4_K/Q5_K block with one Q8_K block: y.d * (d * sum_j sc_j *
// (q_j . y_j) - dmin * sum_j m_j * sum(y_j)), all inner sums in integers.
float dot_block_q45_k(const uint8_t* q, fp16_t d, fp16_t dmin, const uint8_t* packed,
                      const BlockQ8_K& y) {
  uint8_t sc[8], m[8];
  unpack_scales_k4(packed, sc, m);
  int32_t sumi = 0, summ = 0;
  for (int j = 0; j < 8; ++j) {
    int32_t isum = 0;
    for (int i = 32 * j; i < 32 * j + 32; ++i) isum += q[i] * y.qs[i];
    sumi += sc[j] * isum;
    summ += m[j] * (y.bsums[2 * j] + y.bsums[2 * j + 1]);
  }
  return y.d * (fp16_to_fp32(d) * static_cast<float>(sumi) -
                fp16_to_fp32(dmin) * static_cast<float>(summ));
}

void dequantize_block_q45_k(const uint8_t* q, fp16_t d16, fp16_t dmin16, const uint8_t* packed,
                            float* y) {
  uint8_t sc[8], m[8];
  unpack_scales_k4(packed, sc, m);
  const float d = fp16_to_fp32(d16), dmin = fp16_to_fp32(dmin16);
  for (int j = 0; j < 8; ++j) {
    const float dl = d * sc[j], ml = dmin * m[j];
    for (int i = 32 * j; i < 32 * j + 32; ++i) y[i] = dl * q[i] - ml;
  }
}

}  // namespace

// ---- Q4_K ---------------------------------------------------------------------------------

void dequantize_row_q4_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_K*>(src);
  uint8_t q[QK_K];
  for (int64_t i = 0; i < n / QK_K; ++i, dst += QK_K) {
    unpack_q45_k(b[i].qs, nullptr, q);
    dequantize_block_q45_k(q, b[i].d, b[i].dmin, b[i].scales, dst);
  }
}

void quantize_row_q4_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4_K*>(dst);
  uint8_t q[QK_K];
  for (int64_t i = 0; i < n / QK_K; ++i, src += QK_K) {
    quantize_block_q45_k(src, 15, &b[i].d, &b[i].dmin, b[i].scales, q);
    pack_q45_k(q, b[i].qs, nullptr);
  }
}

float vec_dot_q4_k_q8_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  uint8_t q[QK_K];
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    unpack_q45_k(a[i].qs, nullptr, q);
    sum += dot_block_q45_k(q, a[i].d, a[i].dmin, a[i].scales, y[i]);
  }
  return sum;
}

// ---- Q5_K ---------------------------------------------------------------------------------

void dequantize_row_q5_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ5_K*>(src);
  uint8_t q[QK_K];
  for (int64_t i = 0; i < n / QK_K; ++i, dst += QK_K) {
    unpack_q45_k(b[i].qs, b[i].qh, q);
    dequantize_block_q45_k(q, b[i].d, b[i].dmin, b[i].scales, dst);
  }
}

void quantize_row_q5_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ5_K*>(dst);
  uint8_t q[QK_K];
  for (int64_t i = 0; i < n / QK_K; ++i, src += QK_K) {
    quantize_block_q45_k(src, 31, &b[i].d, &b[i].dmin, b[i].scales, q);
    pack_q45_k(q, b[i].qs, b[i].qh);
  }
}

float vec_dot_q5_k_q8_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  uint8_t q[QK_K];
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    unpack_q45_k(a[i].qs, a[i].qh, q);
    sum += dot_block_q45_k(q, a[i].d, a[i].dmin, a[i].scales, y[i]);
  }
  return sum;
}

// ---- Q6_K ---------------------------------------------------------------------------------

void dequantize_row_q6_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ6_K*>(src);
  uint8_t q[QK_K];
  for (int64_t i = 0; i < n / QK_K; ++i, dst += QK_K) {
    unpack_q6_k(b[i], q);
    const float d = fp16_to_fp32(b[i].d);
    for (int e = 0; e < QK_K; ++e) {
      dst[e] = d * static_cast<float>(b[i].scales[e / 16]) * static_cast<float>(q[e] - 32);
    }
  }
}

// 16 sub-blocks of 16 fitted symmetrically (levels -32..31); the sub-block scales are stored
// as int8 relative to d = max|scale| / 128 (the largest maps to -128, like the levels).
void quantize_row_q6_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ6_K*>(dst);
  uint8_t q[QK_K];
  int sc[16];
  for (int64_t i = 0; i < n / QK_K; ++i, src += QK_K) {
    b[i].d = quantize_superblock_symmetric(src, 32, 128, sc, q);
    for (int j = 0; j < 16; ++j) b[i].scales[j] = static_cast<int8_t>(sc[j]);
    pack_q6_k(q, &b[i]);
  }
}

float vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  uint8_t q[QK_K];
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    unpack_q6_k(a[i], q);
    int32_t sumi = 0;
    for (int j = 0; j < 16; ++j) {
      int32_t isum = 0;
      for (int e = 16 * j; e < 16 * j + 16; ++e) isum += (q[e] - 32) * y[i].qs[e];
      sumi += a[i].scales[j] * isum;
    }
    sum += fp16_to_fp32(a[i].d) * y[i].d * static_cast<float>(sumi);
  }
  return sum;
}

// ---- Q8_K ---------------------------------------------------------------------------------

void dequantize_row_q8_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_K*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i, dst += QK_K) {
    for (int e = 0; e < QK_K; ++e) dst[e] = b[i].d * static_cast<float>(b[i].qs[e]);
  }
}

// Round to nearest with d = max|x| / 127 (float d: activations need no fp16 range limit).
void quantize_row_q8_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i, src += QK_K) {
    float amax = 0.0f;
    for (int e = 0; e < QK_K; ++e) amax = std::max(amax, std::fabs(src[e]));
    const float iscale = amax > 0.0f ? 127.0f / amax : 0.0f;
    b[i].d = iscale > 0.0f ? 1.0f / iscale : 0.0f;
    for (int j = 0; j < QK_K / 16; ++j) {
      int sum = 0;
      for (int e = 16 * j; e < 16 * j + 16; ++e) {
        b[i].qs[e] = static_cast<int8_t>(round_clamp(src[e] * iscale, -127, 127));
        sum += b[i].qs[e];
      }
      b[i].bsums[j] = static_cast<int16_t>(sum);
    }
  }
}

}  // namespace lm::kernels::ref
