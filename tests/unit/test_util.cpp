#include "test_util.h"

#include <atomic>
#include <random>

#include <unistd.h>

namespace lm::test {

std::string fixture_path(const std::string& rel) {
  std::filesystem::path p = std::filesystem::path(LM_FIXTURES_DIR) / rel;
  std::error_code ec;
  return std::filesystem::exists(p, ec) ? p.string() : std::string();
}

std::string temp_path(const std::string& name) {
  static std::atomic<int> counter{0};
  std::filesystem::path dir = std::filesystem::path(LM_TEST_TMP) / std::to_string(getpid());
  std::filesystem::create_directories(dir);
  return (dir / (std::to_string(counter++) + "_" + name)).string();
}

std::vector<float> random_floats(size_t n, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

}  // namespace lm::test
