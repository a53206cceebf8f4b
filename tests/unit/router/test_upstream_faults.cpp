// Fault injection against a loopback upstream: 429 + Retry-After, 5xx then success, connections
// dropped before and after the first chunk, garbage JSON, stalls past the timeouts, 4xx, cancel,
// key hygiene, and offline mode (the upstream must receive nothing). Timeouts are short so the
// whole file runs in a few seconds.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "core/egress.h"
#include "core/egress_curl.h"
#include "router/upstream.h"
#include "test_upstream_data.h"
#include "test_upstream_server.h"

namespace lm::router {
namespace {

using test::UpstreamServer;
using Clock = std::chrono::steady_clock;

constexpr const char* kKeyEnv = "LM_TEST_FAULTS_KEY";
constexpr const char* kKey = "sk-faults-9876543210SECRET";

const char* kReply = R"({"id":"x","object":"chat.completion","created":1,"model":"gpt-x",
  "choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]})";

const char* kChunk = R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"content":"tok"},"finish_reason":null}]})";

ProviderConfig provider(const std::string& url, ProviderKind kind = ProviderKind::openai) {
  ProviderConfig p;
  p.name = "faulty";
  p.kind = kind;
  p.base_url = url;
  p.api_key_env = kKeyEnv;
  p.connect_timeout_ms = 1000;
  p.timeout_ms = 3000;
  p.idle_timeout_ms = 3000;
  p.max_retries = 2;
  p.backoff_ms = 5;
  return p;
}

json request() { return json{{"model", "gpt-x"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}}; }

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

const UpstreamError& error_of(const std::variant<UpstreamResult, UpstreamError>& out) {
  static UpstreamError none;
  EXPECT_TRUE(std::holds_alternative<UpstreamError>(out)) << "the call succeeded";
  return std::holds_alternative<UpstreamError>(out) ? std::get<UpstreamError>(out) : none;
}

class UpstreamFaults : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv(kKeyEnv, kKey, 1); }
  void TearDown() override {
    ::unsetenv(kKeyEnv);
    egress::set_offline(false);
  }
  std::function<bool(const json&)> collect() {
    return [this](const json& c) {
      chunks_.push_back(c);
      return true;
    };
  }
  UpstreamClient client_;
  std::vector<json> chunks_;
};

TEST_F(UpstreamFaults, RateLimitedWaitsForRetryAfterThenSucceeds) {
  UpstreamServer up([](const httplib::Request&, httplib::Response& res, int n) {
    if (n == 1) {
      res.status = 429;
      res.set_header("Retry-After", "1");
      res.set_content(R"({"error":{"message":"Rate limit reached","type":"requests"}})", "application/json");
      return;
    }
    res.set_content(kReply, "application/json");
  });
  auto t0 = Clock::now();
  auto out = client_.chat(provider(up.url()), request());
  double ms = ms_since(t0);
  ASSERT_TRUE(std::holds_alternative<UpstreamResult>(out)) << std::get<UpstreamError>(out).message;
  EXPECT_EQ(std::get<UpstreamResult>(out).attempts, 2);
  EXPECT_EQ(up.count(), 2);
  EXPECT_GE(ms, 980);    // waited the second Retry-After asked for
  EXPECT_LT(ms, 2500);
}

