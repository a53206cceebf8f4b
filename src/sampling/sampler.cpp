#include "sampling/sampler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>

#include "core/check.h"

namespace lm::sampling {
namespace {

uint64_t pick_seed(uint64_t requested) {
  if (requested != kSeedRandom) return requested;
  uint64_t s = 0;
  try {
    std::random_device rd;
    s = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  } catch (const std::exception&) {  // no entropy source: the clock is good enough for a seed
    s = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    s = Rng::splitmix64(s);
  }
  return s == kSeedRandom ? 0 : s;  // keep the reported seed reusable as a fixed seed
}

}  // namespace

Sampler::Sampler(const SamplingParams& p, int32_t n_vocab)
    : params_(p), n_vocab_(n_vocab), seed_(pick_seed(p.seed)), rng_(seed_) {
  const Status st = validate(p);
  LM_CHECK(st.ok(), "invalid sampling parameters: {}", st.error().message());
  LM_CHECK(n_vocab > 0, "n_vocab = {}", n_vocab);
  if (params_.has_penalties()) {
    counts_.assign(n_vocab, 0);
    penalised_.reserve(n_vocab);
  }
  if (!params_.greedy()) cur_.data.reserve(n_vocab);
}

Result<Sampler> Sampler::create(const SamplingParams& p, int32_t n_vocab) {
  if (Status st = validate(p); !st.ok()) return std::move(st).error().wrap("sampling parameters");
  if (n_vocab <= 0) return errorf("sampler: n_vocab = {}: must be > 0", n_vocab);
  return Sampler(p, n_vocab);
}

std::span<const int32_t> Sampler::penalty_window() const {
  const int32_t n = params_.repeat_last_n;
  if (n < 0) return history_;
  const size_t w = std::min(history_.size(), static_cast<size_t>(n));
  return std::span<const int32_t>(history_).last(w);
}

void Sampler::accept(int32_t token) {
  LM_CHECK(token >= 0 && token < n_vocab_, "token {} out of range [0, {})", token, n_vocab_);
  const int32_t n = params_.repeat_last_n;
  if (n == 0) return;
  history_.push_back(token);
  // Trim lazily: dropping the oldest half at a time keeps accept() amortised O(1).
  if (n > 0 && history_.size() >= 2 * static_cast<size_t>(n)) {
    history_.erase(history_.begin(), history_.end() - n);
  }
}

void Sampler::reset() {
  history_.clear();
  rng_.reseed(seed_);
  cur_.data.clear();
}

int32_t Sampler::sample(std::span<const float> logits) {
  LM_CHECK(logits.size() == static_cast<size_t>(n_vocab_), "logits has {} entries, n_vocab {}",
           logits.size(), n_vocab_);
  if (params_.has_penalties()) {
    penalised_.assign(logits.begin(), logits.end());
    apply_penalties(penalised_, penalty_window(), counts_,
                    Penalties{params_.repeat_penalty, params_.frequency_penalty,
                              params_.presence_penalty});
    logits = penalised_;
  }
  if (params_.greedy()) {
    const int32_t id = argmax(logits);
    cur_.data.assign(1, Candidate{id, 0.0f, 1.0f});
    cur_.order = Order::kByProb;
    return id;
  }
  cur_.assign_top_k(logits, params_.top_k);  // = assign, then top_k
  resolve_non_finite(cur_);  // commutes with top-k (see stages.h)
  softmax(cur_, params_.temperature);
  top_p_then_min_p(cur_, params_.top_p, params_.min_p);  // = top_p, then min_p
  make_deterministic_order(cur_);
  return draw(cur_, rng_.next_double());
}

std::vector<TokenProb> Sampler::top_candidates(size_t n) const {
  std::vector<Candidate> c = cur_.data;
  double sum = 0.0;
  for (const Candidate& x : c) sum += x.p;
  n = std::min(n, c.size());
  std::partial_sort(c.begin(), c.begin() + n, c.end(), prob_before);
  std::vector<TokenProb> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = {c[i].id, static_cast<float>(c[i].p / sum)};
  return out;
}

std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, size_t n) {
  Candidates c;
  c.assign(logits);
  resolve_non_finite(c);
  if (c.data.empty()) return {};
  float max_l = -std::numeric_limits<float>::infinity();
  for (const Candidate& x : c.data) max_l = std::max(max_l, x.logit);
  double sum = 0.0;
  for (const Candidate& x : c.data) sum += std::exp(static_cast<double>(x.logit - max_l));
  const double log_z = static_cast<double>(max_l) + std::log(sum);
  n = std::min(n, c.data.size());
  for (Candidate& x : c.data) x.p = x.logit;  // order by logit, ties by id
  std::partial_sort(c.data.begin(), c.data.begin() + n, c.data.end(), prob_before);
  std::vector<TokenLogprob> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i] = {c.data[i].id, static_cast<float>(c.data[i].logit - log_z)};
  }
  return out;
}

}  // namespace lm::sampling
