// ModelRegistry policy with a fake loader and an injected clock: load on first acquire, shared
// loads, failures retried, LRU eviction within a memory budget and a model count, busy models
// never evicted, keep_alive expiry (request, model and server defaults; 0 and forever).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "server/duration.h"
#include "server/model_registry.h"
#include "server/models_config.h"

namespace lm::server {
namespace {

// Sizes by model name; "broken" models fail to load; loads can be held at a gate.
struct FakeWorld {
  std::map<std::string, uint64_t> sizes;
  std::set<std::string> broken;
  std::atomic<int> loads{0};
  std::atomic<int> live{0};            // entries alive (loaded and not yet destroyed)
  std::mutex mu;
  std::condition_variable cv;
  bool gate_closed = false;
  int waiting_at_gate = 0;
};

struct FakeEntry : ModelEntry {
  explicit FakeEntry(FakeWorld* w) : world(w) { ++world->live; }
  ~FakeEntry() { --world->live; }
  FakeWorld* world;
};

class FakeLoader : public ModelLoader {
 public:
  explicit FakeLoader(FakeWorld* w) : w_(w) {}
  Result<ModelInfo> describe(const ModelSpec& spec) override {
    ModelInfo i;
    i.name = spec.name;
    i.path = spec.path;
    i.n_ctx = spec.scheduler.n_ctx;
    return i;
  }
  Result<uint64_t> estimate(const ModelSpec& spec) override {
    auto it = w_->sizes.find(spec.name);
    if (it == w_->sizes.end()) return errorf("{}: no such file", spec.path);
    return it->second;
  }
  Result<std::unique_ptr<ModelEntry>> load(const ModelSpec& spec) override {
    {
      std::unique_lock lock(w_->mu);
      ++w_->waiting_at_gate;
      w_->cv.notify_all();
      w_->cv.wait(lock, [&] { return !w_->gate_closed; });
      --w_->waiting_at_gate;
    }
    ++w_->loads;
    if (w_->broken.count(spec.name)) return errorf("{}: not a GGUF file", spec.path);
    auto e = std::make_unique<FakeEntry>(w_);
    e->info.name = spec.name;
    return std::unique_ptr<ModelEntry>(std::move(e));
  }

 private:
  FakeWorld* w_;
};

struct Fixture : ::testing::Test {
  FakeWorld world;
  int64_t now = 1'000'000;
  std::unique_ptr<ModelRegistry> reg;

