// Scalar reference kernels for the quantized GGUF types (layouts in tensor/quants.h).
//
// These are the specification every optimised kernel is tested against. All functions take
// n, the number of elements, which must be a multiple of the type's block size (checked once
// by the caller, as kernels never fail). Pure functions: thread-safe, no allocation.
//
//   dequantize_row_<t>(src, dst, n)   src: [n] in <t>, dst: [n] floats
//   quantize_row_<t>(src, dst, n)     src: [n] floats, dst: [n] in <t>; deterministic
//   vec_dot_<w>_<a>(n, w, x)          w: [n] weights in <w>, x: [n] activations in <a>
//
// The dot products use integer accumulation inside each block (as ggml does) and float across
// blocks, so they equal dot(dequantize(w), dequantize(x)) up to float rounding.
#pragma once

#include <cstdint>

namespace lm::kernels::ref {

void dequantize_row_q4_0(const void* src, float* dst, int64_t n);
void dequantize_row_q4_1(const void* src, float* dst, int64_t n);
void dequantize_row_q5_0(const void* src, float* dst, int64_t n);
void dequantize_row_q5_1(const void* src, float* dst, int64_t n);
void dequantize_row_q8_0(const void* src, float* dst, int64_t n);
void dequantize_row_q8_1(const void* src, float* dst, int64_t n);
void dequantize_row_q2_k(const void* src, float* dst, int64_t n);
void dequantize_row_q3_k(const void* src, float* dst, int64_t n);
void dequantize_row_q4_k(const void* src, float* dst, int64_t n);
void dequantize_row_q5_k(const void* src, float* dst, int64_t n);
void dequantize_row_q6_k(const void* src, float* dst, int64_t n);
void dequantize_row_q8_k(const void* src, float* dst, int64_t n);

void quantize_row_q4_0(const float* src, void* dst, int64_t n);
void quantize_row_q4_1(const float* src, void* dst, int64_t n);
void quantize_row_q5_0(const float* src, void* dst, int64_t n);
void quantize_row_q5_1(const float* src, void* dst, int64_t n);
void quantize_row_q8_0(const float* src, void* dst, int64_t n);
void quantize_row_q8_1(const float* src, void* dst, int64_t n);
void quantize_row_q2_k(const float* src, void* dst, int64_t n);
void quantize_row_q3_k(const float* src, void* dst, int64_t n);
void quantize_row_q4_k(const float* src, void* dst, int64_t n);
void quantize_row_q5_k(const float* src, void* dst, int64_t n);
void quantize_row_q6_k(const float* src, void* dst, int64_t n);
void quantize_row_q8_k(const float* src, void* dst, int64_t n);

float vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* x);
float vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* x);
float vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* x);
float vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* x);
float vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* x);
float vec_dot_q2_k_q8_k(int64_t n, const void* w, const void* x);
float vec_dot_q3_k_q8_k(int64_t n, const void* w, const void* x);
float vec_dot_q4_k_q8_k(int64_t n, const void* w, const void* x);
float vec_dot_q5_k_q8_k(int64_t n, const void* w, const void* x);
float vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* x);

}  // namespace lm::kernels::ref
