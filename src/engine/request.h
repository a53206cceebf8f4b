// A completion request as the scheduler sees it, and the stream of events that answers it.
//
// The server builds a CompletionRequest (templates applied, tokens encoded, sampling validated),
// submits it to the Scheduler (scheduler.h) and reads StreamEvents from the RequestHandle it gets
// back. The handle is the request's own response channel: nothing else connects the caller to the
// engine thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sampling/grammar.h"
#include "sampling/params.h"

namespace lm::engine {

inline constexpr int32_t kMaxTopLogprobs = 20;

struct CompletionRequest {
  std::vector<int32_t> prompt;          // tokens, templates already applied by the caller
  sampling::SamplingParams sampling;    // validated by the caller (sampling::validate); checked again
  int32_t max_tokens = -1;              // -1: until end of generation or the context is full
  std::vector<std::string> stop;        // stop strings; the matched text is not returned
  int32_t top_logprobs = -1;            // -1 none; 0..20: logprob of the chosen token + N alternatives
  bool ignore_eos = false;              // EOG tokens are generated like any other token
  // Time limit from submit() (queueing included), 0: none. When it passes, the request ends with
  // kLength and the text so far, like max_tokens (SchedulerOptions::request_timeout_ms caps it).
  int64_t timeout_ms = 0;
  // Prefill only: no token is sampled; the done event carries the prompt's pooled, L2-normalised
  // final hidden state (engine/embed.h) in StreamEvent::embedding. The prompt may fill the whole
  // context. Sampling fields are ignored.
  bool embedding = false;
  // Constrained decoding (sampling/grammar.h): only tokens whose bytes the grammar accepts are
  // sampled; EOG only once it is complete; the request ends (kStop) when nothing can follow.
  std::shared_ptr<const sampling::Grammar> grammar;   // null: unconstrained
  // Control tokens that stand for their text in the output (TokenInfo::text, StreamEvent::text)
  // and that a grammar may match as that text: the markers an output parser must see, such as
  // Mistral's [TOOL_CALLS]. Other control tokens render as "" and a grammar never allows them.
  std::vector<int32_t> preserved_tokens;
};

// kStop: an end-of-generation token or a stop string. kLength: max_tokens reached, the context
// is full or the time limit passed. kCancelled: cancel(), a dropped handle or the scheduler shutting down.
enum class FinishReason { kStop, kLength, kCancelled, kError };
std::string_view finish_reason_name(FinishReason r);   // "stop", "length", "cancelled", "error"

struct TokenInfo {
  int32_t id = 0;
  std::string text;     // the token's bytes (decode_token); may be part of a UTF-8 character
  float logprob = 0;    // log softmax of the raw logits; 0 unless top_logprobs >= 0
  std::vector<std::pair<int32_t, float>> top;   // the top_logprobs most likely (id, logprob)
};

struct Usage {
  int32_t prompt_tokens = 0;
  int32_t cached_tokens = 0;       // prompt tokens whose K/V came from the prefix cache
  int32_t completion_tokens = 0;   // sampled tokens (a terminating EOG token is not counted)
  double ttft_ms = 0;              // submit() to the first sampled token
  double total_ms = 0;             // submit() to the last event
};

struct StreamEvent {
  std::string text;                  // new complete UTF-8 text (stop-string holdback applied)
  std::vector<TokenInfo> tokens;     // tokens this event covers (logprobs when requested)
  bool done = false;                 // last event: finish/usage/error are set
  FinishReason finish = FinishReason::kStop;
  Usage usage{};
  std::string error;                 // kError only
  std::vector<float> embedding;      // done event of an embedding request: [n_embd], unit length
};

// RequestHandle: the response channel of one request, shared by the scheduler (which keeps only
// a weak_ptr) and the caller. Thread-safe. If the caller drops its last shared_ptr, the engine
// sees the request as cancelled at its next step. Events are queued without bound; next() merges
// everything queued into one event (text concatenated, tokens appended, done carried over), so a
// slow reader costs no more calls than a fast one.
class RequestHandle {
 public:
  // Waits up to `timeout` for the next event; false on timeout (the caller then checks its
  // connection and may cancel()). After the done event, next() returns false at once.
  bool next(StreamEvent* out, std::chrono::milliseconds timeout);
  // Asks the engine to stop this request: the slot is freed at the scheduler's next step and a
  // final event with FinishReason::kCancelled follows (unless the request already finished).
  void cancel();
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

  // Engine side: appends an event (merging into the last queued one) and wakes the reader.
  void push(StreamEvent ev);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<StreamEvent> events_;
  bool done_pushed_ = false;
  bool done_read_ = false;
  std::atomic<bool> cancelled_{false};
};

}  // namespace lm::engine
