#include "store/download.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstring>
#include <thread>

#include "core/log.h"
#include "store/http.h"
#include "store/sha256.h"

namespace lm::store {

namespace {

using Clock = std::chrono::steady_clock;

std::string mb(uint64_t bytes) { return fmt::format("{:.1f} MB", bytes / 1e6); }

// The partial file and the hash of its bytes so far. Owns the descriptor.
class PartialFile {
 public:
  static Result<PartialFile> open(const std::string& path, uint64_t expected_size) {
    PartialFile p;
    p.path_ = path;
    p.fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (p.fd_ < 0) return errorf("cannot open {}: {}", path, std::strerror(errno));
    struct stat st;
    if (::fstat(p.fd_, &st) != 0) return errorf("cannot stat {}: {}", path, std::strerror(errno));
    p.size_ = static_cast<uint64_t>(st.st_size);
    if (expected_size > 0 && p.size_ > expected_size) LM_TRY_STATUS(p.restart());
    if (p.size_ > 0) {   // re-hash what an earlier attempt left
      LM_TRY(uint64_t n, hash_file_into(path, p.hash_, p.size_));
      if (n != p.size_) return errorf("{} shrank while being read", path);
    }
    return p;
  }
  PartialFile() = default;
  PartialFile(PartialFile&& o) noexcept
      : path_(std::move(o.path_)), fd_(o.fd_), size_(o.size_), hash_(std::move(o.hash_)), errno_(o.errno_) {
    o.fd_ = -1;
  }
  ~PartialFile() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool append(const char* data, size_t n) {
    while (n > 0) {
      ssize_t w = ::pwrite(fd_, data, n, static_cast<off_t>(size_));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        errno_ = w < 0 ? errno : ENOSPC;
        return false;
      }
      hash_.update(data, static_cast<size_t>(w));
      size_ += static_cast<uint64_t>(w);
      data += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }
  Status restart() {
    if (::ftruncate(fd_, 0) != 0) return errorf("cannot truncate {}: {}", path_, std::strerror(errno));
    size_ = 0;
    hash_.reset();
    return Ok{};
  }
  Status sync() {
    if (::fsync(fd_) != 0) return errorf("cannot sync {}: {}", path_, std::strerror(errno));
    return Ok{};
  }
  uint64_t size() const { return size_; }
  int write_errno() const { return errno_; }
  std::string digest() { return hash_.final_hex(); }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  Sha256 hash_;
  int errno_ = 0;
};

// "\r 45.2%  12.3/27.3 MB  5.6 MB/s  ETA 3s" on stderr, at most 5 times a second.
class ProgressBar {
 public:
  ProgressBar(bool enabled, uint64_t total, uint64_t start_bytes)
      : enabled_(enabled), total_(total), start_bytes_(start_bytes), start_(Clock::now()) {}
  void update(uint64_t done, bool force = false) {
    if (!enabled_) return;
    auto now = Clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    double rate = secs > 0 ? (done - std::min(done, start_bytes_)) / secs : 0;
    std::string line;
    if (total_ > 0) {
      double pct = 100.0 * done / total_;
      std::string eta = rate > 0 ? fmt::format("{:.0f}s", (total_ - std::min(done, total_)) / rate) : "?";
      line = fmt::format("\r{:5.1f}%  {:.1f}/{:.1f} MB  {:.2f} MB/s  ETA {}   ", pct, done / 1e6, total_ / 1e6,
                         rate / 1e6, eta);
    } else {
      line = fmt::format("\r{:.1f} MB  {:.2f} MB/s   ", done / 1e6, rate / 1e6);
    }
    fmt::print(stderr, "{}", line);
    std::fflush(stderr);
    drawn_ = true;
  }
  void finish() {
    if (drawn_) fmt::print(stderr, "\n");
    drawn_ = false;
  }

