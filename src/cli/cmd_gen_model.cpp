// `localmax gen-model`: writes a GGUF with seeded random weights (see cli/gen_model.h).
#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "cli/commands.h"
#include "cli/gen_model.h"
#include "convert/safetensors.h"

namespace lm::cli {

namespace {

constexpr const char* kUsage =
    "usage: localmax gen-model --arch llama|qwen2|qwen3 [--preset NAME] [dims] --type F32|F16|BF16\n"
    "                          [--vocab VOCAB.gguf | --tokenizer tokenizer.json] [--n-vocab N]\n"
    "                          --seed S -o OUT.gguf\n"
    "       localmax gen-model ... --format safetensors [--shards N] -o DIR\n"
    "  --preset NAME     llama3.2-1b | qwen2.5-0.5b | qwen3-0.6b (real shapes), tiny | micro\n"
    "  dims              --n-embd N --n-layer N --n-head N --n-head-kv N --n-ff N --head-dim N\n"
    "                    --n-ctx N --rope-theta F --rms-eps F (override the preset)\n"
    "  --llama3-rope     write Llama 3.1 rope_freqs factors (factor 32, low 1, high 4, ctx 8192)\n"
    "  --tied / --untied share the embedding as output (no output.weight), or not\n"
    "  --vocab FILE      copy every tokenizer.* key from a vocabulary GGUF\n"
    "  --tokenizer FILE  import a Hugging Face tokenizer.json (+ tokenizer_config.json beside it)\n"
    "  --n-vocab N       synthetic vocabulary size (default 512), or padding target\n"
    "  --threads N       generation threads (output does not depend on it)\n"
    "  --format F        gguf (default) or safetensors: a Hugging Face folder (config.json,\n"
    "                    model.safetensors, tokenizer.json) holding the same weights\n"
    "  --shards N        safetensors only: split into N files + model.safetensors.index.json\n"
    "Weights: element i of tensor T is a function of (seed, T's name, i) only.\n";

struct Options {
  std::string arch, preset, vocab, tokenizer, out, format = "gguf";
  std::optional<int64_t> n_embd, n_layer, n_head, n_head_kv, n_ff, head_dim, n_ctx, n_vocab;
  std::optional<double> rope_theta, rms_eps;
  std::optional<bool> tied;
  bool llama3_rope = false;
  std::optional<DType> type;
  std::optional<uint64_t> seed;
  int threads = 0;
  int shards = 1;
};

template <typename T>
bool parse_number(const std::string& s, T& out) {
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && p == end;
}

// Returns an error message, or "" on success; sets `help` for --help.
std::string parse_args(const Args& args, Options& o, bool& help) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") { help = true; return ""; }
    if (a == "--tied") { o.tied = true; continue; }
    if (a == "--untied") { o.tied = false; continue; }
    if (a == "--llama3-rope") { o.llama3_rope = true; continue; }
    if (i + 1 >= args.size()) return fmt::format("unknown option or missing value: '{}'", a);
    const std::string& v = args[++i];
    auto int_opt = [&](std::optional<int64_t>& dst) -> std::string {
      int64_t x;
      if (!parse_number(v, x) || x <= 0) return fmt::format("{} expects a positive integer, got '{}'", a, v);
      dst = x;
      return "";
    };
    auto float_opt = [&](std::optional<double>& dst) -> std::string {
      char* end = nullptr;
      double x = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(x > 0)) return fmt::format("{} expects a positive number, got '{}'", a, v);
      dst = x;
      return "";
    };
    std::string err;
    if (a == "--arch") o.arch = v;
    else if (a == "--preset") o.preset = v;
    else if (a == "--vocab") o.vocab = v;
    else if (a == "--tokenizer") o.tokenizer = v;
    else if (a == "--format") o.format = v;
    else if (a == "--shards") {
      if (!parse_number(v, o.shards) || o.shards <= 0 || o.shards > 99999) {
        return fmt::format("--shards expects a positive integer, got '{}'", v);
      }
    }
    else if (a == "-o" || a == "--out") o.out = v;
    else if (a == "--n-embd") err = int_opt(o.n_embd);
    else if (a == "--n-layer") err = int_opt(o.n_layer);
    else if (a == "--n-head") err = int_opt(o.n_head);
    else if (a == "--n-head-kv") err = int_opt(o.n_head_kv);
    else if (a == "--n-ff") err = int_opt(o.n_ff);
    else if (a == "--head-dim") err = int_opt(o.head_dim);
    else if (a == "--n-ctx") err = int_opt(o.n_ctx);
    else if (a == "--n-vocab") err = int_opt(o.n_vocab);
    else if (a == "--rope-theta") err = float_opt(o.rope_theta);
    else if (a == "--rms-eps") err = float_opt(o.rms_eps);
    else if (a == "--seed") {
      uint64_t s;
      if (!parse_number(v, s)) return fmt::format("--seed expects an unsigned integer, got '{}'", v);
      o.seed = s;
    } else if (a == "--threads") {
      if (!parse_number(v, o.threads) || o.threads <= 0) return fmt::format("--threads expects a positive integer, got '{}'", v);
    } else if (a == "--type") {
      o.type = dtype_from_name(v);
      if (!o.type || (*o.type != DType::F32 && *o.type != DType::F16 && *o.type != DType::BF16)) {
        return fmt::format("--type must be F32, F16 or BF16 (got '{}'; use `localmax quantize` for others)", v);
      }
    } else {
      return fmt::format("unknown option '{}'", a);
    }
    if (!err.empty()) return err;
  }
  if (o.arch.empty() && o.preset.empty()) return "--arch or --preset is required";
  if (o.out.empty()) return "-o OUT.gguf is required";
  if (!o.type) return "--type is required";
  if (!o.seed) return "--seed is required";
  if (!o.vocab.empty() && !o.tokenizer.empty()) return "give --vocab or --tokenizer, not both";
  if (o.format != "gguf" && o.format != "safetensors") {
    return fmt::format("--format must be gguf or safetensors (got '{}')", o.format);
  }
  if (o.format == "gguf" && o.shards != 1) return "--shards applies to --format safetensors only";
  if (o.format == "safetensors" && !o.vocab.empty()) {
    return "--vocab (a GGUF vocabulary) cannot be written as safetensors; give --tokenizer tokenizer.json";
  }
  return "";
}

