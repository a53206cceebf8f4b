#include "engine/request.h"

namespace lm::engine {

std::string_view finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kError: return "error";
  }
  return "unknown";
}

namespace {
// Appends `ev` to `into`: the text and tokens of both, in order; the done fields of `ev`.
void merge(StreamEvent& into, StreamEvent&& ev) {
  into.text += ev.text;
  for (auto& t : ev.tokens) into.tokens.push_back(std::move(t));
  if (ev.done) {
    into.done = true;
    into.finish = ev.finish;
    into.usage = ev.usage;
    into.error = std::move(ev.error);
    into.embedding = std::move(ev.embedding);
  }
}
}  // namespace

bool RequestHandle::next(StreamEvent* out, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (done_read_) return false;
  if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return false;
  *out = std::move(events_.front());
  events_.pop_front();
  while (!events_.empty()) {
    merge(*out, std::move(events_.front()));
    events_.pop_front();
  }
  if (out->done) done_read_ = true;
  return true;
}

void RequestHandle::cancel() { cancelled_.store(true, std::memory_order_relaxed); }

void RequestHandle::push(StreamEvent ev) {
  {
    std::lock_guard lock(mu_);
    if (done_pushed_) return;   // nothing follows the last event
    done_pushed_ = ev.done;
    if (events_.empty())
      events_.push_back(std::move(ev));
    else
      merge(events_.back(), std::move(ev));
  }
  cv_.notify_all();
}

}  // namespace lm::engine
