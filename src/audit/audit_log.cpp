// AuditLog: the appending side (open, torn-tail repair, one write() per entry, head anchor).
#include "audit/audit_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/log.h"

namespace lm::audit {

namespace {

std::string errno_text() { return std::strerror(errno); }

// Holds an exclusive flock() for its lifetime.
class FileLock {
 public:
  explicit FileLock(int fd) : fd_(fd) {
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) { err_ = errno; break; }
    }
  }
  ~FileLock() { if (!err_) ::flock(fd_, LOCK_UN); }
  Status status() const {
    if (err_) return errorf("cannot lock the audit log: {}", std::strerror(err_));
    return Ok{};
  }

 private:
  int fd_;
  int err_ = 0;
};

Result<int64_t> file_size(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errorf("fstat: {}", errno_text());
  return static_cast<int64_t>(st.st_size);
}

Status read_at(int fd, int64_t off, size_t n, std::string& out) {
  out.resize(n);
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, out.data() + got, n - got, off + static_cast<int64_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return errorf("read: {}", r < 0 ? errno_text() : "unexpected end of file");
    got += static_cast<size_t>(r);
  }
  return Ok{};
}

// Offset just past the last '\n' before `end` (0 when none), scanning back in chunks.
Result<int64_t> line_start_before(int fd, int64_t end) {
  const int64_t chunk = 4096;
  std::string buf;
  for (int64_t hi = end; hi > 0;) {
    int64_t lo = std::max<int64_t>(0, hi - chunk);
    LM_TRY_STATUS(read_at(fd, lo, static_cast<size_t>(hi - lo), buf));
    auto p = buf.rfind('\n');
    if (p != std::string::npos) return lo + static_cast<int64_t>(p) + 1;
    hi = lo;
  }
  return int64_t{0};
}

Status write_all_once(int fd, const std::string& data) {
  ssize_t w;
  do {
    w = ::write(fd, data.data(), data.size());
  } while (w < 0 && errno == EINTR);
  if (w < 0) return errorf("write: {}", errno_text());
  if (static_cast<size_t>(w) != data.size())
    return errorf("short write ({} of {} bytes: disk full?)", w, data.size());
  return Ok{};
}

