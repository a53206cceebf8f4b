// The tile walk shared by the repacked K-quant GEMMs (gemm_r16_q4k_avx512.cpp,
// gemm_r16_q6k_avx512.cpp): groups of kRepackRows rows x tiles of up to kToks tokens, each tile
// computed by the type's Tile<T>::run with T the tile's token count. Included only by
// *_avx512.cpp files (anonymous namespace: one copy per file).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/repack.h"

namespace lm::kernels::avx512 {
namespace {

// Tile<T>::run(g, nb, x, x_stride, y, ldy, rows): one group (`rows` of its 16 rows valid) x T
// tokens (x: the first token's activation row, y: [T, ldy]).
template <template <int> class Tile, int T>
void run_tile(int t, const uint8_t* g, int64_t nb, const uint8_t* x, size_t xs, float* y,
              int64_t ldy, int rows) {
  if constexpr (T > 1) {
    if (t < T) return run_tile<Tile, T - 1>(t, g, nb, x, xs, y, ldy, rows);
  }
  Tile<T>::run(g, nb, x, xs, y, ldy, rows);
}

// The whole GEMM of GemmArgs a over a repacked matrix with nb blocks per row.
template <template <int> class Tile, int kToks>
void gemm_groups(const GemmArgs& a, int64_t nb) {
  const auto* w = static_cast<const uint8_t*>(a.w);
  const auto* x = static_cast<const uint8_t*>(a.x);
  for (int64_t r0 = 0; r0 < a.n_rows; r0 += kRepackRows) {
    const int rows = static_cast<int>(a.n_rows - r0 < kRepackRows ? a.n_rows - r0 : kRepackRows);
    const uint8_t* g = w + a.w_stride * static_cast<size_t>(r0 / kRepackRows);
    for (int64_t t0 = 0; t0 < a.n_tok; t0 += kToks) {
      const int t = static_cast<int>(a.n_tok - t0 < kToks ? a.n_tok - t0 : kToks);
      run_tile<Tile, kToks>(t, g, nb, x + a.x_stride * static_cast<size_t>(t0), a.x_stride,
                            a.y + t0 * a.ldy + r0, a.ldy, rows);
    }
  }
}

}  // namespace
}  // namespace lm::kernels::avx512
