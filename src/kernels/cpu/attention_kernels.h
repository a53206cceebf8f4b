// The inner step of tiled attention with online softmax (model/attention.cpp), per ISA: one
// query row of one head against a tile of n keys. row = [running max, running sum,
// output[head_dim]]; the tile's scores s_j = (q . k_j) * scale update it as
//   m' = max(m, max_j s_j), c = exp(m - m'), l' = l c + sum_j exp(s_j - m'),
//   out' = out c + sum_j exp(s_j - m') v_j.
// The AVX2 / AVX-512 versions compute the dot products with FMA in vector lanes, so their results
// differ from the portable version (model/attention.cpp) by rounding; each is the same for every
// token whatever its batch (tested in tests/unit/model/attention_test.cpp against the portable
// one).
#pragma once

#include <cstdint>

namespace lm::kernels {

// n <= kAttnMaxKeys keys; k_j = kp + j * ks, v_j = vp + j * vs (floats).
using AttnRowFn = void (*)(float* row, const float* q, const float* kp, int64_t ks, const float* vp,
                           int64_t vs, int32_t n, int32_t head_dim, float scale);
constexpr int32_t kAttnMaxKeys = 64;

// The kernel at the selected ISA for this head_dim, nullptr when none (head_dim not a multiple of
// the vector width, or no AVX2): the caller then uses its portable loop.
AttnRowFn attn_row_kernel(int32_t head_dim);

namespace avx2 {
void attn_row(float* row, const float* q, const float* kp, int64_t ks, const float* vp, int64_t vs,
              int32_t n, int32_t head_dim, float scale);
}
namespace avx512 {
void attn_row(float* row, const float* q, const float* kp, int64_t ks, const float* vp, int64_t vs,
              int32_t n, int32_t head_dim, float scale);
}

}  // namespace lm::kernels
