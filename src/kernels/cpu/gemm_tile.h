// The loop shared by the per-ISA GEMM kernels (gemm_*.cpp): walks an n_rows x n_tok grid in
// tiles of at most R weight rows x T tokens and calls Tile<r, t>::run on each, where r <= R and
// t <= T are the tile's actual sizes (edge tiles get their own instantiation, so there is no
// masking and no per-element branch inside a tile).
//
// A tile kernel must compute every output with the same sequence of operations whatever its
// (r, t) — that is what makes a token's result independent of its batch (type_kernels.h).
//
// Included only by the per-ISA files; everything is in an anonymous namespace so each file gets
// its own copy (see simd_kernels.h on why shared inline code must not cross ISA files).
#pragma once

#include <cstdint>

#include "kernels/type_kernels.h"

namespace lm::kernels {
namespace {

// Pointers of one tile: rows w[0..r) (w_stride apart), tokens x[0..t) (x_stride apart), and
// y[t * ldy + r].
struct TilePtrs {
  const uint8_t* w;
  size_t w_stride;
  const uint8_t* x;
  size_t x_stride;
  float* y;
  int64_t ldy;
};

template <template <int, int> class Tile, int R, int T>
void run_tile(int r, int t, int64_t n, const TilePtrs& p) {
  if constexpr (R > 1) {
    if (r < R) return run_tile<Tile, R - 1, T>(r, t, n, p);
  }
  if constexpr (T > 1) {
    if (t < T) return run_tile<Tile, R, T - 1>(r, t, n, p);
  }
  Tile<R, T>::run(n, p);
}

// Rows outer (a tile's weight rows stay in L1 while every token passes over them), tokens inner.
template <template <int, int> class Tile, int R, int T>
void gemm_grid(const GemmArgs& a) {
  const auto* w = static_cast<const uint8_t*>(a.w);
  const auto* x = static_cast<const uint8_t*>(a.x);
  for (int64_t r0 = 0; r0 < a.n_rows; r0 += R) {
    const int r = static_cast<int>(a.n_rows - r0 < R ? a.n_rows - r0 : R);
    for (int64_t t0 = 0; t0 < a.n_tok; t0 += T) {
      const int t = static_cast<int>(a.n_tok - t0 < T ? a.n_tok - t0 : T);
      const TilePtrs p{w + a.w_stride * static_cast<size_t>(r0), a.w_stride,
                       x + a.x_stride * static_cast<size_t>(t0), a.x_stride,
                       a.y + t0 * a.ldy + r0, a.ldy};
      run_tile<Tile, R, T>(r, t, a.n, p);
    }
  }
}

}  // namespace
}  // namespace lm::kernels
