// Builds small random GGUF decoders of every supported family, so that the hooks (biases,
// QK norm, NEOX RoPE, partial RoPE, frequency factors, tied output, F16/BF16 weights) are tested
// without large model files. Header-only test helper.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "kernels/type_kernels.h"
#include "test_util.h"

namespace lm::model::test {

struct SynthSpec {
  std::string arch = "qwen3";
  int n_embd = 32, n_head = 4, n_head_kv = 2, head_dim = 16, n_rot = 16, n_ff = 48;
  int n_layer = 2, n_vocab = 50, n_ctx = 64;
  float eps = 1e-6f, freq_base = 1e6f, linear_factor = 0;  // 0: no scaling keys
  bool tied = false, rope_freqs = false, bias = false, qk_norm = false;
  DType matrix_type = DType::F16;
  // Lets a test break the file: called for every tensor before it is added; may change the
  // type or dims or return false to leave the tensor out.
  std::function<bool(const std::string& name, DType& type, std::vector<int64_t>& dims)> edit;
  // Lets a test change the metadata after the defaults are written.
  std::function<void(gguf::Writer&)> edit_meta;
};

inline void add_random_tensor(gguf::Writer& w, const SynthSpec& s, const std::string& name,
                              std::vector<int64_t> dims, DType type, float lo, float hi) {
  if (s.edit && !s.edit(name, type, dims)) return;
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  auto f = lm::test::random_floats(size_t(n), std::hash<std::string>{}(name), lo, hi);
  const auto* k = kernels::type_kernels(type);
  std::vector<uint8_t> bytes;
  if (k && k->from_float) {
    bytes.resize(row_bytes(type, n));
    k->from_float(f.data(), bytes.data(), n);
  } else {
    bytes.assign(row_bytes(type, n), 0);  // types without kernels: any bytes will do
  }
  Status st = w.add_tensor(name, type, dims, std::move(bytes));
  if (!st.ok()) throw std::runtime_error(st.error().message());
}

// Writes the model to a temporary file and returns its path.
inline std::string write_synthetic(const SynthSpec& s) {
  gguf::Writer w;
  const std::string a = s.arch + ".";
  w.set_string("general.architecture", s.arch);
  w.set_u32(a + "context_length", s.n_ctx);
  w.set_u32(a + "embedding_length", s.n_embd);
  w.set_u32(a + "block_count", s.n_layer);
  w.set_u32(a + "feed_forward_length", s.n_ff);
  w.set_u32(a + "attention.head_count", s.n_head);
  w.set_u32(a + "attention.head_count_kv", s.n_head_kv);
  w.set_u32(a + "attention.key_length", s.head_dim);
  w.set_u32(a + "attention.value_length", s.head_dim);
  w.set_u32(a + "rope.dimension_count", s.n_rot);
  w.set_f32(a + "attention.layer_norm_rms_epsilon", s.eps);
  w.set_f32(a + "rope.freq_base", s.freq_base);
  if (s.linear_factor != 0) {
    w.set_string(a + "rope.scaling.type", "linear");
    w.set_f32(a + "rope.scaling.factor", s.linear_factor);
  }
  if (s.edit_meta) s.edit_meta(w);
  const int64_t E = s.n_embd, Q = s.n_head * s.head_dim, KV = s.n_head_kv * s.head_dim;
  const DType M = s.matrix_type;
  add_random_tensor(w, s, "token_embd.weight", {E, s.n_vocab}, M, -1, 1);
  add_random_tensor(w, s, "output_norm.weight", {E}, DType::F32, 0.5f, 1.5f);
  if (!s.tied) add_random_tensor(w, s, "output.weight", {E, s.n_vocab}, DType::BF16, -0.3f, 0.3f);
  if (s.rope_freqs) add_random_tensor(w, s, "rope_freqs.weight", {s.n_rot / 2}, DType::F32, 1, 8);
  for (int il = 0; il < s.n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    add_random_tensor(w, s, p + "attn_norm.weight", {E}, DType::F32, 0.5f, 1.5f);
    add_random_tensor(w, s, p + "attn_q.weight", {E, Q}, M, -0.3f, 0.3f);
    add_random_tensor(w, s, p + "attn_k.weight", {E, KV}, M, -0.3f, 0.3f);
    add_random_tensor(w, s, p + "attn_v.weight", {E, KV}, DType::F32, -0.3f, 0.3f);
    add_random_tensor(w, s, p + "attn_output.weight", {Q, E}, M, -0.2f, 0.2f);
    if (s.bias) {
      add_random_tensor(w, s, p + "attn_q.bias", {Q}, DType::F32, -0.5f, 0.5f);
      add_random_tensor(w, s, p + "attn_k.bias", {KV}, DType::F32, -0.5f, 0.5f);
      add_random_tensor(w, s, p + "attn_v.bias", {KV}, DType::F32, -0.5f, 0.5f);
    }
    if (s.qk_norm) {
      add_random_tensor(w, s, p + "attn_q_norm.weight", {s.head_dim}, DType::F32, 0.5f, 1.5f);
      add_random_tensor(w, s, p + "attn_k_norm.weight", {s.head_dim}, DType::F32, 0.5f, 1.5f);
    }
    add_random_tensor(w, s, p + "ffn_norm.weight", {E}, DType::F32, 0.5f, 1.5f);
    add_random_tensor(w, s, p + "ffn_gate.weight", {E, s.n_ff}, M, -0.3f, 0.3f);
    add_random_tensor(w, s, p + "ffn_up.weight", {E, s.n_ff}, DType::BF16, -0.3f, 0.3f);
    add_random_tensor(w, s, p + "ffn_down.weight", {s.n_ff, E}, M, -0.3f, 0.3f);
  }
  std::string path = lm::test::temp_path(s.arch + ".gguf");
  Status st = w.write(path);
  if (!st.ok()) throw std::runtime_error(st.error().message());
  return path;
}

}  // namespace lm::model::test
