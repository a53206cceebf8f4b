#include "server/model_registry.h"

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>

#include "core/log.h"
#include "gguf/gguf.h"
#include "tensor/dtype.h"

namespace lm::server {
namespace {

std::string file_stem(const std::string& path) {
  std::string stem = std::filesystem::path(path).filename().string();
  if (stem.size() > 5 && stem.substr(stem.size() - 5) == ".gguf") stem.resize(stem.size() - 5);
  return stem;
}

void describe(const engine::Scheduler& sched, ModelInfo& info) {
  const gguf::File& f = sched.model().file();
  info.arch = sched.config().arch;
  info.n_ctx_train = sched.config().n_ctx_train;
  auto text = f.get_string_or("tokenizer.chat_template", "");
  if (text.ok() && !text->empty()) {
    const auto& tok = sched.tokenizer();
    chat::TemplateSource src{std::string(*text),
                             tok.bos() >= 0 ? std::string(tok.token_text(tok.bos())) : "",
                             tok.eos() >= 0 ? std::string(tok.token_text(tok.eos())) : ""};
    auto parsed = chat::ChatTemplate::parse(src);
    if (parsed.ok()) {
      info.chat_template = src.text;
      info.tmpl = std::make_shared<const chat::ChatTemplate>(std::move(*parsed));
    } else {
      log::warn("{}: the chat template does not parse ({}); using ChatML", info.path,
                parsed.error().message());
    }
  }
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
}

}  // namespace

Status ModelRegistry::load(const ModelLoadOptions& options) {
  auto t0 = std::chrono::steady_clock::now();
  LM_TRY(auto sched, engine::Scheduler::open(options.path, options.scheduler));
  auto entry = std::make_unique<ModelEntry>();
  entry->scheduler = std::move(sched);
  ModelInfo& info = entry->info;
  info.name = options.alias.empty() ? file_stem(options.path) : options.alias;
  info.path = options.path;
  describe(*entry->scheduler, info);
  std::error_code ec;
  auto mtime = std::filesystem::last_write_time(options.path, ec);
  if (!ec) {
    auto sys = std::chrono::file_clock::to_sys(mtime);
    info.modified_unix = std::chrono::duration_cast<std::chrono::seconds>(sys.time_since_epoch()).count();
  }
  size_t h = std::hash<std::string>{}(info.path + "|" + std::to_string(info.size_bytes) + "|" +
                                      std::to_string(info.modified_unix));
  info.digest = fmt::format("{:016x}{:016x}{:016x}{:016x}", h, h ^ 0x9e3779b97f4a7c15ull,
                            h * 31, ~h);
  info.load_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::steady_clock::now() - t0).count();
  entries_.push_back(std::move(entry));
  return {};
}

ModelEntry* ModelRegistry::find(const std::string& name) const {
  if (entries_.empty()) return nullptr;
  if (name.empty()) return entries_.front().get();
  std::string base = name;
  const std::string kLatest = ":latest";
  if (base.size() > kLatest.size() && base.compare(base.size() - kLatest.size(), kLatest.size(), kLatest) == 0) {
    base.resize(base.size() - kLatest.size());
  }
  for (const auto& e : entries_) {
    if (e->info.name == name || e->info.name == base) return e.get();
  }
  return nullptr;
}

}  // namespace lm::server
