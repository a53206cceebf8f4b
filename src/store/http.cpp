#include "store/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "core/egress_curl.h"

namespace lm::store {

std::atomic<bool>& cancel_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}

std::string HttpResponse::header(const std::string& lower_name) const {
  for (const auto& h : hops) {
    auto it = h.find(lower_name);
    if (it != h.end()) return it->second;
  }
  return "";
}

namespace {

constexpr size_t kMaxBody = 64 << 10;

struct Transfer {
  CURL* curl = nullptr;
  HttpResponse resp;
  const Sink* sink = nullptr;
  const Progress* progress = nullptr;
  uint64_t received = 0;
  bool sink_failed = false;
};

std::string trim(std::string s) {
  auto sp = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!s.empty() && sp(s.back())) s.pop_back();
  size_t i = 0;
  while (i < s.size() && sp(s[i])) ++i;
  return s.substr(i);
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->resp.hops.emplace_back();
    t->resp.body.clear();   // a redirect's body is not the answer's
    t->received = 0;
    size_t sp = line.find(' ');
    t->resp.status = sp == std::string::npos ? 0 : std::atol(line.c_str() + sp + 1);
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != std::string::npos && !t->resp.hops.empty()) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    t->resp.hops.back()[name] = trim(line.substr(colon + 1));
  }
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * n;
  t->received += bytes;
  long status = t->resp.status;
  if (status >= 200 && status < 300 && *t->sink) {
    if (!(*t->sink)(status, t->resp, data, bytes)) {
      t->sink_failed = true;
      return 0;   // makes curl stop with CURLE_WRITE_ERROR
    }
    return bytes;
  }
  if (t->resp.body.size() < kMaxBody) t->resp.body.append(data, std::min(bytes, kMaxBody - t->resp.body.size()));
  return bytes;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (cancel_flag().load()) return 1;
  if (*t->progress) (*t->progress)(t->received);
  return 0;
}

bool is_connect_error(CURLcode c) {
  return c == CURLE_COULDNT_RESOLVE_HOST || c == CURLE_COULDNT_RESOLVE_PROXY || c == CURLE_COULDNT_CONNECT;
}

}  // namespace

Result<HttpResponse> http_get(const HttpRequest& req, const Sink& sink, const Progress& progress,
                              TransportError* transport) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (auto s = egress::check(req.url); !s.ok()) {   // offline mode: refused before curl starts
    if (transport) transport->message = s.error().message(), transport->connect_failed = true;
    return std::move(s).error();
  }
  Transfer t;
  t.sink = &sink;
  t.progress = &progress;
  t.curl = curl_easy_init();
  if (!t.curl) return Error("curl_easy_init failed");
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
  std::string range = "bytes=" + std::to_string(req.range_start) + "-";
  CURL* c = t.curl;
  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (req.range_start > 0) curl_easy_setopt(c, CURLOPT_RANGE, range.c_str() + 6);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "localmax/0.1.0");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);    // a stalled connection counts as dropped
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  egress::guard_curl(c);   // and no socket opens, should offline mode start mid-transfer
  CURLcode rc = curl_easy_perform(c);
  char* eff = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff) t.resp.effective_url = eff;
  curl_easy_cleanup(c);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    TransportError te;
    te.curl_code = static_cast<int>(rc);
    te.message = errbuf[0] ? trim(errbuf) : curl_easy_strerror(rc);
    te.connect_failed = is_connect_error(rc);
    te.cancelled = rc == CURLE_ABORTED_BY_CALLBACK;
    te.write_failed = t.sink_failed;
    if (te.cancelled) te.message = "interrupted";
    if (transport) *transport = te;
    return Error(te.message);
  }
  return std::move(t.resp);
}

}  // namespace lm::store
