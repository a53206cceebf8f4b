// Hash-chained, append-only audit log of routing decisions (JSON Lines), for the router.
//
// Usage (router):
//   LM_TRY(auto log, audit::AuditLog::open({.path = "audit.jsonl", .hmac_key = key}));
//   audit::AuditRecord r; r.request_id = ...; r.rule = "pii-stays-local"; r.route = "local"; ...
//   if (auto s = log->append(r); !s.ok()) -> refuse the request (fail closed): the decision
//                                            could not be recorded.
//   audit::verify_log(path, opts) -> VerifyReport (what `localmax audit verify` prints).
//
// File format: one JSON object per line, '\n'-terminated, written with one write() each:
//   {"cost_usd":..,"destination":..,"detectors":{"email":2},"error":..,"fallback":..,"hash":"<hex>",
//    "hash_alg":"sha256"|"hmac-sha256","key":..,"latency_ms":..,"model":..,"prev_hash":"<hex>",
//    "request_id":..,"request_sha256":..,"route":..,"rule":..,"seq":N,"time":"2026-..Z",
//    "time_ms":N,"tokens_cached":N,"tokens_in":N,"tokens_out":N}
// seq starts at 1; the first entry's prev_hash is 64 '0'. Detectors are kinds and counts only:
// the sensitive text never reaches this module.
//
// Canonical serialisation (the bytes hashed): the entry object without its "hash" member,
// keys sorted by their UTF-8 bytes, no whitespace between tokens, strings as UTF-8 (invalid
// bytes replaced by U+FFFD) escaping only '"', '\\' and control characters (\b \f \n \r \t,
// else \u00XX), integers in decimal, other numbers in the shortest decimal that reads back to
// the same double (nlohmann::json::dump(-1) of the parsed object, which is this).
// hash = hex(SHA-256(canonical)), or hex(HMAC-SHA256(key, canonical)) when a key is set
// (hash_alg says which; a verifier given a key rejects "sha256" entries).
//
// Head anchor: "<log>.head" holds {"seq":N,"hash":"<hex of entry N>"[,"mac":..]}, replaced
// atomically (temp file + rename) at each fsync checkpoint (FsyncPolicy) and on close, so
// deleting entries at the tail is caught.
// With a key the anchor carries mac = HMAC(key, "localmax-audit-anchor\n<seq>\n<hash>").
// Limitation: someone who can write both files can restore an older log+anchor pair; only an
// external copy of the anchor (or the HMAC key kept elsewhere) defends against that.
//
// Thread- and process-safety: appends hold a mutex and an exclusive flock() on the log file;
// the chain tail is re-read from the file when another process has appended since.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace lm::audit {

// One routing decision, as the router fills it in. Strings may be empty.
struct AuditRecord {
  std::string request_id{};
  std::string key{};            // API key *name* the request came with (never the secret)
  std::string rule{};           // policy rule that fired
  std::map<std::string, int64_t> detectors{};  // detector kind -> number of hits
  std::string route{};          // "local", "upstream" or "refused"
  std::string destination{};    // local model name or upstream name
  std::string model{};          // model that served (or would have served) the request
  int64_t tokens_in = 0;      // prompt tokens, cached ones included
  int64_t tokens_cached = 0;  // prompt tokens served from a cache
  int64_t tokens_out = 0;
  double cost_usd = 0;        // actual cost (hosted price, or local energy+hardware)
  int64_t latency_ms = 0;
  std::string request_sha256{}; // hex SHA-256 of the request body
  std::string error{};          // "" when the request succeeded
  std::string fallback{};       // e.g. "upstream-a 429 -> upstream-b"; "" when none
};

// A stored entry: the record plus the chain fields.
struct AuditEntry {
  AuditRecord record;
  int64_t seq = 0;
  int64_t time_ms = 0;        // Unix time in milliseconds (UTC)
  std::string time{};           // RFC 3339 UTC, millisecond precision
  std::string hash_alg{};
  std::string prev_hash{};
  std::string hash{};
};

// The head anchor is rewritten at the same checkpoints, and on close (flush_anchor): between
// checkpoints a deleted tail of up to fsync_every - 1 entries cannot be told from an anchor left
// behind by a crash (verify reports it as a note).
enum class FsyncPolicy {
  always,    // fsync the log and rewrite the anchor after every entry: durable, ~1-10 ms each
  periodic,  // fsync and rewrite the anchor every `fsync_every` entries
  never,     // no fsync; the anchor is rewritten every `fsync_every` entries
};

// Milliseconds since the Unix epoch (UTC); tests inject a fake.
using Clock = std::function<int64_t()>;
int64_t system_clock_ms();

