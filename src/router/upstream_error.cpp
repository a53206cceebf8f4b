#include "router/upstream_error.h"

#include "router/upstream_json.h"

namespace lm::router {

using nlohmann::json;

std::string_view upstream_error_kind_name(UpstreamErrorKind kind) {
  switch (kind) {
    case UpstreamErrorKind::offline: return "offline";
    case UpstreamErrorKind::connect: return "connect";
    case UpstreamErrorKind::timeout: return "timeout";
    case UpstreamErrorKind::rate_limited: return "rate_limited";
    case UpstreamErrorKind::server_error: return "server_error";
    case UpstreamErrorKind::client_error: return "client_error";
    case UpstreamErrorKind::malformed: return "malformed";
    case UpstreamErrorKind::reset_mid_stream: return "reset_mid_stream";
    case UpstreamErrorKind::cancelled: return "cancelled";
    case UpstreamErrorKind::config: return "config";
  }
  return "unknown";
}

bool UpstreamError::retryable() const {
  return kind == UpstreamErrorKind::connect || kind == UpstreamErrorKind::rate_limited ||
         kind == UpstreamErrorKind::server_error;
}

UpstreamUsage parse_openai_usage(const json& usage) {
  UpstreamUsage u;
  if (!usage.is_object()) return u;
  u.prompt_tokens = int_field(usage, "prompt_tokens");
  u.completion_tokens = int_field(usage, "completion_tokens");
  if (const json* d = obj_field(usage, "prompt_tokens_details")) u.cached_tokens = int_field(*d, "cached_tokens");
  u.seen = true;
  return u;
}

json openai_usage_json(const UpstreamUsage& u) {
  return json{{"prompt_tokens", u.prompt_tokens},
              {"completion_tokens", u.completion_tokens},
              {"total_tokens", u.prompt_tokens + u.completion_tokens},
              {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

}  // namespace lm::router
