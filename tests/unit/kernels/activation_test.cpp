// The per-ISA activation kernels (kernels/cpu/activation.h) against ref::swiglu and std::exp, on
// every ISA this machine has.
#include "kernels/cpu/activation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/ref/ops.h"
#include "test_util.h"

namespace lm::kernels {
namespace {

// Relative bound of an ISA's swiglu against ref::swiglu. Both compute fl(fl(g / fl(1 + e)) * u)
// and differ only in e = e^-g: exp_ps is within 1.5e-7 of the true value (kExpRel) and libm's
// expf within 0.5 ulp (6e-8), so the two e differ by at most 2.1e-7 relative. 1 + e scales that
// by e / (1 + e) < 1, and each of the three roundings (add, divide, multiply) can then put the
// two results at most one more ulp apart (2^-23 = 1.2e-7 relative): 2.1e-7 + 3.6e-7 = 5.7e-7.
// Measured: 3.5e-7 (5 ulp) over 2^24 random gates in [-88, 88].
constexpr double kSwigluRel = 6e-7;
// Absolute slack for results near zero: the ref gives g / e^-g (down to ~1e-37) for g in
// [-88.72, -88) where the ISA versions already give 0, and subnormal results lose relative digits.
constexpr double kSwigluAbs = 1e-35;
// Relative bound of exp_ps against e^x in double over [-87, 88]: the Cephes polynomial is
// accurate to about 2^-24 on |r| <= ln2 / 2 and the float operations add a few half-ulp
// roundings; measured 8.5e-8 over 2^24 points.
constexpr double kExpRel = 1.5e-7;

std::vector<Isa> simd_isas() {
  std::vector<Isa> out;
  for (Isa isa : available_isas()) {
    if (isa != Isa::Scalar) out.push_back(isa);
  }
  return out;
}

// Random gates in [-30, 30] with the edge values spread over the array (at varied lanes).
std::vector<float> test_gates(int64_t n, uint64_t seed) {
  auto g = test::random_floats(static_cast<size_t>(n), seed, -30.0f, 30.0f);
  const float edge[] = {0.0f,   -0.0f,  1e-3f,  -1e-3f,  20.0f, -20.0f, 87.0f, -87.0f,
                        88.7f,  -88.7f, 100.0f, -100.0f, 1e30f, -1e30f, 88.0f, -88.0f,
                        -88.1f, 1.0f,   -1.0f,  5.0f,    -5.0f, 1e-30f, -1e-30f};
  const int64_t n_edge = static_cast<int64_t>(sizeof(edge) / sizeof(edge[0]));
  for (int64_t i = 0; i < n; ++i) {
    if (i < n_edge) g[static_cast<size_t>(i * 7 % n)] = edge[i];
  }
  return g;
}

void expect_close_to_ref(const std::vector<float>& g, const std::vector<float>& u,
                         const std::vector<float>& out, Isa isa) {
  std::vector<float> want(g.size());
  ref::swiglu(g.data(), u.data(), want.data(), static_cast<int64_t>(g.size()));
  for (size_t i = 0; i < g.size(); ++i) {
    const std::string where = std::string(isa_name(isa)) + " n=" + std::to_string(g.size()) +
                              " i=" + std::to_string(i) + " g=" + std::to_string(g[i]);
    ASSERT_TRUE(std::isfinite(out[i])) << where << " out=" << out[i];
    ASSERT_TRUE(std::isfinite(want[i])) << where;
    const double err = std::fabs(double(out[i]) - double(want[i]));
    EXPECT_LE(err, kSwigluRel * std::fabs(double(want[i])) + kSwigluAbs)
        << where << " out=" << out[i] << " ref=" << want[i];
    if (g[i] < -88.0f) {
      EXPECT_EQ(out[i], 0.0f) << where;  // silu's limit, either sign of zero
    }
    if (g[i] >= 20.0f) {
      EXPECT_EQ(out[i], g[i] * u[i]) << where;  // silu(g) = g in float
    }
  }
}

TEST(ActivationTest, SwigluMatchesRefOnEveryIsa) {
  const auto isas = simd_isas();
  if (isas.empty()) GTEST_SKIP() << "no AVX2 on this CPU: only ref::swiglu exists";
  for (Isa isa : isas) {
    const SwigluFn fn = swiglu_kernel(isa);
    for (int64_t n : {0, 1, 15, 16, 17, 1000, 8192 + 3}) {
      const auto g = test_gates(n, 100 + n);
      const auto u = test::random_floats(static_cast<size_t>(n), 200 + n, -3.0f, 3.0f);
      std::vector<float> out(static_cast<size_t>(n) + 1, 42.0f);  // one guard element past n
      fn(g.data(), u.data(), out.data(), n);
      EXPECT_EQ(out[static_cast<size_t>(n)], 42.0f) << isa_name(isa) << " wrote past n=" << n;
      out.pop_back();
      expect_close_to_ref(g, u, out, isa);
    }
  }
}

TEST(ActivationTest, SwigluLimitsMatchRef) {
  // Infinite gates: +inf -> +inf * u, -inf -> NaN (inf / inf), as ref.
  for (Isa isa : available_isas()) {
    const float g[3] = {std::numeric_limits<float>::infinity(),
                        -std::numeric_limits<float>::infinity(), std::nanf("")};
    const float u[3] = {2.0f, 2.0f, 2.0f};
    float out[3], want[3];
    swiglu_kernel(isa)(g, u, out, 3);
    ref::swiglu(g, u, want, 3);
    EXPECT_EQ(out[0], want[0]) << isa_name(isa);
    EXPECT_TRUE(std::isnan(out[1]) && std::isnan(want[1])) << isa_name(isa);
    EXPECT_TRUE(std::isnan(out[2]) && std::isnan(want[2])) << isa_name(isa);
  }
}

TEST(ActivationTest, SwigluInPlaceGivesTheSameBits) {
  const int64_t n = 1000 + 5;
  const auto g = test_gates(n, 7);
  const auto u = test::random_floats(static_cast<size_t>(n), 8, -3.0f, 3.0f);
  for (Isa isa : available_isas()) {
    const SwigluFn fn = swiglu_kernel(isa);
    std::vector<float> apart(static_cast<size_t>(n)), on_gate = g, on_up = u;
    fn(g.data(), u.data(), apart.data(), n);
    fn(on_gate.data(), u.data(), on_gate.data(), n);
    fn(g.data(), on_up.data(), on_up.data(), n);
    EXPECT_EQ(std::memcmp(apart.data(), on_gate.data(), n * sizeof(float)), 0) << isa_name(isa);
    EXPECT_EQ(std::memcmp(apart.data(), on_up.data(), n * sizeof(float)), 0) << isa_name(isa);
  }
}

// The forward pass splits a row over the pool at arbitrary element boundaries: an element's
// result must not depend on where its chunk starts or how long it is (no scalar tail path).
TEST(ActivationTest, SwigluResultIndependentOfPositionAndLength) {
  const int64_t n = 8192 + 3;
  const auto g = test_gates(n, 31);
  const auto u = test::random_floats(static_cast<size_t>(n), 32, -3.0f, 3.0f);
  for (Isa isa : available_isas()) {
    const SwigluFn fn = swiglu_kernel(isa);
    std::vector<float> whole(static_cast<size_t>(n));
    fn(g.data(), u.data(), whole.data(), n);
    for (int64_t off : {0, 1, 5, 13, 4097}) {
      for (int64_t len : {1, 3, 8, 15, 16, 17, 31, 1001}) {
        std::vector<float> part(static_cast<size_t>(len));
        fn(g.data() + off, u.data() + off, part.data(), len);
        EXPECT_EQ(std::memcmp(part.data(), whole.data() + off, len * sizeof(float)), 0)
            << isa_name(isa) << " off=" << off << " len=" << len;
      }
    }
  }
}

TEST(ActivationTest, ExpMatchesStdExpOnEveryIsa) {
  const auto isas = simd_isas();
  if (isas.empty()) GTEST_SKIP() << "no AVX2 on this CPU: no vector exp";
  // A dense sweep of [-87, 88] (step 175 / 2^20: every binade, and many points per reduction
  // interval k ln2 +- ln2/2) plus the ends.
  const int64_t n = (int64_t(1) << 20) + 1;
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(-87.0 + 175.0 * double(i) / double(n - 1));
  x.back() = 88.0f;
  for (Isa isa : isas) {
    const ExpFn fn = exp_kernel(isa);
    ASSERT_NE(fn, nullptr);
    std::vector<float> y(static_cast<size_t>(n));
    fn(x.data(), y.data(), n);
    double max_rel = 0;
    float worst = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double want = std::exp(double(x[i]));
      const double rel = std::fabs(double(y[i]) - want) / want;
      if (rel > max_rel) max_rel = rel, worst = x[i];
    }
    EXPECT_LE(max_rel, kExpRel) << isa_name(isa) << " worst at x=" << worst;
    RecordProperty(std::string("exp_max_rel_") + std::string(isa_name(isa)), std::to_string(max_rel));
    // Outside [-87, 88] the input is clamped: finite, normal results.
    const float out_of_range[4] = {-100.0f, -1e30f, 100.0f, 1e30f};
    float y2[4];
    fn(out_of_range, y2, 4);
    EXPECT_EQ(y2[0], y[0]) << isa_name(isa);
    EXPECT_EQ(y2[1], y[0]) << isa_name(isa);
    EXPECT_EQ(y2[2], y[static_cast<size_t>(n - 1)]) << isa_name(isa);
    EXPECT_EQ(y2[3], y[static_cast<size_t>(n - 1)]) << isa_name(isa);
    EXPECT_TRUE(std::isnormal(y2[0]) && std::isnormal(y2[2])) << isa_name(isa);
  }
}

TEST(ActivationTest, SelectedKernelFollowsTheSelectedIsa) {
  EXPECT_EQ(swiglu_kernel(), swiglu_kernel(selected_isa()));
  EXPECT_EQ(swiglu_kernel(Isa::Scalar), &ref::swiglu);
}

}  // namespace
}  // namespace lm::kernels
