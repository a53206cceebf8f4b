// Elementwise activations of the forward pass with per-ISA versions: SwiGLU, and the lanewise
// e^x it is built on (exp_avx2.h / exp_avx512.h, exposed here as an array function for tests
// and other callers). No ISA flags here: activation.cpp picks the version for the selected ISA
// (cpu_features.h; LM_ISA lowers it).
//
// Accuracy against ref::swiglu (tested in tests/unit/kernels/activation_test.cpp): the
// exponential is a polynomial (relative error below 1.5e-7, where ref uses libm's expf), the
// rest is the ref's arithmetic (1 + e, divide, multiply): each result is within 6e-7 relative
// of ref's (measured: 5 ulp at most).
// Every element's result depends only on its own gate and up (no tail path: the last partial
// vector uses masked loads), so a row's values do not depend on how the pool splits it.
// Limits as ref: silu(g) -> g for large g; -0 / +0 once e^-g overflows float (g < -88).
// Thread-safety: pure functions of their arguments.
#pragma once

#include <cstdint>

#include "kernels/cpu/cpu_features.h"

namespace lm::kernels {

// out[i] = gate[i] / (1 + e^-gate[i]) * up[i]. gate, up, out: [n]; out may alias gate or up.
using SwigluFn = void (*)(const float* gate, const float* up, float* out, int64_t n);
// y[i] = e^x[i], x clamped to [-87, 88]. x, y: [n]; y may alias x.
using ExpFn = void (*)(const float* x, float* y, int64_t n);

// The version for the selected ISA (ref::swiglu for Scalar).
SwigluFn swiglu_kernel();
// The version for a given ISA, which the CPU must have (available_isas()): tests compare them.
SwigluFn swiglu_kernel(Isa isa);
// The vector e^x for isa (Avx2 or Avx512; nullptr for Scalar, which has no polynomial twin).
ExpFn exp_kernel(Isa isa);

namespace avx2 {
void swiglu(const float* gate, const float* up, float* out, int64_t n);
void vec_exp(const float* x, float* y, int64_t n);
}  // namespace avx2
namespace avx512 {
void swiglu(const float* gate, const float* up, float* out, int64_t n);
void vec_exp(const float* x, float* y, int64_t n);
}  // namespace avx512

}  // namespace lm::kernels
