#include "router/upstream_http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>

#include "core/egress_curl.h"

namespace lm::router {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxErrorBody = 64u << 10;
constexpr size_t kMaxPooled = 16;

struct Transfer {
  const HttpPost* req = nullptr;
  HttpOutcome out;
  Clock::time_point last_byte;
};

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  return std::string(s);
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  t->last_byte = Clock::now();
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {   // a new response (after a 100 Continue, say)
    t->out.headers.clear();
    size_t sp = line.find(' ');
    t->out.status = sp == std::string_view::npos ? 0 : std::atol(std::string(line.substr(sp + 1, 3)).c_str());
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    t->out.headers[name] = trim(line.substr(colon + 1));
  }
  return size * n;
}

size_t on_write(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * n;
  t->last_byte = Clock::now();
  bool ok_status = t->out.status >= 200 && t->out.status < 300;
  if (ok_status && t->req->on_body) {
    if (!t->req->on_body(std::string_view(data, bytes))) {
      t->out.body_stopped = true;
      return 0;   // CURLE_WRITE_ERROR
    }
    return bytes;
  }
  size_t cap = ok_status ? t->req->max_body : kMaxErrorBody;
  if (t->out.body.size() + bytes > cap) {
    if (ok_status) {
      t->out.too_large = true;
      return 0;
    }
    t->out.body.append(data, cap - t->out.body.size());   // an error body: keep its head
    return bytes;
  }
  t->out.body.append(data, bytes);
  return bytes;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->req->cancelled && t->req->cancelled()) {
    t->out.cancelled = true;
    return 1;
  }
  if (t->req->idle_timeout_ms > 0 &&
      Clock::now() - t->last_byte > std::chrono::milliseconds(t->req->idle_timeout_ms)) {
    t->out.idle_timed_out = true;
    return 1;
  }
  return 0;
}

void configure(CURL* c, const HttpPost& req, Transfer* t, curl_slist* headers) {
  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "localmax/0.1.0");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);   // an API does not redirect a POST
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");   // gzip etc., decoded by curl
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout_ms));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout_ms));
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, t);
  egress::guard_curl(c);
}

}  // namespace

CurlPool::~CurlPool() {
  for (void* c : idle_) curl_easy_cleanup(static_cast<CURL*>(c));
}

void* CurlPool::acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      void* c = idle_.back();
      idle_.pop_back();
      return c;
    }
  }
  return curl_easy_init();
}

void CurlPool::release(void* curl) {
  if (!curl) return;
  curl_easy_reset(static_cast<CURL*>(curl));   // keeps the connection and DNS caches
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < kMaxPooled) {
    idle_.push_back(curl);
    return;
  }
  curl_easy_cleanup(static_cast<CURL*>(curl));
}

HttpOutcome http_post(CurlPool& pool, const HttpPost& req) {
  Transfer t;
  t.req = &req;
  t.last_byte = Clock::now();
  CURL* c = static_cast<CURL*>(pool.acquire());
  if (!c) {
    t.out.curl_code = CURLE_FAILED_INIT;
    t.out.curl_error = "curl_easy_init failed";
    return t.out;
  }
  curl_slist* headers = nullptr;
  for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
  headers = curl_slist_append(headers, "Expect:");   // no 100-continue round trip
  char errbuf[CURL_ERROR_SIZE] = {0};
  configure(c, req, &t, headers);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  CURLcode rc = curl_easy_perform(c);
  curl_off_t connect_us = 0;
  curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connect_us);
  t.out.connected = connect_us > 0 || t.out.status > 0;
  t.out.curl_code = static_cast<int>(rc);
  if (rc != CURLE_OK) t.out.curl_error = errbuf[0] ? trim(errbuf) : curl_easy_strerror(rc);
  curl_slist_free_all(headers);
  pool.release(c);
  return t.out;
}

int64_t parse_retry_after(const std::map<std::string, std::string>& headers) {
  if (auto it = headers.find("retry-after-ms"); it != headers.end()) {
    char* end = nullptr;
    double ms = std::strtod(it->second.c_str(), &end);
    if (end != it->second.c_str() && ms >= 0 && ms < 1e12) return static_cast<int64_t>(ms);
  }
  auto it = headers.find("retry-after");
  if (it == headers.end() || it->second.empty()) return -1;
  const std::string& v = it->second;
  if (std::all_of(v.begin(), v.end(), [](unsigned char ch) { return std::isdigit(ch); })) {
    if (v.size() > 9) return -1;
    return std::stoll(v) * 1000;
  }
  time_t when = curl_getdate(v.c_str(), nullptr);   // RFC 7231 HTTP-date (and the obsolete forms)
  if (when == -1) return -1;
  time_t now = std::time(nullptr);
  return when <= now ? 0 : static_cast<int64_t>(when - now) * 1000;
}

}  // namespace lm::router
