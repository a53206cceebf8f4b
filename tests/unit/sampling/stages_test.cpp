// Each stage against hand-computed cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <vector>

#include "sampling/stages.h"
#include "test_util.h"

namespace lm::sampling {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

Candidates from_logits(std::vector<float> logits) {
  Candidates c;
  c.assign(logits);
  return c;
}

// A list in id order with the given p (logits unused by the p stages).
Candidates from_probs(std::vector<float> probs) {
  Candidates c;
  c.assign(std::vector<float>(probs.size(), 0.0f));
  for (size_t i = 0; i < probs.size(); ++i) c.data[i].p = probs[i];
  return c;
}

std::set<int32_t> ids(const Candidates& c) {
  std::set<int32_t> s;
  for (const Candidate& x : c.data) s.insert(x.id);
  return s;
}

TEST(Stages, PenaltiesFollowLlamaCppAndOpenAIDefinitions) {
  std::vector<float> l = {2.0f, -1.0f, 0.5f, 3.0f, 0.0f};
  std::vector<int32_t> counts(5, 0);
  const std::vector<int32_t> window = {0, 1, 0, 4};
  apply_penalties(l, window, counts, Penalties{2.0f, 0.1f, 0.5f});
  // id 0: seen twice, positive: 2 / 2 - (2 * 0.1 + 0.5)
  EXPECT_FLOAT_EQ(l[0], 1.0f - (2.0f * 0.1f + 0.5f));
  // id 1: seen once, negative: -1 * 2 - (0.1 + 0.5)
  EXPECT_FLOAT_EQ(l[1], -2.0f - (0.1f + 0.5f));
  EXPECT_EQ(l[2], 0.5f);  // not in the window
  EXPECT_EQ(l[3], 3.0f);
  // id 4: zero is not positive, so it is multiplied (stays 0), then the OpenAI terms.
  EXPECT_FLOAT_EQ(l[4], -(0.1f + 0.5f));
  EXPECT_EQ(counts, std::vector<int32_t>(5, 0));  // scratch left zeroed
}

TEST(Stages, RepeatPenaltyBelowOneRaisesSeenTokens) {
  std::vector<float> l = {2.0f, -2.0f};
  std::vector<int32_t> counts(2, 0);
  const std::vector<int32_t> window = {0, 1};
  apply_penalties(l, window, counts, Penalties{0.5f, 0.0f, 0.0f});
  EXPECT_EQ(l, (std::vector<float>{4.0f, -1.0f}));
}

TEST(Stages, NegativeFrequencyPenaltyRewardsRepeats) {
  std::vector<float> l = {1.0f, 1.0f, 1.0f};
  std::vector<int32_t> counts(3, 0);
  const std::vector<int32_t> window = {2, 2, 2, 1};
  apply_penalties(l, window, counts, Penalties{1.0f, -0.5f, 0.0f});
  EXPECT_EQ(l, (std::vector<float>{1.0f, 1.5f, 2.5f}));
}

TEST(Stages, NonFiniteLogitsAreResolved) {
  Candidates c = from_logits({1.0f, kInf, kNaN, kInf, -kInf});
  EXPECT_EQ(c.data[2].logit, -kInf);  // assign maps NaN to -inf
  resolve_non_finite(c);  // the +inf tokens share the mass; the others are dropped
  ASSERT_EQ(c.data.size(), 2u);
  EXPECT_EQ(c.data[0].id, 1);
  EXPECT_EQ(c.data[1].id, 3);
  EXPECT_EQ(c.data[0].logit, 0.0f);
  EXPECT_EQ(c.data[1].logit, 0.0f);
  EXPECT_EQ(c.order, Order::kById);

  Candidates all_nan = from_logits({kNaN, kNaN, -kInf});
  resolve_non_finite(all_nan);
  for (const Candidate& x : all_nan.data) EXPECT_EQ(x.logit, 0.0f);

  EXPECT_EQ(all_nan.data.size(), 3u);

  Candidates finite = from_logits({1.0f, -kInf, 2.0f});
  resolve_non_finite(finite);  // finite max: values untouched, -inf dropped
  ASSERT_EQ(finite.data.size(), 2u);
  EXPECT_EQ(finite.data[0].logit, 1.0f);
  EXPECT_EQ(finite.data[1].id, 2);
  EXPECT_EQ(finite.data[1].logit, 2.0f);
}

TEST(Stages, ArgmaxBreaksTiesByLowestIdAndSkipsNaN) {
  EXPECT_EQ(argmax(std::vector<float>{1.0f, 3.0f, 2.0f, 3.0f}), 1);
  EXPECT_EQ(argmax(std::vector<float>{kNaN, 1.0f, kNaN, 3.0f}), 3);
  EXPECT_EQ(argmax(std::vector<float>{1.0f, kInf, kNaN, kInf}), 1);
  EXPECT_EQ(argmax(std::vector<float>{kNaN, kNaN}), 0);
  EXPECT_EQ(argmax(std::vector<float>{-kInf, -kInf, -kInf}), 0);
  // Long rows (the blocked path): against a plain scan, with ties, NaN and +inf placed
  // across and inside blocks.
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const auto n = static_cast<size_t>(1 + seed * 29 % 700);
    std::vector<float> l = test::random_floats(n, seed, -3.0f, 3.0f);
    for (size_t i = 0; i < n; i += 3) l[i] = std::round(l[i]);
    if (seed % 3 == 0) l[seed % n] = kNaN;
    if (seed % 5 == 0) l[(seed * 13) % n] = kInf;
    if (seed % 7 == 0) l[(seed * 17) % n] = kInf;
    if (seed % 11 == 0) std::fill(l.begin(), l.end(), kNaN);
    size_t expected = 0;
    for (size_t i = 0; i < n; ++i) {
      if (l[i] > l[expected] || (std::isnan(l[expected]) && !std::isnan(l[i]))) expected = i;
    }
    ASSERT_EQ(argmax(l), static_cast<int32_t>(expected)) << "seed " << seed;
  }
}

