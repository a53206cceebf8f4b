// ThreadPool: a fixed set of worker threads that run one function on every thread at once
// (ggml-style: each call gets its thread index `ith` and the thread count `nth` and splits the
// work itself), with a single barrier at the end of each run.
//
// Ownership: owns its threads; joined on destruction.
// Thread-safety: run() must be called from one thread at a time (the owner). The function
// runs on the calling thread as ith == 0 as well.
// Cost: a run is one wake-up of each worker (spin briefly, then sleep on a condition variable).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lm {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(ith, nth) on every thread (nth == size()) and returns when all have finished.
  void run(const std::function<void(int ith, int nth)>& fn);

  // Splits [0, n) into contiguous ranges, one per thread: fn(begin, end).
  void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn);

  // Number of hardware threads (at least 1).
  static int hardware_threads();

 private:
  void worker(int ith);

  int n_threads_;
  std::vector<std::thread> threads_;
  const std::function<void(int, int)>* fn_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
};

}  // namespace lm
