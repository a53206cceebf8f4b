// Small helpers shared by subcommands.
#pragma once

#include <fmt/format.h>

#include <string>

#include "core/result.h"

namespace lm::cli {

// The demo model that ships in the repository (models/demo.gguf), found next to the binary's
// build tree, or in the source tree the binary was built from. "" when none exists.
std::string demo_model_path();

// Prints "error: <message>" to stderr and returns exit code 1.
int fail(const Error& e);

// Reads a whole file (text or binary).
Result<std::string> read_file(const std::string& path);

}  // namespace lm::cli
