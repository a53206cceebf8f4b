#include "router/upstream_stream.h"

#include "router/upstream_json.h"

namespace lm::router {

using nlohmann::json;

Status check_openai_completion(const json& reply) {
  if (!reply.is_object()) return Error("the reply is not a JSON object");
  auto it = reply.find("choices");
  if (it == reply.end() || !it->is_array()) return Error("the reply has no \"choices\" array");
  if (it->empty()) return Error("the reply's \"choices\" array is empty");
  const json& c0 = (*it)[0];
  if (!c0.is_object() || !obj_field(c0, "message")) return Error("choices[0] has no \"message\" object");
  const json& msg = c0["message"];
  if (msg.contains("content") && !msg["content"].is_null() && !msg["content"].is_string())
    return Error("choices[0].message.content is neither a string nor null");
  if (msg.contains("tool_calls") && !msg["tool_calls"].is_null() && !msg["tool_calls"].is_array())
    return Error("choices[0].message.tool_calls is not an array");
  if (reply.contains("usage") && !reply["usage"].is_null() && !reply["usage"].is_object())
    return Error("the reply's \"usage\" is not an object");
  return Ok{};
}

Status check_openai_chunk(const json& chunk) {
  if (!chunk.is_object()) return Error("a chunk is not a JSON object");
  if (auto it = chunk.find("choices"); it != chunk.end()) {
    if (!it->is_array()) return Error("a chunk's \"choices\" is not an array");
    for (const json& c : *it) {
      if (!c.is_object()) return Error("a chunk's choice is not an object");
      if (c.contains("delta") && !c["delta"].is_object()) return Error("a chunk's delta is not an object");
      if (c.contains("delta") && c["delta"].contains("content") && !c["delta"]["content"].is_null() &&
          !c["delta"]["content"].is_string())
        return Error("a chunk's delta.content is neither a string nor null");
    }
  } else if (!chunk.contains("usage")) {
    return Error("a chunk has neither \"choices\" nor \"usage\"");
  }
  if (chunk.contains("usage") && !chunk["usage"].is_null() && !chunk["usage"].is_object())
    return Error("a chunk's \"usage\" is not an object");
  return Ok{};
}

void ChunkAccumulator::add(const json& chunk) {
  if (id_.empty()) id_ = str_field(chunk, "id");
  if (model_.empty()) model_ = str_field(chunk, "model");
  if (created_ == 0) created_ = int_field(chunk, "created");
  if (const json* u = obj_field(chunk, "usage")) usage_ = parse_openai_usage(*u);
  if (!chunk.contains("choices") || !chunk["choices"].is_array()) return;
  for (const json& c : chunk["choices"]) {
    if (int_field(c, "index") != 0) continue;
    if (!str_field(c, "finish_reason").empty()) finish_reason_ = str_field(c, "finish_reason");
    const json* d = obj_field(c, "delta");
    if (!d) continue;
    if (d->contains("content") && (*d)["content"].is_string()) {
      content_ += (*d)["content"].get<std::string>();
      has_content_ = true;
    }
    if (!d->contains("tool_calls") || !(*d)["tool_calls"].is_array()) continue;
    for (const json& tc : (*d)["tool_calls"]) {
      int64_t i = int_field(tc, "index", -1);
      if (i < 0 || i > 1000) continue;
      if (tools_.size() <= static_cast<size_t>(i)) tools_.resize(i + 1);
      ToolCall& t = tools_[i];
      if (!str_field(tc, "id").empty()) t.id = str_field(tc, "id");
      if (const json* fn = obj_field(tc, "function")) {
        if (!str_field(*fn, "name").empty()) t.name = str_field(*fn, "name");
        t.arguments += str_field(*fn, "arguments");
      }
    }
  }
}

json ChunkAccumulator::completion() const {
  json message = {{"role", "assistant"}, {"content", has_content_ || tools_.empty() ? json(content_) : json()}};
  if (!tools_.empty()) {
    json calls = json::array();
    for (const ToolCall& t : tools_)
      calls.push_back({{"id", t.id}, {"type", "function"}, {"function", {{"name", t.name}, {"arguments", t.arguments}}}});
    message["tool_calls"] = std::move(calls);
  }
  json out = {{"id", id_}, {"object", "chat.completion"}, {"created", created_ ? created_ : unix_seconds()},
              {"model", model_},
              {"choices", json::array({json{{"index", 0}, {"message", std::move(message)},
                                            {"finish_reason", finish_reason_.empty() ? json() : json(finish_reason_)}}})}};
  if (usage_.seen) out["usage"] = openai_usage_json(usage_);
  return out;
}

StreamDecoder::StreamDecoder(ProviderKind kind, const OnChunk& on_chunk)
    : kind_(kind), on_chunk_(on_chunk), parser_([this](const SseEvent& ev) { return on_event(ev); }) {}

void StreamDecoder::fail(UpstreamErrorKind kind, std::string message) {
  if (error_) return;
  error_ = UpstreamError{};
  error_->kind = kind;
  error_->message = std::move(message);
}

bool StreamDecoder::feed(std::string_view bytes) {
  if (error_) return false;
  Status s = parser_.feed(bytes);
  if (!s.ok() && !error_) fail(UpstreamErrorKind::malformed, "the event stream is malformed: " + s.error().message());
  return !error_;
}

bool StreamDecoder::deliver(const json& chunk) {
  acc_.add(chunk);
  ++delivered_;
  if (!on_chunk_(chunk)) {
    fail(UpstreamErrorKind::cancelled, "cancelled by the receiver of the stream");
    return false;
  }
  return true;
}

bool StreamDecoder::on_event(const SseEvent& ev) {
  ++events_;
  if (done_) return true;   // whatever follows the end is ignored
  if (kind_ == ProviderKind::openai && ev.data == "[DONE]") return done_ = true;
  json data = json::parse(ev.data, nullptr, false);
  if (data.is_discarded()) {
    fail(UpstreamErrorKind::malformed, fmt::format("event {} of the stream is not JSON", events_));
    return false;
  }
  if (kind_ == ProviderKind::openai) {
    if (const json* e = obj_field(data, "error")) {
      fail(UpstreamErrorKind::server_error, "upstream error in the stream: " +
                                                (str_field(*e, "message").empty() ? "(no message)" : str_field(*e, "message")));
      return false;
    }
    if (Status s = check_openai_chunk(data); !s.ok()) {
      fail(UpstreamErrorKind::malformed, fmt::format("event {} of the stream: {}", events_, s.error().message()));
      return false;
    }
    return deliver(data);
  }
  auto step = anthropic_.on_event(data);
  if (!step.ok()) {
    fail(UpstreamErrorKind::malformed, fmt::format("event {} of the stream: {}", events_, step.error().message()));
    return false;
  }
  if (step->error) {
    error_ = step->upstream_error;
    return false;
  }
  for (const json& c : step->chunks) {
    if (!deliver(c)) return false;
  }
  if (anthropic_.done()) done_ = true;
  return true;
}

std::optional<UpstreamError> StreamDecoder::finish() {
  if (error_) return error_;
  if (done_ || (kind_ == ProviderKind::openai && acc_.finished() && !parser_.has_partial())) return std::nullopt;
  if (delivered_ > 0) {
    fail(UpstreamErrorKind::reset_mid_stream, fmt::format("the stream ended after {} chunks without its end marker", delivered_));
  } else {
    fail(UpstreamErrorKind::malformed, events_ == 0 ? "the reply has no server-sent events"
                                                    : "the stream ended without content or end marker");
  }
  return error_;
}

}  // namespace lm::router
