// The repacked row-group layouts and their GEMM (kernels/cpu/repack.h), on every ISA level of
// this machine that has one:
//   - against the ref:: vec_dot on the original rows, seeded random data, n_out not a multiple of
//     the 16-row group, n_tok 1..17, odd block counts: exact integer block sums, the float sum
//     over the nb blocks in another order: |err| <= 2 nb eps S + tiny, S = sum |w_i x_i|;
//   - invariance: every output equals, bit for bit, the same (row, token) computed in any other
//     tile (group-aligned row ranges, any token range);
//   - matmul on a repacked WeightView: a token's row is the same in any batch and at any thread
//     count, and equal to the non-repacked matmul within the bound above.
// K-quants (Q4_K, Q6_K: the ref's float formula per super-block, lane by lane) are held to
// more: bit-identical to ref:: and to the non-repacked matmul.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/repack.h"
#include "kernels/type_kernels.h"
#include "tensor/fp16.h"
#include "tensor/quants.h"
#include "test_util.h"

namespace lm::kernels {
namespace {

constexpr double kEps = std::numeric_limits<float>::epsilon();
const DType kTypes[] = {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K};

// Row lengths to test per type (multiples of its block, odd block counts included). The longest
// make the kernels take the 17 tokens in several passes of their per-(token, block) tables
// (gemm_r16_avx512.h: 2048 / 1024 / 4096 entries for Q4_K / Q6_K / Q4_0 and Q8_0), whose
// boundaries fall inside the 8-token tiles.
std::vector<int64_t> lengths(DType type) {
  if (dtype_info(type).block_size == 256) return {256, 768, 2048, 40960};
  return {32, 96, 288, 1024, 32000};
}

// The repacked kernel of a K-quant reproduces ref:: bit for bit.
bool exact(DType type) { return dtype_info(type).block_size == 256; }

struct Case {
  DType type;
  int64_t n, n_out, n_tok;
  size_t w_row, x_row;
  std::vector<uint8_t> w, packed, x;  // [n_out, n] in type, repacked, [n_tok, n] in vec_dot_type
  std::vector<float> wf, xf;          // dequantized
};

Case make_case(DType type, int64_t n, int64_t n_out, int64_t n_tok, uint64_t seed) {
  const TypeKernels& k = *type_kernels(type, Isa::Scalar);
  const TypeKernels& vk = *type_kernels(k.vec_dot_type, Isa::Scalar);
  Case c{type, n, n_out, n_tok, row_bytes(type, n), row_bytes(k.vec_dot_type, n), {}, {}, {}, {}, {}};
  const auto wsrc = test::random_floats(size_t(n * n_out), seed);
  const auto xsrc = test::random_floats(size_t(n * n_tok), seed + 1, -3, 3);
  c.w.resize(c.w_row * n_out);
  c.x.resize(c.x_row * n_tok);
  c.wf.resize(size_t(n * n_out));
  c.xf.resize(size_t(n * n_tok));
  for (int64_t r = 0; r < n_out; ++r) {
    k.from_float(wsrc.data() + r * n, c.w.data() + r * c.w_row, n);
    k.to_float(c.w.data() + r * c.w_row, c.wf.data() + r * n, n);
  }
  for (int64_t t = 0; t < n_tok; ++t) {
    vk.from_float(xsrc.data() + t * n, c.x.data() + t * c.x_row, n);
    vk.to_float(c.x.data() + t * c.x_row, c.xf.data() + t * n, n);
  }
  c.packed.resize(repacked_bytes(type, n, n_out));
  repack_matrix(type, c.w.data(), n, n_out, c.packed.data());
  return c;
}

// Rows [g0 * 16, g0 * 16 + nr) x tokens [t0, t0 + nt); y [nt, nr].
std::vector<float> run(GemmFn gemm, const Case& c, int64_t g0, int64_t nr, int64_t t0, int64_t nt) {
  const size_t gb = repacked_group_bytes(c.type, c.n);
  std::vector<float> y(size_t(nr * nt), std::nanf(""));
  gemm(GemmArgs{c.n, c.packed.data() + gb * g0, gb, nr, c.x.data() + c.x_row * t0, c.x_row, nt,
                y.data(), nr});
  return y;
}

TEST(Repack, SizeIsTheOriginalPlusPadding) {
  for (DType t : kTypes) {
    EXPECT_EQ(repacked_bytes(t, 2048, 64), row_bytes(t, 2048) * 64);
    EXPECT_EQ(repacked_bytes(t, 2048, 37), row_bytes(t, 2048) * 48);
  }
}

TEST(Repack, GetRowGivesBackEveryOriginalRow) {
  for (DType t : kTypes) {
    for (int64_t n : {32, 256, 2048}) {
      if (n % dtype_info(t).block_size != 0) continue;
      const Case c = make_case(t, n, 37, 1, 11 + n);
      std::vector<uint8_t> row(c.w_row);
      for (int64_t r = 0; r < 37; ++r) {
        std::fill(row.begin(), row.end(), uint8_t{0xA5});
        repacked_get_row(t, c.packed.data(), n, r, row.data());
        ASSERT_TRUE(std::equal(row.begin(), row.end(), c.w.begin() + static_cast<ptrdiff_t>(r * c.w_row)))
            << dtype_name(t) << " n " << n << " row " << r;
      }
    }
  }
}

TEST(Repack, GemmMatchesRefOnEveryIsa) {
  int tested = 0;
  for (Isa isa : available_isas()) {
    for (DType type : kTypes) {
      const GemmFn gemm = repacked_gemm_kernel(type, isa);
      if (!gemm) continue;
      ++tested;
      const auto ref_dot = type_kernels(type, Isa::Scalar)->vec_dot;
      for (int64_t n : lengths(type)) {
        const int64_t n_out = 37, n_tok = 17, nb = n / 32;
        const Case c = make_case(type, n, n_out, n_tok, 3 + n);
        const std::string where = std::string(isa_name(isa)) + " " +
                                  std::string(dtype_name(type)) + " n " + std::to_string(n);
        const auto y = run(gemm, c, 0, n_out, 0, n_tok);
        for (int64_t t = 0; t < n_tok; ++t) {
          for (int64_t r = 0; r < n_out; ++r) {
            const float want = ref_dot(n, c.w.data() + r * c.w_row, c.x.data() + t * c.x_row);
            double s = 0;
            for (int64_t i = 0; i < n; ++i) s += std::fabs(double(c.wf[r * n + i]) * c.xf[t * n + i]);
            if (exact(type)) {
              ASSERT_EQ(y[t * n_out + r], want) << where << " r " << r << " t " << t;
            } else {
              ASSERT_NEAR(y[t * n_out + r], want, 2 * nb * kEps * s + 1e-30)
                  << where << " r " << r << " t " << t;
            }
          }
        }
        for (int64_t nt = 1; nt <= n_tok; nt += 2) {
          for (int64_t g0 : {0, 1}) {
            const int64_t nr = std::min<int64_t>(n_out - 16 * g0, nt % 3 == 0 ? 16 : 21 - g0);
            const int64_t t0 = (nt * 5) % (n_tok - nt + 1);
            const auto sub = run(gemm, c, g0, nr, t0, nt);
            for (int64_t t = 0; t < nt; ++t)
              for (int64_t r = 0; r < nr; ++r)
                ASSERT_EQ(sub[t * nr + r], y[(t0 + t) * n_out + 16 * g0 + r])
                    << dtype_name(type) << " n " << n << " tile " << nr << "x" << nt;
          }
        }
      }
    }
  }
  if (tested == 0) GTEST_SKIP() << "no repacked kernel at any ISA level of this CPU";
}

// Q4_K at the integer limits: every scale and min 63, every level 15 (or a 0/15 pattern), the
// activations at -128 / 127 (sums of the largest magnitude the int32 accumulators must hold),
// d and dmin distinct per row: still bit-identical to the ref.
TEST(Repack, Q4KGemmIsExactAtTheIntegerLimits) {
  int tested = 0;
  for (Isa isa : available_isas()) {
    const GemmFn gemm = repacked_gemm_kernel(DType::Q4_K, isa);
    if (!gemm) continue;
    ++tested;
    const int64_t n = 512, nb = n / QK_K, n_out = 19, n_tok = 3;
    std::vector<BlockQ4_K> w(size_t(n_out * nb));
    for (int64_t r = 0; r < n_out; ++r) {
      for (int64_t b = 0; b < nb; ++b) {
        BlockQ4_K& blk = w[size_t(r * nb + b)];
        blk.d = fp32_to_fp16(0.01f * float(r + 1));
        blk.dmin = fp32_to_fp16(0.003f * float(b + 1));
        std::fill(std::begin(blk.scales), std::end(blk.scales), uint8_t(r % 3 == 2 ? 0xC0 | r : 0xFF));
        for (int i = 0; i < QK_K / 2; ++i) blk.qs[i] = uint8_t(r % 2 == 0 ? 0xFF : (i % 3 ? 0xF0 : 0x0F));
      }
    }
    std::vector<BlockQ8_K> x(size_t(n_tok * nb));
    for (int64_t t = 0; t < n_tok; ++t) {
      for (int64_t b = 0; b < nb; ++b) {
        BlockQ8_K& xb = x[size_t(t * nb + b)];
        xb.d = 0.5f + float(t);
        for (int i = 0; i < QK_K; ++i) xb.qs[i] = int8_t(t == 0 ? -128 : t == 1 ? 127 : (i % 5 ? -128 : 127));
        for (int j = 0; j < QK_K / 16; ++j) {
          int sum = 0;
          for (int i = 16 * j; i < 16 * j + 16; ++i) sum += xb.qs[i];
          xb.bsums[j] = int16_t(sum);
        }
      }
    }
    std::vector<uint8_t> packed(repacked_bytes(DType::Q4_K, n, n_out));
    repack_matrix(DType::Q4_K, w.data(), n, n_out, packed.data());
    std::vector<float> y(size_t(n_tok * n_out));
    const size_t x_row = sizeof(BlockQ8_K) * size_t(nb);
    gemm(GemmArgs{n, packed.data(), repacked_group_bytes(DType::Q4_K, n), n_out, x.data(), x_row, n_tok,
                  y.data(), n_out});
    const auto ref_dot = type_kernels(DType::Q4_K, Isa::Scalar)->vec_dot;
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t r = 0; r < n_out; ++r)
        ASSERT_EQ(y[size_t(t * n_out + r)], ref_dot(n, &w[size_t(r * nb)], &x[size_t(t * nb)]))
            << isa_name(isa) << " r " << r << " t " << t;
  }
  if (tested == 0) GTEST_SKIP() << "no repacked Q4_K kernel at any ISA level of this CPU";
}

TEST(Repack, MatmulIsBatchAndThreadInvariant) {
  for (DType type : kTypes) {
    if (!repack_supported(type)) GTEST_SKIP() << "no repacked kernel at the selected ISA";
    const int64_t n_in = 512, n_out = 53, n_tok = 19;
    const auto wsrc = test::random_floats(size_t(n_in * n_out), 21);
    const auto x = test::random_floats(size_t(n_in * n_tok), 22, -2, 2);
    const TypeKernels& k = *type_kernels(type);
    const size_t w_row = row_bytes(type, n_in);
    std::vector<uint8_t> w(w_row * n_out), packed(repacked_bytes(type, n_in, n_out));
    for (int64_t o = 0; o < n_out; ++o) k.from_float(wsrc.data() + o * n_in, w.data() + o * w_row, n_in);
    repack_matrix(type, w.data(), n_in, n_out, packed.data());
    const WeightView plain{type, w.data(), n_in, n_out};
    const WeightView wv{type, packed.data(), n_in, n_out, true};
    MatmulScratch scratch;
    ThreadPool one(1);
    std::vector<float> full(size_t(n_tok * n_out)), base(size_t(n_tok * n_out));
    matmul(one, wv, x.data(), n_tok, full.data(), scratch);
    matmul(one, plain, x.data(), n_tok, base.data(), scratch);
    for (size_t i = 0; i < full.size(); ++i) {
      if (exact(type)) ASSERT_EQ(full[i], base[i]) << dtype_name(type) << " " << i;
      else ASSERT_NEAR(full[i], base[i], 1e-3 * (1 + std::fabs(base[i])));
    }
    for (int threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      std::vector<float> y(static_cast<size_t>(n_out));
      for (int64_t t = 0; t < n_tok; ++t) {
        matmul(pool, wv, x.data() + t * n_in, 1, y.data(), scratch);
        for (int64_t o = 0; o < n_out; ++o)
          ASSERT_EQ(y[o], full[t * n_out + o]) << dtype_name(type) << " threads " << threads;
      }
      std::vector<float> part(size_t(5 * n_out));
      matmul(pool, wv, x.data() + 6 * n_in, 5, part.data(), scratch);
      for (int64_t i = 0; i < 5 * n_out; ++i) ASSERT_EQ(part[i], full[6 * n_out + i]);
    }
  }
}

}  // namespace
}  // namespace lm::kernels
