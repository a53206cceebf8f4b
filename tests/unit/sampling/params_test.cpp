#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "sampling/params.h"
#include "sampling/sampler.h"

namespace lm::sampling {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

std::string error_of(const SamplingParams& p) {
  Status st = validate(p);
  return st.ok() ? std::string("<ok>") : st.error().message();
}

TEST(SamplingParams, DefaultsAreValid) { EXPECT_TRUE(validate(SamplingParams{}).ok()); }

TEST(SamplingParams, AcceptsBoundariesAndOffValues) {
  SamplingParams p;
  p.temperature = 0.0f;  // greedy
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repeat_last_n = -1;
  EXPECT_TRUE(validate(p).ok());
  p.temperature = -1.0f;  // also greedy, as in llama.cpp
  p.top_k = -5;
  p.top_p = 0.0f;
  p.min_p = 1.0f;
  p.presence_penalty = -2.0f;
  p.frequency_penalty = 2.0f;
  EXPECT_TRUE(validate(p).ok());
}

TEST(SamplingParams, RejectsNaNAndInfinityWithFieldName) {
  SamplingParams p;
  p.temperature = kNaN;
  EXPECT_EQ(error_of(p), "temperature = nan: must be a finite number");
  p = {};
  p.top_p = kInf;
  EXPECT_EQ(error_of(p), "top_p = inf: must be a finite number");
  p = {};
  p.min_p = kNaN;
  EXPECT_NE(error_of(p).find("min_p"), std::string::npos);
  p = {};
  p.repeat_penalty = kNaN;
  EXPECT_NE(error_of(p).find("repeat_penalty"), std::string::npos);
  p = {};
  p.presence_penalty = -kInf;
  EXPECT_EQ(error_of(p), "presence_penalty = -inf: must be a finite number");
  p = {};
  p.frequency_penalty = kNaN;
  EXPECT_NE(error_of(p).find("frequency_penalty"), std::string::npos);
}

TEST(SamplingParams, RejectsOutOfRange) {
  SamplingParams p;
  p.top_p = -0.5f;
  EXPECT_EQ(error_of(p), "top_p = -0.5: must be in [0, 1]");
  p = {};
  p.top_p = 1.5f;
  EXPECT_EQ(error_of(p), "top_p = 1.5: must be in [0, 1]");
  p = {};
  p.min_p = -0.1f;
  EXPECT_EQ(error_of(p), "min_p = -0.1: must be in [0, 1]");
  p = {};
  p.repeat_penalty = 0.0f;
  EXPECT_EQ(error_of(p), "repeat_penalty = 0: must be > 0 (1 turns it off)");
  p = {};
  p.repeat_last_n = -2;
  EXPECT_EQ(error_of(p), "repeat_last_n = -2: must be >= -1 (-1: whole history, 0: off)");
}

TEST(SamplingParams, CreateReportsErrorsInsteadOfAborting) {
  SamplingParams p;
  p.top_p = -1.0f;
  auto s = Sampler::create(p, 10);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "sampling parameters: top_p = -1: must be in [0, 1]");
  auto bad_vocab = Sampler::create(SamplingParams{}, 0);
  ASSERT_FALSE(bad_vocab.ok());
  EXPECT_NE(bad_vocab.error().message().find("n_vocab = 0"), std::string::npos);
  EXPECT_TRUE(Sampler::create(SamplingParams{}, 10).ok());
}

TEST(SamplingParams, PenaltiesOffUnlessAWindowAndAPenalty) {
  SamplingParams p;
  EXPECT_FALSE(p.has_penalties());
  p.presence_penalty = 0.5f;
  EXPECT_TRUE(p.has_penalties());
  p.repeat_last_n = 0;
  EXPECT_FALSE(p.has_penalties());
}

}  // namespace
}  // namespace lm::sampling
