// The quantized types under test, with their kernels and expected accuracy.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ref/quant_ref.h"
#include "tensor/dtype.h"
#include "tensor/quants.h"

namespace lm::test {

struct QuantCase {
  DType type;
  void (*quantize)(const float*, void*, int64_t);
  void (*dequantize)(const void*, float*, int64_t);
  // Bound on RMSE / RMS(data) for uniform data in [-1, 1) (see kQuantCases for the reasoning).
  double rel_rmse_bound;
};

// Reasoning for the bounds: rounding to a grid of step s gives an RMS error of s / sqrt(12).
// For uniform data in [-1, 1) (RMS 1/sqrt(3)) and a block spanning about [-1, 1]:
//   - Q8_0: s = 2/254 -> 0.39% of RMS;  Q5_0/Q5_1: s ~ 2/31 -> 3.2%;  Q4_0/Q4_1: s ~ 2/15 -> 6.7%;
//   - Q6_K: s ~ 2/63 -> 1.6%;  Q5_K: 3.2%;  Q4_K: 6.7%;  Q3_K (levels -4..3): s ~ 2/7 -> 14%;
//     Q2_K (4 levels): s ~ 2/3 -> 33%.
// The k-quants fit smaller sub-blocks with least-squares scales, which beats these figures
// (clearly so at 2-3 bits, where the fit clips rare extremes), but also quantize their scales
// (4-6 bits), which costs a little. Q8_K's 256-element blocks have a larger maximum than 32.
// Bounds sit ~20-25% above the values measured when the bounds were chosen (printed by the
// test): Q8_0 0.38%, Q4_0 6.3%, Q4_1 6.5%, Q5_0 3.2%, Q5_1 3.0%, Q2_K 22%, Q3_K 11.8%,
// Q4_K 5.5%, Q5_K 2.7%, Q6_K 1.3%, Q8_K 0.39%; below the nominal figure for the k-quants,
// so a regression of the scale search fails the test.
inline const std::vector<QuantCase>& quant_cases() {
  namespace r = lm::kernels::ref;
  static const std::vector<QuantCase> cases = {
      {DType::Q8_0, r::quantize_row_q8_0, r::dequantize_row_q8_0, 0.005},
      {DType::Q4_0, r::quantize_row_q4_0, r::dequantize_row_q4_0, 0.08},
      {DType::Q4_1, r::quantize_row_q4_1, r::dequantize_row_q4_1, 0.08},
      {DType::Q5_0, r::quantize_row_q5_0, r::dequantize_row_q5_0, 0.04},
      {DType::Q5_1, r::quantize_row_q5_1, r::dequantize_row_q5_1, 0.04},
      {DType::Q2_K, r::quantize_row_q2_k, r::dequantize_row_q2_k, 0.27},
      {DType::Q3_K, r::quantize_row_q3_k, r::dequantize_row_q3_k, 0.14},
      {DType::Q4_K, r::quantize_row_q4_k, r::dequantize_row_q4_k, 0.07},
      {DType::Q5_K, r::quantize_row_q5_k, r::dequantize_row_q5_k, 0.035},
      {DType::Q6_K, r::quantize_row_q6_k, r::dequantize_row_q6_k, 0.017},
      {DType::Q8_1, r::quantize_row_q8_1, r::dequantize_row_q8_1, 0.005},
      {DType::Q8_K, r::quantize_row_q8_k, r::dequantize_row_q8_k, 0.006},
  };
  return cases;
}

inline std::string case_name(DType t) { return std::string(dtype_name(t)); }

// Quantizes then dequantizes x; returns the reconstruction.
inline std::vector<float> round_trip(const QuantCase& c, const std::vector<float>& x) {
  std::vector<uint8_t> q(row_bytes(c.type, static_cast<int64_t>(x.size())));
  c.quantize(x.data(), q.data(), static_cast<int64_t>(x.size()));
  std::vector<float> y(x.size());
  c.dequantize(q.data(), y.data(), static_cast<int64_t>(x.size()));
  return y;
}

inline double rms(const std::vector<float>& x) {
  double s = 0;
  for (float v : x) s += static_cast<double>(v) * v;
  return std::sqrt(s / static_cast<double>(x.size()));
}

inline double rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    s += d * d;
  }
  return std::sqrt(s / static_cast<double>(a.size()));
}

}  // namespace lm::test
