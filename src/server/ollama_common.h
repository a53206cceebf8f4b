// JSON pieces shared by the Ollama endpoints.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "engine/request.h"
#include "server/api_error.h"

namespace lm::server {

struct ModelInfo;
struct OllamaRequest;

// "demo:latest": Ollama names carry a tag.
std::string ollama_name(const ModelInfo& m);
// The "details" object of /api/tags, /api/ps and /api/show.
nlohmann::json ollama_details(const ModelInfo& m);
// The final object's statistics (durations in nanoseconds) and done_reason.
void add_final_stats(nlohmann::json& obj, const engine::Usage& u, engine::FinishReason r);
// options.num_ctx above the loaded context is an error (the context is fixed at load time).
std::optional<ApiError> check_num_ctx(const OllamaRequest& q, int32_t n_ctx);
// "1.8M", "7.2B".
std::string parameter_size(int64_t n);

}  // namespace lm::server
