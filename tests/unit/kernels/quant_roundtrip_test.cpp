// Quantize -> dequantize round trips of every quantized type on seeded data, with error bounds
// relative to the data RMS (reasoning in quant_cases.h), plus edge cases and determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "quant_cases.h"
#include "test_util.h"

namespace lm::test {
namespace {

int64_t block_of(DType t) { return dtype_info(t).block_size; }

TEST(QuantRoundTrip, UniformDataWithinBound) {
  for (const auto& c : quant_cases()) {
    SCOPED_TRACE(case_name(c.type));
    for (int n_blocks : {1, 7, 13}) {
      auto x = random_floats(static_cast<size_t>(n_blocks * block_of(c.type)), 1000 + n_blocks);
      auto y = round_trip(c, x);
      const double rel = rmse(x, y) / rms(x);
      if (n_blocks == 13) std::printf("  %-5s uniform rel rmse %.4f (bound %.3f)\n",
                                      case_name(c.type).c_str(), rel, c.rel_rmse_bound);
      EXPECT_LT(rel, c.rel_rmse_bound) << n_blocks << " blocks";
    }
  }
}

// Gaussian data (weight-like, with tails): the block maximum is ~2.5 sigma instead of
// ~1.7 sigma for uniform data, so max-scaled grids are ~1.5x coarser relative to the RMS.
TEST(QuantRoundTrip, GaussianDataWithinBound) {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  for (const auto& c : quant_cases()) {
    SCOPED_TRACE(case_name(c.type));
    std::vector<float> x(static_cast<size_t>(11 * block_of(c.type)));
    for (auto& v : x) v = dist(rng);
    auto y = round_trip(c, x);
    const double rel = rmse(x, y) / rms(x);
    std::printf("  %-5s gaussian rel rmse %.4f (bound %.3f)\n", case_name(c.type).c_str(), rel,
                1.5 * c.rel_rmse_bound);
    EXPECT_LT(rel, 1.5 * c.rel_rmse_bound);
  }
}

TEST(QuantRoundTrip, ZerosAreExact) {
  for (const auto& c : quant_cases()) {
    SCOPED_TRACE(case_name(c.type));
    std::vector<float> x(static_cast<size_t>(3 * block_of(c.type)), 0.0f);
    auto y = round_trip(c, x);
    for (float v : y) ASSERT_EQ(v, 0.0f);
  }
}

// A constant block is representable exactly but for the rounding of the fp16 scales (and the
// 6-bit sub-block scales of the k-quants, which hit the top level exactly): < 0.2%.
TEST(QuantRoundTrip, ConstantRowsAreNearlyExact) {
  for (const auto& c : quant_cases()) {
    SCOPED_TRACE(case_name(c.type));
    for (float value : {0.37f, -0.37f, 5.0f}) {
      std::vector<float> x(static_cast<size_t>(2 * block_of(c.type)), value);
      auto y = round_trip(c, x);
      for (float v : y) ASSERT_NEAR(v, value, 0.002 * std::fabs(value)) << "constant " << value;
    }
  }
}

// Scaling the data scales the error: the relative bound holds for large and small magnitudes
// (within the fp16 range of the block scales).
TEST(QuantRoundTrip, HugeAndSmallMagnitudes) {
  for (const auto& c : quant_cases()) {
    SCOPED_TRACE(case_name(c.type));
    for (float scale : {1e4f, 1e-2f}) {
      auto x = random_floats(static_cast<size_t>(5 * block_of(c.type)), 77);
      for (auto& v : x) v *= scale;
      auto y = round_trip(c, x);
      EXPECT_LT(rmse(x, y) / rms(x), c.rel_rmse_bound) << "scale " << scale;
    }
  }
}

// One large value costs precision only inside its own block; the outlier itself is kept to
// within the block's (now coarse) step.
TEST(QuantRoundTrip, SingleOutlierStaysLocal) {
  for (const auto& c : quant_cases()) {
    SCOPED_TRACE(case_name(c.type));
    const int64_t bs = block_of(c.type);
    auto x = random_floats(static_cast<size_t>(5 * bs), 99);
    const size_t at = static_cast<size_t>(2 * bs + bs / 3);
    x[at] = 100.0f;
    auto y = round_trip(c, x);
    EXPECT_NEAR(y[at], 100.0f, 100.0f * c.rel_rmse_bound);
    std::vector<float> xs, ys;
    for (size_t i = 0; i < x.size(); ++i) {
      if (static_cast<int64_t>(i) / bs == 2) continue;
      xs.push_back(x[i]);
      ys.push_back(y[i]);
    }
    EXPECT_LT(rmse(xs, ys) / rms(xs), c.rel_rmse_bound);
  }
}

TEST(QuantRoundTrip, QuantizationIsDeterministic) {
  for (const auto& c : quant_cases()) {
    SCOPED_TRACE(case_name(c.type));
    const int64_t n = 9 * block_of(c.type);
    auto x = random_floats(static_cast<size_t>(n), 5);
    std::vector<uint8_t> a(row_bytes(c.type, n)), b(row_bytes(c.type, n), 0xAB);
    c.quantize(x.data(), a.data(), n);
    c.quantize(x.data(), b.data(), n);  // different prior contents must not leak through
    EXPECT_EQ(a, b);
  }
}

// Rows are independent: quantizing a whole row equals quantizing each block on its own.
TEST(QuantRoundTrip, BlocksAreIndependent) {
  for (const auto& c : quant_cases()) {
    SCOPED_TRACE(case_name(c.type));
    const int64_t bs = block_of(c.type), n = 4 * bs;
    const size_t tsz = dtype_info(c.type).type_size;
    auto x = random_floats(static_cast<size_t>(n), 11);
    std::vector<uint8_t> whole(row_bytes(c.type, n)), piece(tsz);
    c.quantize(x.data(), whole.data(), n);
    for (int64_t i = 0; i < 4; ++i) {
      c.quantize(x.data() + i * bs, piece.data(), bs);
      EXPECT_EQ(0, std::memcmp(piece.data(), whole.data() + i * tsz, tsz)) << "block " << i;
    }
  }
}

// Non-finite inputs are garbage in, but must not crash (or hit undefined float->int
// conversions, see the sanitizer build) and must not leak into other blocks.
TEST(QuantRoundTrip, NonFiniteValuesStayInTheirBlock) {
  for (const auto& c : quant_cases()) {
    SCOPED_TRACE(case_name(c.type));
    const int64_t bs = block_of(c.type), n = 3 * bs;
    const size_t tsz = dtype_info(c.type).type_size;
    auto x = random_floats(static_cast<size_t>(n), 21);
    auto bad = x;
    bad[5] = std::nanf("");
    bad[7] = INFINITY;
    bad[static_cast<size_t>(bs) + 3] = -INFINITY;
    std::vector<uint8_t> a(row_bytes(c.type, n)), b(row_bytes(c.type, n));
    c.quantize(x.data(), a.data(), n);
    c.quantize(bad.data(), b.data(), n);
    EXPECT_EQ(0, std::memcmp(a.data() + 2 * tsz, b.data() + 2 * tsz, tsz));
    std::vector<float> y(static_cast<size_t>(n));
    c.dequantize(b.data(), y.data(), n);  // must not crash
  }
}

// Q8_K's bsums hold the sums of each group of 16 quants; Q8_1's s holds d * sum(qs).
TEST(QuantRoundTrip, ActivationSideSums) {
  auto x = random_floats(512, 3, -3.0f, 2.0f);
  std::vector<BlockQ8_K> k(2);
  kernels::ref::quantize_row_q8_k(x.data(), k.data(), 512);
  for (const auto& b : k) {
    for (int j = 0; j < 16; ++j) {
      int s = 0;
      for (int e = 0; e < 16; ++e) s += b.qs[16 * j + e];
      EXPECT_EQ(b.bsums[j], s);
    }
  }
  std::vector<BlockQ8_1> q(16);
  kernels::ref::quantize_row_q8_1(x.data(), q.data(), 512);
  for (const auto& b : q) {
    int s = 0;
    for (int8_t v : b.qs) s += v;
    EXPECT_NEAR(fp16_to_fp32(b.s), fp16_to_fp32(b.d) * static_cast<float>(s),
                2e-3f * std::fabs(fp16_to_fp32(b.d) * static_cast<float>(s)) + 1e-6f);
  }
}

}  // namespace
}  // namespace lm::test
