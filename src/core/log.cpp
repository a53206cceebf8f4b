#include "core/log.h"

#include <atomic>
#include <cstdio>

#include "core/check.h"

namespace lm::log {
namespace {
std::atomic<Level> g_level{Level::kInfo};
const char* level_name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
    default: return "";
  }
}
}  // namespace

void set_level(Level l) { g_level.store(l); }
Level level() { return g_level.load(std::memory_order_relaxed); }

void write(Level l, const std::string& message) {
  std::string line = fmt::format("[{}] {}\n", level_name(l), message);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace lm::log

namespace lm::detail {
void check_failed(const char* file, int line, const char* cond, const std::string& msg) {
  std::fprintf(stderr, "%s:%d: check failed: %s%s%s\n", file, line, cond, msg.empty() ? "" : ": ",
               msg.c_str());
  std::fflush(stderr);
  std::abort();
}
}  // namespace lm::detail
