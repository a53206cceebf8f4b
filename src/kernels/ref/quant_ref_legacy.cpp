// Reference kernels for the 32-element block types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1.
//
// The quantizers follow the canonical ggml recipe for these formats (round-to-nearest with the
// block's extreme value mapped to the outermost level), which is what every GGUF reader expects
// of them; see tensor/quants.h for the layouts.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/ref/quant_ref.h"
#include "tensor/quants.h"

namespace lm::kernels::ref {
namespace {

// Signed value of largest magnitude in x[0..n) (the first such on ties), and its magnitude.
void signed_absmax(const float* x, int n, float* max, float* amax) {
  *max = 0.0f;
  *amax = 0.0f;
  for (int j = 0; j < n; ++j) {
    float a = std::fabs(x[j]);
    if (a > *amax) {
      *amax = a;
      *max = x[j];
    }
  }
}

void min_max(const float* x, int n, float* mn, float* mx) {
  *mn = x[0];
  *mx = x[0];
  for (int j = 1; j < n; ++j) {
    *mn = std::min(*mn, x[j]);
    *mx = std::max(*mx, x[j]);
  }
}

// Packs 32 values q (0..15) into 16 bytes: low nibble j, high nibble j + 16.
void pack_nibbles(const uint8_t* q, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
}

// Unpacks 32 nibbles (and, when qh != nullptr, the fifth bits) into q (0..15 or 0..31).
void unpack_q(const uint8_t* qs, const uint8_t* qh, int* q) {
  uint32_t h = 0;
  if (qh) std::memcpy(&h, qh, 4);
  for (int j = 0; j < 16; ++j) {
    q[j] = qs[j] & 0xF;
    q[j + 16] = qs[j] >> 4;
    if (qh) {
      q[j] |= static_cast<int>((h >> j) & 1) << 4;
      q[j + 16] |= static_cast<int>((h >> (j + 16)) & 1) << 4;
    }
  }
}

// Splits 32 five-bit values into nibbles (qs) and fifth bits (qh, little-endian uint32).
void pack_q5(const uint8_t* q, uint8_t* qs, uint8_t* qh) {
  pack_nibbles(q, qs);
  uint32_t h = 0;
  for (int j = 0; j < 32; ++j) h |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  std::memcpy(qh, &h, 4);
}

// Float -> int for the quantizers, total over all inputs (NaN gives lo; no undefined
// out-of-range conversion). trunc_clamp truncates toward zero (the legacy 4/5-bit recipes add
// 0.5 first and truncate), round_clamp rounds half away from zero like roundf.
int trunc_clamp(float v, int lo, int hi) {
  if (!(v > static_cast<float>(lo))) return lo;
  if (!(v < static_cast<float>(hi))) return hi;
  return static_cast<int>(v);
}
int round_clamp(float v, int lo, int hi) {
  if (!(v > static_cast<float>(lo))) return lo;
  if (!(v < static_cast<float>(hi))) return hi;
  return static_cast<int>(std::round(v));
}

// Symmetric 4/5-bit quantization: the extreme value maps to level -half exactly.
// q = min(top, trunc(x / d + half + 0.5)); x / d + half + 0.5 >= 0.5 so trunc == floor.
void quantize_symmetric(const float* x, int half, int top, fp16_t* d_out, uint8_t* q) {
  float max, amax;
  signed_absmax(x, 32, &max, &amax);
  const float d = max / static_cast<float>(-half);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  *d_out = fp32_to_fp16(d);
  for (int j = 0; j < 32; ++j) {
    q[j] = static_cast<uint8_t>(trunc_clamp(x[j] * id + static_cast<float>(half) + 0.5f, 0, top));
  }
}

// Asymmetric 4/5-bit quantization over [min, max] with `top` steps.
void quantize_affine(const float* x, int top, fp16_t* d_out, fp16_t* m_out, uint8_t* q) {
  float mn, mx;
  min_max(x, 32, &mn, &mx);
  const float d = (mx - mn) / static_cast<float>(top);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  *d_out = fp32_to_fp16(d);
  *m_out = fp32_to_fp16(mn);
  for (int j = 0; j < 32; ++j) {
    q[j] = static_cast<uint8_t>(trunc_clamp((x[j] - mn) * id + 0.5f, 0, top));
  }
}

// Round-to-nearest 8-bit quantization of one block; returns d (as float) and sum of qs.
int quantize_block_8bit(const float* x, float* d_out, int8_t* qs) {
  float max, amax;
  signed_absmax(x, 32, &max, &amax);
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  *d_out = d;
  int sum = 0;
  for (int j = 0; j < 32; ++j) {
    qs[j] = static_cast<int8_t>(round_clamp(x[j] * id, -127, 127));
    sum += qs[j];
  }
  return sum;
}

}  // namespace

// ---- dequantize ---------------------------------------------------------------------------

void dequantize_row_q4_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_0*>(src);
  int q[32];
  for (int64_t i = 0; i < n / QK4_0; ++i, dst += QK4_0) {
    const float d = fp16_to_fp32(b[i].d);
    unpack_q(b[i].qs, nullptr, q);
    for (int j = 0; j < 32; ++j) dst[j] = static_cast<float>(q[j] - 8) * d;
  }
}

void dequantize_row_q4_1(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_1*>(src);
  int q[32];
  for (int64_t i = 0; i < n / QK4_1; ++i, dst += QK4_1) {
    const float d = fp16_to_fp32(b[i].d), m = fp16_to_fp32(b[i].m);
    unpack_q(b[i].qs, nullptr, q);
    for (int j = 0; j < 32; ++j) dst[j] = static_cast<float>(q[j]) * d + m;
  }
}

