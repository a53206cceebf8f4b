// Helpers shared by the benchmark programs of bench/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lm::bench {

// n floats in [-1, 1) from a linear congruential generator: the same data on every run.
inline std::vector<float> seeded_floats(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t s = seed;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<float>(s >> 8) / static_cast<float>(1u << 24) * 2.0f - 1.0f;
  }
  return v;
}

}  // namespace lm::bench
