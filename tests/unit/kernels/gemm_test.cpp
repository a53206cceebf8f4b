// The GEMM tile kernels (type_kernels.h gemm_kernel) of every ISA level this machine has:
//   - against the ref:: vec_dot on seeded random data, odd sizes (n_tok 1..17, n_rows not a
//     multiple of the tile height, odd block counts). k-quants: bit-identical. Legacy types:
//     exact integer block sums, float sum over the nb blocks reordered: |err| <= 2 nb eps S + tiny,
//     S = sum |w_i x_i| over the dequantized operands (the bound of simd_kernels_test.cpp);
//   - invariance: every output equals, bit for bit, the same (row, token) computed alone, so a
//     token's result does not depend on the tile it falls in;
//   - matmul: the result of a token is bitwise the same in any batch and at any thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/matmul.h"
#include "kernels/type_kernels.h"
#include "test_util.h"

namespace lm::kernels {
namespace {

constexpr double kEps = std::numeric_limits<float>::epsilon();

struct Operands {
  DType type;
  int64_t n, n_rows, n_tok;
  size_t w_row, x_row;
  std::vector<uint8_t> w, x;    // [n_rows, n] in type, [n_tok, n] in vec_dot_type
  std::vector<float> wf, xf;    // dequantized
};

Operands make_operands(DType type, int64_t n, int64_t n_rows, int64_t n_tok, uint64_t seed) {
  const TypeKernels& k = *type_kernels(type, Isa::Scalar);
  const TypeKernels& vk = *type_kernels(k.vec_dot_type, Isa::Scalar);
  Operands o{type, n, n_rows, n_tok, row_bytes(type, n), row_bytes(k.vec_dot_type, n), {}, {}, {}, {}};
  const auto wsrc = test::random_floats(size_t(n * n_rows), seed);
  const auto xsrc = test::random_floats(size_t(n * n_tok), seed + 1, -3, 3);
  o.w.resize(o.w_row * n_rows);
  o.x.resize(o.x_row * n_tok);
  o.wf.resize(size_t(n * n_rows));
  o.xf.resize(size_t(n * n_tok));
  for (int64_t r = 0; r < n_rows; ++r) {
    k.from_float(wsrc.data() + r * n, o.w.data() + r * o.w_row, n);
    k.to_float(o.w.data() + r * o.w_row, o.wf.data() + r * n, n);
  }
  for (int64_t t = 0; t < n_tok; ++t) {
    vk.from_float(xsrc.data() + t * n, o.x.data() + t * o.x_row, n);
    vk.to_float(o.x.data() + t * o.x_row, o.xf.data() + t * n, n);
  }
  return o;
}

// Runs the GEMM on rows [r0, r0 + nr) x tokens [t0, t0 + nt); returns y [nt, nr].
std::vector<float> run_gemm(GemmFn gemm, const Operands& o, int64_t r0, int64_t nr, int64_t t0,
                            int64_t nt) {
  std::vector<float> y(size_t(nr * nt), std::nanf(""));
  gemm(GemmArgs{o.n, o.w.data() + o.w_row * r0, o.w_row, nr, o.x.data() + o.x_row * t0, o.x_row,
                nt, y.data(), nr});
  return y;
}

bool bit_exact(DType t) { return dtype_info(t).block_size == 256; }  // the k-quants

std::vector<int64_t> lengths(DType t) {
  const int64_t bs = dtype_info(t).block_size;
  if (bs == 256) return {256, 768, 2048};
  return {32, 96, 288, 1024};  // 1, 3, 9, 32 blocks
}

void check_type(DType type, Isa isa) {
  const GemmFn gemm = gemm_kernel(type, isa);
  const auto ref_dot = type_kernels(type, Isa::Scalar)->vec_dot;
  for (int64_t n : lengths(type)) {
    const int64_t n_rows = 13, n_tok = 17;
    const Operands o = make_operands(type, n, n_rows, n_tok, 7 + n);
    const auto y = run_gemm(gemm, o, 0, n_rows, 0, n_tok);
    const int64_t nb = n / dtype_info(type).block_size;
    for (int64_t t = 0; t < n_tok; ++t) {
      for (int64_t r = 0; r < n_rows; ++r) {
        const float got = y[t * n_rows + r];
        const float want = ref_dot(n, o.w.data() + r * o.w_row, o.x.data() + t * o.x_row);
        if (bit_exact(type)) {
          ASSERT_EQ(got, want) << dtype_name(type) << " n " << n << " r " << r << " t " << t;
          continue;
        }
        double s = 0;
        for (int64_t i = 0; i < n; ++i) s += std::fabs(double(o.wf[r * n + i]) * o.xf[t * n + i]);
        ASSERT_NEAR(got, want, 2 * nb * kEps * s + 1e-30)
            << dtype_name(type) << " n " << n << " r " << r << " t " << t;
      }
    }
    // Every sub-tile shape and offset gives the same bits as the full grid.
    for (int64_t nt = 1; nt <= n_tok; nt += 3) {
      for (int64_t nr : {1, 2, 3, 5, 8}) {
        const int64_t r0 = (nr * 3) % (n_rows - nr + 1), t0 = (nt * 5) % (n_tok - nt + 1);
        const auto sub = run_gemm(gemm, o, r0, nr, t0, nt);
        for (int64_t t = 0; t < nt; ++t)
          for (int64_t r = 0; r < nr; ++r)
            ASSERT_EQ(sub[t * nr + r], y[(t0 + t) * n_rows + r0 + r])
                << dtype_name(type) << " n " << n << " tile " << nr << "x" << nt;
      }
    }
  }
}

TEST(Gemm, MatchesRefOnEveryIsa) {
  int tested = 0;
  for (Isa isa : available_isas()) {
    for (DType t : {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q5_K, DType::Q6_K,
                    DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q3_K, DType::Q2_K}) {
      if (!gemm_kernel(t, isa)) continue;
      SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::string(dtype_name(t)));
      check_type(t, isa);
      ++tested;
    }
  }
  if (tested == 0) GTEST_SKIP() << "no GEMM kernel at any ISA level of this CPU";
  // Every computable quantized type has a GEMM at each SIMD level this CPU has.
  for (Isa isa : available_isas()) {
    if (isa == Isa::Scalar) continue;
    for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K,
                    DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
      EXPECT_NE(gemm_kernel(t, isa), nullptr) << isa_name(isa) << " " << dtype_name(t);
    }
  }
}

