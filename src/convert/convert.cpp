#include "convert/convert.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "convert/hf_layout.h"
#include "convert/hf_tokenizer.h"
#include "gguf/gguf.h"
#include "core/check.h"
#include "kernels/type_kernels.h"

#include <sys/mman.h>
#include <unistd.h>

namespace lm::convert {

namespace {

namespace fs = std::filesystem;

size_t elem_size(DType t) { return t == DType::F32 ? 4 : 2; }

// n elements from `src` (type st) to `dst` (type dt); a plain copy when the types agree, else
// through float in chunks, with the kernel table's row conversions (round-to-nearest-even, the
// same ones gen-model and quantize use, so results are bit-identical to theirs).
void convert_elements(const uint8_t* src, DType st, uint8_t* dst, DType dt, int64_t n) {
  if (st == dt) {
    std::memcpy(dst, src, static_cast<size_t>(n) * elem_size(st));
    return;
  }
  const kernels::TypeKernels* from = kernels::type_kernels(st);
  const kernels::TypeKernels* to = kernels::type_kernels(dt);
  LM_CHECK(from && from->to_float && to && to->from_float, "{} -> {}", dtype_name(st), dtype_name(dt));
  constexpr int64_t kChunk = 4096;
  float tmp[kChunk];
  for (int64_t i = 0; i < n; i += kChunk) {
    const int64_t len = std::min(kChunk, n - i);
    from->to_float(src + i * static_cast<int64_t>(elem_size(st)), tmp, len);
    to->from_float(tmp, dst + i * static_cast<int64_t>(elem_size(dt)), len);
  }
}

// Drops the mapped pages of a source tensor once converted: they are clean file pages, so this
// only keeps the resident size near one tensor (the kernel would reclaim them anyway).
void release_pages(std::span<const uint8_t> data) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uintptr_t begin = (reinterpret_cast<uintptr_t>(data.data()) + page - 1) / page * page;
  uintptr_t end = (reinterpret_cast<uintptr_t>(data.data()) + data.size()) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errorf("cannot open {}", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

uint32_t file_type_of(DType t) {
  // llama_ftype: ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_BF16 = 32.
  return t == DType::F16 ? 1 : t == DType::BF16 ? 32 : 0;
}

void add_metadata(gguf::Writer& w, const HfConfig& c, const std::string& name, DType type) {
  const std::string& a = c.arch;
  w.set_string("general.type", "model");
  w.set_string("general.name", name);
  w.set_u32("general.file_type", file_type_of(type));
  w.set_u32(a + ".context_length", static_cast<uint32_t>(c.n_ctx));
  w.set_u32(a + ".embedding_length", static_cast<uint32_t>(c.n_embd));
  w.set_u32(a + ".block_count", static_cast<uint32_t>(c.n_layer));
  w.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(c.n_ff));
  w.set_u32(a + ".attention.head_count", static_cast<uint32_t>(c.n_head));
  w.set_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(c.n_head_kv));
  w.set_u32(a + ".attention.key_length", static_cast<uint32_t>(c.head_dim));
  w.set_u32(a + ".attention.value_length", static_cast<uint32_t>(c.head_dim));
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_eps));
  w.set_f32(a + ".rope.freq_base", static_cast<float>(c.rope_theta));
  w.set_u32(a + ".rope.dimension_count", static_cast<uint32_t>(c.head_dim));
  if (c.rope_scaling == RopeScaling::kLinear) {
    w.set_string(a + ".rope.scaling.type", "linear");
    w.set_f32(a + ".rope.scaling.factor", static_cast<float>(c.linear_factor));
  }
  w.set_u32(a + ".vocab_size", static_cast<uint32_t>(c.n_vocab));
}

// One output tensor: where it comes from and what it becomes.
struct Planned {
  ModelTensor gguf;
  const StTensor* src;
  DType out_type;
  bool permute;
};

// Matches every tensor the config implies against the checkpoint: present, right shape.
Result<std::vector<Planned>> plan(const HfConfig& c, const SafetensorsModel& m,
                                  std::optional<DType> type, const ConvertOptions& o) {
  const StTensor* embd = m.find("model.embed_tokens.weight");
  if (!embd) return errorf("{}: missing tensor model.embed_tokens.weight", o.dir);
  const DType mat_type = type.value_or(embd->type);
  std::vector<Planned> out;
  std::set<std::string> used;
  for (ModelTensor& t : model_tensors(c.arch, c.n_embd, c.n_ff, c.n_layer, c.n_head, c.n_head_kv,
                                      c.head_dim, c.n_vocab, c.tied, c.attention_bias)) {
    const std::string hf = *hf_name_from_gguf(t.name);
    const StTensor* s = m.find(hf);
    if (!s) return errorf("{}: missing tensor {} (for {})", o.dir, hf, t.name);
    std::vector<int64_t> want(t.dims.rbegin(), t.dims.rend());
    if (s->shape != want) {
      return errorf("{} in {}: expected shape [{}] from config.json, found {}", hf, s->file,
                    fmt::join(want, ", "), s->shape_string());
    }
    used.insert(hf);
    const bool permute = needs_qk_permutation(c.arch, t.name);
    const DType out_type = t.matrix ? mat_type : DType::F32;
    out.push_back({std::move(t), s, out_type, permute});
  }
  for (const StTensor* s : m.tensors()) {
    if (used.count(s->name) || !o.progress) continue;
    o.progress(fmt::format("warning: ignoring tensor {} {} ({})", s->name, s->shape_string(),
                           s->name == "lm_head.weight" ? "tie_word_embeddings is true" : "not part of the model"));
  }
  return out;
}

