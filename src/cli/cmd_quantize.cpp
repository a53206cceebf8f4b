// `localmax quantize IN.gguf OUT.gguf TYPE [--threads N]`: rewrites a GGUF file with its weight
// matrices converted to TYPE (a dtype or a mix such as Q4_K_M, see quantize_plan.h).
//
// Every weight is dequantized to floats with its type's kernels and re-quantized row by row
// with the target's reference quantizer (kernels/type_kernels.h), in parallel over rows.
// A weight already in its target type is copied unchanged. Metadata is copied, with
// general.file_type set to the mix and general.quantization_version to 2 (the ggml block
// format version of these layouts); the alignment is kept. The output is written atomically.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/quantize_plan.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "kernels/type_kernels.h"

namespace lm::cli {
namespace {

struct QuantizeOptions {
  std::string in, out;
  QuantMix mix;
  int n_threads = 0;
};

void print_usage(std::FILE* f) {
  fmt::print(f,
             "usage: localmax quantize IN.gguf OUT.gguf TYPE [--threads N]\n"
             "  TYPE: {}\n"
             "  Weight matrices (*.weight, 2+ dims) are converted; other tensors are copied.\n"
             "  --threads N   worker threads (default: all hardware threads)\n",
             quant_mix_names());
}

// Converts one tensor, row by row: src rows [n_rows][row_len] in t.type -> `out` rows.
Result<std::vector<uint8_t>> convert_tensor(const gguf::TensorInfo& t, DType out,
                                            ThreadPool& pool) {
  const kernels::TypeKernels* src_k = kernels::type_kernels(t.type);
  if (src_k == nullptr || src_k->to_float == nullptr) {
    return errorf("type {} cannot be dequantized by localmax", dtype_name(t.type));
  }
  const kernels::TypeKernels* dst_k = kernels::type_kernels(out);
  if (dst_k == nullptr || dst_k->from_float == nullptr) {
    return errorf("no quantizer for type {}", dtype_name(out));
  }
  const int64_t row_len = t.dims[0];
  const int64_t n_rows = t.n_elements() / row_len;
  const size_t in_row = row_bytes(t.type, row_len), out_row = row_bytes(out, row_len);
  std::vector<uint8_t> data(out_row * static_cast<size_t>(n_rows));
  pool.parallel_for(n_rows, [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(row_len));  // once per thread, not per row
    for (int64_t r = begin; r < end; ++r) {
      src_k->to_float(t.data + static_cast<size_t>(r) * in_row, row.data(), row_len);
      dst_k->from_float(row.data(), data.data() + static_cast<size_t>(r) * out_row, row_len);
    }
  });
  return data;
}

ModelShape model_shape(const gguf::File& f) {
  ModelShape s;
  for (const auto& t : f.tensors()) {
    s.n_layer = std::max(s.n_layer, layer_index(t.name) + 1);
    if (t.name == "output.weight") s.has_output = true;
  }
  return s;
}

// Target type of tensor t, after the block-size fallback (which is reported on stderr).
DType target_type(const gguf::TensorInfo& t, const QuantizeOptions& o, const ModelShape& shape) {
  const DType want = choose_type(o.mix, t.name, shape);
  const DType got = fit_block(want, t.dims[0]);
  if (got != want) {
    fmt::print(stderr, "localmax quantize: {}: row length {} is not a multiple of the {} block "
               "size {}; using {}\n", t.name, t.dims[0], dtype_name(want),
               dtype_info(want).block_size, dtype_name(got));
  }
  return got;
}

Status quantize_file(const QuantizeOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  LM_TRY(auto file, gguf::File::open(o.in));
  const gguf::File& f = *file;
  gguf::Writer w(f.version());
  for (const auto& kv : f.metadata()) w.set_value(kv.key, kv.value);
  w.set_alignment(f.alignment());
  w.set_u32("general.file_type", o.mix.file_type);
  w.set_u32("general.quantization_version", 2);

  ThreadPool pool(o.n_threads > 0 ? o.n_threads : ThreadPool::hardware_threads());
  const ModelShape shape = model_shape(f);
  uint64_t in_bytes = 0, out_bytes = 0;
  size_t i = 0;
  for (const auto& t : f.tensors()) {
    ++i;
    in_bytes += t.n_bytes;
    const std::string ctx = fmt::format("tensor {}", t.name);
    DType out = t.type;
    if (is_quantizable(t.name, t.dims)) out = target_type(t, o, shape);
    fmt::print("[{:>4}/{}] {:<36} {:<5} -> {:<5} {}\n", i, f.tensors().size(), t.name,
               dtype_name(t.type), dtype_name(out), t.shape_string());
    if (out == t.type) {
      LM_TRY_STATUS(w.add_tensor_view(t.name, t.type, t.dims, {t.data, t.n_bytes}).wrap(ctx));
      out_bytes += t.n_bytes;
      continue;
    }
    LM_TRY(std::vector<uint8_t> data, convert_tensor(t, out, pool).wrap(ctx));
    out_bytes += data.size();
    LM_TRY_STATUS(w.add_tensor(t.name, out, t.dims, std::move(data)).wrap(ctx));
  }
  LM_TRY_STATUS(w.write(o.out).wrap(fmt::format("writing {}", o.out)));
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("quantized {} -> {} ({}): {:.2f} MiB -> {:.2f} MiB in {:.2f} s ({} threads)\n",
             o.in, o.out, o.mix.name, in_bytes / 1048576.0, out_bytes / 1048576.0, secs,
             pool.size());
  return Ok{};
}

// Parses the arguments; returns an exit code when the command should stop (help, usage error).
std::optional<int> parse_args(const Args& args, QuantizeOptions* o) {
  std::vector<std::string> pos;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      print_usage(stdout);
      return 0;
    }
    if (a == "--threads" || a == "-t") {
      int n = 0;
      if (i + 1 >= args.size() || std::sscanf(args[i + 1].c_str(), "%d", &n) != 1 || n < 1) {
        fmt::print(stderr, "localmax quantize: --threads needs a positive integer\n");
        return 2;
      }
      o->n_threads = n;
      ++i;
    } else if (!a.empty() && a[0] == '-') {
      fmt::print(stderr, "localmax quantize: unknown option '{}'\n", a);
      return 2;
    } else {
      pos.push_back(a);
    }
  }
  if (pos.size() != 3) {
    print_usage(stderr);
    return 2;
  }
  auto mix = parse_quant_mix(pos[2]);
  if (!mix) {
    fmt::print(stderr, "localmax quantize: unknown type '{}' (known: {})\n", pos[2],
               quant_mix_names());
    return 2;
  }
  o->in = pos[0];
  o->out = pos[1];
  o->mix = *mix;
  return std::nullopt;
}

}  // namespace

int cmd_quantize(const Args& args) {
  QuantizeOptions o;
  if (auto code = parse_args(args, &o)) return *code;
  Status s = quantize_file(o);
  if (!s.ok()) {
    fmt::print(stderr, "localmax quantize: error: {}\n", s.error().message());
    return 1;
  }
  return 0;
}

}  // namespace lm::cli
