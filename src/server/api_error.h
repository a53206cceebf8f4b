// ApiError: a request the server refuses, with the HTTP status and the parameter at fault.
// Rendered in the dialect of the API that received it: OpenAI
// {"error":{"message","type","param","code"}} or Ollama {"error":"..."}.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace lm::server {

enum class Dialect { kOpenAi, kOllama };

struct ApiError {
  int status = 400;
  std::string message;
  std::string param;                       // "" when no single parameter is at fault
  std::string code;                        // OpenAI "code" ("" → null)
  std::string type = "invalid_request_error";
  int retry_after_s = 0;                   // > 0: sent as Retry-After (429 / 503)
};

ApiError bad_param(std::string param, std::string message);   // 400 naming the parameter
ApiError not_found(std::string message);                      // 404
ApiError server_error(std::string message);                   // 500

nlohmann::json error_body(const ApiError& e, Dialect dialect);
// The dialect a path speaks: /api/* is Ollama, everything else OpenAI.
Dialect dialect_of(const std::string& path);

}  // namespace lm::server