Status write_anchor(const std::string& log_path, int64_t seq, const std::string& hash,
                    const std::string& key, bool sync) {
  nlohmann::json j = {{"seq", seq}, {"hash", hash}};
  if (!key.empty())
    j["mac"] = compute_hash(fmt::format("localmax-audit-anchor\n{}\n{}", seq, hash), key);
  std::string data = j.dump() + "\n";
  std::string final_path = anchor_path(log_path);
  std::string tmp = fmt::format("{}.tmp.{}", final_path, ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return errorf("cannot create {}: {}", tmp, errno_text());
  Status s = write_all_once(fd, data);
  if (s.ok() && sync && ::fsync(fd) != 0) s = errorf("fsync {}: {}", tmp, errno_text());
  ::close(fd);
  if (s.ok() && ::rename(tmp.c_str(), final_path.c_str()) != 0)
    s = errorf("cannot rename {} to {}: {}", tmp, final_path, errno_text());
  if (!s.ok()) ::unlink(tmp.c_str());
  return std::move(s).wrap("writing the head anchor");
}

// Moves the bytes after the last '\n' (a torn write) to "<log>.torn" and cuts them off.
Result<std::string> repair_torn_tail(int fd, const std::string& path, int64_t size) {
  LM_TRY(int64_t start, line_start_before(fd, size));
  std::string torn;
  LM_TRY_STATUS(read_at(fd, start, static_cast<size_t>(size - start), torn));
  std::string torn_path = path + ".torn";
  int tfd = ::open(torn_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (tfd < 0) return errorf("cannot open {}: {}", torn_path, errno_text());
  Status s = write_all_once(tfd, torn + "\n");
  ::fsync(tfd);
  ::close(tfd);
  LM_TRY_STATUS(std::move(s));
  if (::ftruncate(fd, start) != 0) return errorf("cannot cut the torn tail: {}", errno_text());
  return fmt::format("cut a torn last line ({} bytes at offset {}: an interrupted write) into {}",
                     size - start, start, torn_path);
}

// The seq the head anchor records (0 when there is none or it is unreadable: verify reports that).
int64_t anchor_seq(const std::string& log_path) {
  int fd = ::open(anchor_path(log_path).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  std::string data(4096, '\0');
  ssize_t n = ::read(fd, data.data(), data.size());
  ::close(fd);
  if (n <= 0) return 0;
  data.resize(static_cast<size_t>(n));
  auto j = nlohmann::json::parse(data, nullptr, false);
  if (!j.is_object() || !j.contains("seq") || !j["seq"].is_number_integer()) return 0;
  return j["seq"].get<int64_t>();
}

}  // namespace

Result<std::unique_ptr<AuditLog>> AuditLog::open(AuditLogOptions opts) {
  if (opts.path.empty()) return Error("audit log: no path");
  if (!opts.clock) opts.clock = system_clock_ms;
  if (opts.fsync_every < 1) opts.fsync_every = 1;
  std::error_code ec;
  auto parent = std::filesystem::path(opts.path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) return errorf("audit log {}: cannot create {}: {}", opts.path, parent.string(), ec.message());
  std::unique_ptr<AuditLog> log(new AuditLog(std::move(opts)));
  const std::string& path = log->opts_.path;
  log->fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (log->fd_ < 0) return errorf("cannot open audit log {}: {}", path, errno_text());
  FileLock lock(log->fd_);
  LM_TRY_STATUS(lock.status());
  LM_TRY(int64_t size, file_size(log->fd_));
  LM_TRY_STATUS(log->load_tail(size).wrap("audit log " + path));
  // Appending after a deleted tail would overwrite the anchor that proves the deletion.
  log->anchored_seq_ = anchor_seq(path);
  if (log->anchored_seq_ > log->last_seq_) {
    return errorf("audit log {} ends at seq {} but its head anchor records seq {}: entries were "
                  "deleted (run `localmax audit verify`); refusing to append", path, log->last_seq_,
                  log->anchored_seq_);
  }
  if (!log->repaired_note_.empty()) lm::log::warn("audit log {}: {}", path, log->repaired_note_);
  return log;
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) {
    if (auto st = flush_anchor(); !st.ok()) lm::log::warn("audit log {}: {}", opts_.path, st.error().message());
    ::close(fd_);
  }
}

// Re-reads the chain tail (last seq and hash) from the file; repairs a torn last line.
// Caller holds the flock.
Status AuditLog::load_tail(int64_t size) {
  if (size > 0) {
    std::string last;
    LM_TRY_STATUS(read_at(fd_, size - 1, 1, last));
    if (last[0] != '\n') {
      LM_TRY(repaired_note_, repair_torn_tail(fd_, opts_.path, size));
      LM_TRY(size, file_size(fd_));
    }
  }
  last_seq_ = 0;
  last_hash_ = zero_hash();
  if (size > 0) {
    LM_TRY(int64_t start, line_start_before(fd_, size - 1));
    std::string line;
    LM_TRY_STATUS(read_at(fd_, start, static_cast<size_t>(size - 1 - start), line));
    auto e = parse_entry(line);
    if (!e.ok())
      return std::move(e).error().wrap("last entry unreadable (run `localmax audit verify`)");
    last_seq_ = e->seq;
    last_hash_ = e->hash;
  }
  known_size_ = size;
  return Ok{};
}

Result<AuditEntry> AuditLog::append(const AuditRecord& record) {
  std::lock_guard<std::mutex> guard(mu_);
  FileLock lock(fd_);
  LM_TRY_STATUS(lock.status());
  LM_TRY(int64_t size, file_size(fd_));
  if (size != known_size_) LM_TRY_STATUS(load_tail(size).wrap("audit log " + opts_.path));
  size = known_size_;

  AuditEntry e;
  e.record = record;
  e.seq = last_seq_ + 1;
  e.time_ms = opts_.clock();
  e.time = format_time_ms(e.time_ms);
  e.hash_alg = opts_.hmac_key.empty() ? "sha256" : "hmac-sha256";
  e.prev_hash = last_hash_;
  e.hash = compute_hash(canonical_json(e), opts_.hmac_key);
  std::string line = entry_line(e) + "\n";

  if (Status s = write_all_once(fd_, line); !s.ok()) {
    // Cut back whatever part reached the file, so the chain stays whole.
    if (::ftruncate(fd_, size) != 0) known_size_ = -1;
    return std::move(s).error().wrap(fmt::format("appending to audit log {}", opts_.path));
  }
  known_size_ = size + static_cast<int64_t>(line.size());
  last_seq_ = e.seq;
  last_hash_ = e.hash;
  // The anchor follows the fsync policy: replacing a file by rename costs ~1 ms on ext4 (it
  // starts writeback of the new file), so only `always` pays it on every entry.
  bool always = opts_.fsync == FsyncPolicy::always;
  bool checkpoint = always || ++since_fsync_ >= opts_.fsync_every;
  if (!checkpoint) return e;
  since_fsync_ = 0;
  if (opts_.fsync != FsyncPolicy::never && ::fsync(fd_) != 0)
    return errorf("fsync audit log {}: {}", opts_.path, errno_text());
  LM_TRY_STATUS(write_anchor(opts_.path, e.seq, e.hash, opts_.hmac_key, always));
  anchored_seq_ = e.seq;
  return e;
}

Status AuditLog::flush_anchor() {
  std::lock_guard<std::mutex> guard(mu_);
  if (last_seq_ <= anchored_seq_) return Ok{};
  FileLock lock(fd_);
  LM_TRY_STATUS(lock.status());
  LM_TRY(int64_t size, file_size(fd_));
  if (size != known_size_) return Ok{};  // another process appended since: its anchor is newer
  if (opts_.fsync != FsyncPolicy::never && ::fsync(fd_) != 0)
    return errorf("fsync audit log {}: {}", opts_.path, errno_text());
  LM_TRY_STATUS(write_anchor(opts_.path, last_seq_, last_hash_, opts_.hmac_key, opts_.fsync != FsyncPolicy::never));
  anchored_seq_ = last_seq_;
  since_fsync_ = 0;
  return Ok{};
}

}  // namespace lm::audit
