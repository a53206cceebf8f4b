#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>

#include "core/check.h"
#include "kernels/cpu/repack.h"
#include "kernels/type_kernels.h"

namespace lm::kernels {
namespace {

// Activation rows are processed in tiles of about this many bytes, so that a tile stays in
// cache while a thread walks its weight rows over it.
constexpr size_t kTileBytes = 128 * 1024;

// Converts the activation rows to vec_dot_type; returns a pointer to the converted rows.
const uint8_t* convert_activations(ThreadPool& pool, const TypeKernels& k, const float* x,
                                   int64_t n_tokens, int64_t n_in, size_t act_row,
                                   MatmulScratch& scratch) {
  if (k.vec_dot_type == DType::F32) return reinterpret_cast<const uint8_t*>(x);
  const TypeKernels* vk = type_kernels(k.vec_dot_type);
  const size_t need = act_row * static_cast<size_t>(n_tokens);
  if (scratch.act.size() < need) scratch.act.resize(need);
  uint8_t* dst = scratch.act.data();
  auto convert = [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) vk->from_float(x + t * n_in, dst + act_row * t, n_in);
  };
  if (n_tokens == 1)
    convert(0, 1);
  else
    pool.parallel_for(n_tokens, [&convert](int64_t b, int64_t e) { convert(b, e); });
  return dst;
}

// Splits n_out rows over the pool in groups of kRowGroup (the GEMM tile height), so that only
// the last group of the matrix is a partial tile.
constexpr int64_t kRowGroup = 4;

// Weight bytes per chunk of rows handed out in a batch (prefill) matmul: a chunk stays in the
// L2 cache while every token tile passes over it, so the weights stream from memory once.
constexpr size_t kChunkBytes = 256 * 1024;
constexpr int64_t kChunksPerThread = 4;  // at least, when the matrix allows it

// One token (decode): one contiguous range of row groups per thread (the weights stream once
// either way; long streams suit the prefetchers). A batch: chunks of about kChunkBytes of
// weights (w_row: bytes per row), at least kChunksPerThread per thread, taken on demand, so a
// thread on a core that other work slows takes fewer. Which thread computes a row never
// changes its result.
void run_row_groups(ThreadPool& pool, int64_t n_out, int64_t n_tokens, size_t w_row,
                    const std::function<void(int64_t, int64_t)>& fn, int64_t group = kRowGroup) {
  const int64_t n_groups = (n_out + group - 1) / group;
  auto rows = [&](int64_t b, int64_t e) { fn(b * group, std::min(n_out, e * group)); };
  if (n_tokens == 1 || pool.size() == 1) return pool.parallel_for(n_groups, rows);
  const int64_t by_bytes = std::max<int64_t>(1, static_cast<int64_t>(kChunkBytes / (w_row * group)));
  const int64_t by_count = std::max<int64_t>(1, n_groups / (kChunksPerThread * pool.size()));
  pool.parallel_for_chunks(n_groups, std::min(by_bytes, by_count), rows);
}

// A repacked matrix (repack.h): the row-group GEMM for every batch size, decode included (the
// only copy of the weights is the repacked one). Row ranges start on group boundaries.
void matmul_repacked(ThreadPool& pool, const WeightView& w, const uint8_t* act, size_t act_row,
                     int64_t n_tokens, float* y) {
  const GemmFn gemm = repacked_gemm_kernel(w.type);
  LM_CHECK(gemm != nullptr, "matmul: no repacked kernel for {} at ISA {}", dtype_name(w.type),
           isa_name());
  LM_CHECK(w.n_in <= kRepackMaxIn, "matmul: repacked rows of {} exceed {}", w.n_in, kRepackMaxIn);
  const size_t group_bytes = repacked_group_bytes(w.type, w.n_in);
  const auto* wdata = static_cast<const uint8_t*>(w.data);
  const int64_t tile = std::max<int64_t>(1, static_cast<int64_t>(kTileBytes / act_row));
  auto body = [&](int64_t o_begin, int64_t o_end) {
    for (int64_t t0 = 0; t0 < n_tokens; t0 += tile) {
      const int64_t t1 = std::min(n_tokens, t0 + tile);
      gemm(GemmArgs{w.n_in, wdata + group_bytes * static_cast<size_t>(o_begin / kRepackRows),
                    group_bytes, o_end - o_begin, act + act_row * static_cast<size_t>(t0), act_row,
                    t1 - t0, y + t0 * w.n_out + o_begin, w.n_out});
    }
  };
  run_row_groups(pool, w.n_out, n_tokens, row_bytes(w.type, w.n_in),
                 [&body](int64_t b, int64_t e) { body(b, e); }, kRepackRows);
}

// LM_MATVEC=0 turns the decode kernels off (the GEMM then runs one token too): an A/B switch
// for benchmarks, read once.
bool matvec_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("LM_MATVEC");
    return !(e && std::strcmp(e, "0") == 0);
  }();
  return on;
}

}  // namespace

