#include "convert/hf_layout.h"

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numbers>

#include "core/check.h"

namespace lm::convert {

std::vector<float> llama3_rope_factors(int64_t head_dim, double theta, const Llama3RopeScaling& s) {
  // From the Llama 3.1 reference code: wavelengths shorter than original_ctx / high_freq_factor
  // keep their frequency, longer than original_ctx / low_freq_factor are divided by `factor`,
  // and the band between interpolates smoothly. GGUF stores the divisor per pair.
  std::vector<float> out;
  const double low_wavelen = static_cast<double>(s.original_ctx) / s.low_freq_factor;
  const double high_wavelen = static_cast<double>(s.original_ctx) / s.high_freq_factor;
  for (int64_t i = 0; i < head_dim; i += 2) {
    double freq = 1.0 / std::pow(theta, static_cast<double>(i) / static_cast<double>(head_dim));
    double wavelen = 2.0 * std::numbers::pi / freq;
    double f;
    if (wavelen < high_wavelen) {
      f = 1.0;
    } else if (wavelen > low_wavelen) {
      f = s.factor;
    } else {
      double smooth = (static_cast<double>(s.original_ctx) / wavelen - s.low_freq_factor) /
                      (s.high_freq_factor - s.low_freq_factor);
      f = 1.0 / ((1.0 - smooth) / s.factor + smooth);
    }
    out.push_back(static_cast<float>(f));
  }
  return out;
}

namespace {

using nlohmann::json;

struct ArchName {
  const char* hf;
  const char* gguf;
  const char* model_type;
};
constexpr ArchName kArchs[] = {
    {"LlamaForCausalLM", "llama", "llama"},
    {"Qwen2ForCausalLM", "qwen2", "qwen2"},
    {"Qwen3ForCausalLM", "qwen3", "qwen3"},
};

Result<int64_t> get_int(const json& j, const char* key, std::optional<int64_t> def = std::nullopt) {
  if (!j.contains(key) || j[key].is_null()) {
    if (def) return *def;
    return errorf("missing key \"{}\"", key);
  }
  const json& v = j[key];
  if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > (int64_t{1} << 31)) {
    return errorf("\"{}\" must be a positive integer, found {}", key, v.dump());
  }
  return v.get<int64_t>();
}

Result<double> get_float(const json& j, const char* key, double def) {
  if (!j.contains(key) || j[key].is_null()) return def;
  const json& v = j[key];
  if (!v.is_number() || !(v.get<double>() > 0) || !std::isfinite(v.get<double>())) {
    return errorf("\"{}\" must be a positive number, found {}", key, v.dump());
  }
  return v.get<double>();
}

Status parse_rope_scaling(const json& j, HfConfig& c) {
  if (!j.contains("rope_scaling") || j["rope_scaling"].is_null()) return Ok{};
  const json& r = j["rope_scaling"];
  if (!r.is_object()) return errorf("\"rope_scaling\" must be an object or null");
  std::string type = r.contains("rope_type") ? r["rope_type"].get<std::string>()
                     : r.contains("type")    ? r["type"].get<std::string>()
                                             : "";
  if (type == "default" || type.empty()) return Ok{};
  if (type == "linear") {
    c.rope_scaling = RopeScaling::kLinear;
    LM_TRY(c.linear_factor, get_float(r, "factor", 0.0).wrap("rope_scaling"));
    if (c.linear_factor == 0.0) return errorf("rope_scaling: linear scaling needs \"factor\"");
    return Ok{};
  }
  if (type == "llama3") {
    if (c.arch != "llama") return errorf("rope_scaling type llama3 applies to llama models only");
    c.rope_scaling = RopeScaling::kLlama3;
    Llama3RopeScaling& s = c.llama3;
    LM_TRY(s.factor, get_float(r, "factor", s.factor).wrap("rope_scaling"));
    LM_TRY(s.low_freq_factor, get_float(r, "low_freq_factor", s.low_freq_factor).wrap("rope_scaling"));
    LM_TRY(s.high_freq_factor, get_float(r, "high_freq_factor", s.high_freq_factor).wrap("rope_scaling"));
    LM_TRY(s.original_ctx, get_int(r, "original_max_position_embeddings", s.original_ctx).wrap("rope_scaling"));
    if (s.high_freq_factor <= s.low_freq_factor) {
      return errorf("rope_scaling: high_freq_factor must exceed low_freq_factor");
    }
    return Ok{};
  }
  return errorf("unsupported rope_scaling type '{}' (supported: linear, llama3)", type);
}

Status parse_config_json(const json& j, HfConfig& c) {
  if (!j.is_object()) return errorf("expected a JSON object");
  if (!j.contains("architectures") || !j["architectures"].is_array() || j["architectures"].empty() ||
      !j["architectures"][0].is_string()) {
    return errorf("missing \"architectures\" (a list naming the model class)");
  }
  c.hf_arch = j["architectures"][0].get<std::string>();
  for (const auto& a : kArchs) {
    if (c.hf_arch == a.hf) c.arch = a.gguf;
  }
  if (c.arch.empty()) {
    return errorf("unknown architecture '{}' (supported: LlamaForCausalLM, Qwen2ForCausalLM, "
                  "Qwen3ForCausalLM)", c.hf_arch);
  }
  LM_TRY(c.n_embd, get_int(j, "hidden_size"));
  LM_TRY(c.n_ff, get_int(j, "intermediate_size"));
  LM_TRY(c.n_layer, get_int(j, "num_hidden_layers"));
  LM_TRY(c.n_head, get_int(j, "num_attention_heads"));
  LM_TRY(c.n_head_kv, get_int(j, "num_key_value_heads", c.n_head));
  if (!j.contains("head_dim") && c.n_embd % c.n_head != 0) {
    return errorf("hidden_size {} is not a multiple of num_attention_heads {} and head_dim is absent",
                  c.n_embd, c.n_head);
  }
  LM_TRY(c.head_dim, get_int(j, "head_dim", c.n_embd / c.n_head));
  if (c.n_head % c.n_head_kv != 0) {
    return errorf("num_key_value_heads {} does not divide num_attention_heads {}", c.n_head_kv, c.n_head);
  }
  if (c.head_dim % 2 != 0) return errorf("head_dim {} must be even for RoPE", c.head_dim);
  LM_TRY(c.n_ctx, get_int(j, "max_position_embeddings", 2048));
  LM_TRY(c.n_vocab, get_int(j, "vocab_size"));
  LM_TRY(c.rms_eps, get_float(j, "rms_norm_eps", 1e-6));
  LM_TRY(c.rope_theta, get_float(j, "rope_theta", 10000.0));
  c.tied = j.value("tie_word_embeddings", false);
  c.attention_bias = c.arch == "qwen2" || j.value("attention_bias", false);
  if (c.attention_bias && c.arch != "qwen2") {
    return errorf("attention_bias is not supported for {} models", c.arch);
  }
  if (j.contains("torch_dtype") && j["torch_dtype"].is_string()) c.torch_dtype = j["torch_dtype"];
  return parse_rope_scaling(j, c);
}

}  // namespace