  void make(RegistryOptions o, std::vector<std::pair<std::string, uint64_t>> models) {
    o.wait_ms = 0;
    reg = std::make_unique<ModelRegistry>(std::make_unique<FakeLoader>(&world), o, [this] { return now; });
    for (auto& [name, size] : models) {
      world.sizes[name] = size;
      ModelSpec s;
      s.name = name;
      s.path = "/models/" + name + ".gguf";
      ASSERT_TRUE(reg->add(s).ok());
    }
  }
  ModelRef get(const std::string& name, std::optional<int64_t> ka = {}) {
    auto r = reg->acquire(name, ka);
    if (auto* e = std::get_if<AcquireError>(&r)) {
      ADD_FAILURE() << "acquire " << name << ": " << e->status << " " << e->message;
      return nullptr;
    }
    return std::get<ModelRef>(r);
  }
  AcquireError fail(const std::string& name) {
    auto r = reg->acquire(name);
    EXPECT_TRUE(std::holds_alternative<AcquireError>(r)) << name << " should not be acquired";
    return std::holds_alternative<AcquireError>(r) ? std::get<AcquireError>(r) : AcquireError{};
  }
  bool loaded(const std::string& name) { return reg->status(name)->loaded; }
};

TEST_F(Fixture, LoadsOnFirstAcquireAndReusesTheLoad) {
  make({}, {{"a", 100}, {"b", 200}});
  EXPECT_FALSE(loaded("a"));
  EXPECT_EQ(world.loads, 0);
  { auto r = get("a"); ASSERT_TRUE(r); EXPECT_EQ(r->info.name, "a"); }
  EXPECT_TRUE(loaded("a"));
  EXPECT_FALSE(loaded("b"));
  { auto r = get("a:latest"); ASSERT_TRUE(r); }
  { auto r = get(""); ASSERT_TRUE(r); EXPECT_EQ(r->info.name, "a"); }   // "" = the first model
  EXPECT_EQ(world.loads, 1);
  EXPECT_EQ(reg->counters().loads, 1);
  EXPECT_EQ(reg->status("a")->size, 100u);
  EXPECT_EQ(fail("nope").status, 404);
}

TEST_F(Fixture, DuplicateNamesAreRejected) {
  make({}, {{"a", 1}});
  ModelSpec s;
  s.name = "a";
  EXPECT_FALSE(reg->add(s).ok());
}

TEST_F(Fixture, BudgetEvictsTheLeastRecentlyUsedIdleModel) {
  make({.max_memory = 250}, {{"a", 100}, {"b", 100}, {"c", 100}});
  get("a");
  now += 10;
  get("b");
  now += 10;
  get("a");   // a is now more recent than b
  now += 10;
  get("c");   // 300 > 250: b (LRU) goes
  EXPECT_TRUE(loaded("a"));
  EXPECT_FALSE(loaded("b"));
  EXPECT_TRUE(loaded("c"));
  EXPECT_EQ(reg->counters().evictions, 1);
  EXPECT_EQ(reg->counters().memory_used, 200u);
  EXPECT_EQ(world.live, 2);   // the evicted entry was destroyed
}

TEST_F(Fixture, MaxModelsEvictsToo) {
  make({.max_models = 1}, {{"a", 1}, {"b", 1}});
  get("a");
  get("b");
  EXPECT_FALSE(loaded("a"));
  EXPECT_TRUE(loaded("b"));
}

TEST_F(Fixture, BusyModelIsNeverEvicted) {
  make({.max_memory = 150}, {{"a", 100}, {"b", 100}});
  ModelRef held = get("a");
  AcquireError e = fail("b");
  EXPECT_EQ(e.status, 503);
  EXPECT_GT(e.retry_after_s, 0);
  EXPECT_TRUE(loaded("a"));
  EXPECT_EQ(reg->status("a")->active, 1);
  held.reset();   // the request ends: a is idle and can go
  EXPECT_TRUE(get("b"));
  EXPECT_FALSE(loaded("a"));
}

TEST_F(Fixture, NothingIsEvictedWhenEvictingCannotMakeRoom) {
  make({.max_memory = 250}, {{"big", 150}, {"small", 50}, {"c", 120}});
  ModelRef held = get("big");
  get("small");
  EXPECT_EQ(fail("c").status, 503);   // evicting small (50) would not free enough for 120
  EXPECT_TRUE(loaded("small"));
  EXPECT_EQ(reg->counters().evictions, 0);
}

TEST_F(Fixture, LeaseKeepsTheEntryAliveAndCopiesShareIt) {
  make({}, {{"a", 1}});
  ModelRef r1 = get("a");
  ModelRef r2 = r1;
  r1.reset();
  EXPECT_EQ(reg->status("a")->active, 1);   // one lease, two handles
  r2.reset();
  EXPECT_EQ(reg->status("a")->active, 0);
}

TEST_F(Fixture, ModelLargerThanTheBudgetIs507) {
  make({.max_memory = 50}, {{"a", 100}});
  EXPECT_EQ(fail("a").status, 507);
}

TEST_F(Fixture, FailedLoadIsReportedAndRetriedLater) {
  make({}, {{"bad", 10}, {"good", 10}});
  world.broken.insert("bad");
  AcquireError e = fail("bad");
  EXPECT_EQ(e.status, 500);
  EXPECT_NE(e.message.find("not a GGUF file"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("bad"), std::string::npos) << e.message;
  EXPECT_EQ(reg->counters().memory_used, 0u);   // the reservation was returned
  EXPECT_TRUE(get("good"));
  world.broken.clear();   // fixed on disk: the next request loads it
  EXPECT_TRUE(get("bad"));
  EXPECT_EQ(world.loads, 3);
  EXPECT_EQ(reg->counters().load_failures, 1);
}

TEST_F(Fixture, ConcurrentFirstRequestsShareOneLoad) {
  make({}, {{"a", 1}});
  {
    std::lock_guard lock(world.mu);
    world.gate_closed = true;
  }
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto r = reg->acquire("a");
      if (std::holds_alternative<ModelRef>(r)) ++ok;
    });
  }
  {
    std::unique_lock lock(world.mu);
    world.cv.wait(lock, [&] { return world.waiting_at_gate == 1; });
  }
  EXPECT_TRUE(reg->status("a")->loading);
  {
    std::lock_guard lock(world.mu);
    world.gate_closed = false;
  }
  world.cv.notify_all();
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 4);
  EXPECT_EQ(world.loads, 1);
}

