// Model-agnostic scalar ops of a decoder forward pass: the specification every optimised
// version is tested against. They know nothing about layers or tensor names, never allocate and
// never fail (callers check shapes once, above them). Thread-safe: pure functions of their args.
#pragma once

#include <cstdint>

namespace lm::kernels::ref {

// RMSNorm of one row: y = x * w / sqrt(mean(x^2) + eps). x, w, y: [n]; y may alias x.
void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps);

// RoPE rotation angles for one position: cs[2*i] = cos(theta_i), cs[2*i+1] = sin(theta_i) with
// theta_i = pos * freq_scale * base^(-2i/n_rot) / factors[i], for i < n_rot/2.
// freq_scale is 1/factor for linear scaling (1 for none); factors may be nullptr (all 1).
// factors: [n_rot/2]; cs: [n_rot].
void rope_angles(int32_t pos, int32_t n_rot, float freq_base, float freq_scale,
                 const float* factors, float* cs);

// Rotates the first n_rot dims of each head of x in place with angles from rope_angles;
// dims n_rot..head_dim-1 are left unchanged.
// neox = false ("normal", llama): pairs (x[2i], x[2i+1]).
// neox = true (qwen2, qwen3):      pairs (x[i], x[i + n_rot/2]).
// x: [n_head, head_dim]; cs: [n_rot].
void rope(float* x, int32_t n_head, int32_t head_dim, int32_t n_rot, const float* cs, bool neox);

// Numerically stable softmax in place. x: [n].
void softmax(float* x, int64_t n);

// SwiGLU: out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)). out may alias gate or up.
// gate, up, out: [n].
void swiglu(const float* gate, const float* up, float* out, int64_t n);

// y[i] += x[i]. x, y: [n].
void add(const float* x, float* y, int64_t n);

}  // namespace lm::kernels::ref
