// The one place where kernels are chosen per dtype and per ISA level.
//
// The scalar table lists every type with its ref:: kernels; each higher level is the level
// below with the overrides of its own list applied (avx512 = scalar + kAvx2 + kAvx512), so a
// type without a faster kernel keeps the best one below it. The tables are built once.
#include <array>

#include "core/check.h"
#include "core/log.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/gemm_kernels.h"
#include "kernels/cpu/simd_kernels.h"
#include "kernels/ref/float_ref.h"
#include "kernels/ref/quant_ref.h"
#include "kernels/type_kernels.h"

namespace lm::kernels {
namespace {

// {type, vec_dot_type, to_float, from_float, vec_dot}. The activation-only types Q8_1 and Q8_K
// are listed so that type_kernels(w.vec_dot_type)->from_float converts activations; they have
// no vec_dot (nullptr) and the dtype table marks them not computable as weights.
constexpr TypeKernels kScalar[] = {
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
constexpr size_t kNumTypes = sizeof(kScalar) / sizeof(kScalar[0]);

// Replaces from_float and/or vec_dot of `type` (nullptr: keep the level below's).
struct Override {
  DType type;
  void (*from_float)(const float* src, void* dst, int64_t n);
  float (*vec_dot)(int64_t n, const void* w, const void* x);
};

constexpr Override kAvx2[] = {
    {DType::F32, nullptr, avx2::vec_dot_f32_f32},
    {DType::F16, nullptr, avx2::vec_dot_f16_f32},
    {DType::BF16, nullptr, avx2::vec_dot_bf16_f32},
    {DType::Q4_0, nullptr, avx2::vec_dot_q4_0_q8_0},
    {DType::Q4_1, nullptr, avx2::vec_dot_q4_1_q8_1},
    {DType::Q5_0, nullptr, avx2::vec_dot_q5_0_q8_0},
    {DType::Q5_1, nullptr, avx2::vec_dot_q5_1_q8_1},
    {DType::Q8_1, avx2::quantize_row_q8_1, nullptr},
    {DType::Q8_0, avx2::quantize_row_q8_0, avx2::vec_dot_q8_0_q8_0},
    {DType::Q2_K, nullptr, avx2::vec_dot_q2_k_q8_k},
    {DType::Q3_K, nullptr, avx2::vec_dot_q3_k_q8_k},
    {DType::Q4_K, nullptr, avx2::vec_dot_q4_k_q8_k},
    {DType::Q5_K, nullptr, avx2::vec_dot_q5_k_q8_k},
    {DType::Q6_K, nullptr, avx2::vec_dot_q6_k_q8_k},
    {DType::Q8_K, avx2::quantize_row_q8_k, nullptr},
};

constexpr Override kAvx512[] = {
    {DType::F32, nullptr, avx512::vec_dot_f32_f32},
    {DType::F16, nullptr, avx512::vec_dot_f16_f32},
    {DType::BF16, nullptr, avx512::vec_dot_bf16_f32},
    {DType::Q4_0, nullptr, avx512::vec_dot_q4_0_q8_0},
    {DType::Q4_1, nullptr, avx512::vec_dot_q4_1_q8_1},
    {DType::Q5_0, nullptr, avx512::vec_dot_q5_0_q8_0},
    {DType::Q5_1, nullptr, avx512::vec_dot_q5_1_q8_1},
    {DType::Q8_0, nullptr, avx512::vec_dot_q8_0_q8_0},
    {DType::Q2_K, nullptr, avx512::vec_dot_q2_k_q8_k},
    {DType::Q3_K, nullptr, avx512::vec_dot_q3_k_q8_k},
    {DType::Q6_K, nullptr, avx512::vec_dot_q6_k_q8_k},
};

// GEMM kernels per level; a level without an entry for a type has none (matmul then loops over
// vec_dot). Not inherited from the level below: a GEMM's float summation order belongs to its
// ISA level, and matmul uses the GEMM for every batch size when there is one.
struct GemmEntry {
  DType type;
  GemmFn gemm;
};
constexpr GemmEntry kGemmAvx2[] = {
    {DType::Q4_0, avx2::gemm_q4_0_q8_0},
    {DType::Q8_0, avx2::gemm_q8_0_q8_0},
    {DType::Q4_K, avx2::gemm_q4_k_q8_k},
    {DType::Q6_K, avx2::gemm_q6_k_q8_k},
    {DType::Q4_1, avx2::gemm_q4_1_q8_1},
    {DType::Q5_0, avx2::gemm_q5_0_q8_0},
    {DType::Q5_1, avx2::gemm_q5_1_q8_1},
    {DType::Q2_K, avx2::gemm_q2_k_q8_k},
    {DType::Q3_K, avx2::gemm_q3_k_q8_k},
    {DType::Q5_K, avx2::gemm_q5_k_q8_k},
};
constexpr GemmEntry kGemmAvx512[] = {
    {DType::Q4_0, avx512::gemm_q4_0_q8_0},
    {DType::Q8_0, avx512::gemm_q8_0_q8_0},
    {DType::Q4_K, avx512::gemm_q4_k_q8_k},
    {DType::Q6_K, avx512::gemm_q6_k_q8_k},
    {DType::Q4_1, avx512::gemm_q4_1_q8_1},
    {DType::Q5_0, avx512::gemm_q5_0_q8_0},
    {DType::Q5_1, avx512::gemm_q5_1_q8_1},
    {DType::Q2_K, avx512::gemm_q2_k_q8_k},
    {DType::Q3_K, avx512::gemm_q3_k_q8_k},
    {DType::Q5_K, avx512::gemm_q5_k_q8_k},
};

// Decode kernels per level (not inherited either: each must match its level's GEMM bit for bit).
constexpr GemmEntry kMatvecAvx512[] = {
    {DType::Q4_K, avx512::matvec_q4_k_q8_k},
    {DType::Q6_K, avx512::matvec_q6_k_q8_k},
};

template <size_t N>
GemmFn find_gemm(const GemmEntry (&entries)[N], DType t) {
  for (const GemmEntry& e : entries) {
    if (e.type == t) return e.gemm;
  }
  return nullptr;
}

using Table = std::array<TypeKernels, kNumTypes>;

template <size_t N>
void apply(Table& t, const Override (&overrides)[N]) {
  for (const Override& o : overrides) {
    for (TypeKernels& k : t) {
      if (k.type != o.type) continue;
      if (o.from_float) k.from_float = o.from_float;
      if (o.vec_dot) k.vec_dot = o.vec_dot;
    }
  }
}

struct Tables {
  Table level[3];
  Tables() {
    for (size_t i = 0; i < kNumTypes; ++i) level[0][i] = kScalar[i];
    level[1] = level[0];
    apply(level[1], kAvx2);
    level[2] = level[1];
    apply(level[2], kAvx512);
  }
};

const Table& table_for(Isa isa) {
  static const Tables tables;
  return tables.level[static_cast<int>(isa)];
}

const TypeKernels* find(const Table& t, DType type) {
  for (const auto& k : t) {
    if (k.type == type) return &k;
  }
  return nullptr;
}

}  // namespace

const TypeKernels* type_kernels(DType t, Isa isa) {
  LM_CHECK(static_cast<int>(isa) <= static_cast<int>(best_isa()),
           "type_kernels: ISA {} is not available on this CPU", isa_name(isa));
  return find(table_for(isa), t);
}

GemmFn gemm_kernel(DType t, Isa isa) {
  LM_CHECK(static_cast<int>(isa) <= static_cast<int>(best_isa()),
           "gemm_kernel: ISA {} is not available on this CPU", isa_name(isa));
  switch (isa) {
    case Isa::Avx2: return find_gemm(kGemmAvx2, t);
    case Isa::Avx512: return find_gemm(kGemmAvx512, t);
    default: return nullptr;
  }
}

GemmFn gemm_kernel(DType t) { return gemm_kernel(t, selected_isa()); }

GemmFn matvec_kernel(DType t, Isa isa) {
  LM_CHECK(static_cast<int>(isa) <= static_cast<int>(best_isa()),
           "matvec_kernel: ISA {} is not available on this CPU", isa_name(isa));
  return isa == Isa::Avx512 ? find_gemm(kMatvecAvx512, t) : nullptr;
}

GemmFn matvec_kernel(DType t) { return matvec_kernel(t, selected_isa()); }

const TypeKernels* type_kernels(DType t) {
  static const Table& selected = []() -> const Table& {
    log::debug("kernels: using the {} table", isa_name(selected_isa()));
    return table_for(selected_isa());
  }();
  return find(selected, t);
}

}  // namespace lm::kernels
