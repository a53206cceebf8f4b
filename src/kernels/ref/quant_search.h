// Scale searches used by the k-quant quantizers (internal to kernels/ref).
//
// Rounding to the nearest level with the scale fixed by the block's extreme values is far from
// optimal at 2-6 bits. Following the published k-quant method (ggml PR #1684, "k-quants"), we
// try a small grid of candidate scales around the naive one, and for each candidate's rounding
// solve the weighted least-squares problem for the best scale (and min) exactly; the best
// candidate is then refined by alternating "round with the current scale" and "re-fit the
// scale to the rounding" until the error stops decreasing.
#pragma once

#include <cstdint>

namespace lm::kernels::ref {

// Affine fit x ~ scale * L - neg_min with L in 0..nmax, scale >= 0 and neg_min >= 0 (the
// offset is never positive, as in ggml's k-quants, so the stored min is unsigned).
// Minimises sum w * (scale * L - neg_min - x)^2.
// x, w: [n]; L: [n] out. Returns scale; *neg_min gets the (non-negative) min.
float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* neg_min);

// Symmetric fit x ~ scale * l with l in -nmax..nmax-1 (the value of largest magnitude maps to
// -nmax; the sign of scale makes that work for either sign). Minimises sum w * (scale*l - x)^2.
// x, w: [n]; L: [n] out, holding l + nmax (0..2 nmax - 1). Returns scale (may be negative).
float fit_scale_symmetric(int n, int nmax, const float* x, const float* w, uint8_t* L);

// Second-level refinement: once the sub-block scales are coded as integers against the
// super-block scales (x ~ d * ls * L - dmin * lm), rounding each code to the nearest integer
// is not always best for the elements. Tries ls +- 1 and lm +- 1 (within 0..max_code) and
// keeps the pair whose re-rounded reconstruction has the least weighted squared error.
// x, w: [n]. Updates *ls, *lm.
void refine_codes_affine(int n, int nmax, const float* x, const float* w, float d, float dmin,
                         int max_code, uint8_t* ls, uint8_t* lm);

// The same for symmetric codes x ~ d * sc * l, l in -nmax..nmax-1, sc in lo..hi.
void refine_code_symmetric(int n, int nmax, const float* x, const float* w, float d, int lo,
                           int hi, int* sc);

// The Q3_K / Q6_K super-block scheme: 16 sub-blocks of 16 fitted symmetrically (levels
// -nmax..nmax-1), their scales coded as integers sc in -smax..smax-1 against d = max|scale| / smax
// (the largest maps to -smax), then every element re-rounded with its stored scale d * sc.
// x: [256]; sc: [16] out; q: [256] out, levels + nmax. Returns d as fp16 bits.
uint16_t quantize_superblock_symmetric(const float* x, int nmax, int smax, int* sc, uint8_t* q);

// Importance weights for a sub-block x[0..n): w = rms(x) + |x|. Errors on large weights cost
// more (they dominate a dot product), while the rms floor keeps small values from being
// ignored; this is the weighting the published k-quant method uses for Q4_K / Q5_K.
void subblock_weights(int n, const float* x, float* w);

// Rounds v to the nearest integer (half away from zero) and clamps it to [lo, hi]. Total:
// NaN gives lo, infinities and huge values clamp, so no out-of-range float->int conversion.
inline int round_clamp(float v, int lo, int hi) {
  if (!(v > static_cast<float>(lo))) return lo;
  if (!(v < static_cast<float>(hi))) return hi;
  return static_cast<int>(v >= 0.0f ? v + 0.5f : v - 0.5f);
}

}  // namespace lm::kernels::ref