Result<HfConfig> parse_hf_config(std::string_view text, const std::string& source) {
  HfConfig c;
  try {
    json j = json::parse(text);
    LM_TRY_STATUS(parse_config_json(j, c).wrap(source));
  } catch (const std::exception& e) {  // parse errors and type errors of get<>()
    return errorf("{}: invalid config: {}", source, e.what());
  }
  return c;
}

std::string hf_config_json(const HfConfig& c) {
  json j;
  const char* model_type = c.arch.c_str();
  for (const auto& a : kArchs) {
    if (c.arch == a.gguf) {
      j["architectures"] = {a.hf};
      model_type = a.model_type;
    }
  }
  j["model_type"] = model_type;
  j["hidden_size"] = c.n_embd;
  j["intermediate_size"] = c.n_ff;
  j["num_hidden_layers"] = c.n_layer;
  j["num_attention_heads"] = c.n_head;
  j["num_key_value_heads"] = c.n_head_kv;
  j["head_dim"] = c.head_dim;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = c.n_ctx;
  j["vocab_size"] = c.n_vocab;
  j["rms_norm_eps"] = c.rms_eps;
  j["rope_theta"] = c.rope_theta;
  j["tie_word_embeddings"] = c.tied;
  if (c.arch == "llama") j["attention_bias"] = false;
  if (!c.torch_dtype.empty()) j["torch_dtype"] = c.torch_dtype;
  if (c.rope_scaling == RopeScaling::kLinear) {
    j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", c.linear_factor}};
  } else if (c.rope_scaling == RopeScaling::kLlama3) {
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", c.llama3.factor},
                         {"low_freq_factor", c.llama3.low_freq_factor},
                         {"high_freq_factor", c.llama3.high_freq_factor},
                         {"original_max_position_embeddings", c.llama3.original_ctx}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  return j.dump(2) + "\n";
}

namespace {

// Per-layer suffixes: GGUF "blk.N.<g>" <-> HF "model.layers.N.<h>".
struct LayerName {
  const char* gguf;
  const char* hf;
};
constexpr LayerName kLayerNames[] = {
    {"attn_q", "self_attn.q_proj"},     {"attn_k", "self_attn.k_proj"},
    {"attn_v", "self_attn.v_proj"},     {"attn_output", "self_attn.o_proj"},
    {"attn_q_norm", "self_attn.q_norm"}, {"attn_k_norm", "self_attn.k_norm"},
    {"ffn_gate", "mlp.gate_proj"},      {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},      {"attn_norm", "input_layernorm"},
    {"ffn_norm", "post_attention_layernorm"},
};
constexpr LayerName kGlobalNames[] = {
    {"token_embd", "model.embed_tokens"}, {"output_norm", "model.norm"}, {"output", "lm_head"},
};

// Splits "<prefix><digits>.<rest>" into layer and rest; false when it does not match.
bool split_layer(std::string_view name, std::string_view prefix, int64_t& il, std::string_view& rest) {
  if (!name.starts_with(prefix)) return false;
  name.remove_prefix(prefix.size());
  size_t dot = name.find('.');
  if (dot == 0 || dot == std::string_view::npos || dot > 9) return false;
  il = 0;
  for (char ch : name.substr(0, dot)) {
    if (ch < '0' || ch > '9') return false;
    il = il * 10 + (ch - '0');
  }
  rest = name.substr(dot + 1);
  return true;
}

// "<base>.weight" / "<base>.bias" -> base and suffix.
bool split_suffix(std::string_view name, std::string_view& base, std::string_view& suffix) {
  for (std::string_view s : {".weight", ".bias"}) {
    if (name.ends_with(s)) {
      base = name.substr(0, name.size() - s.size());
      suffix = s;
      return true;
    }
  }
  return false;
}

std::optional<std::string> map_name(std::string_view name, bool to_gguf) {
  std::string_view base, suffix;
  if (!split_suffix(name, base, suffix)) return std::nullopt;
  for (const auto& g : kGlobalNames) {
    if (base == (to_gguf ? g.hf : g.gguf)) return std::string(to_gguf ? g.gguf : g.hf) + std::string(suffix);
  }
  int64_t il = 0;
  std::string_view rest;
  if (!split_layer(base, to_gguf ? "model.layers." : "blk.", il, rest)) return std::nullopt;
  for (const auto& l : kLayerNames) {
    if (rest == (to_gguf ? l.hf : l.gguf)) {
      return fmt::format("{}{}.{}{}", to_gguf ? "blk." : "model.layers.", il, to_gguf ? l.gguf : l.hf, suffix);
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> gguf_name_from_hf(std::string_view hf_name) { return map_name(hf_name, true); }
std::optional<std::string> hf_name_from_gguf(std::string_view gguf_name) { return map_name(gguf_name, false); }

bool needs_qk_permutation(std::string_view arch, std::string_view name) {
  if (arch != "llama" || !name.starts_with("blk.")) return false;
  for (std::string_view s : {".attn_q.weight", ".attn_k.weight", ".attn_q.bias", ".attn_k.bias"}) {
    if (name.ends_with(s)) return true;
  }
  return false;
}

int64_t gguf_row_source(int64_t r, int64_t head_dim) {
  // GGUF row (h, i, t) = h*head_dim + 2i + t comes from HF row h*head_dim + t*head_dim/2 + i.
  const int64_t h = r / head_dim, j = r % head_dim;
  return h * head_dim + (j % 2) * (head_dim / 2) + j / 2;
}

int64_t hf_row_source(int64_t r, int64_t head_dim) {
  // HF row h*head_dim + t*head_dim/2 + i comes from GGUF row h*head_dim + 2i + t.
  const int64_t h = r / head_dim, j = r % head_dim, half = head_dim / 2;
  return h * head_dim + 2 * (j % half) + j / half;
}

void permute_rows(const uint8_t* src, uint8_t* dst, int64_t n_rows, size_t row_bytes,
                  int64_t head_dim, bool to_gguf) {
  LM_CHECK(head_dim > 0 && head_dim % 2 == 0 && n_rows % head_dim == 0, "n_rows {} head_dim {}",
           n_rows, head_dim);
  for (int64_t r = 0; r < n_rows; ++r) {
    const int64_t s = to_gguf ? gguf_row_source(r, head_dim) : hf_row_source(r, head_dim);
    std::memcpy(dst + static_cast<size_t>(r) * row_bytes, src + static_cast<size_t>(s) * row_bytes, row_bytes);
  }
}

std::vector<ModelTensor> model_tensors(std::string_view arch, int64_t n_embd, int64_t n_ff,
                                       int64_t n_layer, int64_t n_head, int64_t n_head_kv,
                                       int64_t head_dim, int64_t n_vocab, bool tied, bool qkv_bias) {
  const int64_t q_dim = n_head * head_dim, kv_dim = n_head_kv * head_dim;
  std::vector<ModelTensor> p;
  auto mat = [&](std::string name, int64_t n_in, int64_t n_out) { p.push_back({std::move(name), {n_in, n_out}, true}); };
  auto vec = [&](std::string name, int64_t n) { p.push_back({std::move(name), {n}, false}); };
  mat("token_embd.weight", n_embd, n_vocab);
  vec("output_norm.weight", n_embd);
  if (!tied) mat("output.weight", n_embd, n_vocab);
  for (int64_t il = 0; il < n_layer; ++il) {
    const std::string b = fmt::format("blk.{}.", il);
    vec(b + "attn_norm.weight", n_embd);
    mat(b + "attn_q.weight", n_embd, q_dim);
    mat(b + "attn_k.weight", n_embd, kv_dim);
    mat(b + "attn_v.weight", n_embd, kv_dim);
    if (qkv_bias) {
      vec(b + "attn_q.bias", q_dim);
      vec(b + "attn_k.bias", kv_dim);
      vec(b + "attn_v.bias", kv_dim);
    }
    if (arch == "qwen3") {
      vec(b + "attn_q_norm.weight", head_dim);
      vec(b + "attn_k_norm.weight", head_dim);
    }
    mat(b + "attn_output.weight", q_dim, n_embd);
    vec(b + "ffn_norm.weight", n_embd);
    mat(b + "ffn_gate.weight", n_embd, n_ff);
    mat(b + "ffn_up.weight", n_embd, n_ff);
    mat(b + "ffn_down.weight", n_ff, n_embd);
  }
  return p;
}

}  // namespace lm::convert
