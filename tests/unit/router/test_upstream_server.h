// A scripted upstream on loopback for the router tests: an httplib::Server on 127.0.0.1 and a
// free port, run in a thread, counting the requests it receives and keeping the last one.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace lm::test {

class UpstreamServer {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&, int n)>;   // n: 1-based

  // `handler` answers every POST and GET (to any path); n counts the requests. Without keep_alive the
  // server closes each connection after its answer (a kept-alive connection would hold the
  // server's shutdown for its keep-alive timeout while the client's pool keeps it open).
  explicit UpstreamServer(Handler handler, bool keep_alive = false) : handler_(std::move(handler)) {
    if (!keep_alive) server_.set_keep_alive_max_count(1);
    auto answer = [this](const httplib::Request& req, httplib::Response& res) {
      int n = ++count_;
      {
        std::lock_guard<std::mutex> lock(mu_);
        ports_.insert(req.remote_port);
        last_path_ = req.path;
        last_body_ = req.body;
        last_headers_.clear();
        for (const auto& [k, v] : req.headers) last_headers_.emplace_back(k, v);
      }
      handler_(req, res, n);
    };
    server_.Post(".*", answer);
    server_.Get(".*", answer);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  ~UpstreamServer() {
    stopping_ = true;
    server_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int count() const { return count_.load(); }
  // Distinct client ports seen: the number of connections used.
  size_t connections() { std::lock_guard<std::mutex> l(mu_); return ports_.size(); }
  bool stopping() const { return stopping_.load(); }

  std::string last_path() { std::lock_guard<std::mutex> l(mu_); return last_path_; }
  std::string last_body() { std::lock_guard<std::mutex> l(mu_); return last_body_; }
  std::string last_header(const std::string& name) {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [k, v] : last_headers_) {
      if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
    }
    return "";
  }

  // Sleeps up to `ms`, returning early when the server stops (so a stalled handler ends quickly).
  void stall(int ms) const {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!stopping_ && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

 private:
  Handler handler_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> count_{0};
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::string last_path_, last_body_;
  std::vector<std::pair<std::string, std::string>> last_headers_;
  std::set<int> ports_;
};

// Sends `body` as a chunked text/event-stream in pieces of the given sizes (cycled), pausing
// `pause_us` between pieces so the client's reads see the odd boundaries; after `cut_after` bytes
// (when >= 0) the connection is dropped without the final chunk.
inline void sse_reply(httplib::Response& res, std::string body, std::vector<size_t> pieces, int pause_us = 200,
                      long cut_after = -1) {
  res.set_chunked_content_provider(
      "text/event-stream", [body = std::move(body), pieces = std::move(pieces), pause_us, cut_after](
                               size_t, httplib::DataSink& sink) {
        size_t at = 0, k = 0;
        while (at < body.size()) {
          if (cut_after >= 0 && at >= static_cast<size_t>(cut_after)) return false;   // drop the connection
          size_t n = std::min(pieces[k++ % pieces.size()], body.size() - at);
          if (!sink.write(body.data() + at, n)) return false;
          at += n;
          if (pause_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
        }
        sink.done();
        return true;
      });
}

}  // namespace lm::test
