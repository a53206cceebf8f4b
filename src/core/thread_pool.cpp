#include "core/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace lm {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Waits until `a` differs from `old`: spins first (the usual case inside a forward pass, where
// runs follow each other within microseconds), then sleeps on the atomic (futex).
template <typename T>
T await_change(const std::atomic<T>& a, T old) {
  for (int i = 0; i < ThreadPool::kSpinIters; ++i) {
    const T v = a.load(std::memory_order_acquire);
    if (v != old) return v;
    cpu_relax();
  }
  for (;;) {
    a.wait(old, std::memory_order_acquire);
    const T v = a.load(std::memory_order_acquire);
    if (v != old) return v;
  }
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  if (!threads_.empty()) {
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    for (auto& t : threads_) t.join();
  }
}

int ThreadPool::hardware_threads() {
  return std::max(1u, std::thread::hardware_concurrency());
}

void ThreadPool::run_erased(CallFn fn, const void* ctx) {
  if (n_threads_ == 1) {
    fn(ctx, 0, 1);
    return;
  }
  fn_ = fn;
  ctx_ = ctx;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();  // no system call unless a worker sleeps
  fn(ctx, 0, n_threads_);
  int32_t left = pending_.load(std::memory_order_acquire);
  while (left != 0) left = await_change(pending_, left);
}

void ThreadPool::worker(int ith) {
  uint32_t seen = 0;  // the generation at construction: no run can have started before
  for (;;) {
    seen = await_change(generation_, seen);
    if (stop_) return;
    fn_(ctx_, ith, n_threads_);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

}  // namespace lm
