// Reference kernels for the 2- and 3-bit k-quants, Q2_K and Q3_K (layouts in tensor/quants.h).
// Both use 16 sub-blocks of 16 elements and share the 2-bit `qs` layout: two halves of 128,
// element 128 h + 32 g + l in bits 2g..2g+1 of qs[32 h + l].
//
// Quantization follows the same two-level scheme as quant_ref_k.cpp: a weighted least-squares
// fit per sub-block (quant_search.h), then the sub-block scales quantized (Q2_K: 4-bit scale and
// 4-bit min against d = max / 15; Q3_K: signed 6-bit scales against d = max|scale| / 32) and the
// elements re-rounded with the stored scales.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/ref/quant_ref.h"
#include "kernels/ref/quant_search.h"
#include "tensor/quants.h"

namespace lm::kernels::ref {
namespace {

// q: [256] 2-bit values in element order.
void unpack_2bit(const uint8_t* qs, uint8_t* q) {
  for (int h = 0; h < 2; ++h) {
    for (int g = 0; g < 4; ++g) {
      for (int l = 0; l < 32; ++l) q[128 * h + 32 * g + l] = (qs[32 * h + l] >> (2 * g)) & 3;
    }
  }
}

void pack_2bit(const uint8_t* q, uint8_t* qs) {
  std::memset(qs, 0, QK_K / 4);
  for (int h = 0; h < 2; ++h) {
    for (int g = 0; g < 4; ++g) {
      for (int l = 0; l < 32; ++l) {
        qs[32 * h + l] |= static_cast<uint8_t>((q[128 * h + 32 * g + l] & 3) << (2 * g));
      }
    }
  }
}

// Q3_K: q: [256] levels 0..7 (value = q - 4), low bits from qs, bit 2 from hmask.
void unpack_q3_k(const BlockQ3_K& b, uint8_t* q) {
  unpack_2bit(b.qs, q);
  for (int h = 0; h < 2; ++h) {
    for (int g = 0; g < 4; ++g) {
      for (int l = 0; l < 32; ++l) {
        q[128 * h + 32 * g + l] |= static_cast<uint8_t>(((b.hmask[l] >> (4 * h + g)) & 1) << 2);
      }
    }
  }
}

void pack_q3_k(const uint8_t* q, BlockQ3_K* b) {
  pack_2bit(q, b->qs);
  std::memset(b->hmask, 0, sizeof(b->hmask));
  for (int h = 0; h < 2; ++h) {
    for (int g = 0; g < 4; ++g) {
      for (int l = 0; l < 32; ++l) {
        b->hmask[l] |= static_cast<uint8_t>(((q[128 * h + 32 * g + l] >> 2) & 1) << (4 * h + g));
      }
    }
  }
}

// Inverse of unpack_q3_k_scales: v: [16] values 0..63 (scale + 32) -> 12 bytes.
void pack_q3_k_scales(const uint8_t* v, uint8_t* packed) {
  std::memset(packed, 0, K_SCALE_SIZE);
  for (int j = 0; j < 16; ++j) {
    const uint8_t lo = v[j] & 0xF, hi = (v[j] >> 4) & 3;
    packed[j % 8] |= static_cast<uint8_t>(j < 8 ? lo : lo << 4);
    packed[8 + j % 4] |= static_cast<uint8_t>(hi << (2 * (j / 4)));
  }
}

}  // namespace

// ---- Q2_K ---------------------------------------------------------------------------------

void dequantize_row_q2_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ2_K*>(src);
  uint8_t q[QK_K];
  for (int64_t i = 0; i < n / QK_K; ++i, dst += QK_K) {
    unpack_2bit(b[i].qs, q);
    const float d = fp16_to_fp32(b[i].d), dmin = fp16_to_fp32(b[i].dmin);
    for (int j = 0; j < 16; ++j) {
      const float dl = d * static_cast<float>(b[i].scales[j] & 0xF);
      const float ml = dmin * static_cast<float>(b[i].scales[j] >> 4);
      for (int e = 16 * j; e < 16 * j + 16; ++e) dst[e] = dl * q[e] - ml;
    }
  }
}

