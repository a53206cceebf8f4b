// `localmax ls`: the models in the store.
#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "store/store.h"

namespace lm::cli {

namespace {

std::string human_size(uint64_t bytes) {
  if (bytes >= 1000000000ull) return fmt::format("{:.1f} GB", bytes / 1e9);
  if (bytes >= 1000000ull) return fmt::format("{:.1f} MB", bytes / 1e6);
  if (bytes >= 1000ull) return fmt::format("{:.1f} KB", bytes / 1e3);
  return fmt::format("{} B", bytes);
}

}  // namespace

int cmd_ls(const Args& args) {
  CLI::App app{"List the models in the local store.", "localmax ls"};
  bool json = false;
  app.add_flag("--json", json, "print a JSON array");
  if (auto rc = parse_args(app, args)) return *rc;
  auto st = store::Store::open_default();
  if (!st.ok()) return fail(st.error());
  std::vector<std::string> errors;
  auto models = st->list_manifests(&errors);
  for (const auto& e : errors) fmt::print(stderr, "warning: {}\n", e);
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& m : models) {
      arr.push_back({{"name", m.name}, {"digest", "sha256:" + m.digest}, {"size", m.size},
                     {"modified", m.pulled_at}, {"path", st->blob_path(m.digest)},
                     {"present", st->has_blob(m.digest)},
                     {"source", {{"repo", m.repo}, {"file", m.file}, {"revision", m.revision}, {"commit", m.commit}}}});
    }
    fmt::print("{}\n", arr.dump(2));
    return 0;
  }
  size_t w = 4;
  for (const auto& m : models) w = std::max(w, m.name.size());
  fmt::print("{:<{}}  {:<12}  {:>9}  {}\n", "NAME", w, "DIGEST", "SIZE", "MODIFIED");
  for (const auto& m : models) {
    fmt::print("{:<{}}  {:<12}  {:>9}  {}{}\n", m.name, w, m.digest.substr(0, 12), human_size(m.size), m.pulled_at,
               st->has_blob(m.digest) ? "" : "  (blob missing)");
  }
  return 0;
}

}  // namespace lm::cli