TEST(Stages, TopKKeepsTheKLargest) {
  Candidates c = from_logits({1.0f, 5.0f, 3.0f, 5.0f, 2.0f});
  top_k(c, 3);
  EXPECT_EQ(ids(c), (std::set<int32_t>{1, 2, 3}));
  top_k(c, 2);
  EXPECT_EQ(ids(c), (std::set<int32_t>{1, 3}));

  Candidates ties = from_logits({1.0f, 2.0f, 2.0f, 2.0f});
  top_k(ties, 2);
  EXPECT_EQ(ids(ties), (std::set<int32_t>{1, 2}));  // ties: lower ids first

  Candidates off = from_logits({1.0f, 2.0f});
  top_k(off, 0);
  EXPECT_EQ(off.data.size(), 2u);
  EXPECT_EQ(off.order, Order::kById);
  top_k(off, 5);
  EXPECT_EQ(off.data.size(), 2u);
}

std::vector<int32_t> sorted_ids(const Candidates& c) {
  std::vector<int32_t> v;
  for (const Candidate& x : c.data) v.push_back(x.id);
  std::sort(v.begin(), v.end());
  return v;
}

TEST(Stages, AssignTopKEqualsAssignThenTopKAndCommutesWithResolve) {
  for (uint64_t seed = 0; seed < 300; ++seed) {
    // Short rows take the full-list path, long ones (more blocks of 64 than k) the blocked one.
    const auto n = static_cast<size_t>(1 + seed * 523 % 20000);
    std::vector<float> logits = test::random_floats(n, seed, -3.0f, 3.0f);
    if (seed % 2 == 0) {
      for (float& l : logits) l = std::round(l);  // ties at the threshold
    }
    if (seed % 3 == 1) logits[seed % n] = kNaN;
    if (seed % 4 == 2) logits[(seed * 7) % n] = kInf;
    if (seed % 10 == 3) std::fill(logits.begin(), logits.end(), seed % 20 == 3 ? kNaN : -kInf);
    if (seed % 10 == 5) {  // mostly NaN: fewer than k numbers
      for (size_t i = 0; i < n; ++i) logits[i] = i % 997 == 0 ? logits[i] : kNaN;
    }
    const auto k = static_cast<int32_t>(seed % 50);
    Candidates a, b;
    a.assign(logits);
    resolve_non_finite(a);
    top_k(a, k);
    b.assign_top_k(logits, k);
    resolve_non_finite(b);
    ASSERT_EQ(sorted_ids(a), sorted_ids(b)) << "seed " << seed << " k " << k;
    std::map<int32_t, float> logit_of;
    for (const Candidate& x : a.data) logit_of[x.id] = x.logit;
    for (const Candidate& x : b.data) ASSERT_EQ(x.logit, logit_of[x.id]) << "seed " << seed;
  }
}

