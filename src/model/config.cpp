#include "model/config.h"

#include <cmath>
#include <limits>

#include "gguf/gguf.h"

namespace lm::model {
namespace {

// The per-family hooks: all that differs between the supported architectures.
// Facts from the GGUF conventions: llama files store Q/K permuted for the "normal" (adjacent
// pairs) RoPE; qwen2/qwen3 use the NEOX (half-split) RoPE; qwen2 has Q/K/V biases; qwen3
// normalises each head of Q and K before RoPE.
struct ArchHooks {
  const char* name;
  bool rope_neox;
  bool qkv_bias;
  bool qk_norm;
};

constexpr ArchHooks kArchs[] = {
    {"llama", false, false, false},
    {"qwen2", true, true, false},
    {"qwen3", true, false, true},
};

const ArchHooks* find_arch(std::string_view name) {
  for (const auto& a : kArchs) {
    if (name == a.name) return &a;
  }
  return nullptr;
}

// A positive dimension that fits in int32 (and leaves room for products with small factors).
Result<int32_t> to_dim(std::string_view key, uint64_t v) {
  if (v == 0 || v > (1u << 30))
    return errorf("{}: expected a dimension in [1, 2^30], found {}", key, v);
  return static_cast<int32_t>(v);
}

Result<int32_t> get_dim(const gguf::File& f, const std::string& key) {
  LM_TRY(uint64_t v, f.get_uint(key));
  return to_dim(key, v);
}

Result<int32_t> get_dim_or(const gguf::File& f, const std::string& key, int32_t def) {
  LM_TRY(uint64_t v, f.get_uint_or(key, static_cast<uint64_t>(def)));
  return to_dim(key, v);
}

// rope.scaling.type none / linear (and the older rope.scale_linear); anything else is an error.
Result<float> read_rope_freq_scale(const gguf::File& f, const std::string& p) {
  LM_TRY(std::string_view type, f.get_string_or(p + "rope.scaling.type", ""));
  double factor = 0;
  if (type.empty()) {
    LM_TRY(factor, f.get_float_or(p + "rope.scale_linear", 0.0));
  } else if (type == "linear") {
    LM_TRY(factor, f.get_float_or(p + "rope.scaling.factor", 0.0));
  } else if (type != "none") {
    return errorf("{}rope.scaling.type: unsupported RoPE scaling '{}' (supported: none, linear)", p,
                  type);
  }
  if (factor == 0) return 1.0f;  // absent or 0 means no scaling (as GGUF writers use it)
  if (!(factor > 0) || !std::isfinite(factor)) {
    return errorf("{}rope.scaling.factor: expected a positive factor, found {}", p, factor);
  }
  return static_cast<float>(1.0 / factor);
}

Status check_config(const ModelConfig& c) {
  if (c.n_head % c.n_head_kv != 0) {
    return errorf("attention.head_count {} is not a multiple of attention.head_count_kv {}",
                  c.n_head, c.n_head_kv);
  }
  constexpr int64_t kMaxWidth = int64_t{1} << 30;  // keeps every row offset in range
  if (int64_t{c.n_head} * c.head_dim > kMaxWidth) {
    return errorf("attention.head_count {} x key_length {} is too large", c.n_head, c.head_dim);
  }
  if (c.n_rot % 2 != 0 || c.n_rot > c.head_dim) {
    return errorf("rope.dimension_count {} must be even and at most the head size {}", c.n_rot,
                  c.head_dim);
  }
  if (!(c.norm_eps > 0) || !std::isfinite(c.norm_eps)) {
    return errorf("attention.layer_norm_rms_epsilon: expected a positive value, found {}",
                  c.norm_eps);
  }
  if (!(c.rope_freq_base > 0) || !std::isfinite(c.rope_freq_base)) {
    return errorf("rope.freq_base: expected a positive value, found {}", c.rope_freq_base);
  }
  return Ok{};
}

Status read_dims(const gguf::File& f, const std::string& p, ModelConfig& c) {
  LM_TRY(c.n_ctx_train, get_dim(f, p + "context_length"));
  LM_TRY(c.n_embd, get_dim(f, p + "embedding_length"));
  LM_TRY(c.n_layer, get_dim(f, p + "block_count"));
  LM_TRY(c.n_ff, get_dim(f, p + "feed_forward_length"));
  LM_TRY(c.n_head, get_dim(f, p + "attention.head_count"));
  LM_TRY(c.n_head_kv, get_dim_or(f, p + "attention.head_count_kv", c.n_head));
  const int32_t def_head_dim = c.n_embd % c.n_head == 0 ? c.n_embd / c.n_head : 0;
  if (!f.find(p + "attention.key_length") && def_head_dim == 0) {
    return errorf(
        "{}attention.key_length is absent and embedding_length {} is not a multiple "
        "of head_count {}",
        p, c.n_embd, c.n_head);
  }
  LM_TRY(c.head_dim, get_dim_or(f, p + "attention.key_length", def_head_dim));
  LM_TRY(int32_t v_dim, get_dim_or(f, p + "attention.value_length", c.head_dim));
  if (v_dim != c.head_dim) {
    return errorf("{}attention.value_length {} differs from key_length {} (unsupported)", p, v_dim,
                  c.head_dim);
  }
  LM_TRY(c.n_rot, get_dim_or(f, p + "rope.dimension_count", c.head_dim));
  LM_TRY(double eps, f.get_float(p + "attention.layer_norm_rms_epsilon"));
  c.norm_eps = static_cast<float>(eps);
  LM_TRY(double base, f.get_float_or(p + "rope.freq_base", 10000.0));
  c.rope_freq_base = static_cast<float>(base);
  LM_TRY(c.rope_freq_scale, read_rope_freq_scale(f, p));
  if (f.find(p + "pooling_type")) {
    LM_TRY(uint64_t pooling, f.get_uint(p + "pooling_type"));
    if (pooling > 255) return errorf("{}pooling_type: expected a small enum value, found {}", p, pooling);
    c.pooling_type = static_cast<int32_t>(pooling);
  }
  return Ok{};
}

}  // namespace

Result<ModelConfig> read_config(const gguf::File& f) {
  ModelConfig c;
  LM_TRY(std::string_view arch, f.get_string("general.architecture"));
  c.arch = std::string(arch);
  const ArchHooks* hooks = find_arch(arch);
  if (!hooks) {
    return errorf("unknown architecture '{}' (supported: llama, qwen2, qwen3)", arch);
  }
  c.rope_neox = hooks->rope_neox;
  c.qkv_bias = hooks->qkv_bias;
  c.qk_norm = hooks->qk_norm;
  LM_TRY_STATUS(read_dims(f, c.arch + ".", c));
  LM_TRY_STATUS(check_config(c).wrap(c.arch));

  const gguf::TensorInfo* embd = f.find_tensor("token_embd.weight");
  if (!embd) return errorf("loading token_embd.weight: tensor not found");
  if (embd->dims.size() < 2 || embd->dims[1] <= 0 ||
      embd->dims[1] > std::numeric_limits<int32_t>::max()) {
    return errorf("loading token_embd.weight: expected [{}, n_vocab], found {}", c.n_embd,
                  embd->shape_string());
  }
  c.n_vocab = static_cast<int32_t>(embd->dims[1]);
  c.tied_output = f.find_tensor("output.weight") == nullptr;
  c.rope_freqs = f.find_tensor("rope_freqs.weight") != nullptr;
  return c;
}

}  // namespace lm::model
