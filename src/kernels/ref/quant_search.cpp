#include "kernels/ref/quant_search.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "tensor/fp16.h"

namespace lm::kernels::ref {
namespace {

constexpr int kMaxN = 32;        // sub-blocks are 16 or 32 elements
constexpr int kGridSteps = 20;   // candidate scales per side of the grid
constexpr float kGridDelta = 0.1f;
constexpr int kRefineIters = 8;

struct Affine {
  float scale = 0.0f;
  float neg_min = 0.0f;
  float err = 0.0f;
};

// Sums over a sub-block that do not depend on the levels.
struct FixedSums {
  float sw = 0, sx = 0, sxx = 0;
};

FixedSums fixed_sums(int n, const float* x, const float* w) {
  FixedSums f;
  for (int i = 0; i < n; ++i) {
    f.sw += w[i];
    f.sx += w[i] * x[i];
    f.sxx += w[i] * x[i] * x[i];
  }
  return f;
}

// Weighted least squares for x ~ a * L + b given the levels L, with b <= 0 enforced. The
// error sum w (a L + b - x)^2 is expanded in closed form (in double, to avoid cancellation),
// so each candidate costs one pass over the sub-block.
// Returns false when the levels carry no information (all equal) or the slope is not positive.
bool solve_affine(int n, const float* x, const float* w, const FixedSums& f, const uint8_t* L,
                  Affine* out) {
  float sl = 0, sl2 = 0, slx = 0;
  for (int i = 0; i < n; ++i) {
    const float l = L[i];
    sl += w[i] * l;
    sl2 += w[i] * l * l;
    slx += w[i] * l * x[i];
  }
  const float det = f.sw * sl2 - sl * sl;
  if (!(det > 0.0f)) return false;
  double a = (f.sw * slx - sl * f.sx) / det;
  double b = (sl2 * f.sx - sl * slx) / det;
  if (b > 0.0) {  // the offset must not be positive: refit with b = 0
    b = 0.0;
    a = slx / sl2;
  }
  if (!(a > 0.0)) return false;
  const double err = f.sxx - 2 * a * slx - 2 * b * f.sx + a * a * sl2 + 2 * a * b * sl +
                     b * b * f.sw;
  *out = {static_cast<float>(a), static_cast<float>(-b), static_cast<float>(std::max(err, 0.0))};
  return true;
}

void round_affine(int n, int nmax, const float* x, float inv_scale, float neg_min, uint8_t* L) {
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<uint8_t>(round_clamp((x[i] + neg_min) * inv_scale, 0, nmax));
  }
}

// For fixed levels l, the optimal symmetric scale is sum(w x l) / sum(w l^2); the error then is
// sum(w x^2) - sum(w x l)^2 / sum(w l^2), so maximising `gain` = sum(w x l)^2 / sum(w l^2)
// minimises the error.
bool solve_symmetric(int n, int nmax, const float* x, const float* w, const uint8_t* L,
                     float* scale, float* gain) {
  float slx = 0, sl2 = 0;
  for (int i = 0; i < n; ++i) {
    const float l = static_cast<float>(L[i] - nmax);
    slx += w[i] * l * x[i];
    sl2 += w[i] * l * l;
  }
  if (!(sl2 > 0.0f)) return false;
  *scale = slx / sl2;
  *gain = slx * *scale;
  return true;
}

void round_symmetric(int n, int nmax, const float* x, float inv_scale, uint8_t* L) {
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<uint8_t>(round_clamp(x[i] * inv_scale, -nmax, nmax - 1) + nmax);
  }
}

// Weighted squared error of rounding x to scale * L - neg_min (L in 0..nmax).
float affine_error(int n, int nmax, const float* x, const float* w, float scale, float neg_min) {
  const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
  float err = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = inv > 0.0f ? round_clamp((x[i] + neg_min) * inv, 0, nmax) : 0;
    const float diff = scale * static_cast<float>(l) - neg_min - x[i];
    err += w[i] * diff * diff;
  }
  return err;
}

float symmetric_error(int n, int nmax, const float* x, const float* w, float scale) {
  const float inv = scale != 0.0f ? 1.0f / scale : 0.0f;
  float err = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = inv != 0.0f ? round_clamp(x[i] * inv, -nmax, nmax - 1) : 0;
    const float diff = scale * static_cast<float>(l) - x[i];
    err += w[i] * diff * diff;
  }
  return err;
}

}  // namespace

void refine_codes_affine(int n, int nmax, const float* x, const float* w, float d, float dmin,
                         int max_code, uint8_t* ls, uint8_t* lm) {
  const int ls0 = *ls, lm0 = *lm;
  float best = affine_error(n, nmax, x, w, d * static_cast<float>(ls0), dmin * static_cast<float>(lm0));
  for (int a = std::max(0, ls0 - 1); a <= std::min(max_code, ls0 + 1); ++a) {
    for (int b = std::max(0, lm0 - 1); b <= std::min(max_code, lm0 + 1); ++b) {
      if (a == ls0 && b == lm0) continue;
      const float err = affine_error(n, nmax, x, w, d * static_cast<float>(a), dmin * static_cast<float>(b));
      if (err < best) {
        best = err;
        *ls = static_cast<uint8_t>(a);
        *lm = static_cast<uint8_t>(b);
      }
    }
  }
}

void refine_code_symmetric(int n, int nmax, const float* x, const float* w, float d, int lo,
                           int hi, int* sc) {
  const int sc0 = *sc;
  float best = symmetric_error(n, nmax, x, w, d * static_cast<float>(sc0));
  for (int a = std::max(lo, sc0 - 1); a <= std::min(hi, sc0 + 1); ++a) {
    if (a == sc0) continue;
    const float err = symmetric_error(n, nmax, x, w, d * static_cast<float>(a));
    if (err < best) {
      best = err;
      *sc = a;
    }
  }
}

