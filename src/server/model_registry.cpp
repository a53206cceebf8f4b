#include "server/model_registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "core/log.h"
#include "server/duration.h"

namespace lm::server {

enum class SlotState { kUnloaded, kLoading, kLoaded };

struct ModelRegistry::Slot {
  ModelSpec spec;
  SlotState state = SlotState::kUnloaded;
  std::shared_ptr<ModelEntry> entry;           // when loaded
  mutable std::optional<ModelInfo> info;       // describe(), cached
  mutable std::string describe_error;
  uint64_t size = 0;                           // estimate; counted in memory_used_ while loading/loaded
  int32_t active = 0;                          // leases
  int64_t last_used_ms = 0;
  int64_t expires_at_ms = 0;                   // valid when loaded and idle
  std::optional<int64_t> keep_alive_ms;        // set by a request; cleared on unload
  bool unload_when_idle = false;
  uint64_t load_serial = 0;                    // bumped when a load ends (ok or not)
  std::string last_error;
};

struct ModelRegistry::Lease {
  Lease(ModelRegistry* r, Slot* s, std::shared_ptr<ModelEntry> e)
      : registry(r), slot(s), entry(std::move(e)) {}
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() { registry->release(*slot); }
  ModelRegistry* registry;
  Slot* slot;
  std::shared_ptr<ModelEntry> entry;
};

int64_t ModelRegistry::system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

ModelRegistry::ModelRegistry(std::unique_ptr<ModelLoader> loader, RegistryOptions options, Clock clock)
    : loader_(std::move(loader)), opt_(options), clock_(std::move(clock)) {}

ModelRegistry::~ModelRegistry() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  reaper_wake_.notify_all();
  if (reaper_.joinable()) reaper_.join();
}

Status ModelRegistry::add(ModelSpec spec) {
  std::lock_guard lock(mu_);
  if (spec.name.empty()) return errorf("model {}: empty name", spec.path);
  if (find_slot(spec.name)) return errorf("model name '{}' is given twice", spec.name);
  auto slot = std::make_unique<Slot>();
  slot->spec = std::move(spec);
  slots_.push_back(std::move(slot));
  return {};
}

ModelRegistry::Slot* ModelRegistry::find_slot(const std::string& name) const {
  if (slots_.empty()) return nullptr;
  if (name.empty()) return slots_.front().get();
  std::string base = name;
  const std::string kLatest = ":latest";
  if (base.size() > kLatest.size() &&
      base.compare(base.size() - kLatest.size(), kLatest.size(), kLatest) == 0) {
    base.resize(base.size() - kLatest.size());
  }
  for (const auto& s : slots_) {
    if (s->spec.name == name || s->spec.name == base) return s.get();
  }
  return nullptr;
}

std::optional<std::string> ModelRegistry::resolve(const std::string& name) const {
  std::lock_guard lock(mu_);
  Slot* s = find_slot(name);
  if (!s) return std::nullopt;
  return s->spec.name;
}

int64_t ModelRegistry::keep_alive_of(const Slot& slot) const {
  if (slot.keep_alive_ms) return *slot.keep_alive_ms;
  if (slot.spec.keep_alive_ms) return *slot.spec.keep_alive_ms;
  return opt_.keep_alive_ms;
}

ModelRef ModelRegistry::make_ref(Slot& slot) {
  ++slot.active;
  slot.last_used_ms = clock_();
  auto lease = std::make_shared<Lease>(this, &slot, slot.entry);
  return ModelRef(lease, lease->entry.get());
}

std::variant<ModelRef, AcquireError> ModelRegistry::acquire(const std::string& name,
                                                            std::optional<int64_t> keep_alive_ms) {
  std::vector<std::shared_ptr<ModelEntry>> evicted;   // destroyed after the lock is released
  std::unique_lock lock(mu_);
  Slot* slot = find_slot(name);
  if (!slot) {
    return AcquireError{404, fmt::format("model '{}' not found", name), "model_not_found", 0};
  }
  if (keep_alive_ms) slot->keep_alive_ms = keep_alive_ms;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(opt_.wait_ms);
  for (;;) {
    if (slot->state == SlotState::kLoaded) {
      slot->unload_when_idle = false;
      return make_ref(*slot);
    }
    if (slot->state == SlotState::kUnloaded) {
      if (auto r = try_load(*slot, lock, evicted, deadline)) return std::move(*r);
      continue;   // someone else started loading it meanwhile
    }
    // Another request is loading it: share that load's outcome.
    uint64_t serial = slot->load_serial;
    changed_.wait(lock, [&] { return slot->load_serial != serial || stop_; });
    if (slot->state == SlotState::kUnloaded && !slot->last_error.empty()) {
      return AcquireError{500, slot->last_error, "model_load_failed", 0};
    }
  }
}

