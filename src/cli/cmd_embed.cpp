// `localmax embed -m MODEL TEXT...`: prints the embedding of each text as JSON, computed exactly as
// the server's /v1/embeddings does (a Scheduler embedding request: pooled final hidden states,
// L2-normalised).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>

#include "cli/commands.h"
#include "cli/common.h"
#include "engine/scheduler.h"

namespace lm::cli {

int cmd_embed(const Args& args) {
  CLI::App app{"Print the embedding (unit vector) of each text as JSON.", "localmax embed"};
  std::string model_path;
  std::vector<std::string> texts;
  engine::SchedulerOptions so;
  so.n_parallel = 4;
  int32_t dims = 0;
  app.add_option("-m,--model", model_path, "GGUF model (default: the demo model)");
  app.add_option("text", texts, "the texts, one embedding each")->required();
  app.add_option("-c,--ctx-size", so.n_ctx, "context size (0: the model's)");
  app.add_option("-t,--threads", so.n_threads, "threads (0: all)");
  app.add_option("--dimensions", dims, "keep the first N components (re-normalised)")
      ->check(CLI::Range(1, 1 << 30));
  if (auto rc = parse_args(app, args)) return *rc;
  if (model_path.empty()) model_path = demo_model_path();
  if (auto st = resolve_model_arg(model_path); !st.ok()) return fail(st.error());
  so.n_parallel = std::max(1, std::min<int32_t>(so.n_parallel, static_cast<int32_t>(texts.size())));
  auto sched = engine::Scheduler::open(model_path, so);
  if (!sched.ok()) return fail(sched.error());
  engine::Scheduler& s = **sched;
  if (dims > s.config().n_embd)
    return fail(errorf("--dimensions {} exceeds the model's {} dimensions", dims, s.config().n_embd));
  std::vector<std::shared_ptr<engine::RequestHandle>> handles;
  for (size_t i = 0; i < texts.size(); ++i) {
    engine::CompletionRequest r;
    const auto& tok = s.tokenizer();
    r.prompt = tok.encode(texts[i], tok.add_bos() && tok.bos() >= 0, /*parse_special=*/true);
    r.embedding = true;
    auto h = s.submit(std::move(r));
    if (auto* e = std::get_if<1>(&h)) return fail(errorf("text {}: {}", i, e->second));
    handles.push_back(std::get<0>(h));
  }
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < handles.size(); ++i) {
    engine::StreamEvent ev;
    while (!handles[i]->next(&ev, std::chrono::seconds(1)) || !ev.done) {
    }
    if (ev.embedding.empty()) return fail(errorf("text {}: {}", i, ev.error));
    std::vector<float> v = dims > 0 ? engine::truncate_dims(ev.embedding, dims) : ev.embedding;
    out.push_back({{"index", i}, {"tokens", ev.usage.prompt_tokens}, {"embedding", v}});
  }
  nlohmann::json doc = {{"model", model_path},
                        {"pooling", std::string(engine::pooling_name(s.pooling()))},
                        {"data", out}};
  fmt::print("{}\n", doc.dump());
  return 0;
}

}  // namespace lm::cli
