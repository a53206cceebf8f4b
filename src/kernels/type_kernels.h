// Per-dtype kernel table: how to turn a weight type into floats, how to quantize activations
// for it, and the dot product between a weight row and a converted activation row.
//
// The table is filled in one place (kernels/cpu/dispatch.cpp), which is the only place an ISA
// is chosen (one table per ISA level, picked once at startup); every entry has a scalar twin
// in kernels/ref/ that is its specification.
#pragma once

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

// Kernels for a type at the selected ISA level (cpu_features.h), or nullptr when localmax
// cannot compute with it.
const TypeKernels* type_kernels(DType t);

// The same at a given level, for tests and benchmarks. Precondition: isa <= best_isa().
const TypeKernels* type_kernels(DType t, Isa isa);

}  // namespace lm::kernels