void quantize_row_q2_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ2_K*>(dst);
  uint8_t q[QK_K];
  float w[16], scale[16], neg_min[16];
  for (int64_t i = 0; i < n / QK_K; ++i, src += QK_K) {
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 16; ++j) {
      subblock_weights(16, src + 16 * j, w);
      scale[j] = fit_scale_min(16, 3, src + 16 * j, w, q + 16 * j, &neg_min[j]);
      max_scale = std::max(max_scale, scale[j]);
      max_min = std::max(max_min, neg_min[j]);
    }
    const float inv_scale = max_scale > 0.0f ? 15.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0.0f ? 15.0f / max_min : 0.0f;
    b[i].d = fp32_to_fp16(max_scale / 15.0f);
    b[i].dmin = fp32_to_fp16(max_min / 15.0f);
    const float d = fp16_to_fp32(b[i].d), dmin = fp16_to_fp32(b[i].dmin);
    for (int j = 0; j < 16; ++j) {
      uint8_t ls = static_cast<uint8_t>(round_clamp(inv_scale * scale[j], 0, 15));
      uint8_t lm = static_cast<uint8_t>(round_clamp(inv_min * neg_min[j], 0, 15));
      subblock_weights(16, src + 16 * j, w);
      refine_codes_affine(16, 3, src + 16 * j, w, d, dmin, 15, &ls, &lm);
      b[i].scales[j] = static_cast<uint8_t>(ls | (lm << 4));
    }
    for (int j = 0; j < 16; ++j) {
      const float sc = d * static_cast<float>(b[i].scales[j] & 0xF);
      const float m = dmin * static_cast<float>(b[i].scales[j] >> 4);
      const float inv = sc > 0.0f ? 1.0f / sc : 0.0f;
      for (int e = 16 * j; e < 16 * j + 16; ++e) {
        q[e] = static_cast<uint8_t>(inv > 0.0f ? round_clamp((src[e] + m) * inv, 0, 3) : 0);
      }
    }
    pack_2bit(q, b[i].qs);
  }
}

// y.d * (d * sum_j sc_j * (q_j . y_j) - dmin * sum_j m_j * bsums_j), inner sums in integers.
float vec_dot_q2_k_q8_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ2_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  uint8_t q[QK_K];
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    unpack_2bit(a[i].qs, q);
    int32_t sumi = 0, summ = 0;
    for (int j = 0; j < 16; ++j) {
      int32_t isum = 0;
      for (int e = 16 * j; e < 16 * j + 16; ++e) isum += q[e] * y[i].qs[e];
      sumi += (a[i].scales[j] & 0xF) * isum;
      summ += (a[i].scales[j] >> 4) * y[i].bsums[j];
    }
    sum += y[i].d * (fp16_to_fp32(a[i].d) * static_cast<float>(sumi) -
                     fp16_to_fp32(a[i].dmin) * static_cast<float>(summ));
  }
  return sum;
}

// ---- Q3_K ---------------------------------------------------------------------------------

void dequantize_row_q3_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ3_K*>(src);
  uint8_t q[QK_K];
  int8_t sc[16];
  for (int64_t i = 0; i < n / QK_K; ++i, dst += QK_K) {
    unpack_q3_k(b[i], q);
    unpack_q3_k_scales(b[i].scales, sc);
    const float d = fp16_to_fp32(b[i].d);
    for (int j = 0; j < 16; ++j) {
      const float dl = d * static_cast<float>(sc[j]);
      for (int e = 16 * j; e < 16 * j + 16; ++e) dst[e] = dl * static_cast<float>(q[e] - 4);
    }
  }
}

void quantize_row_q3_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ3_K*>(dst);
  uint8_t q[QK_K], v[16];
  int sc[16];
  for (int64_t i = 0; i < n / QK_K; ++i, src += QK_K) {
    b[i].d = quantize_superblock_symmetric(src, 4, 32, sc, q);
    for (int j = 0; j < 16; ++j) v[j] = static_cast<uint8_t>(sc[j] + 32);
    pack_q3_k_scales(v, b[i].scales);
    pack_q3_k(q, &b[i]);
  }
}

float vec_dot_q3_k_q8_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ3_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  uint8_t q[QK_K];
  int8_t sc[16];
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    unpack_q3_k(a[i], q);
    unpack_q3_k_scales(a[i].scales, sc);
    int32_t sumi = 0;
    for (int j = 0; j < 16; ++j) {
      int32_t isum = 0;
      for (int e = 16 * j; e < 16 * j + 16; ++e) isum += (q[e] - 4) * y[i].qs[e];
      sumi += sc[j] * isum;
    }
    sum += fp16_to_fp32(a[i].d) * y[i].d * static_cast<float>(sumi);
  }
  return sum;
}

}  // namespace lm::kernels::ref
