// AnthropicStreamTranslator: Messages API stream events -> OpenAI chat.completion.chunk objects.
//
// Event order (Anthropic's streaming reference): message_start, then per content block
// content_block_start / content_block_delta* / content_block_stop, then message_delta (stop_reason,
// cumulative output usage) and message_stop; ping anywhere; error anywhere.
#include "router/anthropic.h"
#include "router/upstream_json.h"

namespace lm::router {

using nlohmann::json;

UpstreamError anthropic_error(const json& error_object) {
  std::string type = str_field(error_object, "type");
  std::string message = str_field(error_object, "message");
  UpstreamError e;
  if (type == "rate_limit_error") e.kind = UpstreamErrorKind::rate_limited, e.http_status = 429;
  else if (type == "overloaded_error") e.kind = UpstreamErrorKind::server_error, e.http_status = 529;
  else if (type == "invalid_request_error") e.kind = UpstreamErrorKind::client_error, e.http_status = 400;
  else if (type == "authentication_error") e.kind = UpstreamErrorKind::client_error, e.http_status = 401;
  else if (type == "permission_error") e.kind = UpstreamErrorKind::client_error, e.http_status = 403;
  else if (type == "not_found_error") e.kind = UpstreamErrorKind::client_error, e.http_status = 404;
  else if (type == "request_too_large") e.kind = UpstreamErrorKind::client_error, e.http_status = 413;
  else e.kind = UpstreamErrorKind::server_error, e.http_status = 500;   // api_error and unknown types
  e.message = fmt::format("upstream error {}: {}", type.empty() ? "(no type)" : type,
                          message.empty() ? "(no message)" : message);
  return e;
}

json AnthropicStreamTranslator::chunk(json delta, const json& finish_reason) const {
  return json{{"id", id_}, {"object", "chat.completion.chunk"}, {"created", created_}, {"model", model_},
              {"choices", json::array({json{{"index", 0}, {"delta", std::move(delta)},
                                            {"finish_reason", finish_reason}}})}};
}

Result<AnthropicStreamTranslator::Step> AnthropicStreamTranslator::on_block_start(const json& data) {
  Step step;
  int64_t index = int_field(data, "index", -1);
  const json* block = obj_field(data, "content_block");
  if (index < 0 || index > 100000 || !block) return Error("content_block_start without an index and content_block");
  if (tool_index_.size() <= static_cast<size_t>(index)) tool_index_.resize(index + 1, -1);
  std::string type = str_field(*block, "type");
  if (type == "tool_use") {
    std::string id = str_field(*block, "id"), name = str_field(*block, "name");
    if (id.empty() || name.empty()) return Error("a tool_use block without an id and a name");
    int ti = tool_index_[index] = n_tools_++;
    step.chunks.push_back(chunk({{"tool_calls", json::array({json{{"index", ti}, {"id", id}, {"type", "function"},
                                                                   {"function", {{"name", name}, {"arguments", ""}}}}})}}));
  } else if (type == "text") {
    std::string text = str_field(*block, "text");
    if (!text.empty()) step.chunks.push_back(chunk({{"content", text}}));
  }
  return step;
}

Result<AnthropicStreamTranslator::Step> AnthropicStreamTranslator::on_block_delta(const json& data) {
  Step step;
  int64_t index = int_field(data, "index", -1);
  const json* delta = obj_field(data, "delta");
  if (index < 0 || !delta) return Error("content_block_delta without an index and a delta");
  std::string type = str_field(*delta, "type");
  if (type == "text_delta") {
    if (!delta->contains("text") || !(*delta)["text"].is_string()) return Error("a text_delta without text");
    step.chunks.push_back(chunk({{"content", (*delta)["text"]}}));
  } else if (type == "input_json_delta") {
    if (!delta->contains("partial_json") || !(*delta)["partial_json"].is_string())
      return Error("an input_json_delta without partial_json");
    if (static_cast<size_t>(index) >= tool_index_.size() || tool_index_[index] < 0)
      return errorf("an input_json_delta for block {}, which is not a tool_use block", index);
    step.chunks.push_back(chunk({{"tool_calls", json::array({json{{"index", tool_index_[index]},
                                                                   {"function", {{"arguments", (*delta)["partial_json"]}}}}})}}));
  }   // thinking_delta, signature_delta, citations_delta: no OpenAI equivalent
  return step;
}

Result<AnthropicStreamTranslator::Step> AnthropicStreamTranslator::on_event(const json& data) {
  std::string type = str_field(data, "type");
  if (type.empty()) return Error("an event without a \"type\"");
  if (type == "ping") return Step{};
  if (type == "error") {
    Step step;
    step.error = true;
    step.upstream_error = anthropic_error(data.contains("error") ? data["error"] : json());
    return step;
  }
  if (done_) return errorf("a {} event after message_stop", type);
  if (type == "message_start") {
    const json* msg = obj_field(data, "message");
    if (!msg) return Error("message_start without a message");
    if (started_) return Error("a second message_start");
    started_ = true;
    if (!str_field(*msg, "id").empty()) id_ = str_field(*msg, "id");
    model_ = str_field(*msg, "model");
    created_ = unix_seconds();
    if (const json* u = obj_field(*msg, "usage")) usage_ = anthropic_usage(*u);
    Step step;
    step.chunks.push_back(chunk({{"role", "assistant"}, {"content", ""}}));
    return step;
  }
  if (!started_) return errorf("a {} event before message_start", type);
  if (type == "content_block_start") return on_block_start(data);
  if (type == "content_block_delta") return on_block_delta(data);
  if (type == "message_delta") {
    Step step;
    if (const json* u = obj_field(data, "usage")) {   // output_tokens is cumulative
      usage_.completion_tokens = int_field(*u, "output_tokens", usage_.completion_tokens);
      if (u->contains("input_tokens")) {
        UpstreamUsage full = anthropic_usage(*u);
        usage_.prompt_tokens = full.prompt_tokens, usage_.cached_tokens = full.cached_tokens;
      }
    }
    const json* d = obj_field(data, "delta");
    std::string stop = d ? str_field(*d, "stop_reason") : "";
    if (!stop.empty()) step.chunks.push_back(chunk(json::object(), anthropic_finish_reason(stop)));
    return step;
  }
  if (type == "message_stop") {
    done_ = true;
    usage_.seen = true;
    json last = chunk(json::object());
    last["choices"] = json::array();
    last["usage"] = openai_usage_json(usage_);
    Step step;
    step.chunks.push_back(std::move(last));
    return step;
  }
  return Step{};   // content_block_stop, and event types added later
}

}  // namespace lm::router
