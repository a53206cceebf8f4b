// An incremental parser of text/event-stream (the WHATWG "server-sent events" format): bytes
// arrive in whatever pieces the network delivered (a line, or even a "\r\n", may be split across
// two writes); complete events come out.
//
// Not thread-safe; one per stream. Memory: the current line and event, bounded by max_event_bytes.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace lm::router {

struct SseEvent {
  std::string event;   // the "event:" field, "" when absent ("message" by the spec)
  std::string data;    // the "data:" lines joined with '\n'
  std::string id;
};

class SseParser {
 public:
  // Called for every complete event; return false to stop (feed then returns an error "stopped").
  using OnEvent = std::function<bool(const SseEvent&)>;

  explicit SseParser(OnEvent on_event, size_t max_event_bytes = 8u << 20)
      : on_event_(std::move(on_event)), max_event_bytes_(max_event_bytes) {}

  // Parses more bytes. Errors: an event larger than max_event_bytes, or on_event returned false.
  Status feed(std::string_view bytes);

  // At the end of the stream: true when a partial line or an undispatched event is left (the
  // stream was cut; by the spec that event is dropped).
  bool has_partial() const { return !line_.empty() || !cur_.data.empty() || data_seen_; }

  size_t events() const { return events_; }

 private:
  Status take_line(std::string_view line);
  Status dispatch();

  OnEvent on_event_;
  size_t max_event_bytes_;
  std::string line_;         // bytes of the line not yet terminated
  SseEvent cur_;
  bool data_seen_ = false;   // a data: line was seen for cur_ (data may be "")
  bool after_cr_ = false;    // the last byte fed was '\r': a following '\n' belongs to it
  bool started_ = false;     // past the optional UTF-8 BOM
  size_t events_ = 0;
};

}  // namespace lm::router
