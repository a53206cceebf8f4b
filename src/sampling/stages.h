// Sampler stages: small functions over a candidate list, composed by Sampler (sampler.h).
//
// Each stage is defined as in llama.cpp's sampler chain (facts, not code) or the OpenAI API:
//   apply_penalties  repeat (llama.cpp): logit / r if logit > 0 else logit * r, for tokens seen
//                    in the window; then OpenAI: logit -= count * frequency + (count > 0) * presence
//   top_k            keep the k largest logits (ties: lower id first)
//   softmax          p = exp((logit - max) / temperature), normalised to sum 1
//   top_p            keep the smallest prefix, by decreasing p, whose cumulative mass is >= top_p
//                    of the total (at least one token)
//   min_p            keep p >= min_p * p_max (at least the most likely token survives)
//   draw             pick a token with probability p / sum(p), from one uniform double
// Stages never fail: NaN and infinite logits are resolved by `resolve_non_finite` first.
// Not thread-safe (they mutate the list); costs are stated per function.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lm::sampling {

struct Candidate {
  int32_t id;
  float logit;
  float p;  // set by softmax; not necessarily normalised after a filtering stage
};

// How `data` is ordered. Draws walk the list in order, so the order must not depend on the
// standard library: kArbitrary lists are sorted (by p) before a draw.
enum class Order { kById, kByProb, kArbitrary };

struct Candidates {
  std::vector<Candidate> data;
  Order order = Order::kById;

  // Refills with every token of `logits` ([n_vocab]), NaN mapped to -inf. O(n_vocab).
  void assign(std::span<const float> logits);

  // Exactly assign(logits) then top_k(*this, k), without building the full list: one pass over
  // the row for the maxima of blocks of 64, then only the blocks that can hold a kept token
  // (at most about k of them). O(n_vocab) with a small constant.
  void assign_top_k(std::span<const float> logits, int32_t k);

  std::vector<float> block_max_scratch;  // [n_vocab / 64] scratch of assign_top_k, twice
  std::vector<float> maxima_scratch;
};

// Strict total order used wherever ties must be broken: larger p first, then lower id.
inline bool prob_before(const Candidate& a, const Candidate& b) {
  return a.p != b.p ? a.p > b.p : a.id < b.id;
}

// Penalises every distinct token of `window` (the recent tokens, repeats allowed) once, by its
// count there, in the raw row `logits` ([n_vocab], indexed by id). `counts` is scratch space,
// [n_vocab], all zero on entry and on return. Window ids must be in [0, n_vocab). O(window).
struct Penalties {
  float repeat = 1.0f;     // llama.cpp repeat penalty
  float frequency = 0.0f;  // OpenAI frequency penalty
  float presence = 0.0f;   // OpenAI presence penalty
};
void apply_penalties(std::span<float> logits, std::span<const int32_t> window,
                     std::span<int32_t> counts, const Penalties& pen);

// Lowest id among the largest logits of a row ([n_vocab]); NaN never wins, and a row without a
// number above -inf gives 0 (the uniform fallback below). O(n_vocab), no copy.
int32_t argmax(std::span<const float> logits);

// NaN → -inf (already done by assign); if some logit is +inf, those tokens share all the mass
// (they become 0, every other -inf); if every logit is -inf, all become 0 (uniform). Then drops
// the -inf tokens (probability 0 in any case). O(n), keeps the relative order.
// Commutes with top_k (the same list either way), so the Sampler runs it after top-k.
void resolve_non_finite(Candidates& c);

// Keeps the k largest logits (k <= 0 or k >= size: no-op). O(n) (nth_element), order arbitrary.
void top_k(Candidates& c, int32_t k);

// Sets p; temperature must be > 0. O(n) exponentials.
void softmax(Candidates& c, float temperature);

// top_p >= 1: no-op. `total` is the mass the cumulative sum is compared against (default: the
// sum of p over the list). Sorts only as much of the list as the nucleus needs: O(n) per doubling of
// the sorted prefix, O(n log n) at worst. Leaves the list in kByProb order.
void top_p(Candidates& c, float top_p, double total = -1.0);

// min_p <= 0: no-op. O(n); keeps the relative order.
void min_p(Candidates& c, float min_p);

// Exactly top_p(c, p) then min_p(c, m), but filters by min-p first, so that only the survivors
// are sorted (a wide nucleus otherwise sorts most of the vocabulary). Exact because both stages
// keep a prefix of the same order (prob_before), min-p's threshold depends only on p_max (never
// removed by top-p), and top-p here accumulates against the mass of the list before min-p.
void top_p_then_min_p(Candidates& c, float top_p, float min_p);

// Puts a kArbitrary list in kByProb order (the deterministic order used for draws). O(n log n).
void make_deterministic_order(Candidates& c);

// Returns the token whose cumulative p interval contains u * sum(p), u uniform in [0, 1).
// Requires a non-empty list with sum(p) > 0 and a deterministic order. O(n).
int32_t draw(const Candidates& c, double u);

}  // namespace lm::sampling
