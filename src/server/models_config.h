// --models-config FILE: per-model settings as JSON, the serve flags being the defaults.
//
//   { "tiny":  { "path": "models/tiny.gguf", "ctx_size": 256, "parallel": 2, "keep_alive": "10m" },
//     "demo":  { "cache_type_k": "f16", "cache_type_v": "q8_0", "keep_alive": -1 } }
//
// Keys per model: path, ctx_size, cache_type_k, cache_type_v, parallel, kv_pool, keep_alive. Anything
// else is an error naming it. An entry with a path adds (or re-points) a model; one without a
// path sets options of a model given by -m / --models-dir / --store and must name one.
// Relative paths are relative to the config file's folder.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "server/model_registry.h"

namespace lm::server {

struct ModelConfigEntry {
  std::string name;
  std::optional<std::string> path;
  std::optional<int32_t> ctx_size;
  std::optional<std::string> cache_type_k;
  std::optional<std::string> cache_type_v;
  std::optional<int32_t> parallel;
  std::optional<int32_t> kv_pool;   // KV pool positions (SchedulerOptions::n_kv_pool)
  std::optional<int64_t> keep_alive_ms;
};

// `what` names the source in errors (the file path); base_dir resolves relative paths.
Result<std::vector<ModelConfigEntry>> parse_models_config(std::string_view text, std::string_view what,
                                                          const std::string& base_dir);

// Applies the entries to `specs` (see above); new models start from `defaults`.
Status apply_models_config(const std::vector<ModelConfigEntry>& entries, const ModelSpec& defaults,
                           std::vector<ModelSpec>& specs);

// "dir/name.gguf" → "name".
std::string model_file_stem(const std::string& path);

// Every *.gguf file in `dir` (sorted by name) as a spec from `defaults`.
Result<std::vector<ModelSpec>> scan_models_dir(const std::string& dir, const ModelSpec& defaults);

}  // namespace lm::server
