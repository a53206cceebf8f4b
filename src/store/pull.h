// `localmax pull`: fetch a GGUF file from a Hugging Face-style hub into the store.
//
// Protocol (as huggingface.co serves it): GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true
// gives the commit ("sha") and the files ("siblings": rfilename, lfs.sha256, lfs.size); the file
// is GET {endpoint}/{repo}/resolve/{commit}/{file}, usually a 302 to a CDN, with X-Repo-Commit,
// X-Linked-Etag (the LFS sha256, quoted) and X-Linked-Size on the hub's answer.
// The download goes to tmp/<sha256>.partial, hashed while it streams; a cut connection is
// resumed with Range (an existing partial is re-hashed first), a 200 instead of 206 restarts it,
// and only a file whose sha256 matches the hub's is renamed into blobs/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "store/ref.h"
#include "store/store.h"

namespace lm::store {

struct PullOptions {
  std::string endpoint;     // "" : $HF_ENDPOINT or https://huggingface.co
  std::string token;        // "" : $HF_TOKEN (if set)
  std::string name;         // local name; "" : default_model_name()
  int retries = 5;          // automatic resumes after a dropped connection, within one pull
  int backoff_ms = -1;      // first retry delay, doubled each time; -1: $LOCALMAX_PULL_BACKOFF_MS or 1000
  bool progress = false;    // draw a progress bar on stderr (the caller checks isatty)
};

struct PullResult {
  Manifest manifest;
  bool downloaded = false;       // false when the blob was already in the store
  uint64_t bytes_received = 0;   // in this process (a resume receives less than the size)
  uint64_t resumed_from = 0;     // bytes of an existing partial that were kept
  double seconds = 0;
};

Result<PullResult> pull(const Store& store, const PullRef& ref, const PullOptions& opts);

// Picks the file of a listing that `ref` names (explicit file, quant tag, or the only .gguf);
// errors list the candidates.
Result<std::string> choose_file(const PullRef& ref, const std::vector<std::string>& files);

}  // namespace lm::store
