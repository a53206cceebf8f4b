// Framing of streamed responses: Server-Sent Events for OpenAI (`data: {...}\n\n` ending with
// `data: [DONE]\n\n`) and newline-delimited JSON for Ollama. JSON text is always produced with
// invalid UTF-8 replaced by U+FFFD, so serialising can never throw.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace lm::server {

std::string to_json_text(const nlohmann::json& j);
std::string sse_event(const nlohmann::json& j);   // "data: <json>\n\n"
std::string sse_done();                           // "data: [DONE]\n\n"
std::string ndjson_line(const nlohmann::json& j); // "<json>\n"

// Time stamps as the APIs spell them.
int64_t unix_seconds();
std::string rfc3339_now();                         // "2026-11-21T19:22:45.499127000Z"

}  // namespace lm::server
