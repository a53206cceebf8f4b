// A memory read-bandwidth probe: the physical limit that token generation on a CPU runs against
// (every generated token reads all the weights once).
#pragma once

#include <cstddef>
#include <vector>

#include "core/thread_pool.h"

namespace lm::kernels {

struct BandwidthResult {
  size_t bytes = 0;            // buffer size read per pass
  int threads = 0;
  double best_gbps = 0;        // best pass, 1e9 bytes per second
  std::vector<double> passes_gbps;
};

// Reads a buffer of `bytes` (much larger than the caches) `passes` times with all threads of
// `pool`, each thread summing its contiguous slice with the widest loads the CPU has (AVX-512,
// AVX2, else scalar); reports the best pass (the least disturbed). bytes == 0 in the result: the
// buffer could not be allocated.
BandwidthResult measure_read_bandwidth(ThreadPool& pool, size_t bytes, int passes);

}  // namespace lm::kernels
