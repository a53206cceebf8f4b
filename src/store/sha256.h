// Streaming SHA-256 (OpenSSL EVP) for blob digests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"

namespace lm::store {

// Incremental hasher. Owns an EVP context; not thread-safe; movable, not copyable.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(const void* data, size_t n);
  // Lowercase hex of the digest; the hasher is reset afterwards.
  std::string final_hex();
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Hashes the first `limit` bytes of `path` into `h` (the whole file when limit is UINT64_MAX).
// Returns the number of bytes hashed.
Result<uint64_t> hash_file_into(const std::string& path, Sha256& h, uint64_t limit = UINT64_MAX);

// Lowercase hex SHA-256 of a whole file.
Result<std::string> sha256_file(const std::string& path);

// True when s is exactly 64 lowercase/uppercase hex digits.
bool is_sha256_hex(std::string_view s);

}  // namespace lm::store