void dequantize_row_q5_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ5_0*>(src);
  int q[32];
  for (int64_t i = 0; i < n / QK5_0; ++i, dst += QK5_0) {
    const float d = fp16_to_fp32(b[i].d);
    unpack_q(b[i].qs, b[i].qh, q);
    for (int j = 0; j < 32; ++j) dst[j] = static_cast<float>(q[j] - 16) * d;
  }
}

void dequantize_row_q5_1(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ5_1*>(src);
  int q[32];
  for (int64_t i = 0; i < n / QK5_1; ++i, dst += QK5_1) {
    const float d = fp16_to_fp32(b[i].d), m = fp16_to_fp32(b[i].m);
    unpack_q(b[i].qs, b[i].qh, q);
    for (int j = 0; j < 32; ++j) dst[j] = static_cast<float>(q[j]) * d + m;
  }
}

void dequantize_row_q8_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < n / QK8_0; ++i, dst += QK8_0) {
    const float d = fp16_to_fp32(b[i].d);
    for (int j = 0; j < 32; ++j) dst[j] = static_cast<float>(b[i].qs[j]) * d;
  }
}

void dequantize_row_q8_1(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_1*>(src);
  for (int64_t i = 0; i < n / QK8_1; ++i, dst += QK8_1) {
    const float d = fp16_to_fp32(b[i].d);
    for (int j = 0; j < 32; ++j) dst[j] = static_cast<float>(b[i].qs[j]) * d;
  }
}

// ---- quantize -----------------------------------------------------------------------------

void quantize_row_q4_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4_0*>(dst);
  uint8_t q[32];
  for (int64_t i = 0; i < n / QK4_0; ++i, src += QK4_0) {
    quantize_symmetric(src, 8, 15, &b[i].d, q);
    pack_nibbles(q, b[i].qs);
  }
}

void quantize_row_q4_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4_1*>(dst);
  uint8_t q[32];
  for (int64_t i = 0; i < n / QK4_1; ++i, src += QK4_1) {
    quantize_affine(src, 15, &b[i].d, &b[i].m, q);
    pack_nibbles(q, b[i].qs);
  }
}

void quantize_row_q5_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ5_0*>(dst);
  uint8_t q[32];
  for (int64_t i = 0; i < n / QK5_0; ++i, src += QK5_0) {
    quantize_symmetric(src, 16, 31, &b[i].d, q);
    pack_q5(q, b[i].qs, b[i].qh);
  }
}

void quantize_row_q5_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ5_1*>(dst);
  uint8_t q[32];
  for (int64_t i = 0; i < n / QK5_1; ++i, src += QK5_1) {
    quantize_affine(src, 31, &b[i].d, &b[i].m, q);
    pack_q5(q, b[i].qs, b[i].qh);
  }
}

void quantize_row_q8_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / QK8_0; ++i, src += QK8_0) {
    float d;
    quantize_block_8bit(src, &d, b[i].qs);
    b[i].d = fp32_to_fp16(d);
  }
}

void quantize_row_q8_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / QK8_1; ++i, src += QK8_1) {
    float d;
    int sum = quantize_block_8bit(src, &d, b[i].qs);
    b[i].d = fp32_to_fp16(d);
    b[i].s = fp32_to_fp16(d * static_cast<float>(sum));
  }
}

// ---- dot products -------------------------------------------------------------------------
// Per block: an exact integer dot of the quants, scaled once by the two block scales.

float vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK8_0; ++i) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      sumi += ((a[i].qs[j] & 0xF) - 8) * b[i].qs[j];
      sumi += ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + 16];
    }
    sum += static_cast<float>(sumi) * fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d);
  }
  return sum;
}

float vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_1*>(w);
  const auto* b = static_cast<const BlockQ8_1*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK8_1; ++i) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      sumi += (a[i].qs[j] & 0xF) * b[i].qs[j];
      sumi += (a[i].qs[j] >> 4) * b[i].qs[j + 16];
    }
    sum += static_cast<float>(sumi) * fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d) +
           fp16_to_fp32(a[i].m) * fp16_to_fp32(b[i].s);
  }
  return sum;
}

float vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  int q[32];
  for (int64_t i = 0; i < n / QK8_0; ++i) {
    unpack_q(a[i].qs, a[i].qh, q);
    int sumi = 0;
    for (int j = 0; j < 32; ++j) sumi += (q[j] - 16) * b[i].qs[j];
    sum += static_cast<float>(sumi) * fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d);
  }
  return sum;
}

float vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_1*>(w);
  const auto* b = static_cast<const BlockQ8_1*>(x);
  float sum = 0.0f;
  int q[32];
  for (int64_t i = 0; i < n / QK8_1; ++i) {
    unpack_q(a[i].qs, a[i].qh, q);
    int sumi = 0;
    for (int j = 0; j < 32; ++j) sumi += q[j] * b[i].qs[j];
    sum += static_cast<float>(sumi) * fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d) +
           fp16_to_fp32(a[i].m) * fp16_to_fp32(b[i].s);
  }
  return sum;
}

float vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ8_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / QK8_0; ++i) {
    int sumi = 0;
    for (int j = 0; j < 32; ++j) sumi += a[i].qs[j] * b[i].qs[j];
    sum += static_cast<float>(sumi) * fp16_to_fp32(a[i].d) * fp16_to_fp32(b[i].d);
  }
  return sum;
}

}  // namespace lm::kernels::ref
