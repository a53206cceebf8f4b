#include "cli/common.h"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "store/store.h"

namespace lm::cli {

std::string demo_model_path() {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> candidates;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(exe.parent_path() / "../../models/demo.gguf");
  candidates.push_back(fs::path(LM_SOURCE_DIR) / "models/demo.gguf");
  for (const auto& c : candidates) {
    if (fs::is_regular_file(c, ec)) return fs::weakly_canonical(c, ec).string();
  }
  return "";
}

int fail(const Error& e) {
  fmt::print(stderr, "error: {}\n", e.message());
  return 1;
}

Status resolve_model_arg(std::string& model) {
  if (model.empty()) return Ok{};
  LM_TRY(model, store::resolve_model(model));
  return Ok{};
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errorf("cannot open {}: {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return errorf("cannot read {}", path);
  return ss.str();
}

std::optional<int> parse_args(CLI::App& app, const std::vector<std::string>& args) {
  try {
    std::vector<std::string> rev(args.rbegin(), args.rend());  // CLI11 takes them reversed
    app.parse(rev);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return std::nullopt;
}

void add_sampling_flags(CLI::App& app, sampling::SamplingParams& sp) {
  app.add_option("--temp", sp.temperature, "temperature (0: greedy)")->capture_default_str();
  app.add_option("--top-k", sp.top_k, "top-k (0: off)")->capture_default_str();
  app.add_option("--top-p", sp.top_p, "top-p (1: off)")->capture_default_str();
  app.add_option("--min-p", sp.min_p, "min-p (0: off)")->capture_default_str();
  app.add_option("--repeat-penalty", sp.repeat_penalty, "repetition penalty (1: off)")->capture_default_str();
  app.add_option("--repeat-last-n", sp.repeat_last_n, "tokens considered by the penalties (-1: all)")->capture_default_str();
  app.add_option("--presence-penalty", sp.presence_penalty, "presence penalty")->capture_default_str();
  app.add_option("--frequency-penalty", sp.frequency_penalty, "frequency penalty")->capture_default_str();
}

void add_perf_flags(CLI::App& app, engine::SessionOptions& so) {
  app.add_option("--tb,--threads-batch", so.n_threads_batch,
                 "threads for prompt batches (default: same as --threads)");
  app.add_option("--cache-type-k", so.cache_type_k, "KV cache type of keys: f32 (default), f16, q8_0");
  app.add_option("--cache-type-v", so.cache_type_v, "KV cache type of values: f32 (default), f16, q8_0");
}

}  // namespace lm::cli