TEST_F(UpstreamFaults, RetryAfterLongerThanAllowedReturnsAtOnce) {
  UpstreamServer up([](const httplib::Request&, httplib::Response& res, int) {
    res.status = 429;
    res.set_header("Retry-After", "120");
    res.set_content(R"({"error":{"message":"Slow down"}})", "application/json");
  });
  CallOptions opts;
  opts.max_retry_wait_ms = 2000;
  auto t0 = Clock::now();
  auto out = client_.chat(provider(up.url()), request(), opts);
  const UpstreamError& e = error_of(out);
  EXPECT_LT(ms_since(t0), 500);
  EXPECT_EQ(e.kind, UpstreamErrorKind::rate_limited);
  EXPECT_EQ(e.http_status, 429);
  EXPECT_EQ(e.retry_after_ms, 120000);
  EXPECT_EQ(e.attempts, 1);
  EXPECT_TRUE(e.retryable());
  EXPECT_EQ(up.count(), 1);
  EXPECT_NE(e.message.find("HTTP 429: Slow down"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("longer than the 2000 ms"), std::string::npos) << e.message;
}

TEST_F(UpstreamFaults, RateLimitedUntilRetriesRunOut) {
  UpstreamServer up([](const httplib::Request&, httplib::Response& res, int) {
    res.status = 429;
    res.set_content("{}", "application/json");
  });
  auto out = client_.chat(provider(up.url()), request());
  const UpstreamError& e = error_of(out);
  EXPECT_EQ(e.kind, UpstreamErrorKind::rate_limited);
  EXPECT_EQ(e.attempts, 3);   // 1 + max_retries
  EXPECT_EQ(up.count(), 3);
  EXPECT_EQ(e.retry_after_ms, -1);
  EXPECT_NE(e.message.find("(after 3 attempts)"), std::string::npos) << e.message;
}

TEST_F(UpstreamFaults, ServerErrorThenSuccess) {
  UpstreamServer up([](const httplib::Request&, httplib::Response& res, int n) {
    if (n == 1) {
      res.status = 500;
      res.set_content("oops", "text/plain");
      return;
    }
    res.set_content(kReply, "application/json");
  });
  auto out = client_.chat(provider(up.url()), request());
  ASSERT_TRUE(std::holds_alternative<UpstreamResult>(out)) << std::get<UpstreamError>(out).message;
  EXPECT_EQ(std::get<UpstreamResult>(out).attempts, 2);
  EXPECT_EQ(up.count(), 2);
  EXPECT_EQ(client_.attempts_made(), 2);
}

TEST_F(UpstreamFaults, ConnectionDroppedBeforeFirstChunkIsRetried) {
  UpstreamServer up([](const httplib::Request&, httplib::Response& res, int n) {
    std::string body = std::string("data: ") + kChunk + "\n\ndata: [DONE]\n\n";
    test::sse_reply(res, body, {8}, 0, n == 1 ? 0 : -1);   // the first answer is cut before any byte
  });
  auto out = client_.chat_stream(provider(up.url()), request(), collect());
  ASSERT_TRUE(std::holds_alternative<UpstreamResult>(out)) << std::get<UpstreamError>(out).message;
  EXPECT_EQ(std::get<UpstreamResult>(out).attempts, 2);
  EXPECT_EQ(up.count(), 2);
  EXPECT_EQ(chunks_.size(), 1u);
}

TEST_F(UpstreamFaults, ResetMidStreamIsNotRetried) {
  std::string body;
  for (int i = 0; i < 3; ++i) body += std::string("data: ") + kChunk + "\n\n";
  size_t cut = body.size() - 10;   // inside the third event
  body += "data: [DONE]\n\n";
  UpstreamServer up([&](const httplib::Request&, httplib::Response& res, int) {
    test::sse_reply(res, body, {16}, 100, static_cast<long>(cut));
  });
  auto out = client_.chat_stream(provider(up.url()), request(), collect());
  const UpstreamError& e = error_of(out);
  EXPECT_EQ(e.kind, UpstreamErrorKind::reset_mid_stream) << e.message;
  EXPECT_TRUE(e.partial);
  EXPECT_EQ(e.attempts, 1);
  EXPECT_EQ(up.count(), 1);
  EXPECT_EQ(chunks_.size(), 2u);
}

TEST_F(UpstreamFaults, GarbageAndSchemaWrongBodiesAreMalformed) {
  std::atomic<int> which{0};
  UpstreamServer up([&](const httplib::Request&, httplib::Response& res, int) {
    if (which == 0) res.set_content("{\"choices\": [oops", "application/json");
    if (which == 1) res.set_content(R"({"choices": "none"})", "application/json");
    if (which == 2) test::sse_reply(res, std::string("data: ") + kChunk + "\n\ndata: <html>\n\n", {4});
    if (which == 3) res.set_content(R"({"type":"message","content":[{"type":"tool_use","input":{}}]})", "application/json");
  });
  auto out = client_.chat(provider(up.url()), request());
  EXPECT_EQ(error_of(out).kind, UpstreamErrorKind::malformed);
  EXPECT_NE(error_of(out).message.find("the reply is not JSON (17 bytes, content-type application/json)"), std::string::npos)
      << error_of(out).message;
  EXPECT_EQ(error_of(out).message.find("oops"), std::string::npos);   // says what, not the body
  EXPECT_EQ(error_of(out).attempts, 1);
  which = 1;
  out = client_.chat(provider(up.url()), request());
  EXPECT_NE(error_of(out).message.find("the reply has no \"choices\" array"), std::string::npos) << error_of(out).message;
  which = 2;
  out = client_.chat_stream(provider(up.url()), request(), collect());
  EXPECT_EQ(error_of(out).kind, UpstreamErrorKind::malformed);
  EXPECT_NE(error_of(out).message.find("event 2 of the stream is not JSON"), std::string::npos) << error_of(out).message;
  EXPECT_TRUE(error_of(out).partial);
  which = 3;
  out = client_.chat(provider(up.url(), ProviderKind::anthropic), request());
  EXPECT_EQ(error_of(out).kind, UpstreamErrorKind::malformed);
  EXPECT_NE(error_of(out).message.find("content[0]: a tool_use block without a string id and name"), std::string::npos)
      << error_of(out).message;
  EXPECT_EQ(up.count(), 4);
}

TEST_F(UpstreamFaults, StallPastTheTotalTimeout) {
  UpstreamServer* self = nullptr;
  UpstreamServer up([&](const httplib::Request&, httplib::Response& res, int) {
    self->stall(3000);
    res.set_content(kReply, "application/json");
  });
  self = &up;
  ProviderConfig p = provider(up.url());
  p.timeout_ms = 300;
  auto t0 = Clock::now();
  auto out = client_.chat(p, request());
  double ms = ms_since(t0);
  const UpstreamError& e = error_of(out);
  EXPECT_EQ(e.kind, UpstreamErrorKind::timeout) << e.message;
  EXPECT_NE(e.message.find("no complete reply within 300 ms"), std::string::npos) << e.message;
  EXPECT_EQ(e.attempts, 1);   // a timeout is not retried (the caller may fall back)
  EXPECT_GE(ms, 290);
  EXPECT_LT(ms, 1500);
}

TEST_F(UpstreamFaults, IdleStreamTimesOut) {
  UpstreamServer* self = nullptr;
  UpstreamServer up([&](const httplib::Request&, httplib::Response& res, int) {
    res.set_chunked_content_provider("text/event-stream", [&](size_t, httplib::DataSink& sink) {
      std::string ev = std::string("data: ") + kChunk + "\n\n";
      sink.write(ev.data(), ev.size());
      self->stall(5000);
      return false;
    });
  });
  self = &up;
  ProviderConfig p = provider(up.url());
  p.idle_timeout_ms = 200;
  auto t0 = Clock::now();
  auto out = client_.chat_stream(p, request(), collect());
  double ms = ms_since(t0);
  const UpstreamError& e = error_of(out);
  EXPECT_EQ(e.kind, UpstreamErrorKind::timeout) << e.message;
  EXPECT_NE(e.message.find("no data from the upstream for 200 ms"), std::string::npos) << e.message;
  EXPECT_TRUE(e.partial);
  EXPECT_EQ(chunks_.size(), 1u);
  EXPECT_GE(ms, 190);
  EXPECT_LT(ms, 1500);
}

TEST_F(UpstreamFaults, ClientErrorCarriesTheUpstreamMessageNotTheKey) {
  UpstreamServer up([](const httplib::Request& req, httplib::Response& res, int) {
    res.status = 401;
    json body = {{"error", {{"message", "Incorrect API key provided: " + req.get_header_value("Authorization").substr(7)},
                            {"type", "invalid_request_error"}}}};
    res.set_content(body.dump(), "application/json");
  });
  auto out = client_.chat(provider(up.url() + "/v1"), request());
  const UpstreamError& e = error_of(out);
  EXPECT_EQ(e.kind, UpstreamErrorKind::client_error);
  EXPECT_EQ(e.http_status, 401);
  EXPECT_FALSE(e.retryable());
  EXPECT_EQ(e.attempts, 1);
  EXPECT_EQ(e.message.find(kKey), std::string::npos) << e.message;
  EXPECT_EQ(e.message, "provider 'faulty' (" + up.url() + "/v1/chat/completions): HTTP 401: Incorrect API key provided: [redacted]");
}

// The retry log line quotes the upstream's message: the key it echoed is scrubbed there too.
TEST_F(UpstreamFaults, RetryLogNeverHoldsTheKey) {
  UpstreamServer up([](const httplib::Request& req, httplib::Response& res, int) {
    res.status = 503;
    res.set_content(json{{"error", {{"message", "overloaded for key " + req.get_header_value("Authorization")}}}}.dump(),
                    "application/json");
  });
  ProviderConfig p = provider(up.url());
  p.max_retries = 1;
  ::testing::internal::CaptureStderr();
  auto out = client_.chat(p, request());
  std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(error_of(out).kind, UpstreamErrorKind::server_error);
  EXPECT_EQ(up.count(), 2);
  EXPECT_NE(log.find("attempt 1 failed (server_error: HTTP 503: overloaded for key Bearer [redacted])"), std::string::npos) << log;
  EXPECT_EQ(log.find(kKey), std::string::npos) << log;
  EXPECT_EQ(error_of(out).message.find(kKey), std::string::npos) << error_of(out).message;
}

TEST_F(UpstreamFaults, MissingKeyVariableIsNamedAndNothingIsSent) {
  UpstreamServer up([](const httplib::Request&, httplib::Response& res, int) { res.set_content(kReply, "application/json"); });
  ::unsetenv(kKeyEnv);
  auto out = client_.chat(provider(up.url()), request());
  const UpstreamError& e = error_of(out);
  EXPECT_EQ(e.kind, UpstreamErrorKind::config);
  EXPECT_NE(e.message.find("environment variable LM_TEST_FAULTS_KEY is not set"), std::string::npos) << e.message;
  EXPECT_EQ(up.count(), 0);
}

TEST_F(UpstreamFaults, ConnectionRefusedIsRetriedThenReported) {
  std::string url;
  { UpstreamServer gone([](const httplib::Request&, httplib::Response&, int) {}); url = gone.url(); }
  ProviderConfig p = provider(url);
  p.max_retries = 1;
  auto out = client_.chat(p, request());
  const UpstreamError& e = error_of(out);
  EXPECT_EQ(e.kind, UpstreamErrorKind::connect) << e.message;
  EXPECT_EQ(e.attempts, 2);
  EXPECT_NE(e.message.find("cannot connect"), std::string::npos) << e.message;
}

// A listener that never accepts, its accept queue filled: further SYNs are dropped, so a connect
// hangs (the kernel's behaviour with tcp_abort_on_overflow = 0, the default).
TEST_F(UpstreamFaults, ConnectTimeoutIsAConnectError) {
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(lfd, 0), 0);
  socklen_t len = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {   // fill the accept queue (non-blocking connects)
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ProviderConfig p = provider("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));
  p.connect_timeout_ms = 200;
  p.max_retries = 0;
  auto t0 = Clock::now();
  auto out = client_.chat(p, request());
  double ms = ms_since(t0);
  for (int fd : fillers) ::close(fd);
  ::close(lfd);
  const UpstreamError& e = error_of(out);
  EXPECT_EQ(e.kind, UpstreamErrorKind::connect) << e.message;
  EXPECT_NE(e.message.find("connect timeout (200 ms)"), std::string::npos) << e.message;
  EXPECT_GE(ms, 190);
  EXPECT_LT(ms, 1500);
}

TEST_F(UpstreamFaults, CancelStopsAStalledCall) {
  UpstreamServer* self = nullptr;
  UpstreamServer up([&](const httplib::Request&, httplib::Response& res, int) {
    self->stall(3000);
    res.set_content(kReply, "application/json");
  });
  self = &up;
  auto t0 = Clock::now();
  CallOptions opts;
  opts.cancelled = [&] { return ms_since(t0) > 150; };
  auto out = client_.chat(provider(up.url()), request(), opts);
  EXPECT_EQ(error_of(out).kind, UpstreamErrorKind::cancelled);
  EXPECT_LT(ms_since(t0), 1500);
}

TEST_F(UpstreamFaults, ReceiverStopsTheStream) {
  UpstreamServer up([](const httplib::Request&, httplib::Response& res, int) {
    test::sse_reply(res, anthropic_sse(), {64});
  });
  int seen = 0;
  auto out = client_.chat_stream(provider(up.url(), ProviderKind::anthropic), request(),
                                 [&](const json&) { return ++seen < 2; });
  const UpstreamError& e = error_of(out);
  EXPECT_EQ(e.kind, UpstreamErrorKind::cancelled);
  EXPECT_TRUE(e.partial);
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(up.count(), 1);
}

TEST_F(UpstreamFaults, AnthropicOverloadedEventBeforeContentIsRetried) {
  UpstreamServer up([](const httplib::Request&, httplib::Response& res, int n) {
    if (n == 1) {
      test::sse_reply(res, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n", {9});
      return;
    }
    test::sse_reply(res, anthropic_sse(), {64});
  });
  auto out = client_.chat_stream(provider(up.url(), ProviderKind::anthropic), request(), collect());
  ASSERT_TRUE(std::holds_alternative<UpstreamResult>(out)) << std::get<UpstreamError>(out).message;
  EXPECT_EQ(std::get<UpstreamResult>(out).attempts, 2);
  EXPECT_EQ(chunks_.size(), expected_anthropic_chunks().size());
}

TEST_F(UpstreamFaults, OfflineModeSendsNothing) {
  UpstreamServer up([](const httplib::Request&, httplib::Response& res, int) { res.set_content(kReply, "application/json"); });
  egress::set_offline(true);
  auto out = client_.chat(provider(up.url()), request());
  const UpstreamError& e = error_of(out);
  EXPECT_EQ(e.kind, UpstreamErrorKind::offline);
  EXPECT_FALSE(e.retryable());
  EXPECT_EQ(e.attempts, 0);
  EXPECT_NE(e.message.find("offline mode: outbound connection to 127.0.0.1 refused"), std::string::npos) << e.message;
  out = client_.chat_stream(provider(up.url(), ProviderKind::anthropic), request(), collect());
  EXPECT_EQ(error_of(out).kind, UpstreamErrorKind::offline);
  EXPECT_EQ(client_.attempts_made(), 0);
  EXPECT_EQ(up.count(), 0);
  egress::set_offline(false);
  out = client_.chat(provider(up.url()), request());
  EXPECT_TRUE(std::holds_alternative<UpstreamResult>(out));
  EXPECT_EQ(up.count(), 1);
}

// The second line of defence: a curl handle with the guard cannot open a socket while offline,
// even when its caller forgot egress::check.
TEST_F(UpstreamFaults, SocketGuardRefusesEveryConnectionWhileOffline) {
  UpstreamServer up([](const httplib::Request&, httplib::Response& res, int) { res.set_content(kReply, "application/json"); });
  auto post = [&] {
    CURL* c = curl_easy_init();
    std::string url = up.url() + "/v1/chat/completions";
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, +[](char*, size_t s, size_t n, void*) { return s * n; });
    egress::guard_curl(c);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    return rc;
  };
  egress::set_offline(true);
  EXPECT_EQ(post(), CURLE_COULDNT_CONNECT);
  EXPECT_EQ(up.count(), 0);
  egress::set_offline(false);
  EXPECT_EQ(post(), CURLE_OK);
  EXPECT_EQ(up.count(), 1);
}

}  // namespace
}  // namespace lm::router