// matmul (selected ISA, GEMM or vec_dot path): a token's row is the same in any batch, at any
// thread count and whatever the token tile split.
TEST(Gemm, MatmulIsBatchAndThreadInvariant) {
  for (DType type : {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K, DType::F32, DType::Q4_1,
                     DType::Q5_0, DType::Q5_1, DType::Q2_K, DType::Q3_K, DType::Q5_K}) {
    const int64_t n_in = 512, n_out = 37, n_tok = 19;
    const auto wsrc = test::random_floats(size_t(n_in * n_out), 11);
    const auto x = test::random_floats(size_t(n_in * n_tok), 12, -2, 2);
    const TypeKernels& k = *type_kernels(type);
    const size_t w_row = row_bytes(type, n_in);
    std::vector<uint8_t> w(w_row * n_out);
    for (int64_t o = 0; o < n_out; ++o) k.from_float(wsrc.data() + o * n_in, w.data() + o * w_row, n_in);
    const WeightView wv{type, w.data(), n_in, n_out};
    MatmulScratch scratch;
    ThreadPool one(1);
    std::vector<float> full(size_t(n_tok * n_out));
    matmul(one, wv, x.data(), n_tok, full.data(), scratch);
    for (int threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      std::vector<float> y(static_cast<size_t>(n_out));
      for (int64_t t = 0; t < n_tok; ++t) {
        matmul(pool, wv, x.data() + t * n_in, 1, y.data(), scratch);
        for (int64_t o = 0; o < n_out; ++o)
          ASSERT_EQ(y[o], full[t * n_out + o]) << dtype_name(type) << " threads " << threads;
      }
      std::vector<float> part(size_t(5 * n_out));  // a batch of 5 starting at token 6
      matmul(pool, wv, x.data() + 6 * n_in, 5, part.data(), scratch);
      for (int64_t i = 0; i < 5 * n_out; ++i) ASSERT_EQ(part[i], full[6 * n_out + i]);
    }
  }
}

}  // namespace
}  // namespace lm::kernels