 private:
  bool enabled_;
  uint64_t total_, start_bytes_;
  Clock::time_point start_, last_{};
  bool drawn_ = false;
};

std::string etag_sha256(std::string v) {
  if (v.rfind("W/", 0) == 0) v = v.substr(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return is_sha256_hex(v) ? v : "";
}

// Start offset of "bytes START-END/TOTAL", or -1.
int64_t content_range_start(const std::string& v) {
  if (v.rfind("bytes ", 0) != 0) return -1;
  char* end = nullptr;
  long long s = std::strtoll(v.c_str() + 6, &end, 10);
  return end && *end == '-' ? s : -1;
}

enum class Outcome { kDone, kRetry, kFail };

struct AttemptState {
  std::string expected_sha256;
  uint64_t expected_size = 0;
  std::string commit;
  uint64_t received = 0;
  std::string why;   // for kRetry/kFail
  long http_status = 0;
};

Outcome attempt(const DownloadSpec& spec, PartialFile& part, AttemptState& st, ProgressBar& bar) {
  HttpRequest req{spec.url, spec.headers, part.size()};
  bool first = true;
  std::string sink_error;
  Sink sink = [&](long status, const HttpResponse& head, const char* data, size_t n) {
    if (first) {
      first = false;
      if (st.expected_sha256.empty()) st.expected_sha256 = etag_sha256(head.header("x-linked-etag"));
      if (st.commit.empty()) st.commit = head.header("x-repo-commit");
      if (st.expected_size == 0) st.expected_size = std::strtoull(head.header("x-linked-size").c_str(), nullptr, 10);
      if (status == 200 && part.size() > 0) {
        log::warn("{}: the server ignored the range request; restarting from the beginning", spec.label);
        if (auto s = part.restart(); !s.ok()) return sink_error = s.error().message(), false;
      } else if (status == 206 && content_range_start(head.hops.back().count("content-range")
                                                          ? head.hops.back().at("content-range") : "") !=
                                      static_cast<int64_t>(part.size())) {
        sink_error = "the server answered a different range than asked";
        return false;
      }
    }
    st.received += n;
    if (!part.append(data, n)) return false;
    bar.update(part.size());
    return true;
  };
  TransportError te;
  auto resp = http_get(req, sink, [&](uint64_t) { bar.update(part.size()); }, &te);
  if (!resp.ok()) {
    if (te.cancelled) return st.why = "interrupted", Outcome::kFail;
    if (!sink_error.empty()) return st.why = sink_error, Outcome::kRetry;
    if (te.write_failed) {
      st.why = fmt::format("writing {}: {}", spec.partial_path, std::strerror(part.write_errno()));
      return Outcome::kFail;
    }
    st.why = te.connect_failed ? fmt::format("cannot reach {}: {}", spec.endpoint, te.message) : te.message;
    return Outcome::kRetry;
  }
  st.http_status = resp->status;
  if (resp->status == 416 && part.size() > 0) {   // the partial is longer than the file: restart
    (void)part.restart();
    return st.why = "HTTP 416 for the resumed range", Outcome::kRetry;
  }
  if (resp->status >= 500 || resp->status == 429 || resp->status == 408) {
    return st.why = fmt::format("HTTP {}", resp->status), Outcome::kRetry;
  }
  if (resp->status >= 300) return st.why = fmt::format("HTTP {}", resp->status), Outcome::kFail;
  if (st.expected_size > 0 && part.size() < st.expected_size) {
    return st.why = fmt::format("connection closed at {} of {} bytes", part.size(), st.expected_size), Outcome::kRetry;
  }
  return Outcome::kDone;
}

void sleep_unless_cancelled(int ms) {
  auto until = Clock::now() + std::chrono::milliseconds(ms);
  while (Clock::now() < until && !cancel_flag().load()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

}  // namespace

Result<uint64_t> free_space(const std::string& dir) {
  struct statvfs vs;
  if (::statvfs(dir.c_str(), &vs) != 0) return errorf("statvfs {}: {}", dir, std::strerror(errno));
  return static_cast<uint64_t>(vs.f_bavail) * vs.f_frsize;
}

Result<DownloadOutcome> download_verified(const DownloadSpec& spec, HttpStatusError* http_status) {
  LM_TRY(PartialFile part, PartialFile::open(spec.partial_path, spec.expected_size));
  DownloadOutcome out;
  out.resumed_from = part.size();
  AttemptState st;
  st.expected_sha256 = spec.expected_sha256;
  st.expected_size = spec.expected_size;
  ProgressBar bar(spec.progress, spec.expected_size, part.size());
  bool complete = spec.expected_size > 0 && part.size() == spec.expected_size;
  for (int i = 0; !complete; ++i) {
    Outcome o = attempt(spec, part, st, bar);
    if (o == Outcome::kDone) break;
    bar.finish();
    if (o == Outcome::kFail || i >= spec.retries || cancel_flag().load()) {
      if (http_status) http_status->status = st.http_status;
      std::string kept = part.size() > 0 ? fmt::format("; {} of it is kept in {}: run the same pull again to resume",
                                                       mb(part.size()), spec.partial_path) : "";
      if (o == Outcome::kRetry) return errorf("{}: {} (gave up after {} retries){}", spec.label, st.why, spec.retries, kept);
      return errorf("{}: {}{}", spec.label, st.why, kept);
    }
    int delay = spec.backoff_ms << std::min(i, 10);
    log::warn("{}: {} at {}; retrying in {:.1f}s ({}/{})", spec.label, st.why, mb(part.size()), delay / 1000.0,
              i + 1, spec.retries);
    sleep_unless_cancelled(delay);
  }
  bar.update(part.size(), true);
  bar.finish();
  LM_TRY_STATUS(part.sync());
  out.size = part.size();
  out.received = st.received;
  out.commit = st.commit;
  out.sha256 = part.digest();
  bool size_bad = st.expected_size > 0 && out.size != st.expected_size;
  if (!st.expected_sha256.empty() && (out.sha256 != st.expected_sha256 || size_bad)) {
    ::unlink(spec.partial_path.c_str());
    return errorf("{}: digest mismatch: expected sha256:{} got sha256:{} ({} bytes); the download was deleted",
                  spec.label, st.expected_sha256, out.sha256, out.size);
  }
  out.verified = !st.expected_sha256.empty();
  return out;
}

}  // namespace lm::store
