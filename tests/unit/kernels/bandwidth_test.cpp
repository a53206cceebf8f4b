// The bandwidth probe (kernels/cpu/bandwidth.h): its per-ISA read loops sum exactly what the
// plain loop sums (any bounds, tails included), and a measurement reports what it read.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/bandwidth.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/simd_kernels.h"

namespace lm::kernels {
namespace {

TEST(BandwidthTest, ReadSumsOfEveryIsaAgree) {
  std::vector<uint64_t> buf(1000);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = i * 0x9E3779B97F4A7C15ull;
  int tested = 0;
  for (Isa isa : available_isas()) {
    if (isa == Isa::Scalar) continue;
    auto sum = isa == Isa::Avx512 ? avx512::read_sum : avx2::read_sum;
    ++tested;
    for (int64_t b : {0, 1, 7, 33}) {
      for (int64_t e : {int64_t(b), b + 5, b + 64, b + 511, int64_t(1000)}) {
        uint64_t want = 0;
        for (int64_t i = b; i < e; ++i) want += buf[size_t(i)];
        EXPECT_EQ(sum(buf.data(), b, e), want) << isa_name(isa) << " [" << b << ", " << e << ")";
      }
    }
  }
  if (tested == 0) GTEST_SKIP() << "no AVX2 on this CPU: only the plain loop exists";
}

TEST(BandwidthTest, MeasurementReportsEveryPass) {
  ThreadPool pool(2);
  const BandwidthResult r = measure_read_bandwidth(pool, 8 << 20, 3);
  EXPECT_EQ(r.bytes, size_t(8) << 20);
  EXPECT_EQ(r.threads, 2);
  ASSERT_EQ(r.passes_gbps.size(), 3u);
  for (double g : r.passes_gbps) {
    EXPECT_GT(g, 0);
    EXPECT_LE(g, r.best_gbps);
  }
}

}  // namespace
}  // namespace lm::kernels
