// GEMM tile kernels of the types added after the first four (those are declared in
// simd_kernels.h): Q4_1, Q5_0, Q5_1 (32-element blocks) and Q2_K, Q3_K, Q5_K (super-blocks).
// Contract in type_kernels.h (GemmArgs); accuracy as simd_kernels.h states for the vec_dot of the
// same type: k-quants bit-identical to ref::, legacy types exact integer block sums with the
// float sum over blocks in vector lanes. Defined in gemm_more_avx2.cpp / gemm_more_avx512.cpp;
// call only through dispatch.cpp (gemm_kernel).
#pragma once

#include "kernels/type_kernels.h"

namespace lm::kernels {

namespace avx2 {
void gemm_q4_1_q8_1(const GemmArgs& a);
void gemm_q5_0_q8_0(const GemmArgs& a);
void gemm_q5_1_q8_1(const GemmArgs& a);
void gemm_q2_k_q8_k(const GemmArgs& a);
void gemm_q3_k_q8_k(const GemmArgs& a);
void gemm_q5_k_q8_k(const GemmArgs& a);
}  // namespace avx2

namespace avx512 {
void gemm_q4_1_q8_1(const GemmArgs& a);
void gemm_q5_0_q8_0(const GemmArgs& a);
void gemm_q5_1_q8_1(const GemmArgs& a);
void gemm_q2_k_q8_k(const GemmArgs& a);
void gemm_q3_k_q8_k(const GemmArgs& a);
void gemm_q5_k_q8_k(const GemmArgs& a);
}  // namespace avx512

}  // namespace lm::kernels
