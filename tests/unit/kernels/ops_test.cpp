// The reference ops against straightforward double-precision loops.
#include "kernels/ref/ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "test_util.h"

namespace lm::kernels::ref {
namespace {

TEST(OpsTest, RmsNormMatchesDouble) {
  for (int64_t n : {1, 7, 64, 257, 4096}) {
    auto x = test::random_floats(n, 1 + n, -3, 3);
    auto w = test::random_floats(n, 2 + n, -2, 2);
    std::vector<float> y(n);
    rmsnorm(x.data(), w.data(), y.data(), n, 1e-5f);
    double ss = 0;
    for (float v : x) ss += double(v) * v;
    const double scale = 1.0 / std::sqrt(ss / n + 1e-5);
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_NEAR(y[i], x[i] * scale * w[i], 1e-5 * (1 + std::fabs(x[i] * scale * w[i]))) << n;
    }
    // In place gives the same.
    rmsnorm(x.data(), w.data(), x.data(), n, 1e-5f);
    EXPECT_EQ(x, y);
  }
}

// Double-precision RoPE over one head, written from the definition.
std::vector<double> rope_double(const std::vector<float>& x, int head_dim, int n_rot, int pos,
                                double base, double scale, const float* factors, bool neox) {
  std::vector<double> y(x.begin(), x.end());
  for (int i = 0; i < n_rot / 2; ++i) {
    double theta = pos * scale * std::pow(base, -2.0 * i / n_rot);
    if (factors) theta /= factors[i];
    const int a = neox ? i : 2 * i;
    const int b = neox ? i + n_rot / 2 : 2 * i + 1;
    y[a] = x[a] * std::cos(theta) - x[b] * std::sin(theta);
    y[b] = x[a] * std::sin(theta) + x[b] * std::cos(theta);
  }
  (void)head_dim;
  return y;
}

TEST(OpsTest, RopeBothVariantsPartialAndFactors) {
  struct Case {
    int head_dim, n_rot, pos;
    float base, scale;
    bool factors, neox;
  };
  const Case cases[] = {
      {8, 8, 0, 10000, 1, false, false},         {8, 8, 5, 10000, 1, false, true},
      {64, 64, 511, 10000, 1, false, false},     {64, 64, 511, 1e6f, 1, false, true},
      {64, 32, 77, 10000, 1, false, false},      {64, 32, 77, 10000, 1, false, true},  // partial
      {128, 128, 3000, 500000, 1, true, false},   // llama3 factors
      {128, 96, 20000, 1e6f, 0.25f, true, true},  // linear scaling
  };
  for (const Case& c : cases) {
    const int n_head = 3;
    auto x = test::random_floats(size_t(n_head) * c.head_dim, c.pos + c.n_rot, -2, 2);
    auto factors = test::random_floats(c.n_rot / 2, 9, 1, 8);
    const float* f = c.factors ? factors.data() : nullptr;
    std::vector<float> cs(c.n_rot);
    rope_angles(c.pos, c.n_rot, c.base, c.scale, f, cs.data());
    std::vector<float> y = x;
    rope(y.data(), n_head, c.head_dim, c.n_rot, cs.data(), c.neox);
    for (int h = 0; h < n_head; ++h) {
      std::vector<float> xh(x.begin() + h * c.head_dim, x.begin() + (h + 1) * c.head_dim);
      auto want = rope_double(xh, c.head_dim, c.n_rot, c.pos, c.base, c.scale, f, c.neox);
      for (int d = 0; d < c.head_dim; ++d) {
        ASSERT_NEAR(y[h * c.head_dim + d], want[d], 2e-6)
            << "head_dim " << c.head_dim << " n_rot " << c.n_rot << " neox " << c.neox << " d "
            << d;
      }
    }
  }
}

TEST(OpsTest, RopeAnglesAreRotationsOfThePosition) {
  // Position 0 is the identity; unused dims beyond n_rot are untouched.
  std::vector<float> cs(16);
  rope_angles(0, 16, 10000, 1, nullptr, cs.data());
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(cs[2 * i], 1.0f);
    EXPECT_EQ(cs[2 * i + 1], 0.0f);
  }
  auto x = test::random_floats(32, 4);
  auto y = x;
  rope_angles(1234, 16, 10000, 1, nullptr, cs.data());
  rope(y.data(), 1, 32, 16, cs.data(), true);
  for (int d = 16; d < 32; ++d) EXPECT_EQ(y[d], x[d]);
}

TEST(OpsTest, SoftmaxMatchesDoubleAndIsStable) {
  for (int64_t n : {1, 2, 13, 1000}) {
    auto x = test::random_floats(n, 7 + n, -20, 20);
    x[0] = 1000.0f;  // would overflow exp() without the max shift
    std::vector<float> y = x;
    softmax(y.data(), n);
    double mx = *std::max_element(x.begin(), x.end()), sum = 0;
    for (float v : x) sum += std::exp(double(v) - mx);
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_NEAR(y[i], std::exp(double(x[i]) - mx) / sum, 1e-6);
      total += y[i];
    }
    EXPECT_NEAR(total, 1.0, 1e-5);
  }
}

TEST(OpsTest, SwigluAndAddMatchDouble) {
  const int64_t n = 1001;
  auto g = test::random_floats(n, 11, -10, 10);
  auto u = test::random_floats(n, 12, -3, 3);
  std::vector<float> out(n);
  swiglu(g.data(), u.data(), out.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    double want = double(g[i]) / (1.0 + std::exp(-double(g[i]))) * u[i];
    EXPECT_NEAR(out[i], want, 1e-5 * (1 + std::fabs(want)));
  }
  std::vector<float> y = u;
  add(g.data(), y.data(), n);
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(y[i], u[i] + g[i]);
}

}  // namespace
}  // namespace lm::kernels::ref
