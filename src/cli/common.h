// Small helpers shared by subcommands.
#pragma once

#include <fmt/format.h>

#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "engine/session.h"
#include "sampling/params.h"

namespace CLI {
class App;
}

namespace lm::cli {

// The demo model that ships in the repository (models/demo.gguf), found next to the binary's
// build tree, or in the source tree the binary was built from. "" when none exists.
std::string demo_model_path();

// Prints "error: <message>" to stderr and returns exit code 1.
int fail(const Error& e);

// Parses a subcommand's arguments with app. Returns the exit code when parsing ends the command
// (--help, or a usage error already printed), std::nullopt when the command should go on.
std::optional<int> parse_args(CLI::App& app, const std::vector<std::string>& args);

// Resolves a -m argument in place (store/store.h resolve_model): an existing path stays as is; a
// store name, NAME@sha256:<hex> or sha256:<prefix> becomes its blob's path. "" stays "".
Status resolve_model_arg(std::string& model);
// Adds the sampler flags shared by run and chat: --temp, --top-k, --top-p, --min-p,
// --repeat-penalty, --repeat-last-n, --presence-penalty, --frequency-penalty.
void add_sampling_flags(CLI::App& app, sampling::SamplingParams& sp);

// Adds --tb/--threads-batch (CLI11 has no multi-letter single-dash names, so not -tb), --cache-type-k and --cache-type-v (SessionOptions fields).
void add_perf_flags(CLI::App& app, engine::SessionOptions& so);

// Reads a whole file (text or binary).
Result<std::string> read_file(const std::string& path);

}  // namespace lm::cli
