// IEEE half and bfloat16 conversions (scalar reference; SIMD versions live in kernels/cpu).
#pragma once

#include <cstdint>
#include <cstring>

namespace lm {

using fp16_t = uint16_t;
using bf16_t = uint16_t;

inline float fp32_from_bits(uint32_t b) { float f; std::memcpy(&f, &b, 4); return f; }
inline uint32_t fp32_to_bits(float f) { uint32_t b; std::memcpy(&b, &f, 4); return b; }

// Exact half -> float, subnormals, infinities and NaN included.
inline float fp16_to_fp32(fp16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0) {
    if (mant == 0) return fp32_from_bits(sign);
    // Subnormal: value = mant * 2^-24.
    float v = static_cast<float>(mant) * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  if (exp == 31) return fp32_from_bits(sign | 0x7f800000u | (mant << 13));
  return fp32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

// float -> half with round-to-nearest-even; overflow gives infinity, NaN stays NaN.
inline fp16_t fp32_to_fp16(float f) {
  uint32_t x = fp32_to_bits(f);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return static_cast<fp16_t>(sign | 0x7c00 | (abs > 0x7f800000u ? 0x200 : 0));
  if (abs >= 0x477ff000u) return static_cast<fp16_t>(sign | 0x7c00);  // rounds to >= 65520
  if (abs < 0x38800000u) {
    // Result is subnormal or zero: round abs * 2^24 to an integer, ties to even.
    float v = fp32_from_bits(abs) * 16777216.0f;
    uint32_t m = static_cast<uint32_t>(v);
    float rem = v - static_cast<float>(m);
    if (rem > 0.5f || (rem == 0.5f && (m & 1))) ++m;
    return static_cast<fp16_t>(sign | m);
  }
  uint32_t e = (abs >> 23) - 112;
  uint32_t mant = abs & 0x7fffff;
  uint32_t h = (e << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;  // carry may roll into the exponent
  return static_cast<fp16_t>(sign | h);
}

inline float bf16_to_fp32(bf16_t b) { return fp32_from_bits(static_cast<uint32_t>(b) << 16); }

// float -> bfloat16 with round-to-nearest-even; NaN stays a (quiet) NaN.
inline bf16_t fp32_to_bf16(float f) {
  uint32_t x = fp32_to_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<bf16_t>((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1);
  return static_cast<bf16_t>(x >> 16);
}

}  // namespace lm