// Preset (or an empty spec) with the command-line overrides applied.
Result<GenModelSpec> make_spec(const Options& o) {
  GenModelSpec s;
  if (!o.preset.empty()) {
    LM_TRY(GenModelSpec p, gen_model_preset(o.preset, o.arch));
    s = std::move(p);
  } else {
    s.arch = o.arch;
    s.n_ctx = 2048;
    s.n_vocab = 512;
  }
  auto set = [](auto& dst, const auto& opt) { if (opt) dst = *opt; };
  set(s.n_embd, o.n_embd);
  set(s.n_layer, o.n_layer);
  set(s.n_head, o.n_head);
  set(s.n_head_kv, o.n_head_kv);
  set(s.n_ff, o.n_ff);
  set(s.head_dim, o.head_dim);
  set(s.n_ctx, o.n_ctx);
  set(s.n_vocab, o.n_vocab);
  set(s.rope_theta, o.rope_theta);
  set(s.rms_eps, o.rms_eps);
  set(s.tied, o.tied);
  if (o.n_head && !o.n_head_kv && o.preset.empty()) s.n_head_kv = *o.n_head;  // MHA by default
  if (o.llama3_rope) s.llama3_rope = true;
  s.type = *o.type;
  s.seed = *o.seed;
  LM_TRY_STATUS(validate_spec(s));
  return s;
}

// Copies a file byte for byte (tokenizer files into the model folder).
Status copy_file(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) return errorf("cannot open {}", from);
  std::ostringstream ss;
  ss << in.rdbuf();
  return convert::write_file_atomic(to, ss.str());
}

