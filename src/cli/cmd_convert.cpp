// `localmax convert DIR -o OUT.gguf [--type F32|F16|BF16]`: a Hugging Face model folder
// (config.json, safetensors, tokenizer.json) to GGUF (see convert/convert.h).
#include <fmt/format.h>

#include <chrono>

#include "cli/commands.h"
#include "convert/convert.h"

namespace lm::cli {

namespace {

constexpr const char* kUsage =
    "usage: localmax convert DIR -o OUT.gguf [--type F32|F16|BF16] [--quiet]\n"
    "  DIR           a Hugging Face model folder: config.json (LlamaForCausalLM, Qwen2ForCausalLM,\n"
    "                Qwen3ForCausalLM), model.safetensors or model.safetensors.index.json + shards,\n"
    "                tokenizer.json and tokenizer_config.json\n"
    "  --type T      type of the matrices (default: the checkpoint's); norms and biases stay F32\n"
    "  --quiet       no progress lines on stderr\n"
    "Then `localmax quantize` turns the result into a quantized GGUF.\n";

// Returns an error message, or "" on success.
std::string parse(const Args& args, convert::ConvertOptions& o, bool& help, bool& quiet) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") { help = true; return ""; }
    if (a == "--quiet" || a == "-q") { quiet = true; continue; }
    if (a == "-o" || a == "--out" || a == "--type") {
      if (i + 1 >= args.size()) return fmt::format("{} needs a value", a);
      const std::string& v = args[++i];
      if (a == "--type") {
        o.type = dtype_from_name(v);
        if (!o.type || (*o.type != DType::F32 && *o.type != DType::F16 && *o.type != DType::BF16)) {
          return fmt::format("--type must be F32, F16 or BF16 (got '{}'; use `localmax quantize` for others)", v);
        }
      } else {
        o.out = v;
      }
      continue;
    }
    if (a.starts_with("-")) return fmt::format("unknown option '{}'", a);
    if (!o.dir.empty()) return fmt::format("unexpected argument '{}' (one model folder only)", a);
    o.dir = a;
  }
  if (o.dir.empty()) return "a model folder is required";
  if (o.out.empty()) return "-o OUT.gguf is required";
  return "";
}

}  // namespace

int cmd_convert(const Args& args) {
  convert::ConvertOptions o;
  bool help = false, quiet = false;
  if (std::string err = parse(args, o, help, quiet); !err.empty()) {
    fmt::print(stderr, "localmax convert: {}\n\n{}", err, kUsage);
    return 2;
  }
  if (help) {
    fmt::print("{}", kUsage);
    return 0;
  }
  if (!quiet) o.progress = [](const std::string& line) { fmt::print(stderr, "{}\n", line); };
  auto t0 = std::chrono::steady_clock::now();
  Status st = convert::convert_hf_model(o);
  if (!st.ok()) {
    fmt::print(stderr, "error: {}\n", st.error().message());  // messages name the folder or file
    return 1;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!quiet) fmt::print(stderr, "wrote {} in {:.2f} s\n", o.out, secs);
  return 0;
}

}  // namespace lm::cli
