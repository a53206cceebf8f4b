// Helpers shared by the unit tests: fixture paths, temporary files, seeded random data.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lm::test {

// ../shared/fixtures/<rel>, or "" when the fixtures folder is absent (then GTEST_SKIP).
std::string fixture_path(const std::string& rel);

// A fresh path under the build's test-tmp folder (created on demand); unique per call.
std::string temp_path(const std::string& name);

// Seeded uniform floats in [lo, hi).
std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f);

}  // namespace lm::test

// Skips the current test with a clear reason when a fixture is missing.
#define LM_REQUIRE_FIXTURE(var, rel)                                                  \
  std::string var = ::lm::test::fixture_path(rel);                                     \
  if (var.empty()) GTEST_SKIP() << "fixture " << (rel) << " not found (needs ../shared/fixtures)"
