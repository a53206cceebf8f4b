// The one place where kernels are chosen per dtype (and, later, per ISA).
#include "kernels/ref/float_ref.h"
#include "kernels/type_kernels.h"

namespace lm::kernels {
namespace {

constexpr TypeKernels kFloatKernels[] = {
    {DType::F32, DType::F32, ref::to_float_f32, ref::from_float_f32, ref::vec_dot_f32_f32},
    {DType::F16, DType::F32, ref::to_float_f16, ref::from_float_f16, ref::vec_dot_f16_f32},
    {DType::BF16, DType::F32, ref::to_float_bf16, ref::from_float_bf16, ref::vec_dot_bf16_f32},
};

}  // namespace

const TypeKernels* type_kernels(DType t) {
  for (const auto& k : kFloatKernels) {
    if (k.type == t) return &k;
  }
  return nullptr;
}

}  // namespace lm::kernels
