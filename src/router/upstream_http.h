// One HTTP POST attempt over libcurl, for UpstreamClient: timeouts, an idle watchdog, cancel,
// the egress socket guard, and a pool of idle easy handles (keep-alive reuse).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace lm::router {

struct HttpPost {
  std::string url;
  std::vector<std::string> headers;   // "Name: value"
  std::string body;
  int connect_timeout_ms = 5000;
  int timeout_ms = 120000;
  int idle_timeout_ms = 0;            // > 0: abort after this long without a byte (streams)
  size_t max_body = 32u << 20;        // buffered bodies larger than this abort the transfer
  // Receives a 2xx body as it arrives (nullptr: buffer it in `body`); false aborts.
  std::function<bool(std::string_view)> on_body;
  std::function<bool()> cancelled;
};

struct HttpOutcome {
  int curl_code = 0;                          // CURLcode, 0 = the exchange completed
  std::string curl_error;                     // curl's error text (host and port, no URL)
  long status = 0;                            // final HTTP status (0 = none received)
  std::map<std::string, std::string> headers; // of the final response, names lower-cased
  std::string body;                           // buffered body (non-2xx always buffered, <= 64 KiB)
  bool connected = false;                     // a connection was established
  bool idle_timed_out = false;                // the idle watchdog aborted
  bool cancelled = false;                     // HttpPost.cancelled said so
  bool body_stopped = false;                  // on_body returned false
  bool too_large = false;                     // the buffered body passed max_body
};

// Curl easy handles kept between calls; thread-safe.
class CurlPool {
 public:
  CurlPool() = default;
  ~CurlPool();
  CurlPool(const CurlPool&) = delete;
  CurlPool& operator=(const CurlPool&) = delete;
  void* acquire();           // a CURL*, reset to defaults
  void release(void* curl);  // back to the pool (or cleaned up when the pool is full)

 private:
  std::mutex mu_;
  std::vector<void*> idle_;
};

HttpOutcome http_post(CurlPool& pool, const HttpPost& req);

// Retry-After (delta-seconds or an HTTP-date) in ms; -1 when absent or unreadable.
// `retry_after_ms` (OpenAI's extension) wins when present.
int64_t parse_retry_after(const std::map<std::string, std::string>& headers);

}  // namespace lm::router
