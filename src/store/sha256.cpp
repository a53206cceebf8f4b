#include "store/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/check.h"

namespace lm::store {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  LM_CHECK(impl_->ctx != nullptr);
  reset();
}

Sha256::~Sha256() {
  if (impl_ && impl_->ctx) EVP_MD_CTX_free(impl_->ctx);
}

Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&& o) noexcept {
  if (this != &o) {
    if (impl_ && impl_->ctx) EVP_MD_CTX_free(impl_->ctx);
    impl_ = std::move(o.impl_);
  }
  return *this;
}

void Sha256::reset() { LM_CHECK(EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) == 1); }

void Sha256::update(const void* data, size_t n) {
  if (n > 0) LM_CHECK(EVP_DigestUpdate(impl_->ctx, data, n) == 1);
}

std::string Sha256::final_hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  LM_CHECK(EVP_DigestFinal_ex(impl_->ctx, md, &len) == 1);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  reset();
  return out;
}

Result<uint64_t> hash_file_into(const std::string& path, Sha256& h, uint64_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errorf("cannot open {}: {}", path, std::strerror(errno));
  std::vector<char> buf(1 << 20);
  uint64_t total = 0;
  while (total < limit) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), limit - total));
    ssize_t n = ::read(fd, buf.data(), want);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return errorf("reading {}: {}", path, std::strerror(e));
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return total;
}

Result<std::string> sha256_file(const std::string& path) {
  Sha256 h;
  LM_TRY(auto n, hash_file_into(path, h));
  (void)n;
  return h.final_hex();
}

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace lm::store
