// The whole chain: greedy, determinism, empirical distributions, penalties, non-finite logits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "sampling/sampler.h"
#include "test_util.h"

namespace lm::sampling {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

SamplingParams plain(float temperature, uint64_t seed = 1) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = seed;
  return p;
}

// Independent reference of the chain after the penalties, in double, with full sorts:
// the probability of each token ([n_vocab]).
std::vector<double> reference_probs(const std::vector<float>& logits, const SamplingParams& p) {
  const size_t n = logits.size();
  std::vector<int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  size_t keep = p.top_k > 0 ? std::min(n, static_cast<size_t>(p.top_k)) : n;
  std::vector<double> q(n, 0.0);
  const double max_l = logits[order[0]];
  double z = 0.0;
  for (size_t i = 0; i < keep; ++i) z += std::exp((logits[order[i]] - max_l) / p.temperature);
  for (size_t i = 0; i < keep; ++i) {
    q[order[i]] = std::exp((logits[order[i]] - max_l) / p.temperature) / z;
  }
  if (p.top_p < 1.0f) {
    double cum = 0.0;
    for (size_t i = 0; i < keep; ++i) {
      cum += q[order[i]];
      if (cum >= p.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  const double q_max = q[order[0]];
  double total = 0.0;
  std::vector<double> out(n, 0.0);
  for (size_t i = 0; i < keep; ++i) {
    if (q[order[i]] >= p.min_p * q_max) total += out[order[i]] = q[order[i]];
  }
  for (double& x : out) x /= total;
  return out;
}

// Draws `n_draws` tokens; checks tokens of probability 0 never appear and a chi-square bound.
void expect_distribution(const std::vector<float>& logits, const SamplingParams& p,
                         int n_draws = 30000) {
  const std::vector<double> expected = reference_probs(logits, p);
  Sampler s(p, static_cast<int32_t>(logits.size()));
  std::vector<int> seen(logits.size(), 0);
  for (int i = 0; i < n_draws; ++i) ++seen[s.sample(logits)];
  double chi2 = 0.0;
  int df = -1;
  for (size_t t = 0; t < logits.size(); ++t) {
    if (expected[t] == 0.0) {
      EXPECT_EQ(seen[t], 0) << "token " << t << " is outside the kept set";
      continue;
    }
    const double e = expected[t] * n_draws;
    chi2 += (seen[t] - e) * (seen[t] - e) / e;
    ++df;
  }
  // Mean df, sd sqrt(2 df): a bound 6 sd above the mean fails with p < 1e-4 for a correct
  // sampler (and the draws are seeded, so the outcome is fixed).
  EXPECT_LT(chi2, df + 6.0 * std::sqrt(2.0 * df) + 1.0) << "chi2 " << chi2 << ", df " << df;
}

const std::vector<float> kLogits = {1.0f, 2.5f, -0.5f, 0.3f, 2.0f, 1.7f,
                                    -1.2f, 0.9f, 3.0f, 0.0f, 1.1f, -2.0f};

TEST(Sampler, GreedyIsArgmax) {
  Sampler s(plain(0.0f), 1000);
  for (uint64_t row = 0; row < 20; ++row) {
    const std::vector<float> logits = test::random_floats(1000, row, -5.0f, 5.0f);
    const auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
    EXPECT_EQ(s.sample(logits), best);
  }
  const std::vector<float> tied = {0.0f, 2.0f, 1.0f, 2.0f};
  EXPECT_EQ(Sampler(plain(-1.0f), 4).sample(tied), 1);
}

TEST(Sampler, TopKOneIsGreedy) {
  SamplingParams p = plain(1.5f, 99);
  p.top_k = 1;
  Sampler s(p, 500);
  for (uint64_t row = 0; row < 20; ++row) {
    const std::vector<float> logits = test::random_floats(500, 100 + row, -2.0f, 2.0f);
    const auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
    EXPECT_EQ(s.sample(logits), best);
  }
}

std::vector<int32_t> run(const SamplingParams& p, const std::vector<float>& logits, int n) {
  Sampler s(p, static_cast<int32_t>(logits.size()));
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) out.push_back(s.sample(logits));
  return out;
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDifferentTokens) {
  SamplingParams p;  // the default chain
  p.seed = 1234;
  const auto a = run(p, kLogits, 64);
  EXPECT_EQ(a, run(p, kLogits, 64));
  p.seed = 1235;
  EXPECT_NE(a, run(p, kLogits, 64));
}

TEST(Sampler, RandomSeedIsReportedAndReusable) {
  SamplingParams p;
  p.seed = kSeedRandom;
  Sampler a(p, static_cast<int32_t>(kLogits.size()));
  EXPECT_NE(a.seed(), kSeedRandom);
  std::vector<int32_t> first;
  for (int i = 0; i < 32; ++i) first.push_back(a.sample(kLogits));
  p.seed = a.seed();
  EXPECT_EQ(first, run(p, kLogits, 32));
}

TEST(Sampler, DrawUsesTheDocumentedUniformDouble) {
  // top_k and top_p off: the list stays in id order, so the token is the first id whose
  // cumulative probability exceeds u, with u the next double of Rng(seed).
  SamplingParams p = plain(0.9f, 77);
  p.min_p = 0.02f;
  const std::vector<double> q = reference_probs(kLogits, p);
  Sampler s(p, static_cast<int32_t>(kLogits.size()));
  Rng rng(77);
  for (int i = 0; i < 300; ++i) {
    const double u = rng.next_double();
    double cum = 0.0;
    int32_t expected = -1;
    for (size_t t = 0; t < q.size() && expected < 0; ++t) {
      cum += q[t];
      if (q[t] > 0.0 && u < cum) expected = static_cast<int32_t>(t);
    }
    ASSERT_EQ(s.sample(kLogits), expected) << "draw " << i << " u " << u;
  }
}

TEST(Sampler, ResetReplaysTheSameTokens) {
  SamplingParams p;
  p.seed = 5;
  p.repeat_penalty = 1.3f;
  Sampler s(p, static_cast<int32_t>(kLogits.size()));
  std::vector<int32_t> first, second;
  for (int i = 0; i < 40; ++i) s.accept(first.emplace_back(s.sample(kLogits)));
  s.reset();
  EXPECT_TRUE(s.penalty_window().empty());
  for (int i = 0; i < 40; ++i) s.accept(second.emplace_back(s.sample(kLogits)));
  EXPECT_EQ(first, second);
}

TEST(Sampler, DistributionAfterSoftmax) { expect_distribution(kLogits, plain(1.0f, 11)); }

TEST(Sampler, DistributionAfterTemperature) { expect_distribution(kLogits, plain(0.6f, 12)); }

TEST(Sampler, DistributionAfterTopK) {
  SamplingParams p = plain(1.2f, 13);
  p.top_k = 5;
  expect_distribution(kLogits, p);
}

TEST(Sampler, DistributionAfterTopP) {
  SamplingParams p = plain(1.0f, 14);
  p.top_p = 0.8f;
  expect_distribution(kLogits, p);
}

TEST(Sampler, DistributionAfterMinP) {
  SamplingParams p = plain(1.0f, 15);
  p.min_p = 0.2f;
  expect_distribution(kLogits, p);
}

TEST(Sampler, DistributionAfterTheDefaultChain) {
  SamplingParams p;
  p.top_k = 8;
  p.top_p = 0.9f;
  p.min_p = 0.1f;
  for (uint64_t seed : {16, 17, 18}) {
    p.seed = seed;
    expect_distribution(kLogits, p);
  }
}

TEST(Sampler, DistributionOnAWideVocabulary) {
  SamplingParams p = plain(1.0f, 17);
  p.top_p = 0.5f;
  const std::vector<float> logits = test::random_floats(300, 17, -1.0f, 1.0f);
  expect_distribution(logits, p, 40000);
}

TEST(Sampler, PenaltiesChangeTheDistributionExactly) {
  SamplingParams p = plain(1.0f);
  p.repeat_penalty = 1.5f;
  p.frequency_penalty = 0.25f;
  p.presence_penalty = 0.5f;
  Sampler s(p, static_cast<int32_t>(kLogits.size()));
  for (int32_t t : {8, 8, 2, 1}) s.accept(t);
  s.sample(kLogits);
  std::vector<float> penalised = kLogits;
  penalised[8] = 3.0f / 1.5f - (2 * 0.25f + 0.5f);
  penalised[2] = -0.5f * 1.5f - (0.25f + 0.5f);
  penalised[1] = 2.5f / 1.5f - (0.25f + 0.5f);
  const std::vector<double> expected = reference_probs(penalised, p);
  const std::vector<TokenProb> got = s.top_candidates(kLogits.size());
  ASSERT_EQ(got.size(), kLogits.size());
  for (const TokenProb& tp : got) EXPECT_NEAR(tp.p, expected[tp.id], 1e-6) << tp.id;
}

TEST(Sampler, PenaltyWindowSlides) {
  SamplingParams p = plain(0.0f);
  p.repeat_penalty = 100.0f;  // a seen token loses to every unseen positive logit
  p.repeat_last_n = 2;
  const std::vector<float> logits = {1.0f, 2.0f, 3.0f, 4.0f};
  Sampler s(p, 4);
  EXPECT_EQ(s.sample(logits), 3);
  s.accept(3);
  EXPECT_EQ(s.sample(logits), 2);
  s.accept(2);
  EXPECT_EQ(s.sample(logits), 1);
  s.accept(1);  // window {2, 1}: token 3 is free again
  EXPECT_EQ(s.sample(logits), 3);
  for (int i = 0; i < 10; ++i) s.accept(0);
  EXPECT_EQ(s.penalty_window().size(), 2u);

  p.repeat_last_n = -1;  // the whole history
  Sampler all(p, 4);
  for (int32_t t : {3, 2, 1}) all.accept(t);
  EXPECT_EQ(all.sample(logits), 0);
  p.repeat_last_n = 0;  // off
  Sampler off(p, 4);
  off.accept(3);
  EXPECT_EQ(off.sample(logits), 3);
}

TEST(Sampler, NonFiniteLogitsDoNotCrash) {
  SamplingParams p;
  p.seed = 3;
  std::vector<float> logits = kLogits;
  logits[8] = kNaN;  // the largest becomes impossible
  Sampler s(p, static_cast<int32_t>(logits.size()));
  for (int i = 0; i < 500; ++i) EXPECT_NE(s.sample(logits), 8);

  logits[5] = kInf;
  for (int i = 0; i < 50; ++i) EXPECT_EQ(s.sample(logits), 5);

  const std::vector<float> all_nan(12, kNaN);
  for (int i = 0; i < 50; ++i) {
    const int32_t t = s.sample(all_nan);
    EXPECT_TRUE(t >= 0 && t < 12);
  }
  EXPECT_EQ(Sampler(plain(0.0f), 12).sample(all_nan), 0);
  const std::vector<float> all_neg_inf(12, -kInf);
  EXPECT_EQ(Sampler(plain(0.0f), 12).sample(all_neg_inf), 0);

  SamplingParams pen = plain(1.0f);
  pen.repeat_penalty = 1.2f;
  pen.frequency_penalty = 1.0f;
  Sampler with_pen(pen, 12);
  with_pen.accept(0);
  std::vector<float> inf_row(12, 0.0f);
  inf_row[0] = kInf;
  EXPECT_EQ(with_pen.sample(inf_row), 0);  // inf stays inf after the penalties
}

TEST(Sampler, TopCandidatesAreTheDistributionAfterTheChain) {
  SamplingParams p = plain(1.0f, 2);
  p.top_k = 4;
  Sampler s(p, static_cast<int32_t>(kLogits.size()));
  s.sample(kLogits);
  const std::vector<double> expected = reference_probs(kLogits, p);
  const std::vector<TokenProb> top = s.top_candidates(10);
  ASSERT_EQ(top.size(), 4u);
  const std::vector<int32_t> ids = {8, 1, 4, 5};
  for (size_t i = 0; i < top.size(); ++i) {
    EXPECT_EQ(top[i].id, ids[i]);
    EXPECT_NEAR(top[i].p, expected[ids[i]], 1e-6);
  }
  EXPECT_EQ(s.top_candidates(2).size(), 2u);

  Sampler greedy(plain(0.0f), static_cast<int32_t>(kLogits.size()));
  greedy.sample(kLogits);
  const std::vector<TokenProb> one = greedy.top_candidates(5);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].id, 8);
  EXPECT_EQ(one[0].p, 1.0f);
}

TEST(Sampler, TopLogprobsIsLogSoftmaxOfTheRawLogits) {
  double z = 0.0;
  for (float l : kLogits) z += std::exp(static_cast<double>(l));
  const std::vector<TokenLogprob> top = top_logprobs(kLogits, 3);
  ASSERT_EQ(top.size(), 3u);
  const std::vector<int32_t> ids = {8, 1, 4};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(top[i].id, ids[i]);
    EXPECT_NEAR(top[i].logprob, kLogits[ids[i]] - std::log(z), 1e-5);
  }
  EXPECT_EQ(top_logprobs(kLogits, 100).size(), kLogits.size());
}

}  // namespace
}  // namespace lm::sampling
