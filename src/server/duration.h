// Ollama-style durations for keep_alive: "5m", "1h30m", "300ms", "2.5s", "-1", "0", or a JSON
// number of seconds. Negative means "forever"; 0 means "unload as soon as the request ends".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/result.h"

namespace lm::server {

constexpr int64_t kForeverMs = -1;

// Milliseconds (kForeverMs for any negative duration). A bare number string counts seconds
// ("300" = 5 minutes), as Ollama's OLLAMA_KEEP_ALIVE does.
Result<int64_t> parse_duration_ms(std::string_view text);
// A JSON string (as above) or number (seconds).
Result<int64_t> duration_from_json(const nlohmann::json& value);
// "5m0s"-style text for logs and errors; "forever" for negative.
std::string format_duration_ms(int64_t ms);

}  // namespace lm::server
