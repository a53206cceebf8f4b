#include "store/pull.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/log.h"
#include "store/download.h"
#include "store/http.h"
#include "store/sha256.h"

namespace lm::store {

namespace {

using Clock = std::chrono::steady_clock;

struct Sibling {
  std::string file;
  std::string sha256;   // "" when the hub gave none (not an LFS file)
  uint64_t size = 0;    // 0 when unknown
};

struct Listing {
  std::string commit;
  std::vector<Sibling> files;
};

struct Hub {
  std::string endpoint;
  std::string token;

  std::vector<std::string> headers() const {
    std::vector<std::string> h;
    if (!token.empty()) h.push_back("Authorization: Bearer " + token);
    return h;
  }
};

std::string env_or(const char* name, std::string def) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : def;
}

std::string mb(uint64_t bytes) { return fmt::format("{:.1f} MB", bytes / 1e6); }

void say_waiting(std::string_view lock) {
  log::warn("another pull of the same file holds {}; waiting for it", lock);
}

Error unreachable(const Hub& hub, const TransportError& te) {
  return errorf("cannot reach {}: {}; check the network or set HF_ENDPOINT", hub.endpoint, te.message);
}

// A clear message for an HTTP error answer. `what` names the repo or file.
Error http_error(const Hub& hub, long status, const std::string& repo, const std::string& what) {
  if (status == 401) {
    return errorf("{}: authentication required (HTTP 401): the repository is private or gated{}", what,
                  hub.token.empty() ? "; set HF_TOKEN to an access token of an account that can read it"
                                    : ", and HF_TOKEN was rejected or lacks access");
  }
  if (status == 403) {
    return errorf("{}: access denied (HTTP 403): the repository is gated; accept its conditions at {}/{} "
                  "and set HF_TOKEN to a token of that account", what, hub.endpoint, repo);
  }
  if (status == 404) {
    return errorf("{}: not found (HTTP 404) at {}: check the repository, file and revision names{}", what,
                  hub.endpoint, hub.token.empty() ? " (a private repository also needs HF_TOKEN)" : "");
  }
  return errorf("{}: the hub answered HTTP {}", what, status);
}

Result<Listing> parse_listing(const std::string& body) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    return errorf("invalid JSON in the repository listing: {}", e.what());
  }
  if (!j.is_object() || !j.contains("siblings") || !j["siblings"].is_array())
    return Error("the repository listing has no \"siblings\" array");
  Listing out;
  if (j.contains("sha") && j["sha"].is_string()) out.commit = j["sha"];
  for (const auto& s : j["siblings"]) {
    if (!s.is_object() || !s.contains("rfilename") || !s["rfilename"].is_string()) continue;
    Sibling sib;
    sib.file = s["rfilename"];
    if (s.contains("lfs") && s["lfs"].is_object()) {
      const auto& lfs = s["lfs"];
      if (lfs.contains("sha256") && lfs["sha256"].is_string()) sib.sha256 = lfs["sha256"];
      if (lfs.contains("size") && lfs["size"].is_number_unsigned()) sib.size = lfs["size"];
    }
    if (!is_sha256_hex(sib.sha256)) sib.sha256.clear();
    for (char& c : sib.sha256) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.files.push_back(std::move(sib));
  }
  return out;
}

Result<Listing> fetch_listing(const Hub& hub, const PullRef& ref) {
  HttpRequest req;
  req.url = fmt::format("{}/api/models/{}/revision/{}?blobs=true", hub.endpoint, ref.repo,
                        percent_encode(ref.revision, false));
  req.headers = hub.headers();
  TransportError te;
  auto resp = http_get(req, Sink(), Progress(), &te);
  if (!resp.ok()) {
    if (te.cancelled) return Error("interrupted");
    return unreachable(hub, te);
  }
  if (resp->status != 200) {
    return http_error(hub, resp->status, ref.repo, fmt::format("repository {} (revision {})", ref.repo, ref.revision));
  }
  return parse_listing(resp->body).wrap(fmt::format("repository {}", ref.repo));
}

std::string gguf_list(const std::vector<std::string>& files) {
  std::string s;
  for (const auto& f : files) {
    if (f.size() > 5 && (f.ends_with(".gguf") || f.ends_with(".GGUF"))) s += (s.empty() ? "" : ", ") + f;
  }
  return s.empty() ? "(none)" : s;
}

}  // namespace

Result<std::string> choose_file(const PullRef& ref, const std::vector<std::string>& files) {
  if (!ref.file.empty()) {
    for (const auto& f : files) {
      if (f == ref.file) return f;
    }
    return errorf("file '{}' is not in {}@{}; its .gguf files: {}", ref.file, ref.repo, ref.revision, gguf_list(files));
  }
  std::vector<std::string> c;
  if (!ref.quant.empty()) {
    c = match_quant(files, ref.quant);
  } else {
    for (const auto& f : files) {
      if (f.size() > 5 && (f.ends_with(".gguf") || f.ends_with(".GGUF"))) c.push_back(f);
    }
  }
  std::string what = ref.quant.empty() ? std::string("a .gguf file") : "quant tag '" + ref.quant + "'";
  if (c.empty()) return errorf("no file of {}@{} matches {}; its .gguf files: {}", ref.repo, ref.revision, what, gguf_list(files));
  if (c.size() > 1) {
    std::string list;
    for (const auto& f : c) list += (list.empty() ? "" : ", ") + f;
    return errorf("{} is ambiguous in {}@{}: candidates {}; name the file (OWNER/REPO/FILE.gguf)", what, ref.repo,
                  ref.revision, list);
  }
  return c[0];
}