bool matmul_supported(DType type) {
  const TypeKernels* k = type_kernels(type);
  if (!k || !k->vec_dot) return false;
  if (k->vec_dot_type == DType::F32) return true;
  const TypeKernels* vk = type_kernels(k->vec_dot_type);
  return vk && vk->from_float;
}

void matmul(ThreadPool& pool, const WeightView& w, const float* x, int64_t n_tokens, float* y,
            MatmulScratch& scratch, MatmulPath path) {
  LM_CHECK(matmul_supported(w.type), "matmul: no kernels for {}", dtype_name(w.type));
  const TypeKernels& k = *type_kernels(w.type);
  const int64_t n_in = w.n_in, n_out = w.n_out;
  LM_CHECK(n_in % dtype_info(w.type).block_size == 0 &&
               n_in % dtype_info(k.vec_dot_type).block_size == 0,
           "matmul: n_in {} is not a multiple of the block size of {}", n_in, dtype_name(w.type));
  if (n_tokens <= 0 || n_out <= 0) return;

  const size_t w_row = row_bytes(w.type, n_in);
  const size_t act_row = row_bytes(k.vec_dot_type, n_in);
  const uint8_t* act = convert_activations(pool, k, x, n_tokens, n_in, act_row, scratch);
  if (w.repacked) return matmul_repacked(pool, w, act, act_row, n_tokens, y);
  const auto* wdata = static_cast<const uint8_t*>(w.data);
  const int64_t tile = std::max<int64_t>(1, static_cast<int64_t>(kTileBytes / act_row));

  // One token (decode): the streaming kernel when the type has one (bit-identical to the GEMM).
  const GemmFn matvec =
      n_tokens == 1 && path == MatmulPath::Auto && matvec_enabled() ? matvec_kernel(w.type) : nullptr;
  const GemmFn gemm = matvec ? matvec : path == MatmulPath::Auto ? gemm_kernel(w.type) : nullptr;
  if (gemm) {
    // Register-blocked tiles; used for every batch size (n_tokens == 1 included) so that a
    // token's result never depends on its batch (type_kernels.h).
    auto body = [&](int64_t o_begin, int64_t o_end) {
      for (int64_t t0 = 0; t0 < n_tokens; t0 += tile) {
        const int64_t t1 = std::min(n_tokens, t0 + tile);
        gemm(GemmArgs{n_in, wdata + w_row * static_cast<size_t>(o_begin), w_row, o_end - o_begin,
                      act + act_row * static_cast<size_t>(t0), act_row, t1 - t0,
                      y + t0 * n_out + o_begin, n_out});
      }
    };
    run_row_groups(pool, n_out, n_tokens, w_row, [&body](int64_t b, int64_t e) { body(b, e); });
    return;
  }

  auto vec_dot = k.vec_dot;
  auto body = [&](int64_t o_begin, int64_t o_end) {
    for (int64_t t0 = 0; t0 < n_tokens; t0 += tile) {
      const int64_t t1 = std::min(n_tokens, t0 + tile);
      for (int64_t o = o_begin; o < o_end; ++o) {
        const uint8_t* wr = wdata + w_row * static_cast<size_t>(o);
        for (int64_t t = t0; t < t1; ++t) {
          y[t * n_out + o] = vec_dot(n_in, wr, act + act_row * static_cast<size_t>(t));
        }
      }
    }
  };
  // Wrapped so that the std::function holds one reference (no heap allocation per call).
  pool.parallel_for(n_out, [&body](int64_t b, int64_t e) { body(b, e); });
}

}  // namespace lm::kernels
