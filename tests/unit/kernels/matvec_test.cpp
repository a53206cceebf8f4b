// The decode kernels (type_kernels.h matvec_kernel) of every ISA level this machine has, against
// the ref:: vec_dot and the same level's GEMM on seeded random data: bit for bit, for row counts
// that are and are not multiples of the kernel's 4-row step, and 1, 3 and 8 super-blocks.
// Also the thread pool: every index of a parallel_for is visited once at any thread count, and
// back-to-back runs (the decode pattern) see each other's writes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <cmath>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/type_kernels.h"
#include "test_util.h"

namespace lm::kernels {
namespace {

void check_matvec(DType type, Isa isa, GemmFn matvec) {
  const TypeKernels& k = *type_kernels(type, Isa::Scalar);
  const TypeKernels& vk = *type_kernels(k.vec_dot_type, Isa::Scalar);
  const GemmFn gemm = gemm_kernel(type, isa);
  for (int64_t n : {256, 768, 2048}) {
    for (int64_t n_rows : {1, 2, 3, 4, 5, 7, 8, 13}) {
      const size_t w_row = row_bytes(type, n), x_row = row_bytes(k.vec_dot_type, n);
      const auto wsrc = test::random_floats(size_t(n * n_rows), 100 + n + n_rows);
      // Wide activations (and one large outlier) so the Q8_K scale and the bsums vary.
      auto xsrc = test::random_floats(size_t(n), 200 + n, -3, 3);
      xsrc[size_t(n / 3)] = 11.5f;
      std::vector<uint8_t> w(w_row * n_rows), x(x_row);
      for (int64_t r = 0; r < n_rows; ++r) k.from_float(wsrc.data() + r * n, w.data() + r * w_row, n);
      vk.from_float(xsrc.data(), x.data(), n);
      std::vector<float> y(size_t(n_rows), std::nanf("")), yg(size_t(n_rows), std::nanf(""));
      matvec(GemmArgs{n, w.data(), w_row, n_rows, x.data(), x_row, 1, y.data(), n_rows});
      if (gemm) gemm(GemmArgs{n, w.data(), w_row, n_rows, x.data(), x_row, 1, yg.data(), n_rows});
      for (int64_t r = 0; r < n_rows; ++r) {
        const float want = k.vec_dot(n, w.data() + r * w_row, x.data());
        ASSERT_EQ(y[r], want) << dtype_name(type) << " n " << n << " rows " << n_rows << " r " << r;
        if (gemm) ASSERT_EQ(y[r], yg[r]) << "vs gemm: " << dtype_name(type) << " n " << n;
      }
    }
  }
}

TEST(Matvec, BitIdenticalToRefAndGemmOnEveryIsa) {
  int tested = 0;
  for (Isa isa : available_isas()) {
    for (DType t : {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
      const GemmFn mv = matvec_kernel(t, isa);
      if (!mv) continue;
      SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::string(dtype_name(t)));
      check_matvec(t, isa, mv);
      ++tested;
    }
  }
  if (tested == 0) GTEST_SKIP() << "no decode kernel at any ISA level of this CPU";
}

TEST(ThreadPool, ParallelForCoversEveryIndexOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      for (int rep = 0; rep < 50; ++rep) {
        pool.parallel_for(n, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) hits[size_t(i)].fetch_add(1);
        });
      }
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 50) << threads << " " << n;
    }
  }
}

// Each run reads what the previous run wrote on other threads: the end of a run must publish
// every thread's writes to the caller and the next run.
TEST(ThreadPool, BackToBackRunsSeeEachOthersWrites) {
  ThreadPool pool(3);
  std::vector<int64_t> v[2] = {std::vector<int64_t>(3, 0), std::vector<int64_t>(3, 0)};
  for (int step = 0; step < 2000; ++step) {
    const std::vector<int64_t>& in = v[step % 2];
    std::vector<int64_t>& out = v[(step + 1) % 2];
    pool.run([&](int ith, int nth) {
      ASSERT_EQ(nth, 3);
      ASSERT_EQ(in[size_t((ith + 1) % nth)], step);  // written by another thread last run
      out[size_t(ith)] = step + 1;
    });
    if (step % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // sleepers
  }
}

}  // namespace
}  // namespace lm::kernels