namespace {

Status check_space(const Store& store, uint64_t need, const std::string& partial) {
  if (need == 0) return Ok{};
  struct stat st;
  uint64_t have_part = ::stat(partial.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  uint64_t missing = need > have_part ? need - have_part : 0;
  LM_TRY(uint64_t avail, free_space(store.tmp_dir()));
  if (avail < missing) {
    return errorf("not enough free disk space in {}: the download needs {} more, {} is free", store.tmp_dir(),
                  mb(missing), mb(avail));
  }
  return Ok{};
}

Status move_into_place(const Store& store, const std::string& partial, const std::string& digest) {
  std::string blob = store.blob_path(digest);
  ::chmod(partial.c_str(), 0444);   // blobs are read-only once complete
  if (::rename(partial.c_str(), blob.c_str()) != 0) {
    return errorf("cannot move {} to {}: {}", partial, blob, std::strerror(errno));
  }
  return Ok{};
}

struct Target {
  std::string file, sha256, commit;
  uint64_t size = 0;
};

Result<Target> locate(const Hub& hub, const PullRef& ref) {
  LM_TRY(Listing listing, fetch_listing(hub, ref));
  std::vector<std::string> names;
  for (const auto& f : listing.files) names.push_back(f.file);
  LM_TRY(std::string file, choose_file(ref, names));
  Target t;
  t.file = file;
  t.commit = listing.commit;
  for (const auto& f : listing.files) {
    if (f.file == file) t.sha256 = f.sha256, t.size = f.size;
  }
  return t;
}

}  // namespace

namespace {

// The partial/lock name: the expected digest, else a hash of where the file comes from.
std::string partial_key(const Hub& hub, const PullRef& ref, const Target& t) {
  if (!t.sha256.empty()) return "sha256-" + t.sha256;
  Sha256 h;
  std::string id = hub.endpoint + "\n" + ref.repo + "\n" + (t.commit.empty() ? ref.revision : t.commit) + "\n" + t.file;
  h.update(id.data(), id.size());
  return "file-" + h.final_hex().substr(0, 32);
}

// Downloads t into tmp/<key>.partial, verifies it and renames it into blobs/.
Status download_blob(const Store& store, const Hub& hub, const PullRef& ref, const Target& t, const std::string& key,
                     const PullOptions& opts, PullResult& res) {
  DownloadSpec spec;
  spec.url = fmt::format("{}/{}/resolve/{}/{}", hub.endpoint, ref.repo,
                         percent_encode(t.commit.empty() ? ref.revision : t.commit, false), percent_encode(t.file, true));
  spec.headers = hub.headers();
  spec.partial_path = store.tmp_dir() + "/" + key + ".partial";
  spec.expected_sha256 = t.sha256;
  spec.expected_size = t.size;
  spec.retries = opts.retries;
  spec.backoff_ms = opts.backoff_ms >= 0 ? opts.backoff_ms : std::atoi(env_or("LOCALMAX_PULL_BACKOFF_MS", "1000").c_str());
  spec.progress = opts.progress;
  spec.endpoint = hub.endpoint;
  spec.label = ref.repo + "/" + t.file;
  LM_TRY_STATUS(check_space(store, t.size, spec.partial_path));
  HttpStatusError hs;
  auto got = download_verified(spec, &hs);
  if (!got.ok()) {
    if (hs.status == 401 || hs.status == 403 || hs.status == 404)
      return http_error(hub, hs.status, ref.repo, fmt::format("file {} in {}@{}", t.file, ref.repo, ref.revision));
    return std::move(got).error();
  }
  if (!got->verified) log::warn("{}: the hub gave no sha256 for this file; stored as sha256:{}", spec.label, got->sha256);
  LM_TRY_STATUS(move_into_place(store, spec.partial_path, got->sha256));
  Manifest& m = res.manifest;
  m.digest = got->sha256;
  m.size = got->size;
  if (m.commit.empty()) m.commit = got->commit;
  res.downloaded = true;
  res.bytes_received = got->received;
  res.resumed_from = got->resumed_from;
  return Ok{};
}

}  // namespace

Result<PullResult> pull(const Store& store, const PullRef& ref, const PullOptions& opts) {
  Hub hub{opts.endpoint.empty() ? env_or("HF_ENDPOINT", "https://huggingface.co") : opts.endpoint,
          opts.token.empty() ? env_or("HF_TOKEN", "") : opts.token};
  while (!hub.endpoint.empty() && hub.endpoint.back() == '/') hub.endpoint.pop_back();
  auto t0 = Clock::now();
  LM_TRY(Target t, locate(hub, ref));
  PullResult res;
  Manifest& m = res.manifest;
  m.name = opts.name.empty() ? default_model_name(ref, t.file) : opts.name;
  LM_TRY_STATUS(validate_model_name(m.name));
  m.endpoint = hub.endpoint;
  m.repo = ref.repo;
  m.file = t.file;
  m.revision = ref.revision;
  m.commit = t.commit;
  LM_TRY_STATUS(store.ensure_dirs());
  std::string key = partial_key(hub, ref, t);
  LM_TRY(BlobLock lock, BlobLock::acquire(store, key, say_waiting));
  if (!t.sha256.empty() && store.has_blob(t.sha256)) {   // pulled before, or by the holder we waited for
    m.digest = t.sha256;
    m.size = t.size;
  } else {
    LM_TRY_STATUS(download_blob(store, hub, ref, t, key, opts, res));
  }
  m.pulled_at = utc_now_iso8601();
  LM_TRY_STATUS(store.write_manifest(m));
  store.mark_verified(m.digest);
  res.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return res;
}

}  // namespace lm::store
