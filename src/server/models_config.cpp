#include "server/models_config.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <set>

#include "engine/session.h"
#include "server/duration.h"

namespace lm::server {
namespace {

using nlohmann::json;

const std::set<std::string> kKeys = {"path", "ctx_size", "cache_type_k", "cache_type_v", "parallel",
                                     "kv_pool", "keep_alive"};

Result<int32_t> int_field(const json& v, const std::string& where, int64_t lo, int64_t hi) {
  if (!v.is_number_integer()) return errorf("{}: expected an integer, got {}", where, v.dump());
  int64_t n = v.get<int64_t>();
  if (n < lo || n > hi) return errorf("{}: {} is out of range [{}, {}]", where, n, lo, hi);
  return static_cast<int32_t>(n);
}

Result<std::string> string_field(const json& v, const std::string& where) {
  if (!v.is_string() || v.get<std::string>().empty()) {
    return errorf("{}: expected a non-empty string, got {}", where, v.dump());
  }
  return v.get<std::string>();
}

Result<ModelConfigEntry> parse_entry(const std::string& name, const json& obj, std::string_view what,
                                     const std::string& base_dir) {
  std::string at = fmt::format("{}: model '{}'", what, name);
  if (!obj.is_object()) return errorf("{}: expected an object, got {}", at, obj.dump());
  std::vector<std::string> unknown;
  for (const auto& [key, _] : obj.items()) {
    if (!kKeys.count(key)) unknown.push_back("'" + key + "'");
  }
  if (!unknown.empty()) {
    return errorf("{}: unknown key{} {} (known: path, ctx_size, cache_type_k, cache_type_v, "
                  "parallel, kv_pool, keep_alive)", at, unknown.size() > 1 ? "s" : "", fmt::join(unknown, ", "));
  }
  ModelConfigEntry e;
  e.name = name;
  if (obj.contains("path")) {
    LM_TRY(std::string p, string_field(obj["path"], at + ".path"));
    std::filesystem::path fp(p);
    e.path = fp.is_relative() && !base_dir.empty() ? (std::filesystem::path(base_dir) / fp).string() : p;
  }
  if (obj.contains("ctx_size")) {
    LM_TRY(e.ctx_size, int_field(obj["ctx_size"], at + ".ctx_size", 0, 1 << 24));
  }
  if (obj.contains("parallel")) {
    LM_TRY(e.parallel, int_field(obj["parallel"], at + ".parallel", 1, 256));
  }
  if (obj.contains("kv_pool")) {
    LM_TRY(e.kv_pool, int_field(obj["kv_pool"], at + ".kv_pool", 0, 1 << 26));
  }
  for (const char* key : {"cache_type_k", "cache_type_v"}) {
    if (!obj.contains(key)) continue;
    LM_TRY(std::string t, string_field(obj[key], at + "." + key));
    if (auto st = engine::parse_cache_type(t); !st.ok()) {
      return errorf("{}.{}: {}", at, key, st.error().message());
    }
    (std::string(key) == "cache_type_k" ? e.cache_type_k : e.cache_type_v) = t;
  }
  if (obj.contains("keep_alive")) {
    auto ka = duration_from_json(obj["keep_alive"]);
    if (!ka.ok()) return errorf("{}.keep_alive: {}", at, ka.error().message());
    e.keep_alive_ms = *ka;
  }
  return e;
}

void apply_entry(const ModelConfigEntry& e, ModelSpec& s) {
  if (e.path) s.path = *e.path;
  if (e.ctx_size) s.scheduler.n_ctx = *e.ctx_size;
  if (e.parallel) s.scheduler.n_parallel = *e.parallel;
  if (e.kv_pool) s.scheduler.n_kv_pool = *e.kv_pool;
  if (e.cache_type_k) s.cache_type_k = *e.cache_type_k;
  if (e.cache_type_v) s.cache_type_v = *e.cache_type_v;
  if (e.keep_alive_ms) s.keep_alive_ms = e.keep_alive_ms;
}

}  // namespace

std::string model_file_stem(const std::string& path) {
  std::string stem = std::filesystem::path(path).filename().string();
  if (stem.size() > 5 && stem.substr(stem.size() - 5) == ".gguf") stem.resize(stem.size() - 5);
  return stem;
}

Result<std::vector<ModelConfigEntry>> parse_models_config(std::string_view text, std::string_view what,
                                                          const std::string& base_dir) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return errorf("{}: not valid JSON", what);
  if (!j.is_object()) return errorf("{}: expected an object of model name → settings", what);
  std::vector<ModelConfigEntry> out;
  for (const auto& [name, obj] : j.items()) {
    if (name.empty()) return errorf("{}: an empty model name", what);
    LM_TRY(auto e, parse_entry(name, obj, what, base_dir));
    out.push_back(std::move(e));
  }
  return out;
}

Status apply_models_config(const std::vector<ModelConfigEntry>& entries, const ModelSpec& defaults,
                           std::vector<ModelSpec>& specs) {
  for (const auto& e : entries) {
    auto it = std::find_if(specs.begin(), specs.end(), [&](const ModelSpec& s) { return s.name == e.name; });
    if (it == specs.end()) {
      if (!e.path) {
        return errorf("--models-config: model '{}' has no \"path\" and no model of that name was "
                      "given (-m, --models-dir, --store)", e.name);
      }
      ModelSpec s = defaults;
      s.name = e.name;
      apply_entry(e, s);
      specs.push_back(std::move(s));
    } else {
      apply_entry(e, *it);
    }
  }
  return {};
}

Result<std::vector<ModelSpec>> scan_models_dir(const std::string& dir, const ModelSpec& defaults) {
  std::error_code ec;
  std::vector<std::string> files;
  for (const auto& de : std::filesystem::directory_iterator(dir, ec)) {
    if (de.path().extension() == ".gguf" && de.is_regular_file()) files.push_back(de.path().string());
  }
  if (ec) return errorf("--models-dir {}: {}", dir, ec.message());
  std::sort(files.begin(), files.end());
  std::vector<ModelSpec> out;
  for (const auto& f : files) {
    ModelSpec s = defaults;
    s.path = f;
    s.name = model_file_stem(f);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace lm::server