// --format safetensors: the Hugging Face folder, tokenizer files included.
Status write_safetensors_model(const Options& o, GenModelSpec& spec, ThreadPool& pool) {
  std::error_code ec;
  std::filesystem::create_directories(o.out, ec);
  if (ec) return errorf("cannot create {}: {}", o.out, ec.message());
  if (!o.tokenizer.empty()) {
    const int64_t min_vocab = o.n_vocab.value_or(spec.n_vocab);
    LM_TRY(convert::GgufVocab v, convert::read_hf_tokenizer(o.tokenizer, spec.arch, min_vocab).wrap("importing tokenizer"));
    spec.n_vocab = static_cast<int64_t>(v.tokens.size());
    LM_TRY_STATUS(copy_file(o.tokenizer, o.out + "/tokenizer.json"));
    auto cfg = std::filesystem::path(o.tokenizer).parent_path() / "tokenizer_config.json";
    if (std::filesystem::exists(cfg)) LM_TRY_STATUS(copy_file(cfg.string(), o.out + "/tokenizer_config.json"));
  } else {
    LM_TRY(convert::GgufVocab v, synthetic_vocab(spec.n_vocab));
    LM_TRY_STATUS(convert::write_file_atomic(o.out + "/tokenizer.json", convert::hf_tokenizer_json(v)));
    LM_TRY_STATUS(convert::write_file_atomic(o.out + "/tokenizer_config.json", convert::hf_tokenizer_config_json(v)));
  }
  return write_hf_model(o.out, spec, o.shards, pool);
}

}  // namespace

int cmd_gen_model(const Args& args) {
  Options o;
  bool help = false;
  if (std::string err = parse_args(args, o, help); !err.empty()) {
    fmt::print(stderr, "localmax gen-model: {}\n\n{}", err, kUsage);
    return 2;
  }
  if (help) {
    fmt::print("{}", kUsage);
    return 0;
  }
  auto spec = make_spec(o);
  if (!spec.ok()) {
    fmt::print(stderr, "localmax gen-model: {}\n", spec.error().message());
    return 2;
  }
  auto t0 = std::chrono::steady_clock::now();
  if (o.format == "safetensors") {
    ThreadPool pool(o.threads > 0 ? o.threads : ThreadPool::hardware_threads());
    if (Status st = write_safetensors_model(o, *spec, pool); !st.ok()) {
      fmt::print(stderr, "error: {}\n", st.error().message());
      return 1;
    }
    fmt::print(stderr, "wrote {} (safetensors, {} {}, n_vocab {}, {} shard(s))\n", o.out, spec->arch,
               dtype_name(spec->type), spec->n_vocab, o.shards);
    return 0;
  }
  gguf::Writer w;
  w.set_string("general.architecture", spec->arch);  // first in the file, as converters write it
  Result<int64_t> n_vocab =
      !o.vocab.empty() ? copy_vocab_from_gguf(w, o.vocab).wrap("reading vocabulary " + o.vocab)
      : !o.tokenizer.empty() ? import_tokenizer_json(w, o.tokenizer, spec->arch, o.n_vocab.value_or(spec->n_vocab))
                                   .wrap("importing tokenizer")
                             : add_synthetic_vocab(w, spec->n_vocab);
  if (!n_vocab.ok()) {
    fmt::print(stderr, "error: {}\n", n_vocab.error().message());
    return 1;
  }
  if (o.n_vocab && (!o.vocab.empty() || !o.tokenizer.empty()) && *o.n_vocab != *n_vocab) {
    fmt::print(stderr, "localmax gen-model: --n-vocab {} differs from the vocabulary's {} tokens\n",
               *o.n_vocab, *n_vocab);
    return 2;
  }
  spec->n_vocab = *n_vocab;
  ThreadPool pool(o.threads > 0 ? o.threads : ThreadPool::hardware_threads());
  Status st = add_model(w, *spec, pool);
  if (st.ok()) st = w.write(o.out);
  if (!st.ok()) {
    fmt::print(stderr, "error: {}\n", st.error().message());
    return 1;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print(stderr, "wrote {} ({} {}, n_embd {}, n_layer {}, n_head {}/{}, head_dim {}, n_ff {}, n_vocab {}{}) in {:.2f} s\n",
             o.out, spec->arch, dtype_name(spec->type), spec->n_embd, spec->n_layer, spec->n_head,
             spec->n_head_kv, spec->head_dim, spec->n_ff, spec->n_vocab, spec->tied ? ", tied" : "", secs);
  return 0;
}

}  // namespace lm::cli
