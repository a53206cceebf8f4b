// resolve_model: what -m accepts (see store.h).
#include <filesystem>

#include "store/ref.h"
#include "store/sha256.h"
#include "store/store.h"

namespace lm::store {

namespace {

Result<std::string> resolve_name(const Store& store, const std::string& name, std::string_view ref) {
  LM_TRY(auto m, store.read_manifest(name));
  if (!m && (ref.find('/') != std::string_view::npos || ref.ends_with(".gguf"))) {
    return errorf("cannot open {}: no such file (and no model of that name in the store {})", ref, store.root());
  }
  if (!m) {
    return errorf("model '{}' is neither a file nor a model in the store {} (`localmax ls` lists the "
                  "models, `localmax pull` fetches one)", ref, store.root());
  }
  if (!store.has_blob(m->digest)) {
    return errorf("model '{}': its blob sha256:{} is missing from {}; pull it again", name,
                  m->digest.substr(0, 12), store.blobs_dir());
  }
  return store.blob_path(m->digest);
}

Result<std::string> resolve_pinned(const Store& store, const ModelRef& r, std::string_view ref) {
  LM_TRY(auto m, store.read_manifest(r.name));
  if (!m) return errorf("pinned model '{}': no model named '{}' in the store {}", ref, r.name, store.root());
  if (m->digest != r.digest) {
    return errorf("pinned model '{}': '{}' is sha256:{}, not the pinned sha256:{}", ref, r.name, m->digest,
                  r.digest);
  }
  if (!store.has_blob(r.digest)) return errorf("pinned model '{}': blob sha256:{} is missing", ref, r.digest);
  if (!store.verified_stamp_matches(r.digest)) {
    std::string path = store.blob_path(r.digest);
    LM_TRY(std::string got, sha256_file(path));
    if (got != r.digest) {
      return errorf("pinned model '{}': digest mismatch: expected sha256:{} got sha256:{} ({} was "
                    "modified; pull it again)", ref, r.digest, got, path);
    }
    store.mark_verified(r.digest);
  }
  return store.blob_path(r.digest);
}

Result<std::string> resolve_prefix(const Store& store, const ModelRef& r, std::string_view ref) {
  auto found = store.find_blobs(r.digest);
  if (found.empty()) return errorf("no blob in {} matches {}", store.blobs_dir(), ref);
  if (found.size() > 1) {
    std::string list;
    for (const auto& d : found) list += (list.empty() ? "" : ", ") + d.substr(0, 16);
    return errorf("{} is ambiguous: it matches {}", ref, list);
  }
  return store.blob_path(found[0]);
}

}  // namespace

Result<std::string> resolve_model(const Store& store, std::string_view ref) {
  std::error_code ec;
  if (std::filesystem::exists(std::string(ref), ec)) return std::string(ref);
  auto parsed = parse_model_ref(ref);
  if (!parsed.ok()) {
    return errorf("'{}' is not an existing file, and not a model reference: {}", ref, parsed.error().message());
  }
  switch (parsed->kind) {
    case ModelRef::Kind::kName: return resolve_name(store, parsed->name, ref);
    case ModelRef::Kind::kPinned: return resolve_pinned(store, *parsed, ref);
    case ModelRef::Kind::kDigestPrefix: return resolve_prefix(store, *parsed, ref);
  }
  return Error("unreachable");
}

Result<std::string> resolve_model(std::string_view ref) {
  std::error_code ec;
  if (std::filesystem::exists(std::string(ref), ec)) return std::string(ref);
  LM_TRY(Store store, Store::open_default());
  return resolve_model(store, ref);
}

}  // namespace lm::store
