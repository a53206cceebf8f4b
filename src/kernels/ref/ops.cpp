#include "kernels/ref/ops.h"

#include <cmath>

namespace lm::kernels::ref {

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  float ss = 0.0f;
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float scale = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
}

void rope_angles(int32_t pos, int32_t n_rot, float freq_base, float freq_scale,
                 const float* factors, float* cs) {
  const int32_t half = n_rot / 2;
  for (int32_t i = 0; i < half; ++i) {
    // Computed in double: positions reach 10^5 and more, where float theta loses digits.
    double inv_freq = std::pow(static_cast<double>(freq_base), -2.0 * i / n_rot);
    double theta = static_cast<double>(pos) * freq_scale * inv_freq;
    if (factors) theta /= factors[i];
    cs[2 * i] = static_cast<float>(std::cos(theta));
    cs[2 * i + 1] = static_cast<float>(std::sin(theta));
  }
}

void rope(float* x, int32_t n_head, int32_t head_dim, int32_t n_rot, const float* cs, bool neox) {
  const int32_t half = n_rot / 2;
  for (int32_t h = 0; h < n_head; ++h) {
    float* xh = x + static_cast<int64_t>(h) * head_dim;
    for (int32_t i = 0; i < half; ++i) {
      const float c = cs[2 * i], s = cs[2 * i + 1];
      float* a = neox ? &xh[i] : &xh[2 * i];
      float* b = neox ? &xh[i + half] : &xh[2 * i + 1];
      const float x0 = *a, x1 = *b;
      *a = x0 * c - x1 * s;
      *b = x0 * s + x1 * c;
    }
  }
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  float mx = x[0];
  for (int64_t i = 1; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void add(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

}  // namespace lm::kernels::ref
