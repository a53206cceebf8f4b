#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "sampling/rng.h"

namespace lm::sampling {
namespace {

// Published splitmix64 outputs for seed 1234567 (Rosetta Code, "Pseudo-random numbers/Splitmix64").
TEST(Rng, SplitMix64MatchesPublishedSequence) {
  uint64_t x = 1234567;
  const uint64_t expected[] = {6457827717110365317ull, 3203168211198807973ull,
                               9817491932198370423ull, 4593380528125082431ull,
                               16408922859458223821ull};
  for (uint64_t e : expected) EXPECT_EQ(Rng::splitmix64(x), e);
}

TEST(Rng, SameSeedSameStreamDifferentSeedDifferentStream) {
  Rng a(42), b(42), c(43);
  int differ = 0;
  for (int i = 0; i < 100; ++i) {
    const uint64_t va = a.next_u64();
    EXPECT_EQ(va, b.next_u64());
    differ += va != c.next_u64();
  }
  EXPECT_EQ(differ, 100);
}

TEST(Rng, ReseedRestartsTheStream) {
  Rng a(7);
  std::vector<uint64_t> first;
  for (int i = 0; i < 10; ++i) first.push_back(a.next_u64());
  a.reseed(7);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next_u64(), first[i]);
}

TEST(Rng, DoublesAreUniformInUnitInterval) {
  Rng r(1);
  const int n = 200000;
  const int n_bins = 20;
  std::vector<int> bins(n_bins, 0);
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    const double u = r.next_double();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    EXPECT_EQ(u, std::ldexp(std::floor(std::ldexp(u, 53)), -53));  // a multiple of 2^-53
    sum += u;
    ++bins[static_cast<int>(u * n_bins)];
  }
  EXPECT_NEAR(sum / n, 0.5, 0.005);
  double chi2 = 0.0;
  const double e = static_cast<double>(n) / n_bins;
  for (int b : bins) chi2 += (b - e) * (b - e) / e;
  EXPECT_LT(chi2, 50.0);  // df = 19; P(chi2 > 50) < 1e-4
}

}  // namespace
}  // namespace lm::sampling
