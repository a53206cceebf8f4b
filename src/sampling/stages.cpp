#include "sampling/stages.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "core/check.h"

namespace lm::sampling {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Larger logit first, then lower id: a strict total order, so top-k picks the same set everywhere.
bool logit_before(const Candidate& a, const Candidate& b) {
  return a.logit != b.logit ? a.logit > b.logit : a.id < b.id;
}

// Scans go by blocks of 64 logits: the max of a block over 4 independent chains (a single
// running max is one long dependency chain, 2-4x slower), and only a block whose max beats the
// current bar is looked at element by element. `x > m ? x : m` skips NaN.
constexpr size_t kBlock = 64;

float block_max(const float* x) {
  float m[4] = {kNegInf, kNegInf, kNegInf, kNegInf};
  for (size_t j = 0; j < kBlock; j += 4) {
    for (size_t c = 0; c < 4; ++c) m[c] = x[j + c] > m[c] ? x[j + c] : m[c];
  }
  return std::max(std::max(m[0], m[1]), std::max(m[2], m[3]));
}

double sum_p(const Candidates& c) {
  double s = 0.0;
  for (const Candidate& x : c.data) s += x.p;
  return s;
}

}  // namespace

void Candidates::assign(std::span<const float> logits) {
  data.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    const float l = logits[i];
    data[i] = Candidate{static_cast<int32_t>(i), std::isnan(l) ? kNegInf : l, 0.0f};
  }
  order = Order::kById;
}

void Candidates::assign_top_k(std::span<const float> logits, int32_t k) {
  const size_t n = logits.size();
  const size_t n_blocks = (n + kBlock - 1) / kBlock;
  if (k <= 0 || static_cast<size_t>(k) >= n || static_cast<size_t>(k) >= n_blocks) {
    assign(logits);
    top_k(*this, k);
    return;
  }
  // Pass 1: the max of every block. The k-th largest block max T is <= the k-th largest logit
  // (k blocks each hold a logit >= T), so a logit below T is never kept: pass 2 collects the
  // logits >= T, in at most a few blocks, and top_k picks the exact set (ties included) there.
  std::vector<float>& block_maxima = block_max_scratch;
  block_maxima.resize(n_blocks);
  const size_t n_full = n / kBlock;
  for (size_t b = 0; b < n_full; ++b) block_maxima[b] = block_max(logits.data() + b * kBlock);
  if (n_full < n_blocks) {
    float m = kNegInf;
    for (size_t i = n_full * kBlock; i < n; ++i) m = logits[i] > m ? logits[i] : m;
    block_maxima[n_full] = m;
  }
  std::vector<float>& maxima = maxima_scratch;  // reordered by nth_element
  maxima.assign(block_maxima.begin(), block_maxima.end());
  std::nth_element(maxima.begin(), maxima.begin() + (k - 1), maxima.end(), std::greater<>());
  const float threshold = maxima[k - 1];
  if (threshold == kNegInf) {  // fewer than k numbers above -inf: NaN ties need the full list
    assign(logits);
    top_k(*this, k);
    return;
  }
  data.clear();
  for (size_t b = 0; b < n_blocks; ++b) {
    if (block_maxima[b] < threshold) continue;
    const size_t end = std::min(n, (b + 1) * kBlock);
    for (size_t i = b * kBlock; i < end; ++i) {
      if (logits[i] >= threshold) data.push_back({static_cast<int32_t>(i), logits[i], 0.0f});
    }
  }
  order = Order::kById;
  top_k(*this, k);
}

void apply_penalties(std::span<float> logits, std::span<const int32_t> window,
                     std::span<int32_t> counts, const Penalties& pen) {
  LM_CHECK(logits.size() == counts.size(), "{} logits, {} counts", logits.size(), counts.size());
  const auto n_vocab = static_cast<int32_t>(counts.size());
  for (int32_t t : window) {
    LM_CHECK(t >= 0 && t < n_vocab, "token {} out of range [0, {})", t, n_vocab);
    ++counts[t];
  }
  for (int32_t t : window) {
    const int32_t count = counts[t];
    if (count == 0) continue;  // this token was already penalised
    counts[t] = 0;
    float& l = logits[t];
    // llama.cpp: shrink positive logits, push negative ones further down.
    l = l > 0.0f ? l / pen.repeat : l * pen.repeat;
    // OpenAI: mu[j] -= c[j] * alpha_frequency + (c[j] > 0) * alpha_presence.
    l -= static_cast<float>(count) * pen.frequency + pen.presence;
  }
}

