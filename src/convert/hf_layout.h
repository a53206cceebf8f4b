// The Hugging Face checkpoint layout of the llama / qwen2 / qwen3 families, and its mapping to
// GGUF: config.json <-> model hyper-parameters, tensor names, and the Q/K row permutation.
//
// Facts used (from the GGUF conventions and the HF modeling code):
// - HF stores a Linear weight as [out_features, in_features] row-major; GGUF dims are the same
//   bytes with the dims listed innermost first ([in, out]).
// - HF Llama applies RoPE in the rotate-half form (pairs (i, i + head_dim/2)); GGUF `llama` rotates
//   adjacent pairs (2i, 2i+1), so converters reorder the rows of q_proj and k_proj within each
//   head: reshape (n_head, 2, head_dim/2, n_in), swap axes 1 and 2. qwen2/qwen3 GGUF files use
//   the NEOX (rotate-half) RoPE and keep the HF row order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace lm::convert {

// Llama 3.1-style RoPE frequency scaling (config.json rope_scaling with rope_type "llama3").
struct Llama3RopeScaling {
  double factor = 32.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_ctx = 8192;
};

// Llama 3.1 rope_freqs factors, one per rotated pair (head_dim / 2 values): the divisor GGUF
// stores per frequency.
std::vector<float> llama3_rope_factors(int64_t head_dim, double theta, const Llama3RopeScaling& s);

enum class RopeScaling { kNone, kLinear, kLlama3 };

// What a config.json says about the model, in GGUF vocabulary.
struct HfConfig {
  std::string arch;            // GGUF architecture: llama | qwen2 | qwen3
  std::string hf_arch;         // architectures[0]: LlamaForCausalLM, ...
  int64_t n_embd = 0;          // hidden_size
  int64_t n_ff = 0;            // intermediate_size
  int64_t n_layer = 0;         // num_hidden_layers
  int64_t n_head = 0;          // num_attention_heads
  int64_t n_head_kv = 0;       // num_key_value_heads (default n_head)
  int64_t head_dim = 0;        // head_dim (default n_embd / n_head)
  int64_t n_ctx = 0;           // max_position_embeddings
  int64_t n_vocab = 0;         // vocab_size
  double rms_eps = 1e-6;       // rms_norm_eps
  double rope_theta = 10000.0;
  RopeScaling rope_scaling = RopeScaling::kNone;
  double linear_factor = 1.0;  // kLinear
  Llama3RopeScaling llama3;    // kLlama3
  bool tied = false;           // tie_word_embeddings
  bool attention_bias = false; // q/k/v biases (always for qwen2)
  std::string torch_dtype;     // "float32", "float16", "bfloat16" or ""
};

// Parses config.json text; errors name the key at fault. `source` names the file in errors.
Result<HfConfig> parse_hf_config(std::string_view text, const std::string& source);
// The config.json a converter reads back to the same HfConfig.
std::string hf_config_json(const HfConfig& c);

// Tensor names. GGUF "blk.3.attn_q.weight" <-> HF "model.layers.3.self_attn.q_proj.weight".
// nullopt for names outside the mapping.
std::optional<std::string> gguf_name_from_hf(std::string_view hf_name);
std::optional<std::string> hf_name_from_gguf(std::string_view gguf_name);

// True for the GGUF tensors whose rows the llama Q/K permutation reorders (attn_q / attn_k
// weights and biases of a `llama` model).
bool needs_qk_permutation(std::string_view arch, std::string_view gguf_name);

// Row maps of the permutation for a tensor of n_heads x head_dim rows.
// gguf_row_source(r): the HF row that GGUF row r comes from (HF -> GGUF);
// hf_row_source(r): the GGUF row that HF row r comes from (GGUF -> HF, the inverse).
int64_t gguf_row_source(int64_t r, int64_t head_dim);
int64_t hf_row_source(int64_t r, int64_t head_dim);

// Reorders whole rows: dst row r = src row source(r, head_dim), for n_rows rows of row_bytes.
// src and dst must not overlap.
void permute_rows(const uint8_t* src, uint8_t* dst, int64_t n_rows, size_t row_bytes,
                  int64_t head_dim, bool to_gguf);

// One tensor of a model in GGUF terms: its name, GGUF dims (innermost first) and whether it is
// a matrix (stored in the model type) or a vector (norms, biases: F32).
struct ModelTensor {
  std::string name;
  std::vector<int64_t> dims;
  bool matrix = false;
};

// Every tensor a model with these dims has, in the order gen-model and the converter write
// them (rope_freqs not included: it is derived from the config).
std::vector<ModelTensor> model_tensors(std::string_view arch, int64_t n_embd, int64_t n_ff,
                                       int64_t n_layer, int64_t n_head, int64_t n_head_kv,
                                       int64_t head_dim, int64_t n_vocab, bool tied, bool qkv_bias);

}  // namespace lm::convert
