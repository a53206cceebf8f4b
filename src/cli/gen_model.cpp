// Random-weight model generation: presets, checks, the counter-based RNG and the tensors.
#include "cli/gen_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "convert/safetensors.h"
#include "core/check.h"
#include "kernels/type_kernels.h"

namespace lm::cli {

namespace {

GenModelSpec llama32_1b() {
  // meta-llama/Llama-3.2-1B config.json.
  GenModelSpec s;
  s.arch = "llama";
  s.name = "llama3.2-1b";
  s.n_embd = 2048;
  s.n_layer = 16;
  s.n_head = 32;
  s.n_head_kv = 8;
  s.n_ff = 8192;
  s.head_dim = 64;
  s.n_ctx = 131072;
  s.n_vocab = 128256;
  s.rope_theta = 500000.0;
  s.rms_eps = 1e-5;
  s.llama3_rope = true;
  s.rope_scaling = {32.0, 1.0, 4.0, 8192};
  s.tied = true;
  return s;
}

GenModelSpec qwen25_05b() {
  // Qwen/Qwen2.5-0.5B config.json (q/k/v biases come with the architecture).
  GenModelSpec s;
  s.arch = "qwen2";
  s.name = "qwen2.5-0.5b";
  s.n_embd = 896;
  s.n_layer = 24;
  s.n_head = 14;
  s.n_head_kv = 2;
  s.n_ff = 4864;
  s.head_dim = 64;
  s.n_ctx = 32768;
  s.n_vocab = 151936;
  s.rope_theta = 1000000.0;
  s.rms_eps = 1e-6;
  s.tied = true;
  return s;
}

GenModelSpec qwen3_06b() {
  // Qwen/Qwen3-0.6B config.json: head_dim 128 although n_embd / n_head = 64.
  GenModelSpec s;
  s.arch = "qwen3";
  s.name = "qwen3-0.6b";
  s.n_embd = 1024;
  s.n_layer = 28;
  s.n_head = 16;
  s.n_head_kv = 8;
  s.n_ff = 3072;
  s.head_dim = 128;
  s.n_ctx = 40960;
  s.n_vocab = 151936;
  s.rope_theta = 1000000.0;
  s.rms_eps = 1e-6;
  s.tied = true;
  return s;
}

GenModelSpec tiny(std::string_view arch, bool micro) {
  // Dims are multiples of 256 in "tiny" so every K-quant applies; "micro" is as small as possible.
  GenModelSpec s;
  s.arch = std::string(arch);
  s.name = std::string(micro ? "micro-" : "tiny-") + s.arch;
  s.n_embd = micro ? 64 : 256;
  s.n_layer = 2;
  s.n_head = 4;
  s.n_head_kv = 2;
  s.n_ff = micro ? 96 : 512;
  s.head_dim = 0;
  s.n_ctx = micro ? 128 : 512;
  s.n_vocab = 512;
  s.rope_theta = arch == "llama" ? 10000.0 : 1000000.0;
  s.rms_eps = arch == "llama" ? 1e-5 : 1e-6;
  return s;
}

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ull;

uint64_t splitmix64(uint64_t x) {
  x += kGolden;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

std::vector<std::string> gen_model_preset_names() {
  return {"llama3.2-1b", "qwen2.5-0.5b", "qwen3-0.6b", "tiny", "micro"};
}

Result<GenModelSpec> gen_model_preset(std::string_view name, std::string_view arch) {
  GenModelSpec s;
  if (name == "llama3.2-1b") s = llama32_1b();
  else if (name == "qwen2.5-0.5b") s = qwen25_05b();
  else if (name == "qwen3-0.6b") s = qwen3_06b();
  else if (name == "tiny" || name == "micro") return tiny(arch.empty() ? "llama" : arch, name == "micro");
  else return errorf("unknown preset '{}' (known: {})", name, fmt::join(gen_model_preset_names(), ", "));
  if (!arch.empty() && arch != s.arch) {
    return errorf("preset '{}' is a {} model, but --arch {} was given", name, s.arch, arch);
  }
  return s;
}

Status validate_spec(GenModelSpec& s) {
  if (s.arch != "llama" && s.arch != "qwen2" && s.arch != "qwen3") {
    return errorf("unknown architecture '{}' (known: llama, qwen2, qwen3)", s.arch);
  }
  struct Dim { const char* name; int64_t v; };
  for (Dim d : {Dim{"n_embd", s.n_embd}, Dim{"n_layer", s.n_layer}, Dim{"n_head", s.n_head},
                Dim{"n_head_kv", s.n_head_kv}, Dim{"n_ff", s.n_ff}, Dim{"n_ctx", s.n_ctx}}) {
    if (d.v <= 0) return errorf("{} must be positive (got {}; give it or use --preset)", d.name, d.v);
  }
  if (s.head_dim < 0) return errorf("head_dim must be positive (got {})", s.head_dim);
  if (s.head_dim == 0) {
    if (s.n_embd % s.n_head != 0) {
      return errorf("n_head {} does not divide n_embd {} (give --head-dim to decouple them)",
                    s.n_head, s.n_embd);
    }
    s.head_dim = s.n_embd / s.n_head;
  }
  if (s.n_head % s.n_head_kv != 0) {
    return errorf("n_head_kv {} does not divide n_head {}", s.n_head_kv, s.n_head);
  }
  if (s.head_dim % 2 != 0) return errorf("head_dim {} must be even for RoPE", s.head_dim);
  if (s.rope_theta <= 0) return errorf("rope theta must be positive (got {})", s.rope_theta);
  if (s.llama3_rope && s.arch != "llama") return errorf("--llama3-rope applies to llama only");
  const DTypeInfo& ti = dtype_info(s.type);
  if (s.n_embd % ti.block_size != 0 || s.n_ff % ti.block_size != 0 ||
      (s.n_head * s.head_dim) % ti.block_size != 0) {
    return errorf("{} needs n_embd, n_ff and n_head*head_dim to be multiples of {}", ti.name,
                  ti.block_size);
  }
  return Ok{};
}

uint64_t gen_stream_id(std::string_view tensor_name) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (char c : tensor_name) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return h;
}

// Element `index` of stream `stream`: one splitmix64 of a key derived from (seed, stream) plus
// index * golden gives 64 bits = four 16-bit uniforms; their sum u (0 .. 4 * 65535) has mean
// 2 * 65536 and variance 4 * 65536^2 / 12, so sqrt(3) * (u / 65536 - 2) is approximately normal
// with unit variance (Irwin-Hall of order 4), bounded by 3.46.
uint64_t gen_stream_key(uint64_t seed, uint64_t stream) { return splitmix64(splitmix64(seed) ^ stream); }

uint32_t gen_irwin_hall_sum(uint64_t key, uint64_t index) {
  uint64_t r = splitmix64(key + index * kGolden);
  return static_cast<uint32_t>((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48));
}

constexpr double kSqrt3 = 1.7320508075688772;

float gen_normal(uint64_t seed, uint64_t stream, uint64_t index) {
  uint32_t u = gen_irwin_hall_sum(gen_stream_key(seed, stream), index);
  return static_cast<float>((static_cast<double>(u) / 65536.0 - 2.0) * kSqrt3);
}

namespace {

// How a tensor's values are drawn: mean + stddev * normal.
struct Init {
  double mean;
  double stddev;
};

struct TensorPlan {
  std::string name;
  std::vector<int64_t> dims;   // GGUF order: dims[0] is the row length
  DType type;
  Init init;
};

// Fills one tensor in parallel. Each element depends only on (seed, name, index): the value is
// mean + stddev * gen_normal(...), folded into one multiply-add on the integer sum.
std::vector<uint8_t> fill_tensor(const TensorPlan& t, uint64_t seed, ThreadPool& pool) {
  int64_t n = 1;
  for (int64_t d : t.dims) n *= d;
  const size_t esize = t.type == DType::F32 ? 4 : 2;
  std::vector<uint8_t> data(static_cast<size_t>(n) * esize);
  const uint64_t key = gen_stream_key(seed, gen_stream_id(t.name));
  const float scale = static_cast<float>(t.init.stddev * kSqrt3 / 65536.0);
  const float offset = static_cast<float>(t.init.mean - 2.0 * kSqrt3 * t.init.stddev);
  uint8_t* out = data.data();
  // F16/BF16 go through the kernel table's row conversion (the fastest one dispatch chose).
  const kernels::TypeKernels* conv = t.type == DType::F32 ? nullptr : kernels::type_kernels(t.type);
  LM_CHECK(t.type == DType::F32 || (conv != nullptr && conv->from_float != nullptr));
  pool.parallel_for(n, [&](int64_t begin, int64_t end) {
    constexpr int64_t kChunk = 2048;
    float tmp[kChunk];
    for (int64_t c = begin; c < end; c += kChunk) {
      const int64_t len = std::min(kChunk, end - c);
      float* dst = conv ? tmp : reinterpret_cast<float*>(out) + c;  // F32: write in place
      for (int64_t i = 0; i < len; ++i) {
        dst[i] = static_cast<float>(gen_irwin_hall_sum(key, static_cast<uint64_t>(c + i))) * scale + offset;
      }
      if (conv) conv->from_float(tmp, out + c * static_cast<int64_t>(esize), len);
    }
  });
  return data;
}

std::vector<TensorPlan> plan_tensors(const GenModelSpec& s) {
  // Scales keep activations O(1): matrices ~ N(0, 1/n_in) so each projection preserves the RMS
  // of its input; the embedding/output ~ N(0, 4/n_embd) so logits have a stddev near 2 (spread,
  // not degenerate); norms near 1; biases small but large enough to matter.
  const double emb_std = 2.0 / std::sqrt(static_cast<double>(s.n_embd));
  const Init norm{1.0, 0.1}, bias{0.0, 0.2};
  std::vector<TensorPlan> p;
  for (convert::ModelTensor& t :
       convert::model_tensors(s.arch, s.n_embd, s.n_ff, s.n_layer, s.n_head, s.n_head_kv, s.head_dim,
                              s.n_vocab, s.tied, s.arch == "qwen2")) {
    Init init = t.name.ends_with(".bias") ? bias : norm;
    if (t.name == "token_embd.weight" || t.name == "output.weight") init = {0.0, emb_std};
    else if (t.matrix) init = {0.0, 1.0 / std::sqrt(static_cast<double>(t.dims[0]))};
    p.push_back({std::move(t.name), std::move(t.dims), t.matrix ? s.type : DType::F32, init});
  }
  return p;
}

uint32_t file_type_of(DType t) {
  // llama_ftype: ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_BF16 = 32.
  switch (t) {
    case DType::F16: return 1;
    case DType::BF16: return 32;
    default: return 0;
  }
}

void add_metadata(gguf::Writer& w, const GenModelSpec& s) {
  const std::string& a = s.arch;
  w.set_string("general.architecture", a);
  w.set_string("general.type", "model");
  w.set_string("general.name", s.name.empty() ? "localmax-random-" + a : s.name);
  w.set_string("general.description",
               fmt::format("random weights from `localmax gen-model`, seed {}", s.seed));
  w.set_u32("general.file_type", file_type_of(s.type));
  w.set_u32(a + ".context_length", static_cast<uint32_t>(s.n_ctx));
  w.set_u32(a + ".embedding_length", static_cast<uint32_t>(s.n_embd));
  w.set_u32(a + ".block_count", static_cast<uint32_t>(s.n_layer));
  w.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.set_u32(a + ".attention.head_count", static_cast<uint32_t>(s.n_head));
  w.set_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(s.n_head_kv));
  w.set_u32(a + ".attention.key_length", static_cast<uint32_t>(s.head_dim));
  w.set_u32(a + ".attention.value_length", static_cast<uint32_t>(s.head_dim));
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", static_cast<float>(s.rms_eps));
  w.set_f32(a + ".rope.freq_base", static_cast<float>(s.rope_theta));
  w.set_u32(a + ".rope.dimension_count", static_cast<uint32_t>(s.head_dim));
  w.set_u32(a + ".vocab_size", static_cast<uint32_t>(s.n_vocab));
}

}  // namespace

Status add_model(gguf::Writer& w, const GenModelSpec& s, ThreadPool& pool) {
  LM_CHECK(s.head_dim > 0 && s.n_vocab > 0);
  add_metadata(w, s);
  if (s.llama3_rope) {
    std::vector<float> f = llama3_rope_factors(s.head_dim, s.rope_theta, s.rope_scaling);
    std::vector<uint8_t> bytes(f.size() * 4);
    std::memcpy(bytes.data(), f.data(), bytes.size());
    LM_TRY_STATUS(w.add_tensor("rope_freqs.weight", DType::F32,
                               {static_cast<int64_t>(f.size())}, std::move(bytes)));
  }
  for (const TensorPlan& t : plan_tensors(s)) {
    LM_TRY_STATUS(w.add_tensor(t.name, t.type, t.dims, fill_tensor(t, s.seed, pool)));
  }
  return Ok{};
}

namespace {

convert::HfConfig hf_config_of(const GenModelSpec& s) {
  convert::HfConfig c;
  c.arch = s.arch;
  c.n_embd = s.n_embd;
  c.n_ff = s.n_ff;
  c.n_layer = s.n_layer;
  c.n_head = s.n_head;
  c.n_head_kv = s.n_head_kv;
  c.head_dim = s.head_dim;
  c.n_ctx = s.n_ctx;
  c.n_vocab = s.n_vocab;
  c.rms_eps = s.rms_eps;
  c.rope_theta = s.rope_theta;
  c.tied = s.tied;
  c.attention_bias = s.arch == "qwen2";
  if (s.llama3_rope) {
    c.rope_scaling = convert::RopeScaling::kLlama3;
    c.llama3 = s.rope_scaling;
  }
  c.torch_dtype = s.type == DType::F16 ? "float16" : s.type == DType::BF16 ? "bfloat16" : "float32";
  return c;
}

// The HF tensor for one planned GGUF tensor: reversed dims, rows back in HF order for llama q/k.
convert::StWriteTensor hf_tensor(const TensorPlan& t, const GenModelSpec& s, ThreadPool& pool) {
  convert::StWriteTensor w;
  w.name = *convert::hf_name_from_gguf(t.name);  // every planned name has an HF twin
  w.type = t.type;
  w.shape.assign(t.dims.rbegin(), t.dims.rend());
  const bool permute = convert::needs_qk_permutation(s.arch, t.name);
  w.fill = [&t, &s, &pool, permute](std::span<uint8_t> out) -> Status {
    std::vector<uint8_t> data = fill_tensor(t, s.seed, pool);
    LM_CHECK(data.size() == out.size());
    if (!permute) {
      std::memcpy(out.data(), data.data(), data.size());
      return Ok{};
    }
    const int64_t n_rows = t.dims.size() > 1 ? t.dims[1] : t.dims[0];
    convert::permute_rows(data.data(), out.data(), n_rows, data.size() / static_cast<size_t>(n_rows),
                          s.head_dim, /*to_gguf=*/false);
    return Ok{};
  };
  return w;
}

// Splits tensors into n groups of roughly equal bytes, each non-empty (n <= tensors.size()).
std::vector<std::vector<size_t>> split_shards(const std::vector<TensorPlan>& plans, int n) {
  std::vector<uint64_t> bytes;
  uint64_t total = 0;
  for (const auto& t : plans) {
    int64_t e = 1;
    for (int64_t d : t.dims) e *= d;
    bytes.push_back(static_cast<uint64_t>(e) * (t.type == DType::F32 ? 4 : 2));
    total += bytes.back();
  }
  std::vector<std::vector<size_t>> groups(static_cast<size_t>(n));
  uint64_t done = 0;
  size_t g = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    const size_t left = plans.size() - i, groups_left = static_cast<size_t>(n) - g;
    // Move on when this group has its share, or when every later group needs a tensor.
    if (!groups[g].empty() && (left < groups_left || done >= total * (g + 1) / static_cast<uint64_t>(n))) ++g;
    groups[g].push_back(i);
    done += bytes[i];
  }
  return groups;
}

}  // namespace