TEST(Stages, SoftmaxWithTemperature) {
  Candidates c = from_logits({0.0f, std::log(2.0f), std::log(3.0f)});
  softmax(c, 1.0f);
  EXPECT_NEAR(c.data[0].p, 1.0 / 6, 1e-6);
  EXPECT_NEAR(c.data[1].p, 2.0 / 6, 1e-6);
  EXPECT_NEAR(c.data[2].p, 3.0 / 6, 1e-6);
  softmax(c, 2.0f);  // p ∝ exp(l / 2) = 1, sqrt 2, sqrt 3
  const double z = 1.0 + std::sqrt(2.0) + std::sqrt(3.0);
  EXPECT_NEAR(c.data[0].p, 1.0 / z, 1e-6);
  EXPECT_NEAR(c.data[1].p, std::sqrt(2.0) / z, 1e-6);
  EXPECT_NEAR(c.data[2].p, std::sqrt(3.0) / z, 1e-6);
}

TEST(Stages, SoftmaxSurvivesExtremeTemperaturesAndMinusInfinity) {
  Candidates c = from_logits({1.0f, 1000.0f, -kInf, 999.0f});
  softmax(c, 1e-30f);  // (l - max) / T: no overflow to inf, the max takes everything
  EXPECT_EQ(c.data[1].p, 1.0f);
  EXPECT_EQ(c.data[0].p, 0.0f);
  EXPECT_EQ(c.data[2].p, 0.0f);
  EXPECT_EQ(c.data[3].p, 0.0f);
  softmax(c, 1e30f);  // uniform over the finite logits
  EXPECT_NEAR(c.data[0].p, 1.0 / 3, 1e-6);
  EXPECT_EQ(c.data[2].p, 0.0f);
}

TEST(Stages, TopPKeepsTheSmallestNucleus) {
  // Sorted: id 1 (0.4), id 3 (0.3), id 2 (0.2), id 0 (0.1); cumulative 0.4, 0.7, 0.9, 1.0.
  const std::vector<float> probs = {0.1f, 0.4f, 0.2f, 0.3f};
  const std::vector<std::pair<float, std::set<int32_t>>> cases = {
      {0.0f, {1}}, {0.35f, {1}}, {0.5f, {1, 3}}, {0.75f, {1, 3, 2}}, {0.95f, {0, 1, 2, 3}},
  };
  for (const auto& [p, expected] : cases) {
    Candidates c = from_probs(probs);
    top_p(c, p);
    EXPECT_EQ(ids(c), expected) << "top_p " << p;
    EXPECT_EQ(c.order, Order::kByProb);
    for (size_t i = 1; i < c.data.size(); ++i) EXPECT_GE(c.data[i - 1].p, c.data[i].p);
  }
  Candidates off = from_probs(probs);
  top_p(off, 1.0f);
  EXPECT_EQ(off.data.size(), 4u);
  EXPECT_EQ(off.order, Order::kById);
}

TEST(Stages, TopPIsRelativeToTheRemainingMass) {
  // Unnormalised p (after an earlier filter): 0.2, 0.2, 0.1 of total 0.5.
  Candidates c = from_probs({0.2f, 0.1f, 0.2f});
  top_p(c, 0.7f);  // cumulative 0.4, 0.8 of the total: two tokens
  EXPECT_EQ(ids(c), (std::set<int32_t>{0, 2}));
}

TEST(Stages, TopPOnALargeFlatListMatchesAFullSort) {
  // Wide nucleus: exercises the growing sorted prefix.
  const int n = 20000;
  std::vector<float> logits = test::random_floats(n, 5, -1.0f, 1.0f);
  Candidates c = from_logits(logits);
  softmax(c, 1.0f);
  std::vector<Candidate> ref = c.data;
  std::sort(ref.begin(), ref.end(), prob_before);
  double total = 0.0, cum = 0.0;
  for (const Candidate& x : ref) total += x.p;
  size_t keep = 0;
  while (keep < ref.size()) {
    cum += ref[keep++].p;
    if (cum >= 0.6 * total) break;
  }
  top_p(c, 0.6f);
  ASSERT_EQ(c.data.size(), keep);
  for (size_t i = 0; i < keep; ++i) EXPECT_EQ(c.data[i].id, ref[i].id) << i;
}

