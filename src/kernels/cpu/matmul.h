// Threaded matrix multiplication of activations by a weight matrix of any computable dtype:
//   Y[n_tokens, n_out] = X[n_tokens, n_in] · Wᵀ,  W: n_out rows of n_in (GGUF dims [n_in, n_out]).
//
// Each activation row is converted once per call into the weight type's vec_dot_type (through
// kernels::type_kernels). When the weight type has a GEMM kernel at the selected ISA
// (gemm_kernel), tiles of 4 weight rows x 4 tokens are computed with accumulators in registers
// (each weight block unpacked once for 4 tokens); otherwise every (weight row, token) pair is one
// vec_dot. The work is split over the thread pool by contiguous ranges of output rows, so each
// weight row is read by one thread and reused for every token of the batch.
//
// Exactness: a token's output row depends only on its activations and the weights, never on the
// batch it is in, its place in the batch or the thread count (the forward pass and the
// continuous-batching scheduler rely on it; tests/unit/kernels/gemm_test.cpp).
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
  bool repacked = false;  // data is in the row-group layout of kernels/cpu/repack.h
};

// Reusable buffer for the converted activations; grows as needed, never shrinks. One per caller
// thread (not shareable between concurrent matmuls).
struct MatmulScratch {
  std::vector<uint8_t> act;
};

// True when `type` has the kernels matmul needs (to_float is not needed; vec_dot and the
// from_float of its vec_dot_type are).
bool matmul_supported(DType type);

// Auto: the GEMM kernel when the type has one, else vec_dot. VecDot: always one vec_dot per
// (row, token) (the baseline bench/bench_kernels compares against).
enum class MatmulPath { Auto, VecDot };

// x: [n_tokens, n_in] F32, y: [n_tokens, n_out] F32 (must not alias x).
// Preconditions (checked with LM_CHECK): matmul_supported(w.type), n_in a multiple of the block
// sizes of w.type and its vec_dot_type.
void matmul(ThreadPool& pool, const WeightView& w, const float* x, int64_t n_tokens, float* y,
            MatmulScratch& scratch, MatmulPath path = MatmulPath::Auto);

}  // namespace lm::kernels
