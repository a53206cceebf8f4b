// Every kernel of every ISA table this machine can run (kernels/cpu/dispatch.cpp) against its
// scalar ref:: twin, on seeded random inputs: smallest block count, odd block counts, a
// 4096-element row and a large row. The bounds, per kind of kernel:
//   - activation quantizers (Q8_0, Q8_K): bit-identical bytes, ties of the rounding included;
//   - k-quant dot products: bit-identical results (exact integer sums, the ref's float order);
//   - legacy dot products: exact integer block sums, only the float sum over the nb blocks is
//     reordered: |err| <= 2 nb eps S (the recursive-summation bound of each side), where S is
//     sum |w_i x_i| over the dequantized operands (>= sum of |block terms|);
//   - float dot products: lanes of float FMAs against a double ref: |err| <= (n / 8 + 16) eps S
//     + eps |ref| (a lane chain is at most n / 8 long plus the final reduction).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/type_kernels.h"
#include "tensor/fp16.h"
#include "tensor/quants.h"
#include "test_util.h"

namespace lm::test {
namespace {

using kernels::Isa;
constexpr double kEps = std::numeric_limits<float>::epsilon();

// The k-quants: per-block float formula and cross-block order as in the ref, so bit-exact.
bool bit_exact_dot(DType t) {
  switch (t) {
    case DType::Q2_K: case DType::Q3_K: case DType::Q4_K: case DType::Q5_K: case DType::Q6_K:
      return true;
    default:
      return false;
  }
}
bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

// Offsets of the fp16 scale fields in a weight block (kept finite in random weights).
std::vector<size_t> fp16_fields(DType t) {
  switch (t) {
    case DType::Q4_0: return {offsetof(BlockQ4_0, d)};
    case DType::Q4_1: return {offsetof(BlockQ4_1, d), offsetof(BlockQ4_1, m)};
    case DType::Q5_0: return {offsetof(BlockQ5_0, d)};
    case DType::Q5_1: return {offsetof(BlockQ5_1, d), offsetof(BlockQ5_1, m)};
    case DType::Q8_0: return {offsetof(BlockQ8_0, d)};
    case DType::Q2_K: return {offsetof(BlockQ2_K, d), offsetof(BlockQ2_K, dmin)};
    case DType::Q3_K: return {offsetof(BlockQ3_K, d)};
    case DType::Q4_K: return {offsetof(BlockQ4_K, d), offsetof(BlockQ4_K, dmin)};
    case DType::Q5_K: return {offsetof(BlockQ5_K, d), offsetof(BlockQ5_K, dmin)};
    case DType::Q6_K: return {offsetof(BlockQ6_K, d)};
    default: return {};
  }
}

const DType kWeightTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                              DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                              DType::Q4_K, DType::Q5_K, DType::Q6_K};

// Row lengths: 1, 3 and 5 blocks, 4096 (rounded to blocks), a large row; odd lengths for floats.
std::vector<int64_t> sizes_for(DType t) {
  const int64_t b = dtype_info(t).block_size;
  std::vector<int64_t> s = {b, 3 * b, 5 * b, 4096 / b * b, 16384 / b * b + b};
  if (is_float(t)) s.insert(s.end(), {1, 7, 15, 17, 33, 63, 65, 4097});
  return s;
}

// Random weight row: the ref quantizer on random floats (mode 0) or random bytes with finite
// random fp16 scales (mode 1, every other bit pattern; float rows are always mode 0).
std::vector<uint8_t> random_weights(DType t, int64_t n, int mode, uint64_t seed) {
  const kernels::TypeKernels* ref = kernels::type_kernels(t, Isa::Scalar);
  std::vector<uint8_t> w(row_bytes(t, n));
  if (mode == 0 || is_float(t)) {
    const auto x = random_floats(static_cast<size_t>(n), seed);
    ref->from_float(x.data(), w.data(), n);
    return w;
  }
  std::mt19937_64 rng(seed);
  for (auto& v : w) v = static_cast<uint8_t>(rng());
  const size_t bb = dtype_info(t).type_size;
  std::uniform_real_distribution<float> u(-0.01f, 0.01f);
  for (size_t off = 0; off < w.size(); off += bb) {
    for (size_t f : fp16_fields(t)) {
      const fp16_t h = fp32_to_fp16(u(rng));
      std::memcpy(&w[off + f], &h, sizeof h);
    }
  }
  return w;
}

// sum |w_i x_i| over the dequantized operands.
double abs_dot(DType wt, const uint8_t* w, DType xt, const uint8_t* x, int64_t n) {
  std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
  kernels::type_kernels(wt, Isa::Scalar)->to_float(w, a.data(), n);
  kernels::type_kernels(xt, Isa::Scalar)->to_float(x, b.data(), n);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::fabs(static_cast<double>(a[i]) * b[i]);
  return s;
}

class SimdKernels : public ::testing::TestWithParam<Isa> {};

TEST_P(SimdKernels, DotProductsMatchRef) {
  const Isa isa = GetParam();
  int checked = 0;
  for (DType t : kWeightTypes) {
    const kernels::TypeKernels* ref = kernels::type_kernels(t, Isa::Scalar);
    const kernels::TypeKernels* k = kernels::type_kernels(t, isa);
    ASSERT_TRUE(ref && k && k->vec_dot) << dtype_name(t);
    const DType xt = ref->vec_dot_type;
    ASSERT_EQ(k->vec_dot_type, xt);
    const kernels::TypeKernels* xref = kernels::type_kernels(xt, Isa::Scalar);
    for (int64_t n : sizes_for(t)) {
      for (int mode = 0; mode < 2; ++mode) {
        const uint64_t seed = 1000 * static_cast<uint64_t>(t) + static_cast<uint64_t>(n) + 7 * mode;
        const auto w = random_weights(t, n, mode, seed);
        const auto xf = random_floats(static_cast<size_t>(n), seed + 1);
        std::vector<uint8_t> x(row_bytes(xt, n));
        xref->from_float(xf.data(), x.data(), n);
        const float want = ref->vec_dot(n, w.data(), x.data());
        const float got = k->vec_dot(n, w.data(), x.data());
        const std::string what = fmt::format("{} n={} mode={} isa={}", dtype_name(t), n, mode,
                                             kernels::isa_name(isa));
        ASSERT_TRUE(std::isfinite(want)) << what;
        if (bit_exact_dot(t)) {
          EXPECT_EQ(fp32_to_bits(got), fp32_to_bits(want)) << what << " got " << got << " want " << want;
        } else {
          const double s = abs_dot(t, w.data(), xt, x.data(), n);
          const int64_t nb = n / dtype_info(t).block_size;
          const double bound = is_float(t) ? (n / 8.0 + 16) * kEps * s + kEps * std::fabs(want)
                                           : 2.0 * static_cast<double>(nb) * kEps * s;
          EXPECT_LE(std::fabs(static_cast<double>(got) - want), bound) << what;
        }
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 100);
}

// Blocks that hit the rounding ties of the 8-bit quantizers: with max |x| = 127 the scale is 1,
// so k + 0.5 lands exactly on a tie; plus a zero block and random blocks.
std::vector<float> tie_data(int64_t n, uint64_t seed) {
  auto x = random_floats(static_cast<size_t>(n), seed, -3.0f, 3.0f);
  for (int64_t i = 0; i < std::min<int64_t>(n, 32); ++i) {
    x[static_cast<size_t>(i)] = (i == 0) ? 127.0f : static_cast<float>(i % 9) - 4.5f;
  }
  if (n >= 512) {
    for (int64_t i = 256; i < 512; ++i) x[static_cast<size_t>(i)] = 0.0f;  // an all-zero Q8_K block
    for (int64_t i = 64; i < 96; ++i) x[static_cast<size_t>(i)] = 0.0f;    // an all-zero Q8_0 block
  }
  if (n >= 512 + 256) {
    x[512] = -127.0f;  // Q8_K block with scale 1: ties again
    for (int64_t i = 513; i < 768; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i % 17) * 0.5f - 4.0f;
  }
  return x;
}

TEST_P(SimdKernels, ActivationQuantizersAreBitIdentical) {
  const Isa isa = GetParam();
  for (DType t : {DType::Q8_0, DType::Q8_1, DType::Q8_K}) {
    const kernels::TypeKernels* ref = kernels::type_kernels(t, Isa::Scalar);
    const kernels::TypeKernels* k = kernels::type_kernels(t, isa);
    const int64_t b = dtype_info(t).block_size;
    for (int64_t n : {b, 3 * b, 5 * b, 4096 / b * b, 16384 / b * b + b}) {
      for (int v = 0; v < 2; ++v) {
        const auto x = v == 0 ? random_floats(static_cast<size_t>(n), 99 + static_cast<uint64_t>(n))
                              : tie_data(n, 5 + static_cast<uint64_t>(n));
        std::vector<uint8_t> want(row_bytes(t, n)), got(row_bytes(t, n), 0xAB);
        ref->from_float(x.data(), want.data(), n);
        k->from_float(x.data(), got.data(), n);
        EXPECT_EQ(want, got) << dtype_name(t) << " n=" << n << " variant " << v
                             << " isa=" << kernels::isa_name(isa);
      }
    }
  }
}

// The dispatch table at every level lists the same types with the same vec_dot_type, and the
// selected table is one of them.
TEST_P(SimdKernels, TablesAgreeOnTypes) {
  for (DType t : kWeightTypes) {
    const auto* ref = kernels::type_kernels(t, Isa::Scalar);
    const auto* k = kernels::type_kernels(t, GetParam());
    ASSERT_TRUE(k);
    EXPECT_EQ(k->vec_dot_type, ref->vec_dot_type);
    EXPECT_EQ(k->to_float, ref->to_float);
  }
}

std::string isa_param_name(const ::testing::TestParamInfo<Isa>& info) {
  return std::string(kernels::isa_name(info.param));
}

INSTANTIATE_TEST_SUITE_P(AvailableIsas, SimdKernels,
                         ::testing::ValuesIn(kernels::available_isas()), isa_param_name);

TEST(CpuFeatures, LevelsAndNames) {
  const auto isas = kernels::available_isas();
  ASSERT_FALSE(isas.empty());
  EXPECT_EQ(isas.front(), Isa::Scalar);
  EXPECT_EQ(isas.back(), kernels::best_isa());
  EXPECT_LE(static_cast<int>(kernels::selected_isa()), static_cast<int>(kernels::best_isa()));
  const auto& f = kernels::cpu_features();
  if (kernels::best_isa() >= Isa::Avx2) {
    EXPECT_TRUE(f.avx2 && f.fma && f.f16c && f.os_ymm);
  }
  if (kernels::best_isa() == Isa::Avx512) {
    EXPECT_TRUE(f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni && f.os_zmm);
  }
  Isa parsed;
  for (Isa i : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    ASSERT_TRUE(kernels::parse_isa(kernels::isa_name(i), &parsed));
    EXPECT_EQ(parsed, i);
  }
  EXPECT_FALSE(kernels::parse_isa("sse9", &parsed));
  EXPECT_FALSE(kernels::parse_isa("", &parsed));
  std::printf("best ISA: %s, selected: %s\n", std::string(kernels::isa_name(kernels::best_isa())).c_str(),
              std::string(kernels::isa_name()).c_str());
}

}  // namespace
}  // namespace lm::test