TEST(Stages, MinPIsRelativeToTheMostLikelyToken) {
  const std::vector<float> probs = {0.1f, 0.4f, 0.2f, 0.3f};
  const std::vector<std::pair<float, std::vector<int32_t>>> cases = {
      {0.5f, {1, 2, 3}},  // threshold 0.2: 0.2 is kept (>=)
      {0.7f, {1, 3}},     // threshold 0.28
      {0.8f, {1}},        // threshold 0.32
      {1.0f, {1}},
      {0.1f, {0, 1, 2, 3}},
  };
  for (const auto& [m, expected] : cases) {
    Candidates c = from_probs(probs);
    min_p(c, m);
    std::vector<int32_t> got;
    for (const Candidate& x : c.data) got.push_back(x.id);
    EXPECT_EQ(got, expected) << "min_p " << m;  // relative (id) order kept
    EXPECT_EQ(c.order, Order::kById);
  }
}

TEST(Stages, FusedTopPMinPEqualsTheTwoStagesInOrder) {
  int n_differ_from_top_p_alone = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const auto n = static_cast<size_t>(1 + seed * 37 % 3000);
    std::vector<float> logits = test::random_floats(n, seed, -4.0f, 4.0f);
    for (size_t i = 0; i < n; i += 7) logits[i] = std::round(logits[i]);  // ties
    const float p = static_cast<float>(seed % 11) / 10.0f;
    const float m = static_cast<float>(seed % 7) / 20.0f;
    Candidates sequential = from_logits(logits);
    softmax(sequential, 0.7f);
    Candidates fused = sequential;
    top_p(sequential, p);
    const size_t after_top_p = sequential.data.size();
    min_p(sequential, m);
    n_differ_from_top_p_alone += sequential.data.size() != after_top_p;
    top_p_then_min_p(fused, p, m);
    make_deterministic_order(sequential);
    make_deterministic_order(fused);
    ASSERT_EQ(fused.data.size(), sequential.data.size()) << "seed " << seed;
    if (sequential.order == Order::kById) continue;  // both off: untouched
    for (size_t i = 0; i < fused.data.size(); ++i) {
      ASSERT_EQ(fused.data[i].id, sequential.data[i].id) << "seed " << seed << " at " << i;
    }
  }
  EXPECT_GT(n_differ_from_top_p_alone, 20);  // min-p did bite in many cases
}

TEST(Stages, DrawWalksTheCumulativeMass) {
  Candidates c = from_probs({0.25f, 0.5f, 0.25f});
  EXPECT_EQ(draw(c, 0.0), 0);
  EXPECT_EQ(draw(c, 0.2499), 0);
  EXPECT_EQ(draw(c, 0.25), 1);
  EXPECT_EQ(draw(c, 0.7499), 1);
  EXPECT_EQ(draw(c, 0.75), 2);
  EXPECT_EQ(draw(c, 0.9999999), 2);
  Candidates zero_first = from_probs({0.0f, 1.0f, 0.0f});
  EXPECT_EQ(draw(zero_first, 0.0), 1);
  EXPECT_EQ(draw(zero_first, 0.9999999), 1);
  Candidates unnormalised = from_probs({1.0f, 3.0f});
  EXPECT_EQ(draw(unnormalised, 0.24), 0);
  EXPECT_EQ(draw(unnormalised, 0.26), 1);
}

TEST(Stages, DeterministicOrderSortsArbitraryLists) {
  Candidates c = from_probs({0.2f, 0.5f, 0.2f, 0.1f});
  std::reverse(c.data.begin(), c.data.end());
  c.order = Order::kArbitrary;
  make_deterministic_order(c);
  std::vector<int32_t> got;
  for (const Candidate& x : c.data) got.push_back(x.id);
  EXPECT_EQ(got, (std::vector<int32_t>{1, 0, 2, 3}));
  EXPECT_EQ(c.order, Order::kByProb);
}

}  // namespace
}  // namespace lm::sampling
