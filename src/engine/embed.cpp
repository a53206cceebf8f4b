#include "engine/embed.h"

#include <cmath>

#include "core/check.h"

namespace lm::engine {

std::string_view pooling_name(Pooling p) {
  switch (p) {
    case Pooling::kMean: return "mean";
    case Pooling::kCls: return "cls";
    case Pooling::kLast: return "last";
  }
  return "unknown";
}

Result<Pooling> pooling_from_gguf(int64_t t) {
  switch (t) {
    case -1:   // absent: a generative model
    case 0:    // none: per-token vectors; the APIs want one vector per input, so mean
    case 1: return Pooling::kMean;
    case 2: return Pooling::kCls;
    case 3: return Pooling::kLast;
    case 4:
      return errorf("pooling_type 4 (rank, a reranker head) is not supported for embeddings");
    default:
      return errorf("pooling_type {} is unknown (supported: 0 none, 1 mean, 2 cls, 3 last)", t);
  }
}

Pooler::Pooler(Pooling pooling, int32_t n_embd) : pooling_(pooling), acc_(n_embd, 0.0) {}

void Pooler::add(int32_t pos, std::span<const float> row) {
  LM_CHECK(row.size() == acc_.size(), "Pooler::add: row of {} floats, n_embd {}", row.size(),
           acc_.size());
  LM_CHECK(pos == n_rows_, "Pooler::add: position {} after {} rows", pos, n_rows_);
  ++n_rows_;
  switch (pooling_) {
    case Pooling::kMean:
      for (size_t i = 0; i < row.size(); ++i) acc_[i] += row[i];
      break;
    case Pooling::kCls:
      if (pos == 0) acc_.assign(row.begin(), row.end());
      break;
    case Pooling::kLast:
      acc_.assign(row.begin(), row.end());
      break;
  }
}

std::vector<float> Pooler::finish() const {
  std::vector<float> out(acc_.size(), 0.0f);
  if (n_rows_ == 0) return out;
  const double scale = pooling_ == Pooling::kMean ? 1.0 / n_rows_ : 1.0;
  for (size_t i = 0; i < acc_.size(); ++i) out[i] = static_cast<float>(acc_[i] * scale);
  l2_normalize(out);
  return out;
}

void l2_normalize(std::span<float> v) {
  double ss = 0.0;
  for (float x : v) ss += static_cast<double>(x) * x;
  if (!(ss > 0.0)) return;
  const double inv = 1.0 / std::sqrt(ss);
  for (float& x : v) x = static_cast<float>(x * inv);
}

std::vector<float> truncate_dims(std::span<const float> v, int32_t dims) {
  LM_CHECK(dims >= 1 && static_cast<size_t>(dims) <= v.size(), "truncate_dims: {} of {}", dims,
           v.size());
  std::vector<float> out(v.begin(), v.begin() + dims);
  l2_normalize(out);
  return out;
}

}  // namespace lm::engine
