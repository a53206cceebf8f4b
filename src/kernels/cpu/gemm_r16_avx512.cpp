// AVX-512 VNNI GEMM over the repacked row-group layouts of repack.h (Q4_0, Q8_0): a tile is one
// group of 16 weight rows (one row per zmm lane) x up to 8 tokens. Per block the 16 rows' quants
// are loaded once into 8 zmm (4 elements of every row each) and reused for every token of the
// tile; a token costs 8 VPDPBUSD against broadcast activation bytes, then one convert and FMA.
// The offset of the unsigned levels (Q4_0: 8, Q8_0: 128) times the activation block sum is the
// start value of the integer accumulator, computed once per token and block for the whole call.
// Compiled with the AVX-512 flags (CMakeLists.txt): call only through repack.cpp's dispatch.
// No std:: containers here (their inline code would be compiled with AVX-512 flags).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/gemm_r16_avx512.h"
#include "kernels/cpu/repack.h"
#include "tensor/quants.h"

namespace lm::kernels::avx512 {
namespace {

constexpr int kToks = 8;
constexpr size_t kPrefetchBlocks = 4;   // software prefetch distance, in blocks of 16 rows

// Per-block layout readers: the 8 zmm of levels (zmm k: elements 4 k .. 4 k + 3 of each row).
struct Q4_0R {
  static constexpr size_t kBlockBytes = 16 * sizeof(BlockQ4_0);
  static constexpr int32_t kBias = 8;
  static void load(const uint8_t* qs, __m512i (&w)[8]) {
    const __m512i lo4 = _mm512_set1_epi8(0x0F);
    for (int m = 0; m < 4; ++m) {
      const __m512i v = _mm512_loadu_si512(qs + 64 * m);
      w[m] = _mm512_and_si512(v, lo4);
      w[m + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4);
    }
  }
};

struct Q8_0R {
  static constexpr size_t kBlockBytes = 16 * sizeof(BlockQ8_0);
  static constexpr int32_t kBias = 128;
  static void load(const uint8_t* qs, __m512i (&w)[8]) {
    for (int k = 0; k < 8; ++k) w[k] = _mm512_loadu_si512(qs + 64 * k);
  }
};

// The activation data of a (token, block) (gemm_r16_avx512.h's Pre): its scale and
// -bias * sum(qs), the start value of the integer accumulator.
template <class W>
struct Pre {
  struct Entry {
    float dx;
    int32_t start;
  };
  static constexpr int64_t kBlock = QK8_0;
  static constexpr int64_t kEntries = kRepackMaxIn / QK8_0;
  using Block = BlockQ8_0;
  static void entry(const BlockQ8_0& xb, Entry& out) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs));
    const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), q);
    out = {_cvtsh_ss(xb.d), -W::kBias * _mm512_reduce_add_epi32(_mm512_zextsi256_si512(s))};
  }
};

// One group (rows lanes, `rows` of them valid) x T tokens; pre: the tile's first token's entries
// ([T, nb]).
template <class W, int T>
void tile(const uint8_t* g, int64_t nb, const uint8_t* x, size_t x_stride,
          const typename Pre<W>::Entry* pre, float* y, int64_t ldy, int rows) {
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = g + W::kBlockBytes * static_cast<size_t>(b);
    // Decode streams the weights once: the hardware prefetcher alone leaves the loads waiting.
    // (The address is formed as an integer: near the end of the matrix it points past it.)
    const uintptr_t ahead = reinterpret_cast<uintptr_t>(blk) + kPrefetchBlocks * W::kBlockBytes;
    for (size_t off = 0; off < W::kBlockBytes; off += 64)
      _mm_prefetch(reinterpret_cast<const char*>(ahead + off), _MM_HINT_T0);
    __m512i w[8];
    W::load(blk + 32, w);
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
    __m512i ia[T];
    const int8_t* xq[T];
    for (int t = 0; t < T; ++t) {
      ia[t] = _mm512_set1_epi32(pre[t * nb + b].start);
      xq[t] = reinterpret_cast<const BlockQ8_0*>(x + x_stride * static_cast<size_t>(t))[b].qs;
    }
    for (int k = 0; k < 8; ++k) {
      for (int t = 0; t < T; ++t) {
        int32_t q4;
        std::memcpy(&q4, xq[t] + 4 * k, 4);
        ia[t] = _mm512_dpbusd_epi32(ia[t], w[k], _mm512_set1_epi32(q4));
      }
    }
    for (int t = 0; t < T; ++t) {
      const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(pre[t * nb + b].dx));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[t]), d, acc[t]);
    }
  }
  const __mmask16 mask = static_cast<__mmask16>(rows >= 16 ? 0xFFFF : (1u << rows) - 1);
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * ldy, mask, acc[t]);
}

template <class W>
struct Tiles {
  template <int T>
  struct Tile {
    static void run(const uint8_t* g, int64_t nb, const uint8_t* x, size_t xs,
                    const typename Pre<W>::Entry* pre, float* y, int64_t ldy, int rows) {
      tile<W, T>(g, nb, x, xs, pre, y, ldy, rows);
    }
  };
};

}  // namespace

void gemm_r16_q4_0_q8_0(const GemmArgs& a) {
  gemm_groups<Pre<Q4_0R>, Tiles<Q4_0R>::Tile, kToks>(a, a.n / QK8_0);
}
void gemm_r16_q8_0_q8_0(const GemmArgs& a) {
  gemm_groups<Pre<Q8_0R>, Tiles<Q8_0R>::Tile, kToks>(a, a.n / QK8_0);
}

}  // namespace lm::kernels::avx512
