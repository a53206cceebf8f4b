// Per-dtype kernel table: how to turn a weight type into floats, how to quantize activations
// for it, and the dot product between a weight row and a converted activation row.
//
// The table is filled in one place (kernels/cpu/dispatch.cpp), which is the only place an ISA
// is chosen (one table per ISA level, picked once at startup); every entry has a scalar twin
// in kernels/ref/ that is its specification.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/cpu_features.h"
#include "tensor/dtype.h"

namespace lm::kernels {

struct TypeKernels {
  DType type;
  // Activations are converted to this type before vec_dot (F32 for float weights, Q8_0 / Q8_1
  // / Q8_K for the quantized ones, as in the GGUF ecosystem).
  DType vec_dot_type;
  // Dequantizes n elements (n a multiple of the block size). src: [n] in `type`; dst: [n].
  void (*to_float)(const void* src, float* dst, int64_t n);
  // Quantizes n floats into `type` (nullptr when no quantizer exists). src: [n]; dst: [n].
  void (*from_float)(const float* src, void* dst, int64_t n);
  // Dot product of n elements: w [n] in `type`, x [n] in `vec_dot_type`. nullptr for the
  // activation-only types Q8_1 / Q8_K (not computable as weights, see dtype_info).
  float (*vec_dot)(int64_t n, const void* w, const void* x);
};

// One tile product of the prefill GEMM: for r in [0, n_rows), t in [0, n_tok)
//   y[t * ldy + r] = vec_dot(n, w row r, x row t)
// computed with a register-blocked kernel that loads a weight block once for several tokens.
// Contract (the exactness the batched forward pass relies on): each y value depends only on its
// weight row and activation row, never on n_rows, n_tok or its position in the tile, so a
// token's result does not depend on its batch or on the thread split.
struct GemmArgs {
  int64_t n = 0;                // elements per row
  const void* w = nullptr;      // [n_rows, n] in the weight type, rows w_stride bytes apart
  size_t w_stride = 0;
  int64_t n_rows = 0;
  const void* x = nullptr;      // [n_tok, n] in vec_dot_type, rows x_stride bytes apart
  size_t x_stride = 0;
  int64_t n_tok = 0;
  float* y = nullptr;           // [n_tok, ldy], columns 0 .. n_rows-1 written
  int64_t ldy = 0;
};
using GemmFn = void (*)(const GemmArgs& a);

// The GEMM kernel of a weight type at the selected ISA level (or at `isa`), nullptr when the
// type has none there (matmul then calls vec_dot per (row, token)).
GemmFn gemm_kernel(DType t);
GemmFn gemm_kernel(DType t, Isa isa);

// The decode kernel of a weight type (GemmArgs with n_tok == 1, a GemmFn contract otherwise):
// built to stream the weights once at the memory bandwidth. Bit-identical to the type's GEMM
// kernel at the same level (so a token's result still does not depend on its batch). nullptr
// when the type has none at that level (matmul then uses the GEMM for one token too).
GemmFn matvec_kernel(DType t);
GemmFn matvec_kernel(DType t, Isa isa);

// Kernels for a type at the selected ISA level (cpu_features.h), or nullptr when localmax
// cannot compute with it.
const TypeKernels* type_kernels(DType t);

// The same at a given level, for tests and benchmarks. Precondition: isa <= best_isa().
const TypeKernels* type_kernels(DType t, Isa isa);

}  // namespace lm::kernels
