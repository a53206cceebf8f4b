#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <fstream>
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

}  // namespace
}  // namespace lm
