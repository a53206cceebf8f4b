// Single-sequence text generation: tokenize, prefill in batches, sample, stream complete UTF-8.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "engine/session.h"
#include "sampling/sampler.h"

namespace lm::engine {

struct GenerateRequest {
  std::string prompt;
  int32_t n_predict = 128;       // < 0: until end of generation or context full
  sampling::SamplingParams sampling;
  bool parse_special = true;     // control tokens written in the prompt become their ids
  int32_t n_batch = 512;         // prompt tokens per forward call
};

enum class StopReason { kLength, kEndOfGeneration, kContextFull, kCancelled };
std::string_view stop_reason_name(StopReason r);

struct GenerateResult {
  int32_t n_prompt_tokens = 0;
  int32_t n_generated = 0;
  double prompt_seconds = 0;
  double generate_seconds = 0;
  StopReason stop = StopReason::kLength;
};

// on_text receives each complete piece of text; returning false cancels generation.
// Fails (without touching on_text) when the prompt does not fit the context.
Result<GenerateResult> generate(Session& session, const GenerateRequest& request,
                                const std::function<bool(std::string_view)>& on_text);

}  // namespace lm::engine
