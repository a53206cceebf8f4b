// The threaded matmul against dequantize + double dot, for every weight type with kernels.
#include "kernels/cpu/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/type_kernels.h"
#include "test_util.h"

namespace lm::kernels {
namespace {

std::vector<DType> matmul_types() {
  std::vector<DType> out;
  for (uint32_t id = 0; id < 64; ++id) {
    const DTypeInfo* info = dtype_info(id);
    if (!info || !matmul_supported(info->type)) continue;
    const TypeKernels* k = type_kernels(info->type);
    if (k->to_float && k->from_float) out.push_back(info->type);  // testable: can make weights
  }
  return out;
}

struct MatmulCase {
  int64_t n_in, n_out, n_tokens;
  int threads;
};

void check_matmul(DType type, const MatmulCase& mc) {
  const TypeKernels& k = *type_kernels(type);
  const int64_t n_in = mc.n_in, n_out = mc.n_out, n_tokens = mc.n_tokens;
  auto wf = test::random_floats(size_t(n_in * n_out), 100 + n_in + n_out);
  auto x = test::random_floats(size_t(n_in * n_tokens), 200 + n_tokens, -2, 2);
  const size_t w_row = row_bytes(type, n_in);
  std::vector<uint8_t> w(w_row * n_out);
  for (int64_t o = 0; o < n_out; ++o)
    k.from_float(wf.data() + o * n_in, w.data() + o * w_row, n_in);

  ThreadPool pool(mc.threads);
  MatmulScratch scratch;
  std::vector<float> y(size_t(n_tokens * n_out));
  matmul(pool, WeightView{type, w.data(), n_in, n_out}, x.data(), n_tokens, y.data(), scratch);

  // Activations are rounded to vec_dot_type: exact for F32, about 1/127 for 8-bit types.
  const bool exact_act = k.vec_dot_type == DType::F32;
  const double tol = exact_act ? 2e-6 : 1.5e-2;
  std::vector<float> row(n_in);
  for (int64_t o = 0; o < n_out; ++o) {
    k.to_float(w.data() + o * w_row, row.data(), n_in);
    for (int64_t t = 0; t < n_tokens; ++t) {
      double dot = 0, mag = 0;
      for (int64_t i = 0; i < n_in; ++i) {
        dot += double(row[i]) * x[t * n_in + i];
        mag += std::fabs(double(row[i]) * x[t * n_in + i]);
      }
      ASSERT_NEAR(y[t * n_out + o], dot, tol * mag + 1e-6)
          << dtype_name(type) << " n_in " << n_in << " o " << o << " t " << t;
    }
  }
}

TEST(MatmulTest, MatchesDequantizeAndDotForEveryType) {
  auto types = matmul_types();
  ASSERT_GE(types.size(), 3u);  // F32, F16, BF16 at least
  for (DType type : types) {
    const TypeKernels& k = *type_kernels(type);
    const int64_t blk =
        std::lcm(dtype_info(type).block_size, dtype_info(k.vec_dot_type).block_size);
    const int64_t odd = blk == 1 ? 33 : blk * 3;  // odd sizes where the format allows
    for (MatmulCase mc :
         {MatmulCase{odd, 1, 1, 1}, MatmulCase{odd, 67, 1, 3}, MatmulCase{odd, 5, 17, 2},
          MatmulCase{blk == 1 ? 8191 : blk * 32, 3, 9, 3}}) {
      SCOPED_TRACE(std::string(dtype_name(type)));
      check_matmul(type, mc);
    }
  }
}

TEST(MatmulTest, ThreadCountDoesNotChangeResults) {
  for (DType type : matmul_types()) {
    const int64_t n_in = std::lcm<int64_t>(256, dtype_info(type).block_size), n_out = 37, n_tok = 5;
    const TypeKernels& k = *type_kernels(type);
    auto wf = test::random_floats(size_t(n_in * n_out), 5);
    auto x = test::random_floats(size_t(n_in * n_tok), 6);
    std::vector<uint8_t> w(row_bytes(type, n_in) * n_out);
    k.from_float(wf.data(), w.data(), n_in * n_out);
    std::vector<float> y1(n_tok * n_out), y4(n_tok * n_out);
    ThreadPool p1(1), p4(4);
    MatmulScratch s;
    WeightView wv{type, w.data(), n_in, n_out};
    matmul(p1, wv, x.data(), n_tok, y1.data(), s);
    matmul(p4, wv, x.data(), n_tok, y4.data(), s);
    EXPECT_EQ(y1, y4) << dtype_name(type);
  }
}

}  // namespace
}  // namespace lm::kernels
