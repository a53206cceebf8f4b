// Threaded matrix multiplication of activations by a weight matrix of any computable dtype:
//   Y[n_tokens, n_out] = X[n_tokens, n_in] · Wᵀ,  W: n_out rows of n_in (GGUF dims [n_in, n_out]).
//
// Each activation row is converted once per call into the weight type's vec_dot_type (through
// kernels::type_kernels), then every (weight row, token) pair is one vec_dot. The work is split
// over the thread pool by contiguous ranges of output rows, so each weight row is read by one
// thread and reused for every token of the batch.
#pragma once

#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "tensor/dtype.h"

namespace lm::kernels {

// A weight matrix in memory (typically a view into a mapped GGUF file). Not owning.
struct WeightView {
  DType type = DType::F32;
  const void* data = nullptr;  // [n_out, n_in] in `type`, rows contiguous
  int64_t n_in = 0;
  int64_t n_out = 0;
};

// Reusable buffer for the converted activations; grows as needed, never shrinks. One per caller
// thread (not shareable between concurrent matmuls).
struct MatmulScratch {
  std::vector<uint8_t> act;
};

// True when `type` has the kernels matmul needs (to_float is not needed; vec_dot and the
// from_float of its vec_dot_type are).
bool matmul_supported(DType type);

// x: [n_tokens, n_in] F32, y: [n_tokens, n_out] F32 (must not alias x).
// Preconditions (checked with LM_CHECK): matmul_supported(w.type), n_in a multiple of the block
// sizes of w.type and its vec_dot_type.
void matmul(ThreadPool& pool, const WeightView& w, const float* x, int64_t n_tokens, float* y,
            MatmulScratch& scratch);

}  // namespace lm::kernels