std::optional<std::variant<ModelRef, AcquireError>> ModelRegistry::try_load(
    Slot& slot, std::unique_lock<std::mutex>& lock, std::vector<std::shared_ptr<ModelEntry>>& evicted,
    std::chrono::steady_clock::time_point deadline) {
  const std::string name = slot.spec.name;
  if (slot.size == 0) {
    auto est = loader_->estimate(slot.spec);
    if (!est.ok()) {
      slot.last_error = fmt::format("loading model '{}': {}", name, est.error().message());
      ++counters_.load_failures;
      return AcquireError{500, slot.last_error, "model_load_failed", 0};
    }
    slot.size = *est;
  }
  if (opt_.max_memory > 0 && slot.size > opt_.max_memory) {
    return AcquireError{507, fmt::format("model '{}' needs about {} bytes, more than the memory budget "
                                         "(--max-memory {})", name, slot.size, opt_.max_memory),
                        "insufficient_memory", 0};
  }
  while (!make_room(slot.size, evicted)) {
    // Busy models fill the budget: wait for one to go idle (a lease ends), up to wait_ms.
    if (std::chrono::steady_clock::now() >= deadline) {
      return AcquireError{503, fmt::format("no room to load model '{}': the loaded models are busy "
                                           "(memory budget {} bytes, at most {} models)", name,
                                           opt_.max_memory, opt_.max_models),
                          "server_busy", 2};
    }
    changed_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() +
                                                     std::chrono::milliseconds(100)));
    if (slot.state != SlotState::kUnloaded) return std::nullopt;
  }
  slot.state = SlotState::kLoading;
  memory_used_ += slot.size;
  lock.unlock();
  evicted.clear();   // unload the victims outside the lock
  log::info("loading model '{}' from {}", name, slot.spec.path);
  auto loaded = loader_->load(slot.spec);
  lock.lock();
  ++slot.load_serial;
  changed_.notify_all();
  if (!loaded.ok()) {
    slot.state = SlotState::kUnloaded;
    memory_used_ -= slot.size;
    slot.last_error = fmt::format("loading model '{}': {}", name, loaded.error().message());
    ++counters_.load_failures;
    log::warn("{}", slot.last_error);
    return AcquireError{500, slot.last_error, "model_load_failed", 0};
  }
  slot.entry = std::shared_ptr<ModelEntry>(std::move(*loaded));
  slot.entry->info.name = name;
  slot.info = slot.entry->info;
  slot.state = SlotState::kLoaded;
  slot.last_error.clear();
  ++counters_.loads;
  return make_ref(slot);
}

bool ModelRegistry::fits(uint64_t need) const {
  int32_t n_loaded = 0;
  for (const auto& s : slots_) n_loaded += s->state != SlotState::kUnloaded;
  bool mem_ok = opt_.max_memory == 0 || memory_used_ + need <= opt_.max_memory;
  bool count_ok = opt_.max_models <= 0 || n_loaded + 1 <= opt_.max_models;
  return mem_ok && count_ok;
}

bool ModelRegistry::make_room(uint64_t need, std::vector<std::shared_ptr<ModelEntry>>& out) {
  if (fits(need)) return true;
  // Evict nothing unless evicting every idle model would make enough room.
  uint64_t idle_bytes = 0;
  int32_t n_resident = 0, n_idle = 0;
  for (const auto& s : slots_) {
    n_resident += s->state != SlotState::kUnloaded;
    if (s->state == SlotState::kLoaded && s->active == 0) idle_bytes += s->size, ++n_idle;
  }
  if (opt_.max_memory > 0 && memory_used_ - idle_bytes + need > opt_.max_memory) return false;
  if (opt_.max_models > 0 && n_resident - n_idle + 1 > opt_.max_models) return false;
  while (!fits(need)) {
    Slot* victim = nullptr;
    for (const auto& s : slots_) {
      if (s->state != SlotState::kLoaded || s->active > 0) continue;
      if (!victim || s->last_used_ms < victim->last_used_ms) victim = s.get();
    }
    if (!victim) return false;
    log::info("evicting idle model '{}' to make room", victim->spec.name);
    out.push_back(take_entry(*victim));
    ++counters_.evictions;
  }
  return true;
}

std::shared_ptr<ModelEntry> ModelRegistry::take_entry(Slot& slot) {
  slot.state = SlotState::kUnloaded;
  memory_used_ -= slot.size;
  slot.keep_alive_ms.reset();
  slot.unload_when_idle = false;
  changed_.notify_all();
  return std::move(slot.entry);
}