TEST_F(Fixture, ConcurrentWaitersShareAFailure) {
  make({}, {{"a", 1}});
  world.broken.insert("a");
  {
    std::lock_guard lock(world.mu);
    world.gate_closed = true;
  }
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      auto r = reg->acquire("a");
      if (auto* e = std::get_if<AcquireError>(&r); e && e->status == 500) ++failed;
    });
  }
  {
    std::unique_lock lock(world.mu);
    world.cv.wait(lock, [&] { return world.waiting_at_gate == 1; });
  }
  // Give the other two time to start waiting on the load (not required for correctness: late
  // arrivals start a load of their own and fail the same way).
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  {
    std::lock_guard lock(world.mu);
    world.gate_closed = false;
  }
  world.cv.notify_all();
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed, 3);
  EXPECT_LE(world.loads, 3);
}

TEST_F(Fixture, KeepAliveExpiryWithInjectedClock) {
  make({.keep_alive_ms = 5000}, {{"a", 1}, {"b", 1}});
  get("a");
  EXPECT_EQ(reg->status("a")->expires_at_ms, now + 5000);
  now += 4999;
  EXPECT_EQ(reg->reap(), 0);
  EXPECT_TRUE(loaded("a"));
  now += 1;
  EXPECT_EQ(reg->reap(), 1);
  EXPECT_FALSE(loaded("a"));
  EXPECT_EQ(reg->counters().expirations, 1);
  EXPECT_EQ(world.live, 0);
}

TEST_F(Fixture, BusyModelDoesNotExpire) {
  make({.keep_alive_ms = 1000}, {{"a", 1}});
  ModelRef r = get("a");
  now += 60'000;
  EXPECT_EQ(reg->reap(), 0);
  EXPECT_TRUE(loaded("a"));
  r.reset();   // expiry counts from the end of the request
  now += 999;
  EXPECT_EQ(reg->reap(), 0);
  now += 1;
  EXPECT_EQ(reg->reap(), 1);
}