struct AuditLogOptions {
  std::string path{};
  std::string hmac_key{};       // "" = plain SHA-256 chain
  FsyncPolicy fsync = FsyncPolicy::always;
  int fsync_every = 64;
  Clock clock{};                // default: system_clock_ms
};

// An open log. Owns its file descriptor; all methods are thread-safe; append() costs one
// write() plus, at the policy's checkpoints, an fsync and an anchor rename.
class AuditLog {
 public:
  // Opens (creating it and its folder if needed) the log for appending. A torn last line
  // (a crash mid-write) is moved to "<log>.torn" and cut off, so new entries chain onto the
  // last complete one; anything else wrong is an error (run verify).
  static Result<std::unique_ptr<AuditLog>> open(AuditLogOptions opts);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends one entry. A write error (disk full, I/O error) returns an Error after cutting
  // back any partial bytes: the caller must refuse the request.
  Result<AuditEntry> append(const AuditRecord& record);

  // Rewrites the head anchor for the last entry now (also done by the destructor).
  Status flush_anchor();

  const std::string& path() const { return opts_.path; }
  // Set when open() cut a torn tail: a sentence saying where the bytes went.
  const std::string& repaired_note() const { return repaired_note_; }

 private:
  explicit AuditLog(AuditLogOptions opts) : opts_(std::move(opts)) {}
  Status load_tail(int64_t file_size);

  AuditLogOptions opts_;
  int fd_ = -1;
  std::mutex mu_;
  int64_t last_seq_ = 0;
  std::string last_hash_{};
  int64_t known_size_ = -1;   // file size after our last append (-1: re-read the tail)
  int since_fsync_ = 0;
  int64_t anchored_seq_ = 0;  // seq the anchor file records (as far as this process knows)
  std::string repaired_note_{};
};

// ---- entries <-> JSON (audit_entry.cpp) ----
std::string zero_hash();
std::string format_time_ms(int64_t ms);        // "2026-06-01T12:00:00.000Z"
Result<int64_t> parse_time(const std::string& s);  // "2026-06-01", "...T12:00:00[.mmm]Z"
std::string canonical_json(const AuditEntry& e);    // the hashed bytes (see above)
std::string compute_hash(const std::string& canonical, const std::string& hmac_key);
std::string entry_line(const AuditEntry& e);        // canonical + hash, without '\n'
// Parses one line (without '\n'). canonical, when given, receives the canonical form of the
// line as stored (what its hash must cover), which differs from canonical_json(entry) only when
// the line was edited into a non-canonical shape.
Result<AuditEntry> parse_entry(const std::string& line, std::string* canonical = nullptr);
// An AuditRecord from a JSON object with any of its member names (missing ones stay empty);
// unknown members are errors. For tests and `localmax audit append`.
Result<AuditRecord> parse_record(const std::string& json_text);
// Reads the HMAC key: the key file's contents (one trailing newline dropped) when path is
// set, else the LOCALMAX_AUDIT_KEY environment variable, else "".
Result<std::string> load_hmac_key(const std::string& key_file);
// Default log path: $LOCALMAX_AUDIT_LOG, else <localmax home>/audit/audit.jsonl.
Result<std::string> default_log_path();
std::string anchor_path(const std::string& log_path);

// ---- verification (audit_verify.cpp) ----
enum class VerifyStatus { intact, torn_tail, broken };

struct VerifyOptions {
  std::string hmac_key{};
  bool require_anchor = true;
};

struct VerifyReport {
  VerifyStatus status = VerifyStatus::intact;
  int64_t entries = 0;          // complete, valid entries read
  int64_t last_seq = 0;
  std::string last_hash{};
  int64_t first_bad_line = 0;   // 1-based line of the first problem (0 = none)
  int64_t first_bad_seq = 0;    // its seq when known
  std::string problem{};          // what is wrong, one sentence ("" when intact)
  std::vector<std::string> notes{};  // non-fatal remarks (anchor behind after a crash, ...)
  std::string summary() const;  // the one-line verdict `audit verify` prints
};

// Reads and checks the whole log and its anchor. An Error only when the file cannot be read.
Result<VerifyReport> verify_log(const std::string& path, const VerifyOptions& opts);

// ---- reading and filtering (audit_query.cpp) ----
struct AuditFilter {
  std::optional<int64_t> since_ms{}, until_ms{};  // since <= time_ms < until
  std::string route{}, rule{}, model{}, destination{}, detector{}, key{};
  int64_t limit = 0;  // 0 = all; otherwise the last `limit` matching entries
};
bool matches(const AuditEntry& e, const AuditFilter& f);
// Parses every complete line (a torn last line is skipped; a bad middle line is an Error).
Result<std::vector<AuditEntry>> read_entries(const std::string& path);

}  // namespace lm::audit
