#include "server/api_error.h"

namespace lm::server {

ApiError bad_param(std::string param, std::string message) {
  ApiError e;
  e.status = 400;
  e.param = std::move(param);
  e.message = std::move(message);
  e.code = "invalid_value";
  return e;
}

ApiError not_found(std::string message) {
  ApiError e;
  e.status = 404;
  e.message = std::move(message);
  e.code = "not_found";
  return e;
}

ApiError server_error(std::string message) {
  ApiError e;
  e.status = 500;
  e.message = std::move(message);
  e.type = "server_error";
  return e;
}

nlohmann::json error_body(const ApiError& e, Dialect dialect) {
  if (dialect == Dialect::kOllama) return {{"error", e.message}};
  nlohmann::json err = {{"message", e.message}, {"type", e.type}};
  err["param"] = e.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.param);
  err["code"] = e.code.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.code);
  return {{"error", err}};
}

Dialect dialect_of(const std::string& path) {
  return path.rfind("/api/", 0) == 0 ? Dialect::kOllama : Dialect::kOpenAi;
}

}  // namespace lm::server
