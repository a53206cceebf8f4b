// The real ModelLoader (GGUF files through engine::Session + Scheduler) and the memory budget.
#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "core/log.h"
#include "engine/session.h"
#include "gguf/gguf.h"
#include "server/model_registry.h"
#include "tensor/dtype.h"

namespace lm::server {
namespace {

std::string make_digest(const ModelInfo& info) {
  size_t h = std::hash<std::string>{}(info.path + "|" + std::to_string(info.size_bytes) + "|" +
                                      std::to_string(info.modified_unix));
  return fmt::format("{:016x}{:016x}{:016x}{:016x}", h, h ^ 0x9e3779b97f4a7c15ull, h * 31, ~h);
}

// Everything ModelInfo holds that the file's header tells (no tokenizer, no weights touched).
Result<ModelInfo> describe_file(const gguf::File& f, const ModelSpec& spec) {
  ModelInfo info;
  info.name = spec.name;
  info.path = spec.path;
  LM_TRY(info.config, model::read_config(f));
  info.arch = info.config.arch;
  info.n_ctx_train = info.config.n_ctx_train;
  info.n_ctx = spec.scheduler.n_ctx > 0 ? spec.scheduler.n_ctx : info.n_ctx_train;
  LM_TRY(auto text, f.get_string_or("tokenizer.chat_template", ""));
  info.chat_template = std::string(text);
  std::map<std::string, int64_t> by_type;
  for (const auto& t : f.tensors()) {
    info.n_params += t.n_elements();
    if (t.dims.size() >= 2) by_type[std::string(dtype_name(t.type))] += t.n_elements();
  }
  int64_t best = -1;
  for (const auto& [name, n] : by_type) {
    if (n > best) best = n, info.quantization = name;
  }
  info.size_bytes = f.file_size();
  std::error_code ec;
  auto mtime = std::filesystem::last_write_time(spec.path, ec);
  if (!ec) {
    auto sys = std::chrono::file_clock::to_sys(mtime);
    info.modified_unix = std::chrono::duration_cast<std::chrono::seconds>(sys.time_since_epoch()).count();
  }
  info.digest = make_digest(info);
  return info;
}

// The parsed chat template (needs the tokenizer's BOS/EOS text); ChatML fallback when absent or
// unparsable.
void attach_template(const engine::Scheduler& sched, ModelInfo& info) {
  if (info.chat_template.empty()) return;
  const auto& tok = sched.tokenizer();
  chat::TemplateSource src{info.chat_template,
                           tok.bos() >= 0 ? std::string(tok.token_text(tok.bos())) : "",
                           tok.eos() >= 0 ? std::string(tok.token_text(tok.eos())) : ""};
  auto parsed = chat::ChatTemplate::parse(src);
  if (parsed.ok()) {
    info.tmpl = std::make_shared<const chat::ChatTemplate>(std::move(*parsed));
  } else {
    log::warn("{}: the chat template does not parse ({}); using ChatML", info.path,
              parsed.error().message());
    info.chat_template.clear();
  }
}

double cache_bytes_per_elem(const std::string& type) {
  auto t = engine::parse_cache_type(type);
  if (!t.ok()) return 4.0;
  const DTypeInfo& i = dtype_info(*t);
  return static_cast<double>(i.type_size) / static_cast<double>(i.block_size);
}

class GgufLoader : public ModelLoader {
 public:
  Result<ModelInfo> describe(const ModelSpec& spec) override {
    LM_TRY(auto f, gguf::File::open(spec.path));
    return describe_file(*f, spec);
  }