void subblock_weights(int n, const float* x, float* w) {
  float sum2 = 0.0f;
  for (int i = 0; i < n; ++i) sum2 += x[i] * x[i];
  const float rms = std::sqrt(sum2 / static_cast<float>(n));
  for (int i = 0; i < n; ++i) w[i] = rms + std::fabs(x[i]);
}

float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* neg_min) {
  LM_CHECK(n > 0 && n <= kMaxN, "fit_scale_min: n = {}", n);
  float xmin = 0.0f, xmax = x[0];
  for (int i = 0; i < n; ++i) {
    xmin = std::min(xmin, x[i]);
    xmax = std::max(xmax, x[i]);
  }
  if (!(xmax > xmin)) {  // constant non-positive block (zeros included): the min says it all
    std::memset(L, 0, static_cast<size_t>(n));
    *neg_min = -xmin;
    return 0.0f;
  }
  // The naive fit (min at level 0, max at level nmax) is the fallback if no candidate solves.
  const FixedSums sums = fixed_sums(n, x, w);
  Affine best{(xmax - xmin) / static_cast<float>(nmax), -xmin, INFINITY};
  round_affine(n, nmax, x, 1.0f / best.scale, best.neg_min, L);
  uint8_t cand[kMaxN];
  for (int k = -kGridSteps / 2; k <= kGridSteps / 2; ++k) {
    const float iscale = (static_cast<float>(nmax) + kGridDelta * static_cast<float>(k)) / (xmax - xmin);
    round_affine(n, nmax, x, iscale, -xmin, cand);
    Affine fit;
    if (solve_affine(n, x, w, sums, cand, &fit) && fit.err < best.err) {
      best = fit;
      std::memcpy(L, cand, static_cast<size_t>(n));
    }
  }
  for (int it = 0; it < kRefineIters && std::isfinite(best.err); ++it) {
    round_affine(n, nmax, x, 1.0f / best.scale, best.neg_min, cand);
    Affine fit;
    if (!solve_affine(n, x, w, sums, cand, &fit) || !(fit.err < best.err)) break;
    best = fit;
    std::memcpy(L, cand, static_cast<size_t>(n));
  }
  *neg_min = best.neg_min;
  return best.scale;
}

float fit_scale_symmetric(int n, int nmax, const float* x, const float* w, uint8_t* L) {
  LM_CHECK(n > 0 && n <= kMaxN, "fit_scale_symmetric: n = {}", n);
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (!(amax > 0.0f)) {
    std::memset(L, static_cast<uint8_t>(nmax), static_cast<size_t>(n));
    return 0.0f;
  }
  // Fallback: the naive scale that maps `max` to -nmax.
  float best_scale = -max / static_cast<float>(nmax), best_gain = -INFINITY;
  round_symmetric(n, nmax, x, 1.0f / best_scale, L);
  uint8_t cand[kMaxN];
  for (int k = -kGridSteps / 2; k <= kGridSteps / 2; ++k) {
    const float iscale = -(static_cast<float>(nmax) + kGridDelta * static_cast<float>(k)) / max;
    round_symmetric(n, nmax, x, iscale, cand);
    float scale, gain;
    if (solve_symmetric(n, nmax, x, w, cand, &scale, &gain) && gain > best_gain) {
      best_scale = scale;
      best_gain = gain;
      std::memcpy(L, cand, static_cast<size_t>(n));
    }
  }
  for (int it = 0; it < kRefineIters && best_gain > -INFINITY && best_scale != 0.0f; ++it) {
    round_symmetric(n, nmax, x, 1.0f / best_scale, cand);
    float scale, gain;
    if (!solve_symmetric(n, nmax, x, w, cand, &scale, &gain) || !(gain > best_gain)) break;
    best_scale = scale;
    best_gain = gain;
    std::memcpy(L, cand, static_cast<size_t>(n));
  }
  return best_scale;
}

uint16_t quantize_superblock_symmetric(const float* x, int nmax, int smax, int* sc, uint8_t* q) {
  float w[16], scale[16];
  float max_scale = 0.0f, amax = 0.0f;
  for (int j = 0; j < 16; ++j) {
    subblock_weights(16, x + 16 * j, w);
    scale[j] = fit_scale_symmetric(16, nmax, x + 16 * j, w, q + 16 * j);
    if (std::fabs(scale[j]) > amax) {
      amax = std::fabs(scale[j]);
      max_scale = scale[j];
    }
  }
  const float iscale = amax > 0.0f ? -static_cast<float>(smax) / max_scale : 0.0f;
  const fp16_t d16 = fp32_to_fp16(iscale != 0.0f ? 1.0f / iscale : 0.0f);
  const float d = fp16_to_fp32(d16);
  for (int j = 0; j < 16; ++j) {
    sc[j] = round_clamp(iscale * scale[j], -smax, smax - 1);
    subblock_weights(16, x + 16 * j, w);
    refine_code_symmetric(16, nmax, x + 16 * j, w, d, -smax, smax - 1, &sc[j]);
  }
  for (int j = 0; j < 16; ++j) {
    const float dl = d * static_cast<float>(sc[j]);
    const float inv = dl != 0.0f ? 1.0f / dl : 0.0f;
    for (int e = 16 * j; e < 16 * j + 16; ++e) {
      const int l = inv != 0.0f ? round_clamp(x[e] * inv, -nmax, nmax - 1) : 0;
      q[e] = static_cast<uint8_t>(l + nmax);
    }
  }
  return d16;
}

}  // namespace lm::kernels::ref
