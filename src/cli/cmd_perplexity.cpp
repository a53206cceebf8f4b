// `localmax perplexity`: perplexity of a model on a text file, computed like llama-perplexity.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/log.h"
#include "engine/perplexity.h"

namespace lm::cli {

int cmd_perplexity(const Args& args) {
  CLI::App app{"Perplexity of a model on a text file (same chunking and scored positions as "
               "llama.cpp's llama-perplexity).", "localmax perplexity"};
  engine::SessionOptions so;
  engine::PerplexityOptions po;
  std::string text_file;
  bool json = false;
  app.add_option("-m,--model", so.model_path, "GGUF model")->required();
  app.add_option("-f,--file", text_file, "text file")->required();
  app.add_option("-c,--ctx-size", po.n_ctx, "tokens per chunk")->capture_default_str();
  app.add_option("--chunks", po.n_chunks, "evaluate at most this many chunks (-1: all)")->capture_default_str();
  app.add_option("-b,--batch-size", po.n_batch, "tokens per forward pass")->capture_default_str();
  app.add_option("-t,--threads", so.n_threads, "threads (default: all cores)");
  app.add_flag("--json", json, "print one JSON object with the results");
  if (auto rc = parse_args(app, args)) return *rc;
  log::set_level(log::Level::kWarn);
  auto text = read_file(text_file);
  if (!text.ok()) return fail(text.error());
  so.n_ctx = po.n_ctx;
  if (auto st = resolve_model_arg(so.model_path); !st.ok()) return fail(st.error());
  auto session = engine::Session::open(so);
  if (!session.ok()) return fail(session.error());
  auto res = engine::perplexity(**session, *text, po, [&](int32_t i, double ppl) {
    if (!json) fmt::print(stderr, "[{}]{:.4f},", i + 1, ppl);
  });
  if (!json) fmt::print(stderr, "\n");
  if (!res.ok()) return fail(res.error());
  const auto& r = *res;
  if (json) {
    nlohmann::json j = {{"perplexity", r.ppl},       {"perplexity_stderr", r.ppl_stderr},
                        {"n_tokens", r.n_tokens},    {"n_chunks", r.n_chunks},
                        {"n_ctx", po.n_ctx},         {"n_scored", r.n_scored},
                        {"seconds", r.seconds},      {"chunk_perplexity", r.running},
                        {"model", so.model_path},    {"file", text_file}};
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("Final estimate: PPL = {:.4f} +/- {:.5f} ({} chunks of {} tokens, {} predictions, "
               "{:.2f} s)\n", r.ppl, r.ppl_stderr, r.n_chunks, po.n_ctx, r.n_scored, r.seconds);
  }
  return 0;
}

}  // namespace lm::cli
