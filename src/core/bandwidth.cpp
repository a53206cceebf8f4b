#include "core/bandwidth.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace lm {

BandwidthResult measure_read_bandwidth(ThreadPool& pool, size_t bytes, int passes) {
  const size_t n = std::max<size_t>(bytes / sizeof(uint64_t), 1024);
  std::unique_ptr<uint64_t[]> buf(new uint64_t[n]);
  // First touch from the threads that will read (page placement), with non-zero data.
  pool.parallel_for(static_cast<int64_t>(n), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) buf[i] = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
  });
  BandwidthResult r;
  r.bytes = n * sizeof(uint64_t);
  r.threads = pool.size();
  std::atomic<uint64_t> sink{0};
  for (int p = 0; p < std::max(1, passes); ++p) {
    auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(static_cast<int64_t>(n), [&](int64_t b, int64_t e) {
      // Four independent accumulators let the compiler vectorise and keep loads in flight.
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      int64_t i = b;
      for (; i + 4 <= e; i += 4) {
        s0 += buf[i];
        s1 += buf[i + 1];
        s2 += buf[i + 2];
        s3 += buf[i + 3];
      }
      for (; i < e; ++i) s0 += buf[i];
      sink.fetch_add(s0 + s1 + s2 + s3, std::memory_order_relaxed);
    });
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.passes_gbps.push_back(static_cast<double>(r.bytes) / sec / 1e9);
  }
  r.best_gbps = *std::max_element(r.passes_gbps.begin(), r.passes_gbps.end());
  return r;
}

}  // namespace lm
