// Sampler: turns one row of logits into a token, through a fixed chain of stages (stages.h):
//
//   penalties (repeat, frequency, presence; over the last repeat_last_n accepted tokens)
//   → greedy argmax if temperature <= 0 (ties → lowest id; the stages below are skipped)
//   → top-k → softmax at the temperature → top-p → min-p
//   → draw with xoshiro256** seeded from `seed` (rng.h)
//
// Same seed + same logits + same accepted tokens → same tokens, on every platform: the RNG and
// its uniform doubles are our own, ties are broken by token id, and the list is drawn from in
// an order that does not depend on the standard library. (Only expf may differ in the last ulp
// across C libraries.) NaN logits count as -inf; +inf logits share all the mass; a row with no
// finite logit is treated as uniform. None of these crash.
//
// Ownership and cost: one Sampler per sequence; it owns O(n_vocab) scratch, reused each call.
// sample() makes one pass over the row for greedy or top-k (maxima of blocks of 64; only the
// blocks that can hold a top-k token are copied), plus O(k log k) after it; penalties add a
// copy of the row. With top-k off it copies the row, takes n_vocab exponentials and sorts the
// nucleus (O(n_vocab log n_vocab) at worst for a flat row). min-p filters before top-p sorts,
// which gives the same set as the documented order (stages.h). Not thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/result.h"
#include "sampling/params.h"
#include "sampling/rng.h"
#include "sampling/stages.h"

namespace lm::sampling {

struct TokenProb {
  int32_t id;
  float p;
};

class Sampler {
 public:
  // `p` must pass validate() (checked: aborts otherwise; use create() for user input).
  Sampler(const SamplingParams& p, int32_t n_vocab);
  static Result<Sampler> create(const SamplingParams& p, int32_t n_vocab);

  // logits: [n_vocab]. Does not accept the token: call accept() with it.
  int32_t sample(std::span<const float> logits);

  // Records a generated or prompt token for the penalties. token must be in [0, n_vocab).
  void accept(int32_t token);

  // Forgets the history and restarts the RNG from the seed: the same calls give the same tokens.
  void reset();

  // The distribution after the chain of the last sample(), renormalised, the `n` most likely
  // first (ties: lower id). Greedy sampling leaves one token with p = 1. For logprobs.
  std::vector<TokenProb> top_candidates(size_t n) const;

  const SamplingParams& params() const { return params_; }
  int32_t n_vocab() const { return n_vocab_; }
  uint64_t seed() const { return seed_; }  // the seed in use (drawn when params.seed is random)
  // The penalty window: the last repeat_last_n accepted tokens (all of them for -1).
  std::span<const int32_t> penalty_window() const;

 private:
  SamplingParams params_;
  int32_t n_vocab_;
  uint64_t seed_;
  Rng rng_;
  std::vector<int32_t> history_;  // accepted tokens, trimmed to keep the window
  std::vector<int32_t> counts_;   // [n_vocab] scratch for the penalties, kept all zero
  std::vector<float> penalised_;  // [n_vocab] the logits after the penalties
  Candidates cur_;                // [<= n_vocab] working list; after sample(), the final one
};

struct TokenLogprob {
  int32_t id;
  float logprob;
};

// log softmax of the raw `logits` ([n_vocab]), the `n` largest first (ties: lower id); what the
// OpenAI API reports as logprobs. NaN logits count as -inf. O(n_vocab + n log n).
std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, size_t n);

}  // namespace lm::sampling
