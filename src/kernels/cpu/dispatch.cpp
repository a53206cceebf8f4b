// The one place where kernels are chosen per dtype (and, later, per ISA).
#include "kernels/ref/float_ref.h"
#include "kernels/ref/quant_ref.h"
#include "kernels/type_kernels.h"

namespace lm::kernels {
namespace {

// {type, vec_dot_type, to_float, from_float, vec_dot}. The activation-only types Q8_1 and Q8_K
// are listed so that type_kernels(w.vec_dot_type)->from_float converts activations; they have
// no vec_dot (nullptr) and the dtype table marks them not computable as weights.
constexpr TypeKernels kKernels[] = {
    {DType::F32, DType::F32, ref::to_float_f32, ref::from_float_f32, ref::vec_dot_f32_f32},
    {DType::F16, DType::F32, ref::to_float_f16, ref::from_float_f16, ref::vec_dot_f16_f32},
    {DType::BF16, DType::F32, ref::to_float_bf16, ref::from_float_bf16, ref::vec_dot_bf16_f32},
    {DType::Q4_0, DType::Q8_0, ref::dequantize_row_q4_0, ref::quantize_row_q4_0, ref::vec_dot_q4_0_q8_0},
    {DType::Q4_1, DType::Q8_1, ref::dequantize_row_q4_1, ref::quantize_row_q4_1, ref::vec_dot_q4_1_q8_1},
    {DType::Q5_0, DType::Q8_0, ref::dequantize_row_q5_0, ref::quantize_row_q5_0, ref::vec_dot_q5_0_q8_0},
    {DType::Q5_1, DType::Q8_1, ref::dequantize_row_q5_1, ref::quantize_row_q5_1, ref::vec_dot_q5_1_q8_1},
    {DType::Q8_0, DType::Q8_0, ref::dequantize_row_q8_0, ref::quantize_row_q8_0, ref::vec_dot_q8_0_q8_0},
    {DType::Q2_K, DType::Q8_K, ref::dequantize_row_q2_k, ref::quantize_row_q2_k, ref::vec_dot_q2_k_q8_k},
    {DType::Q3_K, DType::Q8_K, ref::dequantize_row_q3_k, ref::quantize_row_q3_k, ref::vec_dot_q3_k_q8_k},
    {DType::Q4_K, DType::Q8_K, ref::dequantize_row_q4_k, ref::quantize_row_q4_k, ref::vec_dot_q4_k_q8_k},
    {DType::Q5_K, DType::Q8_K, ref::dequantize_row_q5_k, ref::quantize_row_q5_k, ref::vec_dot_q5_k_q8_k},
    {DType::Q6_K, DType::Q8_K, ref::dequantize_row_q6_k, ref::quantize_row_q6_k, ref::vec_dot_q6_k_q8_k},
    {DType::Q8_1, DType::Q8_1, ref::dequantize_row_q8_1, ref::quantize_row_q8_1, nullptr},
    {DType::Q8_K, DType::Q8_K, ref::dequantize_row_q8_k, ref::quantize_row_q8_k, nullptr},
};

}  // namespace

const TypeKernels* type_kernels(DType t) {
  for (const auto& k : kKernels) {
    if (k.type == t) return &k;
  }
  return nullptr;
}

}  // namespace lm::kernels
