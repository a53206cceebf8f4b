// `localmax show NAME|PATH`: where a model came from and what the GGUF holds.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "gguf/gguf.h"
#include "store/ref.h"
#include "store/store.h"

namespace lm::cli {

namespace {

std::string param_count(uint64_t n) {
  if (n >= 1000000000ull) return fmt::format("{:.2f}B", n / 1e9);
  if (n >= 1000000ull) return fmt::format("{:.2f}M", n / 1e6);
  if (n >= 1000ull) return fmt::format("{:.1f}K", n / 1e3);
  return std::to_string(n);
}

struct Summary {
  std::string architecture, model_name;
  uint64_t n_params = 0, context_length = 0, file_size = 0;
  std::map<std::string, uint64_t> types;   // dtype -> tensors
  bool chat_template = false;
};

Result<Summary> summarize(const std::string& path) {
  LM_TRY(auto f, gguf::File::open(path));
  Summary s;
  LM_TRY(auto arch, f->get_string_or("general.architecture", ""));
  s.architecture = std::string(arch);
  LM_TRY(auto name, f->get_string_or("general.name", ""));
  s.model_name = gguf::printable(name, 120);
  if (!s.architecture.empty()) {
    LM_TRY(s.context_length, f->get_uint_or(s.architecture + ".context_length", 0));
  }
  for (const auto& t : f->tensors()) {
    s.n_params += static_cast<uint64_t>(t.n_elements());
    s.types[std::string(dtype_name(t.type))] += 1;
  }
  s.chat_template = f->find("tokenizer.chat_template") != nullptr;
  s.file_size = f->file_size();
  return s;
}

// The manifest behind `ref`: its own when it names a store model, else the first model whose blob
// `path` is (a sha256: prefix, or a path into blobs/).
std::optional<store::Manifest> manifest_for(const store::Store& st, const std::string& ref, const std::string& path) {
  std::error_code ec;
  auto parsed = store::parse_model_ref(ref);
  if (!std::filesystem::exists(ref, ec) && parsed.ok() && parsed->kind != store::ModelRef::Kind::kDigestPrefix) {
    auto m = st.read_manifest(parsed->name);
    if (m.ok() && *m) return *m;
  }
  for (auto& m : st.list_manifests()) {
    if (std::filesystem::equivalent(st.blob_path(m.digest), path, ec)) return m;
  }
  return std::nullopt;
}

}  // namespace

int cmd_show(const Args& args) {
  CLI::App app{"Show a model's source, digest and GGUF summary.", "localmax show"};
  std::string ref;
  bool json = false;
  app.add_option("MODEL", ref, "store name, NAME@sha256:HEX, sha256:PREFIX or a GGUF path")->required();
  app.add_flag("--json", json, "print one JSON object");
  if (auto rc = parse_args(app, args)) return *rc;
  auto st = store::Store::open_default();
  if (!st.ok()) return fail(st.error());
  auto path = store::resolve_model(*st, ref);
  if (!path.ok()) return fail(path.error());
  auto sum = summarize(*path);
  if (!sum.ok()) return fail(sum.error());
  auto m = manifest_for(*st, ref, *path);
  const Summary& s = *sum;
  if (json) {
    nlohmann::json j = {{"path", *path}, {"architecture", s.architecture}, {"name", s.model_name},
                        {"parameters", s.n_params}, {"context_length", s.context_length},
                        {"tensor_types", s.types}, {"chat_template", s.chat_template}, {"size", s.file_size}};
    if (m) {
      j["model"] = m->name;
      j["digest"] = "sha256:" + m->digest;
      j["source"] = {{"endpoint", m->endpoint}, {"repo", m->repo}, {"file", m->file},
                     {"revision", m->revision}, {"commit", m->commit}, {"pulled_at", m->pulled_at}};
    }
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  if (m) {
    fmt::print("model:          {}\n", m->name);
    fmt::print("source:         {}/{} {} @ {}{}\n", m->endpoint, m->repo, m->file, m->revision,
               m->commit.empty() || m->commit == m->revision ? "" : " (commit " + m->commit + ")");
    fmt::print("digest:         sha256:{}\n", m->digest);
    fmt::print("pulled:         {}\n", m->pulled_at);
  }
  fmt::print("path:           {}\n", *path);
  fmt::print("size:           {} bytes\n", s.file_size);
  fmt::print("architecture:   {}\n", s.architecture.empty() ? "(unknown)" : s.architecture);
  if (!s.model_name.empty()) fmt::print("name:           {}\n", s.model_name);
  fmt::print("parameters:     {} ({})\n", param_count(s.n_params), s.n_params);
  fmt::print("context length: {}\n", s.context_length);
  std::string types;
  for (const auto& [t, n] : s.types) types += fmt::format("{}{} {}", types.empty() ? "" : ", ", t, n);
  fmt::print("tensor types:   {}\n", types);
  fmt::print("chat template:  {}\n", s.chat_template ? "yes" : "no");
  return 0;
}

}  // namespace lm::cli