void ModelRegistry::release(Slot& slot) {
  std::shared_ptr<ModelEntry> unloaded;
  {
    std::lock_guard lock(mu_);
    --slot.active;
    int64_t now = clock_();
    slot.last_used_ms = now;
    int64_t ka = keep_alive_of(slot);
    slot.expires_at_ms = ka < 0 ? std::numeric_limits<int64_t>::max() : now + ka;
    if (slot.active == 0 && slot.state == SlotState::kLoaded && (ka == 0 || slot.unload_when_idle)) {
      log::info("unloading model '{}' (keep_alive {})", slot.spec.name, format_duration_ms(ka));
      unloaded = take_entry(slot);
      ++counters_.expirations;
    }
    changed_.notify_all();
  }
  // `unloaded` (if any) is destroyed here, outside the lock.
}

bool ModelRegistry::unload(const std::string& name) {
  std::shared_ptr<ModelEntry> unloaded;
  std::lock_guard lock(mu_);
  Slot* slot = find_slot(name);
  if (!slot) return false;
  if (slot->state != SlotState::kLoaded) return true;
  if (slot->active > 0) {
    slot->unload_when_idle = true;
    return true;
  }
  unloaded = take_entry(*slot);
  ++counters_.expirations;
  return true;
}

int ModelRegistry::reap() {
  std::vector<std::shared_ptr<ModelEntry>> expired;
  {
    std::lock_guard lock(mu_);
    int64_t now = clock_();
    for (const auto& s : slots_) {
      if (s->state != SlotState::kLoaded || s->active > 0 || s->expires_at_ms > now) continue;
      log::info("model '{}' expired (keep_alive {}): unloading", s->spec.name,
                format_duration_ms(keep_alive_of(*s)));
      expired.push_back(take_entry(*s));
      ++counters_.expirations;
    }
  }
  return static_cast<int>(expired.size());
}

void ModelRegistry::start_reaper(int64_t interval_ms) {
  if (reaper_.joinable()) return;
  reaper_ = std::thread([this, interval_ms] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      reaper_wake_.wait_for(lock, std::chrono::milliseconds(interval_ms));
      if (stop_) break;
      lock.unlock();
      reap();
      lock.lock();
    }
  });
}

void ModelRegistry::ensure_described(Slot& slot) const {
  if (slot.info || !slot.describe_error.empty()) return;
  auto info = loader_->describe(slot.spec);
  if (info.ok()) {
    slot.info = std::move(*info);
    slot.info->name = slot.spec.name;
  } else {
    slot.describe_error = info.error().message();
  }
}

ModelStatus ModelRegistry::status_of(const Slot& slot) const {
  ensure_described(const_cast<Slot&>(slot));
  ModelStatus st;
  st.spec = slot.spec;
  st.info = slot.info;
  st.describe_error = slot.describe_error;
  st.loaded = slot.state == SlotState::kLoaded;
  st.loading = slot.state == SlotState::kLoading;
  st.active = slot.active;
  st.size = slot.size;
  st.last_error = slot.last_error;
  if (slot.size == 0) {
    auto est = loader_->estimate(slot.spec);
    if (est.ok()) const_cast<Slot&>(slot).size = st.size = *est;
  }
  int64_t ka = keep_alive_of(slot);
  if (slot.active > 0) {
    st.expires_at_ms = ka < 0 ? std::numeric_limits<int64_t>::max() : clock_() + ka;
  } else {
    st.expires_at_ms = slot.expires_at_ms;
  }
  return st;
}

std::vector<ModelStatus> ModelRegistry::status() const {
  std::lock_guard lock(mu_);
  std::vector<ModelStatus> out;
  for (const auto& s : slots_) out.push_back(status_of(*s));
  return out;
}

std::optional<ModelStatus> ModelRegistry::status(const std::string& name) const {
  std::lock_guard lock(mu_);
  Slot* s = find_slot(name);
  if (!s) return std::nullopt;
  return status_of(*s);
}

std::vector<std::shared_ptr<const ModelEntry>> ModelRegistry::loaded_entries() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<const ModelEntry>> out;
  for (const auto& s : slots_) {
    if (s->state == SlotState::kLoaded) out.push_back(s->entry);
  }
  return out;
}

RegistryCounters ModelRegistry::counters() const {
  std::lock_guard lock(mu_);
  RegistryCounters c = counters_;
  c.loaded = 0;
  for (const auto& s : slots_) c.loaded += s->state == SlotState::kLoaded;
  c.memory_used = memory_used_;
  return c;
}

}  // namespace lm::server
