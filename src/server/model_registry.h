// ModelRegistry: the models the server can answer with, by name, loaded on first request and
// unloaded by policy.
//
// Every configured model has a slot (its ModelSpec); a slot is unloaded, loading or loaded.
// acquire() hands out a ModelRef, a lease that keeps the model loaded: a slot with leases is
// busy and is never evicted or expired (unloading never pulls a model out from under a running
// request). Releasing the last lease sets the model's expiry to now + keep_alive (the request's
// keep_alive if it gave one, else the model's, else the server's); keep_alive 0 unloads at
// once, a negative one keeps the model forever.
//
// Loading: the first acquire() of an unloaded model loads it (outside the lock); concurrent
// acquires of that model wait for that one load and share its outcome; a failed load leaves
// the slot unloaded, so a later request tries again. Before loading, least-recently-used idle
// models are evicted until the estimate (ModelLoader::estimate) fits in max_memory and the count
// in max_models; if busy models leave no room, acquire waits up to wait_ms for one to go idle,
// then fails with 503 + Retry-After.
//
// Ownership: owns the loader, the slots and their loaded entries (shared with leases). Must
// outlive every ModelRef. Thread-safety: every method may be called from any thread. Time comes
// from the injected clock (ms since the epoch), so the policy is testable without sleeping.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "chat/chat_template.h"
#include "core/result.h"
#include "engine/scheduler.h"
#include "model/config.h"

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
  uint64_t size_bytes = 0;      // the file
  int64_t modified_unix = 0;    // file mtime
  int64_t load_ns = 0;          // how long loading took (0 before the first load)
  int32_t n_ctx_train = 0;
  int32_t n_ctx = 0;            // the context per request it is (or will be) loaded with
  model::ModelConfig config;
};

// What a model is loaded with: the CLI flags, overridden per model by --models-config.
struct ModelSpec {
  std::string name;
  std::string path;
  engine::SchedulerOptions scheduler;     // n_ctx (0: the model's), n_parallel, n_batch, ...
  std::string cache_type_k = "f32";
  std::string cache_type_v = "f32";
  std::optional<int64_t> keep_alive_ms;   // nullopt: the registry's default
};

struct ModelEntry {
  virtual ~ModelEntry() = default;   // test loaders derive from it
  ModelInfo info;
  std::unique_ptr<engine::Scheduler> scheduler;   // null only in tests (fake loaders)
};

// A lease on a loaded model (see the class comment). Copies share the lease.
using ModelRef = std::shared_ptr<ModelEntry>;

// Loads models and estimates their cost; the real one is make_gguf_loader(), tests use fakes.
class ModelLoader {
 public:
  virtual ~ModelLoader() = default;
  // What the model is, without loading it (for listings and /api/show).
  virtual Result<ModelInfo> describe(const ModelSpec& spec) = 0;
  // Bytes the model will take once loaded.
  virtual Result<uint64_t> estimate(const ModelSpec& spec) = 0;
  virtual Result<std::unique_ptr<ModelEntry>> load(const ModelSpec& spec) = 0;
};

// Maps the GGUF file (its size counts in full), opens a Session with the spec's KV-cache types
// and starts a Scheduler with n_parallel chat slots + n_embedding_slots embedding-only slots.
// Estimate: file size + KV cache (n_ctx x (n_parallel + n_embedding_slots) x n_layer x kv_dim x
// (bytes of K type + bytes of V type)) + forward-pass scratch.
std::unique_ptr<ModelLoader> make_gguf_loader();

struct RegistryOptions {
  uint64_t max_memory = 0;               // bytes; 0: no limit
  int32_t max_models = 0;                // loaded at once; 0: no limit
  int64_t keep_alive_ms = 5 * 60 * 1000; // default expiry after the last request; <0 forever
  int64_t wait_ms = 5000;                // how long a load waits for room before 503
};

struct AcquireError {
  int status = 500;             // 404 unknown model, 500 load failure, 507 larger than the budget, 503 no room now
  std::string message;
  std::string code;             // "model_not_found", "model_load_failed", ...
  int retry_after_s = 0;
};

