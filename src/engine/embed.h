// Embeddings: pooling of a sequence's final hidden states (after the output norm, before the LM
// head) into one vector, and the L2 normalisation every API returns (OpenAI and Ollama answer
// unit vectors).
//
// Pooling follows GGUF `{arch}.pooling_type` (the llama.cpp enum): 1 mean, 2 cls (the first
// token), 3 last. Absent (generative models) and 0 (none: per-token vectors, which no endpoint
// here returns) both pool by mean, the usual choice for decoder models; 4 (rank: a reranker
// head) and unknown values are refused.
//
// Pooler accumulates rows in position order (mean in double), so a sequence prefilled in one
// batch or in several chunks gives the same bits.
// Thread-safety: plain values; one owner. Cost: O(n_embd) per row.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace lm::engine {

enum class Pooling { kMean, kCls, kLast };
std::string_view pooling_name(Pooling p);   // "mean", "cls", "last"

// GGUF pooling_type (-1: absent) → Pooling; rank and unknown values are errors naming the value.
Result<Pooling> pooling_from_gguf(int64_t pooling_type);

class Pooler {
 public:
  Pooler(Pooling pooling, int32_t n_embd);
  // The hidden state of the token at `pos` ([n_embd]); rows come in increasing pos, from 0.
  void add(int32_t pos, std::span<const float> row /* [n_embd] */);
  int32_t n_rows() const { return n_rows_; }
  // The pooled vector, L2-normalised ([n_embd]); zeros if no row was added.
  std::vector<float> finish() const;

 private:
  Pooling pooling_;
  int32_t n_rows_ = 0;
  std::vector<double> acc_;   // [n_embd] sum (mean) or the kept row (cls, last)
};

// v /= |v|_2 (computed in double); a zero vector stays zero.
void l2_normalize(std::span<float> v);

// The first `dims` components of a unit vector, re-normalised (OpenAI `dimensions`, Matryoshka
// style). dims must be in [1, v.size()] (checked by the caller; LM_CHECK here).
std::vector<float> truncate_dims(std::span<const float> v, int32_t dims);

}  // namespace lm::engine
