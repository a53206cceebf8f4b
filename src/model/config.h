// ModelConfig: everything the one decoder forward pass needs to know about a model, read from
// GGUF metadata. Per-family differences (llama, qwen2, qwen3) are a few flags set by a small
// table of architecture hooks (config.cpp), not separate code paths.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"

namespace lm::gguf {
class File;
}

namespace lm::model {

struct ModelConfig {
  std::string arch;         // general.architecture: "llama", "qwen2", "qwen3"
  int32_t n_vocab = 0;      // rows of token_embd (= logits per token)
  int32_t n_ctx_train = 0;  // {arch}.context_length
  int32_t n_embd = 0;
  int32_t n_layer = 0;
  int32_t n_ff = 0;
  int32_t n_head = 0;
  int32_t n_head_kv = 0;
  int32_t head_dim = 0;    // {arch}.attention.key_length (default n_embd / n_head)
  float norm_eps = 1e-5f;  // RMSNorm epsilon

  // RoPE: theta_i = pos * rope_freq_scale * rope_freq_base^(-2i/n_rot) [/ rope_freqs[i]].
  int32_t n_rot = 0;  // rotated dims per head (<= head_dim, even)
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // 1 / linear scaling factor
  bool rope_neox = false;        // rotate (x[i], x[i+n_rot/2]) instead of (x[2i], x[2i+1])

  // Family hooks.
  bool qkv_bias = false;     // attn_q/k/v.bias (qwen2)
  bool qk_norm = false;      // per-head RMSNorm of Q and K before RoPE (qwen3)
  bool tied_output = false;  // no output.weight: logits use token_embd
  bool rope_freqs = false;   // rope_freqs.weight frequency factors (llama 3.x)

  int32_t pooling_type = -1;  // {arch}.pooling_type for embeddings (-1: absent; engine/embed.h)

  int32_t q_dim() const { return n_head * head_dim; }      // width of Q and attention output
  int32_t kv_dim() const { return n_head_kv * head_dim; }  // width of K and V
};

// Reads the config from a GGUF file's metadata and the shapes of token_embd, output and
// rope_freqs. Errors name the key or tensor at fault; an unknown architecture is an error.
Result<ModelConfig> read_config(const gguf::File& file);

}  // namespace lm::model