// One model's state, for /api/ps, /api/tags, /v1/models and tests.
struct ModelStatus {
  ModelSpec spec;
  std::optional<ModelInfo> info;   // nullopt: describe() failed (error in describe_error)
  std::string describe_error;
  bool loaded = false;
  bool loading = false;
  int32_t active = 0;              // leases held
  uint64_t size = 0;               // estimated bytes when loaded (0 if unknown)
  int64_t expires_at_ms = 0;       // when loaded and idle; INT64_MAX: never; while busy: now + keep_alive
  std::string last_error;          // the last load failure
};

struct RegistryCounters {
  int64_t loaded = 0;              // models loaded now
  uint64_t memory_used = 0;        // estimated bytes of loaded and loading models
  int64_t loads = 0;
  int64_t load_failures = 0;
  int64_t evictions = 0;           // unloaded to make room
  int64_t expirations = 0;         // unloaded by keep_alive
};

class ModelRegistry {
 public:
  using Clock = std::function<int64_t()>;   // ms since the Unix epoch
  static int64_t system_now_ms();

  explicit ModelRegistry(std::unique_ptr<ModelLoader> loader, RegistryOptions options = {},
                         Clock clock = system_now_ms);
  ~ModelRegistry();
  ModelRegistry(const ModelRegistry&) = delete;
  ModelRegistry& operator=(const ModelRegistry&) = delete;

  // Adds a model (not loaded). A name already taken is an error.
  Status add(ModelSpec spec);
  // The canonical name of `name` ("" → the first model; "NAME:latest" → NAME), or nullopt.
  std::optional<std::string> resolve(const std::string& name) const;

  // Loads on demand; keep_alive_ms (if given) becomes the model's keep_alive from now on.
  std::variant<ModelRef, AcquireError> acquire(const std::string& name,
                                               std::optional<int64_t> keep_alive_ms = {});
  // Unloads now if idle, else when its last lease ends. false if the name is unknown.
  bool unload(const std::string& name);
  // Unloads idle models whose expiry has passed; returns how many.
  int reap();
  // A thread calling reap() every interval_ms until the registry is destroyed.
  void start_reaper(int64_t interval_ms);

  std::vector<ModelStatus> status() const;      // every model, in the order added
  std::optional<ModelStatus> status(const std::string& name) const;
  // Loaded entries (plain references: they do not count as leases). For metrics.
  std::vector<std::shared_ptr<const ModelEntry>> loaded_entries() const;
  RegistryCounters counters() const;
  const RegistryOptions& options() const { return opt_; }
  int64_t now_ms() const { return clock_(); }

 private:
  struct Slot;
  struct Lease;
  Slot* find_slot(const std::string& name) const;   // lock held
  void release(Slot& slot);
  int64_t keep_alive_of(const Slot& slot) const;
  // Evicts idle LRU models until `need` more bytes and one more model fit. Lock held; the
  // evicted entries are appended to `out` (destroy them after unlocking). false: no room.
  bool make_room(uint64_t need, std::vector<std::shared_ptr<ModelEntry>>& out);
  bool fits(uint64_t need) const;
  std::shared_ptr<ModelEntry> take_entry(Slot& slot);   // lock held: loaded → unloaded
  ModelStatus status_of(const Slot& slot) const;        // lock held
  void ensure_described(Slot& slot) const;              // lock held
  // Loads an unloaded slot (lock held; released while loading). nullopt: another thread started
  // loading it while this one waited for room.
  std::optional<std::variant<ModelRef, AcquireError>> try_load(
      Slot& slot, std::unique_lock<std::mutex>& lock, std::vector<std::shared_ptr<ModelEntry>>& evicted,
      std::chrono::steady_clock::time_point deadline);
  ModelRef make_ref(Slot& slot);

  std::unique_ptr<ModelLoader> loader_;
  RegistryOptions opt_;
  Clock clock_;
  mutable std::mutex mu_;
  std::condition_variable changed_;   // a load finished, a lease ended, a model was unloaded
  std::vector<std::unique_ptr<Slot>> slots_;
  uint64_t memory_used_ = 0;
  RegistryCounters counters_;
  bool stop_ = false;
  std::condition_variable reaper_wake_;
  std::thread reaper_;
};

// The memory budget of --max-memory: "auto" → 80% of MemAvailable (/proc/meminfo); a plain
// number of bytes, or with a K/M/G/T suffix (powers of 1024, "GiB"/"GB" accepted).
Result<uint64_t> parse_memory_budget(const std::string& text);

}  // namespace lm::server
