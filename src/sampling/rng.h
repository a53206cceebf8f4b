// Rng: the random source of the sampler, identical on every platform and standard library.
//
// xoshiro256** (Blackman & Vigna, "Scrambled linear pseudorandom number generators", 2018),
// its 256-bit state filled from the 64-bit seed by splitmix64, as the authors recommend.
// Uniform doubles are built from the top 53 bits of one output, never through
// std::uniform_real_distribution (whose algorithm is implementation-defined).
// Value type, not thread-safe; each call is a few arithmetic operations.
#pragma once

#include <cstdint>

namespace lm::sampling {

class Rng {
 public:
  explicit Rng(uint64_t seed) { reseed(seed); }

  void reseed(uint64_t seed) {
    uint64_t x = seed;
    for (uint64_t& s : s_) s = splitmix64(x);
  }

  uint64_t next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1), a multiple of 2^-53.
  double next_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

  // splitmix64 step (Steele, Lea, Flood 2014): advances `x` and returns a mixed output.
  static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace lm::sampling
