// Sampling parameters, as a user (CLI flag, OpenAI or Ollama request) gives them.
//
// The fields follow the definitions of llama.cpp's sampler stages and of the OpenAI API; each
// comment says what turns the stage off. `validate` is the one place user input is checked: the
// Sampler assumes valid parameters.
#pragma once

#include <cstdint>

#include "core/result.h"

namespace lm::sampling {

// A seed with this value asks the Sampler to pick a random seed (from std::random_device).
// Any other value is used as is: same seed + same logits → same tokens, on every platform.
inline constexpr uint64_t kSeedRandom = 0xFFFFFFFFFFFFFFFFull;

struct SamplingParams {
  float temperature = 0.8f;        // <= 0: greedy (argmax, ties → lowest id); other stages ignored
  int32_t top_k = 40;              // keep the k most likely tokens; <= 0 (or >= n_vocab): off
  float top_p = 0.95f;             // nucleus, in [0, 1]; 1: off
  float min_p = 0.05f;             // keep p >= min_p * p_max, in [0, 1]; 0: off
  float repeat_penalty = 1.0f;     // > 0; 1: off (divide positive logits, multiply negative ones)
  int32_t repeat_last_n = 64;      // window of the penalties: -1 whole history, 0 penalties off
  float presence_penalty = 0.0f;   // OpenAI: logit -= presence_penalty if count > 0
  float frequency_penalty = 0.0f;  // OpenAI: logit -= frequency_penalty * count
  uint64_t seed = kSeedRandom;     // kSeedRandom: random; else deterministic

  bool greedy() const { return temperature <= 0.0f; }
  bool has_penalties() const {
    return repeat_last_n != 0 &&
           (repeat_penalty != 1.0f || presence_penalty != 0.0f || frequency_penalty != 0.0f);
  }
};

// Checks every field; the error names the field, its value and the accepted range, e.g.
// "top_p = -0.5: must be in [0, 1]". NaN and infinities are rejected everywhere.
Status validate(const SamplingParams& p);

}  // namespace lm::sampling
