// Model: a GGUF decoder (llama, qwen2, qwen3) with its config and every weight bound and
// validated (name, dtype, shape) at load.
//
// Ownership: owns the gguf::File (and so the mapping); big weights are views into it, small
// vectors (norms, biases, RoPE factors) are converted to F32 copies owned by the Model.
// Matrices whose type has a repacked layout at the selected ISA (kernels/cpu/repack.h) are
// repacked at load into buffers owned by the Model (the only copy the forward pass reads, for
// prefill and decode alike); when the file is mapped (load), the source pages of each repacked
// matrix are released right after it is repacked, so peak memory stays about one file size.
// LM_REPACK=0 in the environment keeps every matrix in the file's layout.
// Thread-safety: immutable after load; share it between any number of Forward objects.
// Cost: load parses the header and converts the small vectors; repacking reads each repacked
// matrix once (a copy-speed pass); other weight bytes are not touched.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "gguf/gguf.h"
#include "kernels/cpu/matmul.h"
#include "model/config.h"

namespace lm::model {

struct LayerWeights {
  const float* attn_norm = nullptr;  // [n_embd]
  kernels::WeightView wq;            // [n_embd, q_dim]
  kernels::WeightView wk;            // [n_embd, kv_dim]
  kernels::WeightView wv;            // [n_embd, kv_dim]
  kernels::WeightView wo;            // [q_dim, n_embd]
  const float* bq = nullptr;         // [q_dim]  (qkv_bias)
  const float* bk = nullptr;         // [kv_dim] (qkv_bias)
  const float* bv = nullptr;         // [kv_dim] (qkv_bias)
  const float* q_norm = nullptr;     // [head_dim] (qk_norm)
  const float* k_norm = nullptr;     // [head_dim] (qk_norm)
  const float* ffn_norm = nullptr;   // [n_embd]
  kernels::WeightView ffn_gate;      // [n_embd, n_ff]
  kernels::WeightView ffn_up;        // [n_embd, n_ff]
  kernels::WeightView ffn_down;      // [n_ff, n_embd]
};

struct Weights {
  kernels::WeightView token_embd;      // [n_embd, n_vocab]
  const float* output_norm = nullptr;  // [n_embd]
  kernels::WeightView output;          // [n_embd, n_vocab] (token_embd when tied)
  const float* rope_freqs = nullptr;   // [n_rot/2] (config.rope_freqs)
  std::vector<LayerWeights> layers;    // [n_layer]
};

class Model {
 public:
  static Result<std::unique_ptr<Model>> load(const std::string& path);
  // The same from an already parsed file (tests build models in memory; its pages are never
  // released, only repacked copies made).
  static Result<std::unique_ptr<Model>> from_file(std::unique_ptr<gguf::File> file);

  // Bytes of weight matrices held in repacked buffers (0 when nothing was repacked).
  size_t repacked_bytes() const;

  const ModelConfig& config() const { return config_; }
  const gguf::File& file() const { return *file_; }
  // The bound weights (for the forward pass, inside the model module).
  const Weights& weights() const { return weights_; }

 private:
  Model() = default;
  friend class WeightBinder;
  static Result<std::unique_ptr<Model>> build(std::unique_ptr<gguf::File> file, bool mapped);
  struct FreeDeleter {
    void operator()(uint8_t* p) const;
  };
  using Buffer = std::unique_ptr<uint8_t[], FreeDeleter>;
  bool mapped_ = false;  // file_ is a mapping we own (its pages may be released)
  std::unique_ptr<gguf::File> file_;
  ModelConfig config_;
  Weights weights_;
  std::vector<std::vector<float>> owned_;  // F32 copies of the small vectors
  std::vector<std::pair<Buffer, size_t>> repacked_;  // repacked matrices (64-byte aligned), sizes
};

}  // namespace lm::model
