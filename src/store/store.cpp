#include "store/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "store/http.h"
#include "store/ref.h"
#include "store/sha256.h"

namespace lm::store {

namespace fs = std::filesystem;
using nlohmann::json;

std::string manifest_to_json(const Manifest& m) {
  json j = {{"schema", 1},
            {"name", m.name},
            {"source", {{"endpoint", m.endpoint}, {"repo", m.repo}, {"file", m.file},
                        {"revision", m.revision}, {"commit", m.commit}}},
            {"digest", "sha256:" + m.digest},
            {"size", m.size},
            {"pulled_at", m.pulled_at}};
  return j.dump(2) + "\n";
}

namespace {

Result<std::string> str_field(const json& j, const char* key, bool required) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (required) return errorf("missing \"{}\"", key);
    return std::string();
  }
  if (!it->is_string()) return errorf("\"{}\" is not a string", key);
  return it->get<std::string>();
}

Result<Manifest> manifest_from_object(const json& j) {
  if (!j.is_object()) return Error("not a JSON object");
  Manifest m;
  LM_TRY(m.name, str_field(j, "name", true));
  LM_TRY_STATUS(validate_model_name(m.name));
  LM_TRY(std::string digest, str_field(j, "digest", true));
  if (digest.substr(0, 7) != "sha256:" || !is_sha256_hex(digest.substr(7)))
    return errorf("\"digest\" is not sha256:<64 hex>: '{}'", digest.substr(0, 80));
  m.digest = digest.substr(7);
  for (char& c : m.digest) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto sz = j.find("size");
  if (sz == j.end() || !sz->is_number_unsigned()) return Error("\"size\" is missing or not an unsigned integer");
  m.size = sz->get<uint64_t>();
  LM_TRY(m.pulled_at, str_field(j, "pulled_at", false));
  auto src = j.find("source");
  if (src != j.end()) {
    if (!src->is_object()) return Error("\"source\" is not an object");
    LM_TRY(m.endpoint, str_field(*src, "endpoint", false));
    LM_TRY(m.repo, str_field(*src, "repo", false));
    LM_TRY(m.file, str_field(*src, "file", false));
    LM_TRY(m.revision, str_field(*src, "revision", false));
    LM_TRY(m.commit, str_field(*src, "commit", false));
  }
  return m;
}

Result<std::string> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errorf("cannot open {}: {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return errorf("cannot read {}", path);
  return ss.str();
}

Status write_atomic(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errorf("cannot create {}: {}", tmp, std::strerror(errno));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return errorf("writing {}: {}", tmp, std::strerror(e));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return errorf("writing {}: {}", tmp, std::strerror(e));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return errorf("renaming {} to {}: {}", tmp, path, std::strerror(e));
  }
  return Ok{};
}

std::string stamp_path(const Store& s, std::string_view digest) {
  return s.root() + "/verified/sha256-" + std::string(digest);
}

std::string stat_signature(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return "";
  return fmt::format("{} {}", static_cast<uint64_t>(st.st_size),
                     static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
}

}  // namespace

Result<Manifest> manifest_from_json(std::string_view text, std::string_view what) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return errorf("corrupt manifest {}: invalid JSON: {}", what, e.what());
  }
  return manifest_from_object(j).wrap(fmt::format("corrupt manifest {}", what));
}

Result<Store> Store::open_default() {
  if (const char* h = std::getenv("LOCALMAX_HOME"); h && *h) return Store(h);
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return Store(std::string(x) + "/localmax");
  if (const char* home = std::getenv("HOME"); home && *home)
    return Store(std::string(home) + "/.local/share/localmax");
  return Error("cannot locate the model store: set LOCALMAX_HOME (or HOME)");
}

std::string Store::blob_path(std::string_view digest) const {
  return blobs_dir() + "/sha256-" + std::string(digest);
}

std::string Store::manifest_path(std::string_view name) const {
  return manifests_dir() + "/" + percent_encode(name, false) + ".json";
}

Status Store::ensure_dirs() const {
  for (const auto& d : {blobs_dir(), manifests_dir(), tmp_dir(), root_ + "/verified"}) {
    std::error_code ec;
    fs::create_directories(d, ec);
    if (ec) return errorf("cannot create {}: {}", d, ec.message());
  }
  return Ok{};
}

