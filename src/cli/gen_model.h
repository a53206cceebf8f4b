// Test-model generator behind `localmax gen-model`: GGUF files with seeded random weights for the
// llama, qwen2 and qwen3 architectures, at any size (real shapes come from presets), with a
// tokenizer copied from a vocabulary GGUF, imported from a Hugging Face tokenizer.json, or
// synthesised.
//
// Determinism: every weight is a pure function of (seed, tensor name, element index) through a
// counter-based RNG (see gen_model.cpp), so the output is byte-identical across runs and thread
// counts. Not thread-safe itself; uses the ThreadPool it is given.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "convert/hf_layout.h"
#include "convert/hf_tokenizer.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "tensor/dtype.h"

namespace lm::cli {

// Llama 3.1-style RoPE frequency scaling (stored as rope_freqs.weight factors); shared with the
// converter, which derives the same factors from config.json.
using convert::Llama3RopeScaling;
using convert::llama3_rope_factors;
using convert::import_tokenizer_json;

struct GenModelSpec {
  std::string arch = "llama";   // llama | qwen2 | qwen3
  std::string name;             // general.name
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t n_ff = 0;
  int64_t head_dim = 0;         // 0: n_embd / n_head
  int64_t n_ctx = 0;
  int64_t n_vocab = 0;          // synthetic vocabulary size; padding target for imported ones
  double rope_theta = 10000.0;
  double rms_eps = 1e-5;
  bool llama3_rope = false;
  Llama3RopeScaling rope_scaling;
  bool tied = false;
  DType type = DType::F32;      // of the matrices; norms, biases and rope_freqs stay F32
  uint64_t seed = 0;
};

// Known presets: "llama3.2-1b", "qwen2.5-0.5b", "qwen3-0.6b" (real shapes) and "tiny", "micro"
// (small shapes for tests; they take the architecture from `arch`).
Result<GenModelSpec> gen_model_preset(std::string_view name, std::string_view arch);
std::vector<std::string> gen_model_preset_names();

// Checks dims (positive, n_head divides n_embd when head_dim is implicit, n_head_kv divides
// n_head, even head_dim, block sizes) and fills head_dim.
Status validate_spec(GenModelSpec& spec);

// Tokenizer sources. Each sets every tokenizer.* key on `w` and returns the vocabulary size.
// (Hugging Face tokenizer.json: convert::import_tokenizer_json, whose `min_vocab` pads imported
// vocabularies with [PADn] tokens, as converters do for Qwen.)
Result<convert::GgufVocab> synthetic_vocab(int64_t n_vocab);
Result<int64_t> add_synthetic_vocab(gguf::Writer& w, int64_t n_vocab);
Result<int64_t> copy_vocab_from_gguf(gguf::Writer& w, const std::string& path);

// The RNG: a standard-ish normal (Irwin-Hall of four 16-bit uniforms, scaled to unit variance)
// for element `index` of the stream `stream` under `seed`. Exposed for tests.
float gen_normal(uint64_t seed, uint64_t stream, uint64_t index);
uint64_t gen_stream_id(std::string_view tensor_name);

// Adds the architecture metadata and all tensors (n_vocab already known) to `w`. Tensor data is
// owned by the writer.
Status add_model(gguf::Writer& w, const GenModelSpec& spec, ThreadPool& pool);

// The same model in the Hugging Face layout, in folder `dir` (created if needed): config.json and
// model.safetensors (or `n_shards` shards model-0000k-of-0000N.safetensors with
// model.safetensors.index.json). Matrices are stored in spec.type, vectors (norms, biases) in F32;
// llama q/k rows in the HF (rotate-half) order. Each tensor holds exactly the values add_model
// writes for it (before conversion to the file's dtype, the same rounding).
Status write_hf_model(const std::string& dir, const GenModelSpec& spec, int n_shards, ThreadPool& pool);

}  // namespace lm::cli
