#include "model/weights.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "kernels/cpu/repack.h"
#include "kernels/type_kernels.h"

namespace lm::model {

// Looks up every tensor the config calls for, checking name, dtype and shape (like calm's
// tensors.c); each error names the tensor: "loading blk.3.attn_q.weight: expected [64, 64],
// found [64, 32]".
class WeightBinder {
 public:
  explicit WeightBinder(Model& m) : m_(m), f_(*m.file_), c_(m.config_) {}

  Status bind() {
    Weights& w = m_.weights_;
    // Rows of it are looked up by token. Repacked only when it is also the output matrix (read
    // whole for every token's logits); the lookup then reads rows back (repacked_get_row).
    LM_TRY(w.token_embd, matrix("token_embd.weight", c_.n_embd, c_.n_vocab, c_.tied_output));
    if (!kernels::type_kernels(w.token_embd.type)->to_float) {
      return errorf("loading token_embd.weight: no dequantizer for {}",
                    dtype_name(w.token_embd.type));
    }
    LM_TRY(w.output_norm, vector("output_norm.weight", c_.n_embd));
    if (c_.tied_output) {
      w.output = w.token_embd;
    } else {
      LM_TRY(w.output, matrix("output.weight", c_.n_embd, c_.n_vocab));
    }
    if (c_.rope_freqs) {
      LM_TRY(w.rope_freqs, vector("rope_freqs.weight", c_.n_rot / 2));
    }
    // Grown layer by layer: a corrupt block_count fails at its first missing tensor instead of
    // allocating for billions of layers.
    for (int32_t il = 0; il < c_.n_layer; ++il) {
      LayerWeights l;
      LM_TRY_STATUS(bind_layer(il, l));
      w.layers.push_back(l);
    }
    return Ok{};
  }

 private:
  Status bind_layer(int32_t il, LayerWeights& l) {
    const std::string p = fmt::format("blk.{}.", il);
    LM_TRY(l.attn_norm, vector(p + "attn_norm.weight", c_.n_embd));
    LM_TRY(l.wq, matrix(p + "attn_q.weight", c_.n_embd, c_.q_dim()));
    LM_TRY(l.wk, matrix(p + "attn_k.weight", c_.n_embd, c_.kv_dim()));
    LM_TRY(l.wv, matrix(p + "attn_v.weight", c_.n_embd, c_.kv_dim()));
    LM_TRY(l.wo, matrix(p + "attn_output.weight", c_.q_dim(), c_.n_embd));
    if (c_.qkv_bias) {
      LM_TRY(l.bq, vector(p + "attn_q.bias", c_.q_dim()));
      LM_TRY(l.bk, vector(p + "attn_k.bias", c_.kv_dim()));
      LM_TRY(l.bv, vector(p + "attn_v.bias", c_.kv_dim()));
    }
    if (c_.qk_norm) {
      LM_TRY(l.q_norm, vector(p + "attn_q_norm.weight", c_.head_dim));
      LM_TRY(l.k_norm, vector(p + "attn_k_norm.weight", c_.head_dim));
    }
    LM_TRY(l.ffn_norm, vector(p + "ffn_norm.weight", c_.n_embd));
    LM_TRY(l.ffn_gate, matrix(p + "ffn_gate.weight", c_.n_embd, c_.n_ff));
    LM_TRY(l.ffn_up, matrix(p + "ffn_up.weight", c_.n_embd, c_.n_ff));
    LM_TRY(l.ffn_down, matrix(p + "ffn_down.weight", c_.n_ff, c_.n_embd));
    return Ok{};
  }

  // The tensor `name` with GGUF dims `dims` (trailing dims of 1 in the file are ignored).
  Result<const gguf::TensorInfo*> find(const std::string& name, std::vector<int64_t> dims) {
    const gguf::TensorInfo* t = f_.find_tensor(name);
    if (!t) return errorf("loading {}: tensor not found", name);
    std::vector<int64_t> found = t->dims;
    while (found.size() > dims.size() && found.back() == 1) found.pop_back();
    if (found != dims) {
      return errorf("loading {}: expected [{}], found {}", name, fmt::join(dims, ", "),
                    t->shape_string());
    }
    return t;
  }

