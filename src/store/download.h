// Resumable, verified download of one file into a partial file (used by pull).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace lm::store {

struct DownloadSpec {
  std::string url;
  std::vector<std::string> headers;
  std::string partial_path;      // kept on failure (resumable) except on a digest mismatch
  std::string expected_sha256;   // "" : taken from X-Linked-Etag, else whatever arrives
  uint64_t expected_size = 0;    // 0 : unknown
  int retries = 5;
  int backoff_ms = 1000;
  bool progress = false;
  std::string endpoint;          // for "cannot reach" messages
  std::string label;             // "OWNER/REPO/FILE" for messages
};

struct DownloadOutcome {
  std::string sha256;            // verified against the expected digest when one was known
  bool verified = false;         // false only when the hub gave no digest at all
  uint64_t size = 0;
  uint64_t received = 0;         // bytes received by this process
  uint64_t resumed_from = 0;     // bytes of a partial from an earlier process that were kept
  std::string commit;            // X-Repo-Commit, if the hub sent it
};

// Downloads (or finishes) spec.partial_path. On success the partial holds exactly the file and
// its sha256 matches; the caller renames it into place. HTTP errors are returned with their
// status in the message (prefixed "HTTP <n>") so the caller can phrase them.
struct HttpStatusError {
  long status = 0;
};
Result<DownloadOutcome> download_verified(const DownloadSpec& spec, HttpStatusError* http_status);

// Free bytes for an unprivileged user on the filesystem of `dir`.
Result<uint64_t> free_space(const std::string& dir);

}  // namespace lm::store