bool Store::has_blob(std::string_view digest) const {
  std::error_code ec;
  return fs::is_regular_file(blob_path(digest), ec);
}

std::vector<std::string> Store::find_blobs(std::string_view prefix) const {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(blobs_dir(), ec), end; !ec && it != end; it.increment(ec)) {
    std::string n = it->path().filename().string();
    if (n.size() != 71 || n.substr(0, 7) != "sha256-") continue;
    std::string d = n.substr(7);
    if (is_sha256_hex(d) && d.compare(0, prefix.size(), prefix) == 0) out.push_back(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::optional<Manifest>> Store::read_manifest(std::string_view name) const {
  std::string p = manifest_path(name);
  std::error_code ec;
  if (!fs::exists(p, ec)) return std::optional<Manifest>();
  LM_TRY(std::string text, slurp(p));
  LM_TRY(Manifest m, manifest_from_json(text, p));
  if (m.name != name) return errorf("corrupt manifest {}: it names '{}'", p, m.name);
  return std::optional<Manifest>(std::move(m));
}

Status Store::write_manifest(const Manifest& m) const {
  LM_TRY_STATUS(validate_model_name(m.name));
  LM_TRY_STATUS(ensure_dirs());
  return write_atomic(manifest_path(m.name), manifest_to_json(m));
}

std::vector<Manifest> Store::list_manifests(std::vector<std::string>* errors) const {
  std::vector<Manifest> out;
  std::error_code ec;
  for (fs::directory_iterator it(manifests_dir(), ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".json") continue;
    std::string p = it->path().string();
    auto text = slurp(p);
    auto m = text.ok() ? manifest_from_json(*text, p) : Result<Manifest>(text.error());
    if (m.ok()) out.push_back(std::move(*m));
    else if (errors) errors->push_back(m.error().message());
  }
  std::sort(out.begin(), out.end(), [](const Manifest& a, const Manifest& b) { return a.name < b.name; });
  return out;
}

Result<bool> Store::remove_model(const Manifest& m) const {
  std::string p = manifest_path(m.name);
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) return errorf("cannot remove {}: {}", p, std::strerror(errno));
  for (const auto& other : list_manifests()) {
    if (other.digest == m.digest) return false;
  }
  std::string b = blob_path(m.digest);
  if (::unlink(b.c_str()) != 0) {
    if (errno == ENOENT) return false;
    return errorf("cannot remove {}: {}", b, std::strerror(errno));
  }
  ::unlink(stamp_path(*this, m.digest).c_str());
  return true;
}

bool Store::verified_stamp_matches(std::string_view digest) const {
  auto text = slurp(stamp_path(*this, digest));
  std::string sig = stat_signature(blob_path(digest));
  return text.ok() && !sig.empty() && *text == sig;
}

void Store::mark_verified(std::string_view digest) const {
  std::string sig = stat_signature(blob_path(digest));
  if (sig.empty() || !ensure_dirs().ok()) return;
  (void)write_atomic(stamp_path(*this, digest), sig);   // only a cache: failure costs a re-hash
}

BlobLock::~BlobLock() {
  if (fd_ >= 0) ::close(fd_);   // closing releases the flock
}

Result<BlobLock> BlobLock::acquire(const Store& store, std::string_view key, void (*on_wait)(std::string_view)) {
  LM_TRY_STATUS(store.ensure_dirs());
  std::string p = store.tmp_dir() + "/" + std::string(key) + ".lock";
  int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return errorf("cannot open lock {}: {}", p, std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) {
      int e = errno;
      ::close(fd);
      return errorf("cannot lock {}: {}", p, std::strerror(e));
    }
    if (on_wait) on_wait(p);
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR || cancel_flag().load()) {   // Ctrl-C while waiting
        int e = errno;
        ::close(fd);
        return e == EINTR ? Error("interrupted while waiting for another pull")
                              : errorf("cannot lock {}: {}", p, std::strerror(e));
      }
    }
  }
  return BlobLock(fd);
}

std::string utc_now_iso8601() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace lm::store
