// The bridge between HTTP handlers and the Scheduler: builds a CompletionRequest, submits it
// (mapping SubmitError to an ApiError: queue full → 429 with Retry-After, prompt too long → 400),
// and reads the event stream either whole (non-streaming responses) or chunk by chunk into an
// HTTP chunked response, cancelling the request when the client goes away.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/request.h"
#include "engine/scheduler.h"
#include "server/request.h"

namespace httplib {
class DataSink;
}

namespace lm::server {

// sampling::validate on the options; the error names the field.
std::optional<ApiError> validate_gen(const GenOptions& gen);

engine::CompletionRequest make_request(std::vector<int32_t> prompt, const GenOptions& gen);

// prompt_param names the request field the prompt came from (for errors): "messages", "prompt".
Parsed<std::shared_ptr<engine::RequestHandle>> submit(engine::Scheduler& sched,
                                                      engine::CompletionRequest req,
                                                      const std::string& prompt_param);

// A whole completion, for non-streaming responses.
struct Completion {
  std::string text;
  std::vector<engine::TokenInfo> tokens;
  engine::FinishReason finish = engine::FinishReason::kStop;
  engine::Usage usage;
  std::string error;
};
// `stopping` (may be null): set at server shutdown; the request is then cancelled and its final
// event still delivered, so the response ends well-formed. When the client of the request this
// thread handles closes its connection (client_watch.h), the request is cancelled too (kCancelled):
// its slot is freed instead of generating an answer nobody will read.
Completion collect(engine::RequestHandle& handle, const std::atomic<bool>* stopping);

// Streams events into `sink`: format(ev) returns the bytes to send for one event ("" to send
// nothing). Returns false (after cancelling the request) when the client has gone.
bool pump(engine::RequestHandle& handle, httplib::DataSink& sink,
          const std::function<std::string(const engine::StreamEvent&)>& format,
          const std::atomic<bool>* stopping);

}  // namespace lm::server
