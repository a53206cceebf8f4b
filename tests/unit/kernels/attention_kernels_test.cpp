// The SIMD attention row kernels (kernels/cpu/attention_kernels.h) on every ISA of this machine:
// a query row fed key tiles of 1..32 keys one after another ends with the running max, the
// softmax denominator and the unnormalised output of a plain double-precision softmax.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/attention_kernels.h"
#include "kernels/cpu/cpu_features.h"
#include "test_util.h"

namespace lm::kernels {
namespace {

TEST(AttentionKernelsTest, TilesAddUpToTheSoftmaxOnEveryIsa) {
  int tested = 0;
  for (Isa isa : available_isas()) {
    if (isa == Isa::Scalar) continue;
    const AttnRowFn fn = isa == Isa::Avx512 ? avx512::attn_row : avx2::attn_row;
    for (int32_t hd : {16, 32, 64, 80, 128}) {
      if (isa == Isa::Avx512 && hd % 16 != 0) continue;
      ++tested;
      const int32_t n_keys = 150;
      const auto q = test::random_floats(size_t(hd), 5 + hd, -2, 2);
      const auto k = test::random_floats(size_t(n_keys) * hd, 6 + hd, -2, 2);
      const auto v = test::random_floats(size_t(n_keys) * hd, 7 + hd);
      const float scale = 1.0f / std::sqrt(float(hd));
      std::vector<float> row(size_t(hd) + 2, 0.0f);
      row[0] = -std::numeric_limits<float>::infinity();
      for (int32_t p0 = 0, n = 1; p0 < n_keys; p0 += n, n = n % 32 + 7) {
        const int32_t lim = std::min(n, n_keys - p0);
        fn(row.data(), q.data(), k.data() + size_t(p0) * hd, hd, v.data() + size_t(p0) * hd, hd, lim, hd,
           scale);
      }
      std::vector<double> s(n_keys);
      double mx = -1e300, l = 0;
      for (int32_t j = 0; j < n_keys; ++j) {
        double d = 0;
        for (int32_t i = 0; i < hd; ++i) d += double(q[i]) * k[size_t(j) * hd + i];
        s[j] = d * scale;
        mx = std::max(mx, s[j]);
      }
      ASSERT_NEAR(row[0], mx, 1e-5 * (1 + std::fabs(mx))) << isa_name(isa) << " hd " << hd;
      for (double& x : s) l += (x = std::exp(x - row[0]));  // relative to the kernel's max
      ASSERT_NEAR(row[1], l, 1e-5 * l) << isa_name(isa) << " hd " << hd;
      for (int32_t i = 0; i < hd; ++i) {
        double o = 0;
        for (int32_t j = 0; j < n_keys; ++j) o += s[j] * v[size_t(j) * hd + i];
        ASSERT_NEAR(row[2 + i], o, 1e-5 * l) << isa_name(isa) << " hd " << hd << " d " << i;
      }
    }
  }
  if (tested == 0) GTEST_SKIP() << "no AVX2 on this CPU: attention uses the portable loop only";
}

}  // namespace
}  // namespace lm::kernels