TEST_F(Fixture, RequestKeepAliveOverridesAndZeroUnloadsAtOnce) {
  make({.keep_alive_ms = 1000}, {{"a", 1}});
  get("a", int64_t{60'000});
  now += 2000;
  EXPECT_EQ(reg->reap(), 0);   // the request's 60 s, not the default 1 s
  {
    ModelRef r = get("a", int64_t{0});
    EXPECT_TRUE(loaded("a"));   // never unloaded under a request
  }
  EXPECT_FALSE(loaded("a"));
  get("a");   // a new load forgets the old request's keep_alive: the default again
  EXPECT_EQ(reg->status("a")->expires_at_ms, now + 1000);
}

TEST_F(Fixture, NegativeKeepAliveIsForeverAndModelSettingWins) {
  make({.keep_alive_ms = 1000}, {{"a", 1}});
  ModelSpec s;
  s.name = "pinned";
  s.path = "/models/pinned.gguf";
  s.keep_alive_ms = kForeverMs;
  world.sizes["pinned"] = 1;
  ASSERT_TRUE(reg->add(s).ok());
  get("pinned");
  now += int64_t{1} << 40;
  EXPECT_EQ(reg->reap(), 0);
  EXPECT_TRUE(loaded("pinned"));
  EXPECT_EQ(reg->status("pinned")->expires_at_ms, std::numeric_limits<int64_t>::max());
}

TEST_F(Fixture, UnloadWaitsForTheLastRequest) {
  make({}, {{"a", 1}});
  ModelRef r = get("a");
  EXPECT_TRUE(reg->unload("a"));
  EXPECT_TRUE(loaded("a"));
  EXPECT_EQ(world.live, 1);
  r.reset();
  EXPECT_FALSE(loaded("a"));
  EXPECT_EQ(world.live, 0);
  EXPECT_FALSE(reg->unload("nope"));
}

TEST_F(Fixture, WaitsForABusyModelToGoIdle) {
  reg = std::make_unique<ModelRegistry>(std::make_unique<FakeLoader>(&world),
                                        RegistryOptions{.max_memory = 150, .wait_ms = 10'000},
                                        [this] { return now; });
  world.sizes = {{"a", 100}, {"b", 100}};
  for (const char* n : {"a", "b"}) {
    ModelSpec s;
    s.name = n;
    ASSERT_TRUE(reg->add(s).ok());
  }
  ModelRef held = std::get<ModelRef>(reg->acquire("a"));
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    held.reset();
  });
  auto r = reg->acquire("b");   // queued until a's request ends, then a is evicted
  t.join();
  EXPECT_TRUE(std::holds_alternative<ModelRef>(r));
  EXPECT_FALSE(loaded("a"));
}

TEST(Duration, ParsesOllamaForms) {
  EXPECT_EQ(*parse_duration_ms("5m"), 300'000);
  EXPECT_EQ(*parse_duration_ms("1h30m"), 5'400'000);
  EXPECT_EQ(*parse_duration_ms("1.5s"), 1500);
  EXPECT_EQ(*parse_duration_ms("250ms"), 250);
  EXPECT_EQ(*parse_duration_ms("300"), 300'000);   // bare number: seconds
  EXPECT_EQ(*parse_duration_ms("0"), 0);
  EXPECT_EQ(*parse_duration_ms("-1"), kForeverMs);
  EXPECT_EQ(*parse_duration_ms("-5m"), kForeverMs);
  EXPECT_EQ(*duration_from_json(nlohmann::json(2)), 2000);
  EXPECT_EQ(*duration_from_json(nlohmann::json(-1)), kForeverMs);
  EXPECT_EQ(*duration_from_json(nlohmann::json("10s")), 10'000);
  for (const char* bad : {"", "5x", "m", "5m3", "abc", "1..2s"}) {
    EXPECT_FALSE(parse_duration_ms(bad).ok()) << bad;
  }
  EXPECT_FALSE(duration_from_json(nlohmann::json::array()).ok());
  EXPECT_EQ(format_duration_ms(90'000), "1m30s");
  EXPECT_EQ(format_duration_ms(-1), "forever");
}

TEST(MemoryBudget, ParsesUnits) {
  EXPECT_EQ(*parse_memory_budget("1000"), 1000u);
  EXPECT_EQ(*parse_memory_budget("2K"), 2048u);
  EXPECT_EQ(*parse_memory_budget("1.5GiB"), 1610612736u);
  EXPECT_EQ(*parse_memory_budget("3MB"), 3u << 20);
  auto a = parse_memory_budget("auto");
  ASSERT_TRUE(a.ok()) << a.error().message();
  EXPECT_GT(*a, 0u);
  EXPECT_FALSE(parse_memory_budget("lots").ok());
  EXPECT_FALSE(parse_memory_budget("5Q").ok());
  EXPECT_FALSE(parse_memory_budget("-1").ok());
}

TEST(ModelsConfig, ParsesAndAppliesStrictly) {
  const char* text = R"({"tiny": {"path": "tiny.gguf", "ctx_size": 128, "parallel": 2,
                                   "cache_type_k": "f16", "keep_alive": "10m", "kv_pool": 192},
                         "demo": {"cache_type_v": "q8_0", "keep_alive": -1}})";
  auto entries = parse_models_config(text, "cfg.json", "/etc/lm");
  ASSERT_TRUE(entries.ok()) << entries.error().message();
  ModelSpec defaults;
  defaults.scheduler.n_ctx = 512;
  std::vector<ModelSpec> specs;
  ModelSpec demo = defaults;
  demo.name = "demo";
  demo.path = "/m/demo.gguf";
  specs.push_back(demo);
  ASSERT_TRUE(apply_models_config(*entries, defaults, specs).ok());
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].cache_type_v, "q8_0");
  EXPECT_EQ(specs[0].keep_alive_ms, kForeverMs);
  EXPECT_EQ(specs[0].scheduler.n_ctx, 512);   // the flag's default stays
  EXPECT_EQ(specs[1].name, "tiny");
  EXPECT_EQ(specs[1].path, "/etc/lm/tiny.gguf");
  EXPECT_EQ(specs[1].scheduler.n_ctx, 128);
  EXPECT_EQ(specs[1].scheduler.n_parallel, 2);
  EXPECT_EQ(specs[1].scheduler.n_kv_pool, 192);
  EXPECT_EQ(specs[0].scheduler.n_kv_pool, 0);
  EXPECT_EQ(specs[1].cache_type_k, "f16");
  EXPECT_EQ(specs[1].keep_alive_ms, 600'000);
}

// The memory estimate counts the KV pool: --kv-pool positions instead of n_ctx per slot.
TEST(GgufLoader, EstimateCountsTheKvPool) {
  ModelSpec spec;
  spec.path = std::string(LM_SOURCE_DIR) + "/models/demo.gguf";   // 4 layers, kv_dim 96
  spec.scheduler.n_ctx = 256;
  spec.scheduler.n_parallel = 4;
  auto loader = make_gguf_loader();
  auto full = loader->estimate(spec);
  ASSERT_TRUE(full.ok()) << full.error().message();
  spec.scheduler.n_kv_pool = 250;   // rounds up to 256 positions (whole blocks of 32)
  auto pooled = loader->estimate(spec);
  ASSERT_TRUE(pooled.ok());
  const uint64_t per_pos = 4u * 96 * 2 * sizeof(float);   // f32 keys and values, every layer
  // Without a pool: n_ctx for each of the 4 chat slots and the embedding-only slot(s).
  const uint64_t n_seq = 4u + static_cast<uint64_t>(spec.scheduler.n_embedding_slots);
  EXPECT_EQ(*full - *pooled, (n_seq * 256 - 256) * per_pos);
}

TEST(ModelsConfig, ErrorsNameTheProblem) {
  auto err = [](const char* text) {
    auto r = parse_models_config(text, "cfg.json", "");
    return r.ok() ? std::string("(accepted)") : r.error().message();
  };
  std::string e = err(R"({"a": {"path": "x", "ctx": 5, "threads": 2}})");
  EXPECT_NE(e.find("'ctx'"), std::string::npos) << e;
  EXPECT_NE(e.find("'threads'"), std::string::npos) << e;
  EXPECT_NE(e.find("model 'a'"), std::string::npos) << e;
  EXPECT_NE(err(R"({"a": {"ctx_size": "big"}})").find("ctx_size"), std::string::npos);
  EXPECT_NE(err(R"({"a": {"ctx_size": -3}})").find("out of range"), std::string::npos);
  EXPECT_NE(err(R"({"a": {"cache_type_k": "q9"}})").find("cache_type_k"), std::string::npos);
  EXPECT_NE(err(R"({"a": {"keep_alive": "soon"}})").find("keep_alive"), std::string::npos);
  EXPECT_NE(err(R"({"a": {"parallel": 0}})").find("parallel"), std::string::npos);
  EXPECT_NE(err(R"({"a": {"kv_pool": -1}})").find("kv_pool"), std::string::npos);
  EXPECT_NE(err(R"([1, 2])").find("expected an object"), std::string::npos);
  EXPECT_NE(err(R"({"a": 3})").find("expected an object"), std::string::npos);
  EXPECT_NE(err("{not json").find("not valid JSON"), std::string::npos);
  // An entry without a path must name a model given on the command line.
  auto entries = parse_models_config(R"({"ghost": {"ctx_size": 64}})", "cfg.json", "");
  ASSERT_TRUE(entries.ok());
  std::vector<ModelSpec> specs;
  Status st = apply_models_config(*entries, ModelSpec{}, specs);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("ghost"), std::string::npos);
}

}  // namespace
}  // namespace lm::server