  Result<uint64_t> estimate(const ModelSpec& spec) override {
    LM_TRY(auto f, gguf::File::open(spec.path));
    LM_TRY(auto c, model::read_config(*f));
    const auto& s = spec.scheduler;
    double n_ctx = s.n_ctx > 0 ? s.n_ctx : c.n_ctx_train;
    double n_par = std::max(1, s.n_parallel);
    double n_seq = n_par + std::max(0, s.n_embedding_slots);   // + the embedding-only slots
    // The KV block pool: --kv-pool positions, else n_ctx per slot (whole blocks).
    const double pool = static_cast<double>(engine::kv_pool_positions(
        static_cast<int32_t>(n_ctx), static_cast<int32_t>(n_seq), s.n_kv_pool));
    double kv = pool * c.n_layer * c.kv_dim() *
                (cache_bytes_per_elem(spec.cache_type_k) + cache_bytes_per_elem(spec.cache_type_v));
    // Forward-pass scratch: activations of one batch, logits, attention scores.
    double n_batch = std::max(1, s.n_batch);
    double scratch = 4.0 * (n_batch * (4.0 * c.n_embd + 2.0 * c.q_dim() + 3.0 * c.n_ff) +
                            n_par * c.n_vocab + n_batch * c.n_head * n_ctx);
    return static_cast<uint64_t>(static_cast<double>(f->file_size()) + kv + scratch);
  }

  Result<std::unique_ptr<ModelEntry>> load(const ModelSpec& spec) override {
    auto t0 = std::chrono::steady_clock::now();
    engine::SessionOptions so;
    so.model_path = spec.path;
    so.n_ctx = spec.scheduler.n_ctx;
    so.n_threads = spec.scheduler.n_threads;
    // The scheduler's embedding-only slots, so embeddings run beside n_parallel chat streams.
    so.n_seq_max = std::max(1, spec.scheduler.n_parallel) + std::max(0, spec.scheduler.n_embedding_slots);
    so.n_kv_pool = spec.scheduler.n_kv_pool;
    so.cache_type_k = spec.cache_type_k;
    so.cache_type_v = spec.cache_type_v;
    LM_TRY(auto session, engine::Session::open(so));
    engine::SchedulerOptions o = spec.scheduler;
    o.n_ctx = 0;   // the session was opened with it
    LM_TRY(auto sched, engine::Scheduler::start(std::move(session), o));
    auto entry = std::make_unique<ModelEntry>();
    LM_TRY(entry->info, describe_file(sched->model().file(), spec));
    entry->info.n_ctx = sched->n_ctx();
    attach_template(*sched, entry->info);
    entry->scheduler = std::move(sched);
    entry->info.load_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::steady_clock::now() - t0).count();
    return entry;
  }
};

Result<uint64_t> mem_available() {
  std::ifstream in("/proc/meminfo");
  if (!in) return errorf("--max-memory auto: cannot read /proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit) {
    if (key == "MemAvailable:") return kb * 1024;
  }
  return errorf("--max-memory auto: no MemAvailable in /proc/meminfo");
}

}  // namespace

std::unique_ptr<ModelLoader> make_gguf_loader() { return std::make_unique<GgufLoader>(); }

Result<uint64_t> parse_memory_budget(const std::string& text) {
  if (text == "auto") {
    LM_TRY(uint64_t avail, mem_available());
    return avail / 10 * 8;
  }
  size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(text, &pos);
  } catch (const std::exception&) {
    return errorf("--max-memory '{}': expected a number of bytes (with K/M/G/T) or 'auto'", text);
  }
  std::string unit = text.substr(pos);
  for (auto& ch : unit) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  static const std::map<std::string, double> kUnits = {
      {"", 1}, {"B", 1}, {"K", 1024.0}, {"KB", 1024.0}, {"KIB", 1024.0},
      {"M", 1048576.0}, {"MB", 1048576.0}, {"MIB", 1048576.0},
      {"G", 1073741824.0}, {"GB", 1073741824.0}, {"GIB", 1073741824.0},
      {"T", 1099511627776.0}, {"TB", 1099511627776.0}, {"TIB", 1099511627776.0}};
  auto it = kUnits.find(unit);
  if (it == kUnits.end() || v < 0 || !(v * it->second < 1.8e19)) {
    return errorf("--max-memory '{}': expected a number of bytes (with K/M/G/T) or 'auto'", text);
  }
  return static_cast<uint64_t>(v * it->second);
}

}  // namespace lm::server