Status add_tokenizer(gguf::Writer& w, const HfConfig& c, const ConvertOptions& o) {
  const std::string path = (fs::path(o.dir) / "tokenizer.json").string();
  if (!fs::exists(path)) {
    if (o.progress) o.progress("warning: no tokenizer.json: the GGUF has no tokenizer (token ids only)");
    return Ok{};
  }
  LM_TRY(GgufVocab v, read_hf_tokenizer(path, c.arch, c.n_vocab));
  if (static_cast<int64_t>(v.tokens.size()) != c.n_vocab) {
    return errorf("{}: {} tokens, but the embedding has {} rows (vocab_size)", path, v.tokens.size(), c.n_vocab);
  }
  write_gguf_vocab(w, v);
  if (o.progress) {
    o.progress(fmt::format("tokenizer: {} {} tokens, bos {}, eos {}{}", v.model, v.tokens.size(), v.bos,
                           v.eos, v.chat_template.empty() ? "" : ", chat template"));
  }
  return Ok{};
}

}  // namespace

Status convert_tensor_data(const StTensor& src, DType out_type, int64_t permute_head_dim,
                           std::span<uint8_t> out) {
  const int64_t n = src.n_elements();
  if (out.size() != static_cast<size_t>(n) * elem_size(out_type)) {
    return errorf("{}: output buffer of {} bytes for {} elements of {}", src.name, out.size(), n,
                  dtype_name(out_type));
  }
  if (permute_head_dim <= 0 || src.shape.empty()) {
    convert_elements(src.data.data(), src.type, out.data(), out_type, n);
    return Ok{};
  }
  const int64_t n_rows = src.shape[0];
  if (n_rows % permute_head_dim != 0 || permute_head_dim % 2 != 0) {
    return errorf("{}: {} rows are not whole heads of {}", src.name, n_rows, permute_head_dim);
  }
  const int64_t row_len = n / n_rows;
  const size_t ss = elem_size(src.type), ds = elem_size(out_type);
  for (int64_t r = 0; r < n_rows; ++r) {
    const int64_t from = gguf_row_source(r, permute_head_dim);
    convert_elements(src.data.data() + from * row_len * ss, src.type, out.data() + r * row_len * ds,
                     out_type, row_len);
  }
  return Ok{};
}

Status convert_hf_model(const ConvertOptions& o) {
  const std::string cfg_path = (fs::path(o.dir) / "config.json").string();
  if (!fs::is_directory(o.dir)) return errorf("{}: not a directory", o.dir);
  if (!fs::exists(cfg_path)) return errorf("{}: no config.json (not a Hugging Face model folder)", o.dir);
  LM_TRY(std::string cfg_text, read_text(cfg_path));
  LM_TRY(HfConfig c, parse_hf_config(cfg_text, cfg_path));
  if (o.type && *o.type != DType::F32 && *o.type != DType::F16 && *o.type != DType::BF16) {
    return errorf("output type {} is not F32, F16 or BF16", dtype_name(*o.type));
  }
  LM_TRY(SafetensorsModel m, SafetensorsModel::open_dir(o.dir));
  LM_TRY(std::vector<Planned> plans, plan(c, m, o.type, o));
  const DType mat_type = plans.front().out_type;  // token_embd
  std::string name = fs::path(o.dir).filename().string();
  if (name.empty() || name == ".") name = fs::absolute(o.dir).parent_path().filename().string();

  gguf::Writer w;
  w.set_string("general.architecture", c.arch);
  add_metadata(w, c, name, mat_type);
  LM_TRY_STATUS(add_tokenizer(w, c, o));
  if (c.rope_scaling == RopeScaling::kLlama3) {
    std::vector<float> f = llama3_rope_factors(c.head_dim, c.rope_theta, c.llama3);
    std::vector<uint8_t> bytes(f.size() * 4);
    std::memcpy(bytes.data(), f.data(), bytes.size());
    LM_TRY_STATUS(w.add_tensor("rope_freqs.weight", DType::F32, {static_cast<int64_t>(f.size())}, std::move(bytes)));
  }
  const size_t n_total = plans.size();
  for (size_t i = 0; i < n_total; ++i) {
    const Planned& p = plans[i];
    const int64_t head_dim = p.permute ? c.head_dim : 0;
    auto fill = [&o, &p, head_dim, i, n_total](std::span<uint8_t> out) -> Status {
      if (o.progress) {
        o.progress(fmt::format("[{:>4}/{}] {:<28} {} -> {} [{}]", i + 1, n_total, p.gguf.name,
                               dtype_name(p.src->type), dtype_name(p.out_type), fmt::join(p.gguf.dims, ", ")));
      }
      Status st = convert_tensor_data(*p.src, p.out_type, head_dim, out).wrap(p.src->file);
      release_pages(p.src->data);
      return st;
    };
    LM_TRY_STATUS(w.add_tensor_deferred(p.gguf.name, p.out_type, p.gguf.dims, fill));
  }
  return w.write(o.out);
}

}  // namespace lm::convert
