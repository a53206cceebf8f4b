// `localmax rm NAME|DIGEST-PREFIX`: remove a model (and its blob when no other model uses it).
#include <CLI/CLI.hpp>

#include <cctype>
#include <cstdio>
#include <set>

#include "cli/commands.h"
#include "cli/common.h"
#include "store/ref.h"
#include "store/store.h"

namespace lm::cli {

namespace {

bool is_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

Status remove_one(const store::Store& st, const std::string& arg) {
  LM_TRY(auto by_name, store::validate_model_name(arg).ok() ? st.read_manifest(arg)
                                                             : Result<std::optional<store::Manifest>>(std::nullopt));
  std::vector<store::Manifest> hits;
  if (by_name) {
    hits.push_back(*by_name);
  } else {
    std::string prefix = arg.rfind("sha256:", 0) == 0 ? arg.substr(7) : arg;
    for (char& c : prefix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!is_hex(prefix) || prefix.size() < 4) return errorf("no model named '{}' (`localmax ls` lists them)", arg);
    std::set<std::string> digests;
    for (auto& m : st.list_manifests()) {
      if (m.digest.rfind(prefix, 0) == 0) digests.insert(m.digest), hits.push_back(m);
    }
    if (digests.size() > 1) return errorf("digest prefix '{}' is ambiguous: it matches {} blobs", arg, digests.size());
    if (hits.size() > 1) {
      std::string names;
      for (const auto& m : hits) names += (names.empty() ? "" : ", ") + m.name;
      return errorf("sha256:{} is used by several models ({}); remove them by name", prefix, names);
    }
    if (hits.empty()) {
      auto blobs = st.find_blobs(prefix);
      if (blobs.size() != 1) return errorf("no model or blob matches '{}'", arg);
      std::string b = st.blob_path(blobs[0]);   // an orphan blob (no manifest)
      if (std::remove(b.c_str()) != 0) return errorf("cannot remove {}", b);
      fmt::print("removed blob sha256:{}\n", blobs[0].substr(0, 12));
      return Ok{};
    }
  }
  LM_TRY(bool blob_gone, st.remove_model(hits[0]));
  fmt::print("removed {}{}\n", hits[0].name,
             blob_gone ? fmt::format(" and its blob sha256:{}", hits[0].digest.substr(0, 12)) : " (blob kept: still used)");
  return Ok{};
}

}  // namespace

int cmd_rm(const Args& args) {
  CLI::App app{"Remove models from the local store (the blob goes when no other model uses it).", "localmax rm"};
  std::vector<std::string> refs;
  app.add_option("MODEL", refs, "NAME, or a digest prefix (sha256:HEX or HEX, at least 4 digits)")->required();
  if (auto rc = parse_args(app, args)) return *rc;
  auto st = store::Store::open_default();
  if (!st.ok()) return fail(st.error());
  int rc = 0;
  for (const auto& r : refs) {
    if (auto s = remove_one(*st, r); !s.ok()) rc = fail(s.error());
  }
  return rc;
}

}  // namespace lm::cli
