// ThreadPool: a fixed set of worker threads that run one function on every thread at once
// (ggml-style: each call gets its thread index `ith` and the thread count `nth` and splits the
// work itself), with a single synchronisation at the end of each run.
//
// Ownership: owns its threads; joined on destruction.
// Thread-safety: run() must be called from one thread at a time (the owner). The function
// runs on the calling thread as ith == 0 as well.
// Cost: a run publishes the function with one atomic increment; workers spin on it (PAUSE) for
// about kSpinIters polls, then sleep on the atomic (futex), so back-to-back runs of a forward
// pass cost no system call. The end of a run is one atomic decrement per worker, awaited the
// same way by the caller. No heap allocation per run: the function is passed by reference
// through a plain function pointer, never wrapped in std::function.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
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
  template <typename F>
  void run(const F& fn) {
    run_erased(&call<F>, &fn);
  }

  // Splits [0, n) into contiguous ranges, one per thread: fn(begin, end) (threads whose range
  // is empty do not call fn).
  template <typename F>
  void parallel_for(int64_t n, const F& fn) {
    if (n <= 0) return;
    run([&fn, n](int ith, int nth) {
      const int64_t per = (n + nth - 1) / nth;
      const int64_t b = per * ith < n ? per * ith : n;
      const int64_t e = b + per < n ? b + per : n;
      if (b < e) fn(b, e);
    });
  }

  // Hands [0, n) out in chunks of `chunk` (the last may be shorter) to whichever thread asks
  // next (one atomic counter): fn(begin, end) per chunk, each index exactly once. For long runs
  // of even work on a machine that is not quiet: a thread whose core is shared with other load
  // takes fewer chunks instead of holding every other thread up at the end of the run.
  template <typename F>
  void parallel_for_chunks(int64_t n, int64_t chunk, const F& fn) {
    if (n <= 0) return;
    if (chunk < 1) chunk = 1;
    std::atomic<int64_t> next{0};
    run([&fn, &next, n, chunk](int, int) {
      for (;;) {
        const int64_t b = next.fetch_add(chunk, std::memory_order_relaxed);
        if (b >= n) return;
        fn(b, b + chunk < n ? b + chunk : n);
      }
    });
  }

  // Number of hardware threads (at least 1).
  static int hardware_threads();

  // Polls of the job counter before a waiting thread goes to sleep (each poll is one PAUSE,
  // ~40-140 cycles: about 0.2-1 ms in all).
  static constexpr int kSpinIters = 1 << 14;

 private:
  using CallFn = void (*)(const void* ctx, int ith, int nth);
  template <typename F>
  static void call(const void* ctx, int ith, int nth) {
    (*static_cast<const F*>(ctx))(ith, nth);
  }
  void run_erased(CallFn fn, const void* ctx);
  void worker(int ith);

  int n_threads_;
  std::vector<std::thread> threads_;
  // The job of the current run; written by the owner before generation_ is bumped (release),
  // read by the workers after they see the new generation (acquire).
  CallFn fn_ = nullptr;
  const void* ctx_ = nullptr;
  bool stop_ = false;
  alignas(64) std::atomic<uint32_t> generation_{0};  // bumped once per run
  alignas(64) std::atomic<int32_t> pending_{0};      // workers still running the current job
};

}  // namespace lm
