// vec_dot_<w>_<a> must equal the dot product of the dequantized operands (up to float
// rounding), for arbitrary weight bytes (every bit pattern of every field) and for weights
// produced by the quantizers, on several lengths; and the dispatch table must expose them.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <random>

#include "kernels/type_kernels.h"
#include "quant_cases.h"
#include "test_util.h"

namespace lm::test {
namespace {

namespace r = lm::kernels::ref;

struct DotCase {
  DType w_type, x_type;
  float (*vec_dot)(int64_t, const void*, const void*);
  std::vector<size_t> fp16_fields;  // offsets of the fp16 scale fields inside a weight block
};

const std::vector<DotCase>& dot_cases() {
  static const std::vector<DotCase> cases = {
      {DType::Q4_0, DType::Q8_0, r::vec_dot_q4_0_q8_0, {offsetof(BlockQ4_0, d)}},
      {DType::Q4_1, DType::Q8_1, r::vec_dot_q4_1_q8_1, {offsetof(BlockQ4_1, d), offsetof(BlockQ4_1, m)}},
      {DType::Q5_0, DType::Q8_0, r::vec_dot_q5_0_q8_0, {offsetof(BlockQ5_0, d)}},
      {DType::Q5_1, DType::Q8_1, r::vec_dot_q5_1_q8_1, {offsetof(BlockQ5_1, d), offsetof(BlockQ5_1, m)}},
      {DType::Q8_0, DType::Q8_0, r::vec_dot_q8_0_q8_0, {offsetof(BlockQ8_0, d)}},
      {DType::Q2_K, DType::Q8_K, r::vec_dot_q2_k_q8_k, {offsetof(BlockQ2_K, d), offsetof(BlockQ2_K, dmin)}},
      {DType::Q3_K, DType::Q8_K, r::vec_dot_q3_k_q8_k, {offsetof(BlockQ3_K, d)}},
      {DType::Q4_K, DType::Q8_K, r::vec_dot_q4_k_q8_k, {offsetof(BlockQ4_K, d), offsetof(BlockQ4_K, dmin)}},
      {DType::Q5_K, DType::Q8_K, r::vec_dot_q5_k_q8_k, {offsetof(BlockQ5_K, d), offsetof(BlockQ5_K, dmin)}},
      {DType::Q6_K, DType::Q8_K, r::vec_dot_q6_k_q8_k, {offsetof(BlockQ6_K, d)}},
  };
  return cases;
}

const QuantCase& quant_case(DType t) {
  for (const auto& c : quant_cases()) {
    if (c.type == t) return c;
  }
  std::abort();
}

// Random bytes, with every fp16 field replaced by a finite value in [-0.05, 0.05).
std::vector<uint8_t> random_weight_blocks(const DotCase& c, int64_t n, uint64_t seed) {
  const size_t tsz = dtype_info(c.w_type).type_size;
  std::vector<uint8_t> bytes(row_bytes(c.w_type, n));
  std::mt19937_64 rng(seed);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  for (size_t blk = 0; blk < bytes.size() / tsz; ++blk) {
    for (size_t off : c.fp16_fields) {
      fp16_t h = fp32_to_fp16(scale(rng));
      std::memcpy(bytes.data() + blk * tsz + off, &h, 2);
    }
  }
  return bytes;
}

// Checks vec_dot(w, quantize(x)) against the double-precision dot of the dequantized operands.
void check_dot(const DotCase& c, const std::vector<uint8_t>& w, int64_t n, uint64_t seed) {
  auto xf = random_floats(static_cast<size_t>(n), seed, -2.0f, 2.0f);
  const QuantCase& xc = quant_case(c.x_type);
  std::vector<uint8_t> xq(row_bytes(c.x_type, n));
  xc.quantize(xf.data(), xq.data(), n);
  std::vector<float> wd(static_cast<size_t>(n)), xd(static_cast<size_t>(n));
  quant_case(c.w_type).dequantize(w.data(), wd.data(), n);
  xc.dequantize(xq.data(), xd.data(), n);
  double ref = 0, mag = 0;
  for (int64_t i = 0; i < n; ++i) {
    ref += static_cast<double>(wd[i]) * xd[i];
    mag += std::fabs(static_cast<double>(wd[i]) * xd[i]);
  }
  // Q8_1 stores s = d * sum(qs) in fp16, so the min term of Q4_1/Q5_1 carries that rounding:
  // bound it by |m| * |s| * 2^-11 per block on top of float accumulation error.
  double extra = 0;
  if (c.x_type == DType::Q8_1) {
    const auto* xb = reinterpret_cast<const BlockQ8_1*>(xq.data());
    const size_t tsz = dtype_info(c.w_type).type_size;
    for (int64_t b = 0; b < n / 32; ++b) {
      fp16_t m;
      std::memcpy(&m, w.data() + static_cast<size_t>(b) * tsz + 2, 2);
      extra += std::fabs(fp16_to_fp32(m) * fp16_to_fp32(xb[b].s)) * (1.0 / 2048);
    }
  }
  const float got = c.vec_dot(n, w.data(), xq.data());
  EXPECT_NEAR(got, ref, 2e-5 * mag + extra + 1e-6) << "n = " << n;
}

TEST(QuantDot, MatchesDequantizedDotOnArbitraryBlocks) {
  for (const auto& c : dot_cases()) {
    SCOPED_TRACE(case_name(c.w_type));
    const int64_t bs = dtype_info(c.w_type).block_size;
    for (int64_t n_blocks : {1, 3, 8, 17}) {
      auto w = random_weight_blocks(c, n_blocks * bs, 100 + static_cast<uint64_t>(n_blocks));
      check_dot(c, w, n_blocks * bs, 200 + static_cast<uint64_t>(n_blocks));
    }
  }
}

TEST(QuantDot, MatchesDequantizedDotOnQuantizedWeights) {
  for (const auto& c : dot_cases()) {
    SCOPED_TRACE(case_name(c.w_type));
    const int64_t bs = dtype_info(c.w_type).block_size;
    for (int64_t n_blocks : {1, 5, 12}) {
      const int64_t n = n_blocks * bs;
      auto wf = random_floats(static_cast<size_t>(n), 300 + static_cast<uint64_t>(n_blocks));
      std::vector<uint8_t> w(row_bytes(c.w_type, n));
      quant_case(c.w_type).quantize(wf.data(), w.data(), n);
      check_dot(c, w, n, 400 + static_cast<uint64_t>(n_blocks));
    }
  }
}

// End to end: the quantized dot approximates the float dot within the combined error bounds.
TEST(QuantDot, ApproximatesFloatDot) {
  for (const auto& c : dot_cases()) {
    SCOPED_TRACE(case_name(c.w_type));
    const int64_t n = 8 * 256;
    auto wf = random_floats(static_cast<size_t>(n), 1);
    auto xf = random_floats(static_cast<size_t>(n), 2);
    std::vector<uint8_t> w(row_bytes(c.w_type, n)), x(row_bytes(c.x_type, n));
    quant_case(c.w_type).quantize(wf.data(), w.data(), n);
    quant_case(c.x_type).quantize(xf.data(), x.data(), n);
    double ref = 0;
    for (int64_t i = 0; i < n; ++i) ref += static_cast<double>(wf[i]) * xf[i];
    // Error of a sum of n products with independent relative errors e_w, e_x (RMS): about
    // sqrt(n) * rms(w) * rms(x) * (e_w + e_x); allow 4 sigma.
    const double rms_w = rms(wf), rms_x = rms(xf);
    const double tol = 4.0 * std::sqrt(static_cast<double>(n)) * rms_w * rms_x *
                       (quant_case(c.w_type).rel_rmse_bound + quant_case(c.x_type).rel_rmse_bound);
    EXPECT_NEAR(c.vec_dot(n, w.data(), x.data()), ref, tol);
  }
}

// The scalar table holds the ref:: kernels (the SIMD tables are checked against them in
// simd_kernels_test.cpp).
TEST(QuantDot, DispatchTableExposesReferenceKernels) {
  for (const auto& c : dot_cases()) {
    SCOPED_TRACE(case_name(c.w_type));
    const kernels::TypeKernels* k = kernels::type_kernels(c.w_type, kernels::Isa::Scalar);
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->vec_dot_type, c.x_type);
    EXPECT_EQ(k->vec_dot, c.vec_dot);
    EXPECT_EQ(k->to_float, quant_case(c.w_type).dequantize);
    EXPECT_EQ(k->from_float, quant_case(c.w_type).quantize);
    EXPECT_TRUE(dtype_info(c.w_type).computable);
    const kernels::TypeKernels* act = kernels::type_kernels(k->vec_dot_type);
    ASSERT_NE(act, nullptr);
    EXPECT_NE(act->from_float, nullptr);
  }
}

}  // namespace
}  // namespace lm::test
