#include "router/upstream_sse.h"

namespace lm::router {

Status SseParser::feed(std::string_view bytes) {
  if (!started_) {
    // A BOM may open the stream; wait until three bytes can be compared.
    line_.append(bytes);
    if (line_.size() < 3 && std::string_view("\xEF\xBB\xBF").starts_with(line_)) return Ok{};
    started_ = true;
    std::string first = std::move(line_);
    line_.clear();
    std::string_view rest(first);
    if (rest.starts_with("\xEF\xBB\xBF")) rest.remove_prefix(3);
    return feed(rest);
  }
  if (bytes.empty()) return Ok{};
  size_t i = 0;
  if (after_cr_ && !bytes.empty() && bytes[0] == '\n') i = 1;   // the "\n" of a split "\r\n"
  after_cr_ = false;
  while (i < bytes.size()) {
    size_t eol = bytes.find_first_of("\r\n", i);
    if (eol == std::string_view::npos) {
      line_.append(bytes.substr(i));
      if (line_.size() + cur_.data.size() > max_event_bytes_)
        return errorf("an event is longer than {} bytes", max_event_bytes_);
      return Ok{};
    }
    Status s = Ok{};
    if (line_.empty()) {
      s = take_line(bytes.substr(i, eol - i));
    } else {
      line_.append(bytes.substr(i, eol - i));
      std::string line = std::move(line_);
      line_.clear();
      s = take_line(line);
    }
    if (!s.ok()) return s;
    if (bytes[eol] == '\r') {
      if (eol + 1 == bytes.size()) after_cr_ = true;
      else if (bytes[eol + 1] == '\n') ++eol;
    }
    i = eol + 1;
  }
  return Ok{};
}

Status SseParser::take_line(std::string_view line) {
  if (line.empty()) return dispatch();
  if (line[0] == ':') return Ok{};   // a comment (keep-alive)
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (data_seen_) cur_.data.push_back('\n');
    cur_.data.append(value);
    data_seen_ = true;
    if (cur_.data.size() > max_event_bytes_) return errorf("an event is longer than {} bytes", max_event_bytes_);
  } else if (field == "event") {
    cur_.event.assign(value);
  } else if (field == "id") {
    cur_.id.assign(value);
  }
  // "retry" and unknown fields are ignored, as the spec says.
  return Ok{};
}

Status SseParser::dispatch() {
  if (!data_seen_) {   // no data: the spec drops the event
    cur_ = SseEvent{};
    return Ok{};
  }
  ++events_;
  bool go_on = on_event_(cur_);
  cur_ = SseEvent{};
  data_seen_ = false;
  if (!go_on) return Error("stopped");
  return Ok{};
}

}  // namespace lm::router