int32_t argmax(std::span<const float> logits) {
  // Strict comparisons keep the lowest id among equal maxima.
  const size_t n = logits.size();
  float best = kNegInf;
  size_t best_i = 0;
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    const float* x = logits.data() + i;
    const float m = block_max(x);
    if (!(m > best)) continue;
    best = m;
    best_i = i + (std::find(x, x + kBlock, m) - x);
  }
  for (; i < n; ++i) {
    if (logits[i] > best) {
      best = logits[i];
      best_i = i;
    }
  }
  return static_cast<int32_t>(best_i);
}

void resolve_non_finite(Candidates& c) {
  float max_l = kNegInf;
  for (const Candidate& x : c.data) max_l = std::max(max_l, x.logit);
  if (max_l == std::numeric_limits<float>::infinity()) {
    for (Candidate& x : c.data) x.logit = x.logit == max_l ? 0.0f : kNegInf;
  } else if (max_l == kNegInf) {
    for (Candidate& x : c.data) x.logit = 0.0f;
    return;
  }
  std::erase_if(c.data, [](const Candidate& x) { return x.logit == kNegInf; });
}

void top_k(Candidates& c, int32_t k) {
  if (k <= 0 || static_cast<size_t>(k) >= c.data.size()) return;
  std::nth_element(c.data.begin(), c.data.begin() + k, c.data.end(), logit_before);
  c.data.resize(k);
  c.order = Order::kArbitrary;
}

void softmax(Candidates& c, float temperature) {
  LM_CHECK(temperature > 0.0f && !c.data.empty(), "temperature {}", temperature);
  float max_l = kNegInf;
  for (const Candidate& x : c.data) max_l = std::max(max_l, x.logit);
  // Subtracting the max before dividing keeps tiny temperatures from overflowing to inf.
  double sum = 0.0;
  for (Candidate& x : c.data) {
    x.p = std::exp((x.logit - max_l) / temperature);
    sum += x.p;
  }
  const auto inv = static_cast<float>(1.0 / sum);  // sum >= 1: the max contributes exp(0)
  for (Candidate& x : c.data) x.p *= inv;
}

void top_p(Candidates& c, float top_p, double total) {
  if (top_p >= 1.0f || c.data.empty()) return;
  std::vector<Candidate>& d = c.data;
  const size_t n = d.size();
  const double target = static_cast<double>(top_p) * (total < 0.0 ? sum_p(c) : total);
  // Sort a growing prefix (64, 256, 1024, ...): a peaked distribution needs only the first chunk.
  size_t sorted = c.order == Order::kByProb ? n : 0;
  size_t chunk = 64;
  double cum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    if (i == sorted) {
      const size_t end = std::min(n, sorted + chunk);
      chunk *= 4;
      if (end < n) std::nth_element(d.begin() + sorted, d.begin() + end, d.end(), prob_before);
      std::sort(d.begin() + sorted, d.begin() + end, prob_before);
      sorted = end;
    }
    cum += d[i].p;
    if (cum >= target) {
      d.resize(i + 1);
      break;
    }
  }
  c.order = Order::kByProb;
}

void min_p(Candidates& c, float min_p) {
  if (min_p <= 0.0f || c.data.empty()) return;
  float p_max = 0.0f;
  for (const Candidate& x : c.data) p_max = std::max(p_max, x.p);
  const float threshold = min_p * p_max;  // <= p_max, so the most likely token stays
  std::erase_if(c.data, [threshold](const Candidate& x) { return x.p < threshold; });
}

void top_p_then_min_p(Candidates& c, float top_p_value, float min_p_value) {
  const double total = sum_p(c);
  min_p(c, min_p_value);
  top_p(c, top_p_value, total);
}

void make_deterministic_order(Candidates& c) {
  if (c.order != Order::kArbitrary) return;
  std::sort(c.data.begin(), c.data.end(), prob_before);
  c.order = Order::kByProb;
}

int32_t draw(const Candidates& c, double u) {
  LM_CHECK(!c.data.empty() && c.order != Order::kArbitrary);
  const double target = u * sum_p(c);
  double cum = 0.0;
  const Candidate* last_positive = nullptr;
  for (const Candidate& x : c.data) {
    if (x.p <= 0.0f) continue;
    cum += x.p;
    last_positive = &x;
    if (target < cum) return x.id;
  }
  // Only reachable through rounding (u close to 1): the last token with mass.
  LM_CHECK(last_positive != nullptr, "draw from a list without probability mass");
  return last_positive->id;
}

}  // namespace lm::sampling