Status write_hf_model(const std::string& dir, const GenModelSpec& s, int n_shards, ThreadPool& pool) {
  LM_CHECK(s.head_dim > 0 && s.n_vocab > 0 && n_shards > 0);
  const std::vector<TensorPlan> plans = plan_tensors(s);
  if (n_shards > static_cast<int>(plans.size())) {
    return errorf("--shards {} exceeds the {} tensors of the model", n_shards, plans.size());
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return errorf("cannot create {}: {}", dir, ec.message());
  LM_TRY_STATUS(convert::write_file_atomic(dir + "/config.json", convert::hf_config_json(hf_config_of(s))));
  const std::map<std::string, std::string> meta = {{"format", "pt"}};
  if (n_shards == 1) {
    std::vector<convert::StWriteTensor> ts;
    for (const auto& t : plans) ts.push_back(hf_tensor(t, s, pool));
    return convert::write_safetensors(dir + "/model.safetensors", ts, meta);
  }
  nlohmann::json weight_map = nlohmann::json::object();
  uint64_t total = 0;
  const auto groups = split_shards(plans, n_shards);
  for (size_t k = 0; k < groups.size(); ++k) {
    const std::string file = fmt::format("model-{:05d}-of-{:05d}.safetensors", k + 1, n_shards);
    std::vector<convert::StWriteTensor> ts;
    for (size_t i : groups[k]) {
      ts.push_back(hf_tensor(plans[i], s, pool));
      weight_map[ts.back().name] = file;
      int64_t e = 1;
      for (int64_t d : plans[i].dims) e *= d;
      total += static_cast<uint64_t>(e) * (plans[i].type == DType::F32 ? 4 : 2);
    }
    LM_TRY_STATUS(convert::write_safetensors(dir + "/" + file, ts, meta));
  }
  nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  return convert::write_file_atomic(dir + "/model.safetensors.index.json", index.dump(2) + "\n");
}

}  // namespace lm::cli
