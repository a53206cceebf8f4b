// SIMD twins of the ref:: kernels, one namespace per ISA level (see cpu_features.h). Same
// signatures and contracts as kernels/ref/quant_ref.h and float_ref.h; they may only be called
// when cpu_features() reports the ISA, which kernels/cpu/dispatch.cpp guarantees.
//
// Files: *_avx2.cpp are compiled with -mavx2 -mfma -mf16c, *_avx512.cpp additionally with
// -mavx512f/bw/dq/vl/vnni (flags set per file in CMakeLists.txt, so nothing else in the binary
// needs these instructions). Those files must not call inline functions of shared headers
// (fp16.h, quants.h helpers): a copy compiled with AVX flags could be picked by the linker for
// every caller.
//
// Accuracy against ref:: (tested in tests/unit/kernels/simd_kernels_test.cpp):
//   - activation quantizers (Q8_0, Q8_1, Q8_K): bit-identical output.
//   - k-quant dot products: bit-identical (exact integer sums, per-block float formula and
//     cross-block accumulation in the ref's order).
//   - Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 dot products: exact integer block sums; the float sum over blocks is taken in
//     a different order (vector lanes), so |err| <= a few ulp of sum_i |block term i|.
//   - float dot products: float accumulation in lanes (the ref uses double).
// Precondition of the integer dot products (met by every activation quantizer): activation
// quants lie in [-127, 127].
#pragma once

#include <cstdint>

#include "kernels/type_kernels.h"

namespace lm::kernels {

namespace avx2 {
// Sum of buf[b, e) (the read loop of the bandwidth probe, bandwidth.h).
uint64_t read_sum(const uint64_t* buf, int64_t b, int64_t e);
void quantize_row_q8_0(const float* src, void* dst, int64_t n);  // src: [n], dst: [n] Q8_0
void quantize_row_q8_1(const float* src, void* dst, int64_t n);  // src: [n], dst: [n] Q8_1
void quantize_row_q8_k(const float* src, void* dst, int64_t n);  // src: [n], dst: [n] Q8_K
float vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* x);
float vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* x);
float vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* x);
float vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* x);
float vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* x);
float vec_dot_q2_k_q8_k(int64_t n, const void* w, const void* x);
float vec_dot_q3_k_q8_k(int64_t n, const void* w, const void* x);
float vec_dot_q4_k_q8_k(int64_t n, const void* w, const void* x);
float vec_dot_q5_k_q8_k(int64_t n, const void* w, const void* x);
float vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* x);
float vec_dot_f32_f32(int64_t n, const void* w, const void* x);   // w: [n] F32, x: [n] F32
float vec_dot_f16_f32(int64_t n, const void* w, const void* x);   // w: [n] F16, x: [n] F32
float vec_dot_bf16_f32(int64_t n, const void* w, const void* x);  // w: [n] BF16, x: [n] F32
// GEMM tiles (gemm_avx2.cpp), contract in type_kernels.h; accuracy as the avx512 ones below.
void gemm_q4_0_q8_0(const GemmArgs& a);
void gemm_q8_0_q8_0(const GemmArgs& a);
void gemm_q4_k_q8_k(const GemmArgs& a);
void gemm_q6_k_q8_k(const GemmArgs& a);
}  // namespace avx2

// Where the AVX-512 table has no entry of its own it uses the AVX2 kernel (dispatch.cpp). Q4_K /
// Q5_K zmm versions (maddubs/madd over 128 elements) measured 10-30% slower than AVX2 here and
// were dropped; the activation quantizers have none yet.
namespace avx512 {
uint64_t read_sum(const uint64_t* buf, int64_t b, int64_t e);
float vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* x);  // VNNI, 2 blocks per zmm
float vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* x);  // VNNI, 2 blocks per zmm
float vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* x);  // VNNI, 2 blocks per zmm
float vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* x);  // VNNI, 2 blocks per zmm
float vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* x);  // VNNI, 2 blocks per zmm
float vec_dot_q2_k_q8_k(int64_t n, const void* w, const void* x);  // 64 elements per zmm
float vec_dot_q3_k_q8_k(int64_t n, const void* w, const void* x);  // 64 elements per zmm
float vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* x);  // VNNI, 64 elements per zmm
float vec_dot_f32_f32(int64_t n, const void* w, const void* x);
float vec_dot_f16_f32(int64_t n, const void* w, const void* x);
float vec_dot_bf16_f32(int64_t n, const void* w, const void* x);
// GEMM tiles (gemm_avx512.cpp), contract in type_kernels.h. Q4_0 / Q8_0: float sums in lanes
// (not bit-identical to the vec_dot kernels, so matmul uses them for every batch size); Q4_K /
// Q6_K: bit-identical to ref::.
void gemm_q4_0_q8_0(const GemmArgs& a);
void gemm_q8_0_q8_0(const GemmArgs& a);
void gemm_q4_k_q8_k(const GemmArgs& a);
void gemm_q6_k_q8_k(const GemmArgs& a);
// Decode (n_tok == 1) kernels (matvec_avx512.cpp): bit-identical to ref:: and the GEMMs above.
void matvec_q4_k_q8_k(const GemmArgs& a);
void matvec_q6_k_q8_k(const GemmArgs& a);
}  // namespace avx512

}  // namespace lm::kernels
