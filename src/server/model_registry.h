// ModelRegistry: the models the server can answer with, by name. Today it holds one entry, loaded
// at start-up (several models and load-on-demand come later; request handlers already look models
// up by name so that they need not change then).
//
// Ownership: owns each entry and its Scheduler (and so the model). Thread-safety: find() and
// entries() are safe from any thread once load() has returned; load() is not.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "core/result.h"
#include "engine/scheduler.h"

namespace lm::server {

struct ModelInfo {
  std::string name;             // the alias, or the file name without .gguf
  std::string path;
  std::string arch;             // general.architecture
  std::string chat_template;    // tokenizer.chat_template ("" → ChatML fallback)
  std::shared_ptr<const chat::ChatTemplate> tmpl;   // parsed; null → ChatML fallback
  std::string quantization;     // the most common weight dtype ("Q4_K", "F32", ...)
  std::string digest;           // "sha256:"-style id derived from name, size and mtime (not a hash of the file)
  int64_t n_params = 0;
  uint64_t size_bytes = 0;
  int64_t modified_unix = 0;    // file mtime
  int64_t load_ns = 0;          // how long loading took
  int32_t n_ctx_train = 0;
};

struct ModelEntry {
  ModelInfo info;
  std::unique_ptr<engine::Scheduler> scheduler;
};

struct ModelLoadOptions {
  std::string path;
  std::string alias;            // "" → file stem
  engine::SchedulerOptions scheduler;
};

class ModelRegistry {
 public:
  Status load(const ModelLoadOptions& options);
  // The entry called `name` ("" → the default model; "NAME:latest" matches "NAME"), or nullptr.
  ModelEntry* find(const std::string& name) const;
  const std::vector<std::unique_ptr<ModelEntry>>& entries() const { return entries_; }

 private:
  std::vector<std::unique_ptr<ModelEntry>> entries_;
};

}  // namespace lm::server
