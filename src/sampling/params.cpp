#include "sampling/params.h"

#include <cmath>

namespace lm::sampling {
namespace {

Status check_finite(const char* name, float v) {
  if (!std::isfinite(v)) return errorf("{} = {}: must be a finite number", name, v);
  return {};
}

Status check_range(const char* name, float v, float lo, float hi) {
  LM_TRY_STATUS(check_finite(name, v));
  if (v < lo || v > hi) return errorf("{} = {}: must be in [{}, {}]", name, v, lo, hi);
  return {};
}

}  // namespace

Status validate(const SamplingParams& p) {
  // Any finite temperature is accepted: <= 0 means greedy (llama.cpp convention).
  LM_TRY_STATUS(check_finite("temperature", p.temperature));
  LM_TRY_STATUS(check_range("top_p", p.top_p, 0.0f, 1.0f));
  LM_TRY_STATUS(check_range("min_p", p.min_p, 0.0f, 1.0f));
  LM_TRY_STATUS(check_finite("repeat_penalty", p.repeat_penalty));
  if (p.repeat_penalty <= 0.0f) {
    return errorf("repeat_penalty = {}: must be > 0 (1 turns it off)", p.repeat_penalty);
  }
  if (p.repeat_last_n < -1) {
    return errorf("repeat_last_n = {}: must be >= -1 (-1: whole history, 0: off)",
                  p.repeat_last_n);
  }
  // OpenAI bounds these to [-2, 2]; the API layer may be stricter, the sampler only needs
  // finite values.
  LM_TRY_STATUS(check_finite("presence_penalty", p.presence_penalty));
  LM_TRY_STATUS(check_finite("frequency_penalty", p.frequency_penalty));
  return {};
}

}  // namespace lm::sampling
