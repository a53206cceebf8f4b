// `localmax run`: stream a continuation of a prompt to stdout (logs and stats go to stderr).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <random>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/log.h"
#include "engine/generate.h"

namespace lm::cli {

int cmd_run(const Args& args) {
  CLI::App app{"Generate text from a prompt; the continuation is streamed to stdout.", "localmax run"};
  engine::SessionOptions so;
  engine::GenerateRequest req;
  std::string prompt_file;
  int64_t seed = -1;
  bool echo = false, verbose = false, no_special = false;
  auto& sp = req.sampling;
  app.add_option("-m,--model", so.model_path, "GGUF model (default: the demo model in models/)");
  app.add_option("-p,--prompt", req.prompt, "prompt text");
  app.add_option("-f,--file", prompt_file, "read the prompt from a file");
  app.add_option("-n,--n-predict", req.n_predict, "tokens to generate (-1: until end of text)")->capture_default_str();
  add_sampling_flags(app, sp);
  app.add_option("-s,--seed", seed, "random seed (default: random, printed to stderr)");
  app.add_option("-t,--threads", so.n_threads, "threads (default: all cores)");
  add_perf_flags(app, so);
  app.add_option("-c,--ctx-size", so.n_ctx, "context size (default: the model's)");
  app.add_option("-b,--batch-size", req.n_batch, "prompt tokens per forward pass")->capture_default_str();
  app.add_flag("--echo", echo, "print the prompt before the continuation");
  app.add_flag("--no-special", no_special, "treat control-token text in the prompt as plain text");
  app.add_flag("-v,--verbose", verbose, "log loading details");
  if (auto rc = parse_args(app, args)) return *rc;
  log::set_level(verbose ? log::Level::kDebug : log::Level::kWarn);
  if (!prompt_file.empty()) {
    auto text = read_file(prompt_file);
    if (!text.ok()) return fail(text.error());
    req.prompt = *text;
  }
  if (so.model_path.empty()) {
    so.model_path = demo_model_path();
    if (so.model_path.empty()) {
      return fail(Error("no -m MODEL given and the demo model (models/demo.gguf) was not found"));
    }
  }
  if (auto st = resolve_model_arg(so.model_path); !st.ok()) return fail(st.error());
  if (seed < 0) seed = static_cast<int64_t>(std::random_device{}() & 0x7fffffff);
  sp.seed = static_cast<uint64_t>(seed);
  req.parse_special = !no_special;

  auto session = engine::Session::open(so);
  if (!session.ok()) return fail(session.error());
  if (echo) {
    std::fwrite(req.prompt.data(), 1, req.prompt.size(), stdout);
    std::fflush(stdout);
  }
  auto res = engine::generate(**session, req, [](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (!res.ok()) return fail(res.error());
  const auto& r = *res;
  fmt::print(stderr,
             "[localmax] seed {}: prompt {} tokens in {:.3f} s ({:.1f} tok/s), generated {} tokens "
             "in {:.3f} s ({:.1f} tok/s), stop: {}\n",
             seed, r.n_prompt_tokens, r.prompt_seconds,
             r.prompt_seconds > 0 ? r.n_prompt_tokens / r.prompt_seconds : 0.0, r.n_generated,
             r.generate_seconds, r.generate_seconds > 0 ? r.n_generated / r.generate_seconds : 0.0,
             engine::stop_reason_name(r.stop));
  return 0;
}

}  // namespace lm::cli
