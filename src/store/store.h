// The local model store: content-addressed blobs plus one JSON manifest per model name.
//
// Layout under the store root ($LOCALMAX_HOME, else $XDG_DATA_HOME/localmax, else
// ~/.local/share/localmax):
//   blobs/sha256-<hex>       complete, verified files; read-only (0444) once in place
//   manifests/<name>.json    one per model; the name percent-encoded (see Manifest)
//   tmp/                     partial downloads (<key>.partial) and their .lock files; on the
//                            same filesystem as blobs/ so completion is an atomic rename
//   verified/sha256-<hex>    stamps "size mtime_ns" of blobs whose hash was checked on load
//
// A Store is a few paths; it holds no open files. Concurrent processes coordinate through
// flock on tmp/<key>.lock (see BlobLock) and atomic renames; a manifest is replaced whole.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace lm::store {

struct Manifest {
  std::string name;
  std::string endpoint;   // hub base URL it came from
  std::string repo;       // OWNER/REPO
  std::string file;       // path in the repo
  std::string revision;   // as asked (branch, tag or commit)
  std::string commit;     // commit the revision resolved to ("" if the hub did not say)
  std::string digest;     // 64 lowercase hex (sha256 of the blob)
  uint64_t size = 0;
  std::string pulled_at;  // UTC, ISO 8601
};

std::string manifest_to_json(const Manifest& m);
// `what` names the source in errors (a file path).
Result<Manifest> manifest_from_json(std::string_view text, std::string_view what);

class Store {
 public:
  // The default root from the environment (see above). Does not create anything.
  static Result<Store> open_default();
  explicit Store(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  std::string blobs_dir() const { return root_ + "/blobs"; }
  std::string manifests_dir() const { return root_ + "/manifests"; }
  std::string tmp_dir() const { return root_ + "/tmp"; }
  std::string blob_path(std::string_view digest) const;   // digest: 64 hex
  std::string manifest_path(std::string_view name) const;

  // Creates the folders (mode 0755) if missing.
  Status ensure_dirs() const;

  bool has_blob(std::string_view digest) const;
  // Full digests of the blobs whose digest starts with `prefix` (lowercase hex).
  std::vector<std::string> find_blobs(std::string_view prefix) const;

  // Manifests. read_manifest returns nullopt when the name is absent, an error when the file is
  // unreadable or corrupt. list_manifests skips nothing silently: corrupt ones are returned in
  // `errors` (one message each) so `ls` can report them.
  Result<std::optional<Manifest>> read_manifest(std::string_view name) const;
  Status write_manifest(const Manifest& m) const;   // atomic (temporary file + rename)
  std::vector<Manifest> list_manifests(std::vector<std::string>* errors = nullptr) const;

  // Removes a manifest, and its blob when no other manifest refers to it. Returns whether the
  // blob was removed.
  Result<bool> remove_model(const Manifest& m) const;

  // Verification stamps: whether `digest`'s blob was hashed while it had its current size and
  // mtime; mark_verified records that it was.
  bool verified_stamp_matches(std::string_view digest) const;
  void mark_verified(std::string_view digest) const;

 private:
  std::string root_;
};

// An exclusive flock on tmp/<key>.lock, released on destruction. Blocking acquire; `on_wait`
// is called once if another process holds the lock.
class BlobLock {
 public:
  static Result<BlobLock> acquire(const Store& store, std::string_view key, void (*on_wait)(std::string_view));
  BlobLock(BlobLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  BlobLock& operator=(BlobLock&&) = delete;
  ~BlobLock();

 private:
  explicit BlobLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Resolves a -m argument to a file path: an existing path is returned as is; otherwise a store
// name, NAME@sha256:<hex> (pinned: the manifest must point at that digest and the blob is
// hashed unless a verification stamp matches) or sha256:<hex-prefix> (unique blob).
Result<std::string> resolve_model(std::string_view ref);
Result<std::string> resolve_model(const Store& store, std::string_view ref);

// "2026-11-21T19:30:00Z" for now.
std::string utc_now_iso8601();

}  // namespace lm::store
