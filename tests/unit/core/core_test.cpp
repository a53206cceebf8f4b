#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>
#include <vector>

#include "core/mmap.h"
#include "core/result.h"
#include "core/thread_pool.h"
#include "test_util.h"

namespace lm {
namespace {

Result<int> parse_positive(int x) {
  if (x <= 0) return errorf("{} is not positive", x);
  return x;
}
Result<int> doubled(int x) {
  LM_TRY(int v, parse_positive(x));
  return v * 2;
}

TEST(Result, PropagatesValuesAndErrorsWithContext) {
  EXPECT_EQ(*doubled(21), 42);
  auto r = doubled(-1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "-1 is not positive");
  auto w = doubled(-2).wrap("reading config");
  EXPECT_EQ(w.error().message(), "reading config: -2 is not positive");
  Status s = errorf("disk full");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(std::move(s).wrap("saving").error().message(), "saving: disk full");
  EXPECT_TRUE(Status(Ok{}).ok());
}

TEST(MappedFile, MapsContentsAndReportsMissingFiles) {
  std::string p = test::temp_path("mapped.bin");
  { std::ofstream(p, std::ios::binary) << "hello"; }
  auto m = MappedFile::open(p);
  ASSERT_TRUE(m.ok()) << m.error().message();
  ASSERT_EQ(m->size(), 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m->data()), 5), "hello");
  auto missing = MappedFile::open(p + ".nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("cannot open"), std::string::npos);
  auto dir = MappedFile::open(LM_TEST_TMP);
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().message().find("not a regular file"), std::string::npos);
}

TEST(MappedFile, EmptyFileMapsToZeroBytes) {
  std::string p = test::temp_path("empty.bin");
  { std::ofstream(p, std::ios::binary); }
  auto m = MappedFile::open(p);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->size(), 0u);
}

TEST(ThreadPool, EveryThreadRunsEveryJobAndParallelForCoversTheRange) {
  for (int nt : {1, 2, 3, 8}) {
    ThreadPool pool(nt);
    for (int rep = 0; rep < 200; ++rep) {
      std::vector<std::atomic<int>> hits(nt);
      pool.run([&](int ith, int nth) {
        EXPECT_EQ(nth, nt);
        hits[ith]++;
      });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1);
    }
    for (int64_t n : {0, 1, 5, 1000, 1001}) {
      std::vector<int> seen(n, 0);
      pool.parallel_for(n, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) seen[i]++;
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(seen[i], 1) << "n=" << n << " i=" << i;
    }
  }
}

TEST(ThreadPool, ParallelForChunksCoversTheRangeOnceInWholeChunks) {
  for (int nt : {1, 2, 3, 8}) {
    ThreadPool pool(nt);
    for (int64_t n : {0, 1, 5, 1000, 1001}) {
      for (int64_t chunk : {0, 1, 3, 64, 5000}) {
        std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
        std::atomic<int> bad_chunks{0};
        pool.parallel_for_chunks(n, chunk, [&](int64_t b, int64_t e) {
          const int64_t c = chunk < 1 ? 1 : chunk;
          // Chunks start on multiples of the chunk size and are whole but for the last.
          if (b % c != 0 || b >= e || (e - b != c && e != n)) bad_chunks++;
          for (int64_t i = b; i < e; ++i) seen[static_cast<size_t>(i)]++;
        });
        ASSERT_EQ(bad_chunks.load(), 0) << "n=" << n << " chunk=" << chunk;
        for (int64_t i = 0; i < n; ++i)
          ASSERT_EQ(seen[static_cast<size_t>(i)].load(), 1) << "n=" << n << " chunk=" << chunk << " i=" << i;
      }
    }
  }
}

TEST(ThreadPool, ParallelForChunksLetsAFastThreadTakeMore) {
  // One thread is held up (standing in for a core busy with other work): the others take the
  // chunks it would have had under an even split.
  ThreadPool pool(2);
  std::atomic<int> by_caller{0}, by_worker{0};
  const auto caller = std::this_thread::get_id();
  pool.parallel_for_chunks(64, 1, [&](int64_t, int64_t) {
    if (std::this_thread::get_id() == caller) {
      by_caller++;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } else {
      by_worker++;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  });
  EXPECT_EQ(by_caller + by_worker, 64);
  EXPECT_GT(by_worker.load(), 32) << "the held-up thread took " << by_caller.load() << " of 64";
}

}  // namespace
}  // namespace lm
