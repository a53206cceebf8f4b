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
};

// Strict total order used wherever ties must be broken: larger p first, then lower id.
inline bool prob_before(const Candidate& a, const Candidate& b) {
  return a.p != b.p ? a.p > b.p : a.id < b.id;
}

// Penalises every distinct token of `window` (the recent tokens, repeats allowed) once, by its
// count there. `counts` is scratch space, [n_vocab], all zero on entry and on return.
// `c` must be in id order (straight after assign) and window ids in [0, n_vocab). O(window).
struct Penalties {
  float repeat = 1.0f;     // llama.cpp repeat penalty
  float frequency = 0.0f;  // OpenAI frequency penalty
  float presence = 0.0f;   // OpenAI presence penalty
};
void apply_penalties(Candidates& c, std::span<const int32_t> window, std::span<int32_t> counts,
                     const Penalties& pen);

// NaN → -inf (already done by assign); if some logit is +inf, those tokens share all the mass
// (they become 0, every other -inf); if every logit is -inf, all become 0 (uniform). O(n).
void resolve_non_finite(Candidates& c);

// Lowest id among the largest logits. O(n).
int32_t argmax(const Candidates& c);

// Keeps the k largest logits (k <= 0 or k >= size: no-op). O(n) (nth_element), order arbitrary.
void top_k(Candidates& c, int32_t k);

// Sets p; temperature must be > 0. O(n) exponentials.
void softmax(Candidates& c, float temperature);

// top_p >= 1: no-op. Sorts only as much of the list as the nucleus needs: O(n) per doubling of
// the sorted prefix, O(n log n) at worst. Leaves the list in kByProb order.
void top_p(Candidates& c, float top_p);

// min_p <= 0: no-op. O(n); keeps the relative order.
void min_p(Candidates& c, float min_p);

// Puts a kArbitrary list in kByProb order (the deterministic order used for draws). O(n log n).
void make_deterministic_order(Candidates& c);

// Returns the token whose cumulative p interval contains u * sum(p), u uniform in [0, 1).
// Requires a non-empty list with sum(p) > 0 and a deterministic order. O(n).
int32_t draw(const Candidates& c, double u);

}  // namespace lm::sampling