  // A weight matrix of n_out rows of n_in, in a dtype matmul can compute with; repacked
  // (repack.h) when allowed and the type has a repacked kernel at the selected ISA.
  Result<kernels::WeightView> matrix(const std::string& name, int64_t n_in, int64_t n_out,
                                     bool may_repack = true) {
    LM_TRY(const gguf::TensorInfo* t, find(name, {n_in, n_out}));
    if (!kernels::matmul_supported(t->type)) {
      return errorf("loading {}: dtype {} is not supported for computation", name,
                    dtype_name(t->type));
    }
    const DType vt = kernels::type_kernels(t->type)->vec_dot_type;
    if (n_in % dtype_info(t->type).block_size != 0 || n_in % dtype_info(vt).block_size != 0) {
      return errorf("loading {}: row size {} is not a multiple of the {} block size", name, n_in,
                    dtype_name(t->type));
    }
    kernels::WeightView v{t->type, t->data, n_in, n_out};
    if (may_repack && repack_enabled() && n_in <= kernels::kRepackMaxIn &&
        kernels::repack_supported(t->type)) {
      LM_TRY(v, repack(name, v));
    }
    return v;
  }

  static bool repack_enabled() {
    static const bool on = [] {
      const char* e = std::getenv("LM_REPACK");
      return !(e && std::strcmp(e, "0") == 0);
    }();
    return on;
  }

  // Copies v into a new repacked buffer owned by the model, then releases the whole pages of
  // the source (when the model owns the mapping: they are file-backed and never read again).
  Result<kernels::WeightView> repack(const std::string& name, const kernels::WeightView& v) {
    const size_t bytes = kernels::repacked_bytes(v.type, v.n_in, v.n_out);
    const size_t alloc = (bytes + 63) / 64 * 64;
    Model::Buffer buf(static_cast<uint8_t*>(std::aligned_alloc(64, alloc)));
    if (!buf) return errorf("loading {}: cannot allocate {} bytes to repack it", name, alloc);
    kernels::repack_matrix(v.type, v.data, v.n_in, v.n_out, buf.get());
    if (m_.mapped_) release_pages(v.data, row_bytes(v.type, v.n_in) * static_cast<size_t>(v.n_out));
    kernels::WeightView out{v.type, buf.get(), v.n_in, v.n_out, true};
    m_.repacked_.emplace_back(std::move(buf), bytes);
    return out;
  }

  static void release_pages(const void* data, size_t bytes) {
    const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<uintptr_t>(data);
    const uintptr_t first = (begin + page - 1) / page * page, last = (begin + bytes) / page * page;
    // Advisory: on failure the pages merely stay resident.
    if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
  }

  // A small vector, converted to an F32 copy owned by the model.
  Result<const float*> vector(const std::string& name, int64_t n) {
    LM_TRY(const gguf::TensorInfo* t, find(name, {n}));
    const kernels::TypeKernels* k = kernels::type_kernels(t->type);
    if (!k || !k->to_float) {
      return errorf("loading {}: dtype {} is not supported for computation", name,
                    dtype_name(t->type));
    }
    std::vector<float> v(static_cast<size_t>(n));
    k->to_float(t->data, v.data(), n);
    m_.owned_.push_back(std::move(v));
    return m_.owned_.back().data();  // stays valid: moving a vector keeps its buffer
  }

  Model& m_;
  const gguf::File& f_;
  const ModelConfig& c_;
};

void Model::FreeDeleter::operator()(uint8_t* p) const { std::free(p); }

size_t Model::repacked_bytes() const {
  size_t n = 0;
  for (const auto& r : repacked_) n += r.second;
  return n;
}

Result<std::unique_ptr<Model>> Model::from_file(std::unique_ptr<gguf::File> file) {
  return build(std::move(file), false);
}

Result<std::unique_ptr<Model>> Model::build(std::unique_ptr<gguf::File> file, bool mapped) {
  std::unique_ptr<Model> m(new Model());
  m->file_ = std::move(file);
  m->mapped_ = mapped;
  const std::string name = m->file_->name();
  LM_TRY(m->config_, read_config(*m->file_).wrap(name));
  LM_TRY_STATUS(WeightBinder(*m).bind().wrap(name));
  return m;
}

Result<std::unique_ptr<Model>> Model::load(const std::string& path) {
  LM_TRY(auto file, gguf::File::open(path));
  return build(std::move(file), true);
}

}  // namespace lm::model
