// The tile walk shared by the repacked GEMMs (gemm_r16_avx512.cpp, gemm_r16_q4k_avx512.cpp,
// gemm_r16_q6k_avx512.cpp): the activations are taken in passes of tokens; each pass first fills
// the type's per-(token, block) table (Pre::fill: sums, scales, offsets that every weight group
// would otherwise recompute), then walks groups of kRepackRows rows x tiles of up to kToks tokens,
// each tile computed by the type's Tile<T>::run with T the tile's token count. Included only by
// *_avx512.cpp files (anonymous namespace: one copy per file).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/repack.h"

namespace lm::kernels::avx512 {
namespace {

// Pre: using Entry = ...; static constexpr int64_t kBlock (elements per block), kEntries (table
//   size: at least one token of the longest row, kRepackMaxIn / kBlock);
//   using Block = the activation block type; static void entry(const Block& xb, Entry& out):
//   the entry of one block. A pass fills table[t * nb + b] for its tokens t and blocks b.
// Tile<T>::run(g, nb, x, xs, pre, y, ldy, rows): one group (`rows` of its 16 rows valid) x T
//   tokens; x, pre: the first token's activation row and table entries; y: [T, ldy].
template <class Pre, template <int> class Tile, int T>
void run_tile(int t, const uint8_t* g, int64_t nb, const uint8_t* x, size_t xs,
              const typename Pre::Entry* pre, float* y, int64_t ldy, int rows) {
  if constexpr (T > 1) {
    if (t < T) return run_tile<Pre, Tile, T - 1>(t, g, nb, x, xs, pre, y, ldy, rows);
  }
  Tile<T>::run(g, nb, x, xs, pre, y, ldy, rows);
}

// The whole GEMM of GemmArgs a over a repacked matrix with nb blocks per row.
template <class Pre, template <int> class Tile, int kToks>
void gemm_groups(const GemmArgs& a, int64_t nb) {
  static_assert(Pre::kEntries >= kRepackMaxIn / Pre::kBlock, "a pass holds at least one token");
  static thread_local typename Pre::Entry table[Pre::kEntries];
  const auto* w = static_cast<const uint8_t*>(a.w);
  const auto* x = static_cast<const uint8_t*>(a.x);
  const int64_t pass = Pre::kEntries / nb;
  for (int64_t p0 = 0; p0 < a.n_tok; p0 += pass) {
    const int64_t np = a.n_tok - p0 < pass ? a.n_tok - p0 : pass;
    const uint8_t* xp = x + a.x_stride * static_cast<size_t>(p0);
    for (int64_t t = 0; t < np; ++t) {
      const auto* xb = reinterpret_cast<const typename Pre::Block*>(xp + a.x_stride * static_cast<size_t>(t));
      for (int64_t b = 0; b < nb; ++b) Pre::entry(xb[b], table[t * nb + b]);
    }
    for (int64_t r0 = 0; r0 < a.n_rows; r0 += kRepackRows) {
      const int rows = static_cast<int>(a.n_rows - r0 < kRepackRows ? a.n_rows - r0 : kRepackRows);
      const uint8_t* g = w + a.w_stride * static_cast<size_t>(r0 / kRepackRows);
      for (int64_t t0 = 0; t0 < np; t0 += kToks) {
        const int t = static_cast<int>(np - t0 < kToks ? np - t0 : kToks);
        run_tile<Pre, Tile, kToks>(t, g, nb, xp + a.x_stride * static_cast<size_t>(t0), a.x_stride,
                                   table + t0 * nb, a.y + (p0 + t0) * a.ldy + r0, a.ldy, rows);
      }
    }
  }
}

}  // namespace
}  // namespace lm::kernels::avx512
