#include "server/duration.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

namespace lm::server {
namespace {

// Milliseconds per unit; 0 if the unit is unknown.
double unit_ms(std::string_view u) {
  if (u == "ms") return 1;
  if (u == "s") return 1e3;
  if (u == "m") return 60e3;
  if (u == "h") return 3600e3;
  if (u == "us" || u == "µs") return 1e-3;
  if (u == "ns") return 1e-6;
  return 0;
}

Result<int64_t> from_seconds(double s, std::string_view what) {
  if (!std::isfinite(s)) return errorf("keep_alive {}: not a finite number", what);
  if (s < 0) return kForeverMs;
  if (s > 1e12) return errorf("keep_alive {}: too large", what);
  return static_cast<int64_t>(std::llround(s * 1000.0));
}

}  // namespace

Result<int64_t> parse_duration_ms(std::string_view text) {
  std::string s(text);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  s = s.substr(start);
  if (s.empty()) return errorf("keep_alive: empty duration");
  // A bare number: seconds.
  char* end = nullptr;
  double whole = std::strtod(s.c_str(), &end);
  if (end == s.c_str() + s.size()) return from_seconds(whole, s);
  bool negative = s[0] == '-';
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  double total_ms = 0;
  if (i >= s.size()) return errorf("keep_alive '{}': not a duration", s);
  while (i < s.size()) {
    size_t num_start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == num_start) return errorf("keep_alive '{}': expected a number at offset {}", s, num_start);
    std::string num = s.substr(num_start, i - num_start);
    char* nend = nullptr;
    double v = std::strtod(num.c_str(), &nend);
    if (nend != num.c_str() + num.size()) return errorf("keep_alive '{}': bad number '{}'", s, num);
    size_t unit_start = i;
    while (i < s.size() && !std::isdigit(static_cast<unsigned char>(s[i])) && s[i] != '.') ++i;
    std::string_view unit(s.data() + unit_start, i - unit_start);
    double mul = unit_ms(unit);
    if (mul == 0) {
      return errorf("keep_alive '{}': unknown unit '{}' (use ns, us, ms, s, m or h)", s, unit);
    }
    total_ms += v * mul;
  }
  if (negative) return total_ms > 0 ? kForeverMs : int64_t{0};
  if (total_ms > 1e15) return errorf("keep_alive '{}': too large", s);
  return static_cast<int64_t>(std::llround(total_ms));
}

Result<int64_t> duration_from_json(const nlohmann::json& value) {
  if (value.is_number()) return from_seconds(value.get<double>(), value.dump());
  if (value.is_string()) return parse_duration_ms(value.get<std::string>());
  return errorf("keep_alive must be a duration string (\"5m\") or a number of seconds, got {}",
                value.dump());
}

std::string format_duration_ms(int64_t ms) {
  if (ms < 0) return "forever";
  int64_t h = ms / 3600000, m = ms / 60000 % 60;
  double s = static_cast<double>(ms % 60000) / 1000.0;
  if (h > 0) return fmt::format("{}h{}m{:g}s", h, m, s);
  if (m > 0) return fmt::format("{}m{:g}s", m, s);
  return fmt::format("{:g}s", s);
}

}  // namespace lm::server
