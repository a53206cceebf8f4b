#include "server/generation.h"

#include <httplib.h>

#include <fmt/format.h>

#include "server/client_watch.h"

namespace lm::server {

std::optional<ApiError> validate_gen(const GenOptions& gen) {
  Status st = sampling::validate(gen.sampling);
  if (st.ok()) return std::nullopt;
  const std::string& msg = st.error().message();
  return bad_param(msg.substr(0, msg.find(' ')), msg);
}

engine::CompletionRequest make_request(std::vector<int32_t> prompt, const GenOptions& gen) {
  engine::CompletionRequest r;
  r.prompt = std::move(prompt);
  r.sampling = gen.sampling;
  r.max_tokens = gen.max_tokens;
  r.stop = gen.stop;
  r.top_logprobs = gen.top_logprobs;
  r.grammar = gen.grammar;
  r.ignore_eos = gen.ignore_eos;
  r.timeout_ms = gen.timeout_ms;
  return r;
}

Parsed<std::shared_ptr<engine::RequestHandle>> submit(engine::Scheduler& sched,
                                                      engine::CompletionRequest req,
                                                      const std::string& prompt_param) {
  auto res = sched.submit(std::move(req));
  if (auto* h = std::get_if<std::shared_ptr<engine::RequestHandle>>(&res)) return *h;
  auto& [kind, message] = std::get<1>(res);
  ApiError e;
  e.message = message;
  switch (kind) {
    case engine::SubmitError::kQueueFull:
      e.status = 429;
      e.type = "rate_limit_error";
      e.code = "queue_full";
      e.retry_after_s = 1;
      break;
    case engine::SubmitError::kPromptTooLong:
      e = bad_param(prompt_param, message);
      e.code = "context_length_exceeded";
      break;
    case engine::SubmitError::kInvalid:
      e = bad_param(prompt_param, message);
      break;
    case engine::SubmitError::kShuttingDown:
      e.status = 503;
      e.type = "server_error";
      e.code = "shutting_down";
      e.retry_after_s = 1;
      break;
  }
  return e;
}

Completion collect(engine::RequestHandle& handle, const std::atomic<bool>* stopping) {
  using Clock = std::chrono::steady_clock;
  constexpr auto kPoll = std::chrono::milliseconds(100);
  Completion c;
  engine::StreamEvent ev;
  ClientWatch client;   // the connection of the request this thread handles
  auto next_check = Clock::now() + kPoll;
  for (;;) {
    const bool got = handle.next(&ev, kPoll);
    // Every kPoll, events or not (a fast model never lets next() time out): a client that has
    // closed its connection will never read the answer, so stop generating it.
    if (!got || Clock::now() >= next_check) {
      if (stopping && stopping->load()) handle.cancel();
      if (!handle.cancelled() && client.gone()) handle.cancel();   // the final event still comes
      next_check = Clock::now() + kPoll;
    }
    if (!got) continue;
    c.text += ev.text;
    for (auto& t : ev.tokens) c.tokens.push_back(std::move(t));
    if (ev.done) {
      c.finish = ev.finish;
      c.usage = ev.usage;
      c.error = ev.error;
      return c;
    }
  }
}

bool pump(engine::RequestHandle& handle, httplib::DataSink& sink,
          const std::function<std::string(const engine::StreamEvent&)>& format,
          const std::atomic<bool>* stopping) {
  engine::StreamEvent ev;
  for (;;) {
    if (!handle.next(&ev, std::chrono::milliseconds(100))) {
      if (stopping && stopping->load()) handle.cancel();   // the final event still comes
      // No event yet: a good moment to notice a client that has gone away.
      if (!sink.is_writable()) {
        handle.cancel();
        return false;
      }
      continue;
    }
    std::string bytes = format(ev);
    if (!bytes.empty() && !sink.write(bytes.data(), bytes.size())) {
      handle.cancel();
      return false;
    }
    if (ev.done) return true;
  }
}

}  // namespace lm::server
