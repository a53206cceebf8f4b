// A small libcurl client for the hub: GET of small bodies, and ranged downloads streamed to a
// callback. Redirects are followed; the headers of every hop are kept (the hub puts
// X-Repo-Commit and X-Linked-* on the 302 of /resolve/, not on the CDN's answer).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/result.h"

namespace lm::store {

// Set from a SIGINT handler (it is lock-free): transfers in progress stop at their next
// progress callback with a kCancelled transport error.
std::atomic<bool>& cancel_flag();

struct HttpResponse {
  long status = 0;                                       // of the last hop
  std::vector<std::map<std::string, std::string>> hops;  // headers per hop, names lowercased
  std::string body;                                      // small bodies and error bodies (<= 64 KiB)
  std::string effective_url;

  // The value of a header from the first hop that has it ("" when none).
  std::string header(const std::string& lower_name) const;
};

// How a request failed before giving an HTTP status: the transport layer.
struct TransportError {
  int curl_code = 0;
  std::string message;        // curl's error text
  bool connect_failed = false; // DNS, refused, unreachable: nothing was exchanged
  bool cancelled = false;
  bool write_failed = false;   // the sink refused the data (see Sink)
};

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;   // "Name: value"
  uint64_t range_start = 0;           // > 0: sends Range: bytes=N-
};

// Receives the body of a 2xx final answer. Return false to abort (a write failure).
// `status` is the final status (200 or 206) and is passed with every chunk.
using Sink = std::function<bool(long status, const HttpResponse& head, const char* data, size_t n)>;
// Called now and then with bytes received in this request.
using Progress = std::function<void(uint64_t received)>;

// Performs the request. Result error only for transport failures (check TransportError via
// `transport`); HTTP errors come back as a response with status >= 400 and its body.
Result<HttpResponse> http_get(const HttpRequest& req, const Sink& sink, const Progress& progress,
                              TransportError* transport);

}  // namespace lm::store
