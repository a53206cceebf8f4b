#include "core/egress.h"

#include <atomic>

namespace lm::egress {

namespace {
std::atomic<bool> g_offline{false};

// The authority part of "scheme://authority/path?query#fragment" and where it starts.
std::string_view authority(std::string_view url, size_t* start = nullptr) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {};
  size_t a = scheme_end + 3;
  size_t end = url.find_first_of("/?#", a);
  if (end == std::string_view::npos) end = url.size();
  if (start) *start = a;
  return url.substr(a, end - a);
}
}  // namespace

void set_offline(bool on) { g_offline.store(on, std::memory_order_seq_cst); }

bool offline() { return g_offline.load(std::memory_order_seq_cst); }

Status check(std::string_view url) {
  if (!offline()) return Ok{};
  std::string host = url_host(url);
  return errorf("offline mode: outbound connection to {} refused", host.empty() ? "(no host)" : host);
}

std::string url_host(std::string_view url) {
  std::string_view auth = authority(url);
  size_t at = auth.rfind('@');
  if (at != std::string_view::npos) auth.remove_prefix(at + 1);
  if (!auth.empty() && auth.front() == '[') {   // IPv6 literal
    size_t close = auth.find(']');
    return std::string(auth.substr(1, close == std::string_view::npos ? auth.size() - 1 : close - 1));
  }
  size_t colon = auth.find(':');
  return std::string(auth.substr(0, colon));
}

std::string url_for_message(std::string_view url) {
  size_t cut = url.find_first_of("?#");
  std::string_view base = url.substr(0, cut);
  size_t start = 0;
  std::string_view auth = authority(base, &start);
  size_t at = auth.rfind('@');
  if (at == std::string_view::npos) return std::string(base);
  return std::string(base.substr(0, start)) + std::string(base.substr(start + at + 1));
}

}  // namespace lm::egress
