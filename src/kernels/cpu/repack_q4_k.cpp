// The Q4_K row-group layout of repack.h: repacking and row read-back. Plain byte moves (no ISA
// flags needed); called through repack.cpp's repack_matrix / repacked_get_row.
#include <cstddef>
#include <cstring>
#include <type_traits>

#include "core/check.h"
#include "kernels/cpu/repack.h"
#include "tensor/quants.h"

namespace lm::kernels::detail {
namespace {

// Byte offsets inside one super-block of a group (16 x sizeof(BlockQ4_K) = 2304 bytes).
constexpr size_t kDOff = 0;                                        // fp16 d[16]
constexpr size_t kDminOff = kDOff + 2 * kRepackRows;               // fp16 dmin[16]
constexpr size_t kScalesOff = kDminOff + 2 * kRepackRows;          // uint32 scales[3][16]
constexpr size_t kQsOff = kScalesOff + K_SCALE_SIZE * kRepackRows;  // uint8 qs[32][16][4]
constexpr size_t kBlockBytes = kRepackRows * sizeof(BlockQ4_K);
static_assert(kQsOff + QK_K / 2 * kRepackRows == kBlockBytes);

// The two directions of move_block: n bytes into the group, or back into the row.
struct ToGroup {
  static void mv(uint8_t* group, const uint8_t* row, size_t n) { std::memcpy(group, row, n); }
};
struct ToRow {
  static void mv(const uint8_t* group, uint8_t* row, size_t n) { std::memcpy(row, group, n); }
};

// Moves row j's block between the original layout (blk) and the group super-block (g), in the
// direction Dir. G / B: the (const or not) byte pointer types of each side.
template <class Dir, class G, class B>
void move_block(B* blk, G* g, int64_t j) {
  auto* row = reinterpret_cast<std::conditional_t<std::is_const_v<B>, const uint8_t, uint8_t>*>(blk);
  constexpr size_t kScales = offsetof(BlockQ4_K, scales), kQs = offsetof(BlockQ4_K, qs);
  Dir::mv(g + kDOff + 2 * j, row + offsetof(BlockQ4_K, d), 2);
  Dir::mv(g + kDminOff + 2 * j, row + offsetof(BlockQ4_K, dmin), 2);
  for (int k = 0; k < 3; ++k) Dir::mv(g + kScalesOff + 4 * (kRepackRows * k + j), row + kScales + 4 * k, 4);
  for (int k = 0; k < QK_K / 8; ++k) Dir::mv(g + kQsOff + 4 * (kRepackRows * k + j), row + kQs + 4 * k, 4);
}

}  // namespace

void repack_q4_k(const void* src, int64_t n_in, int64_t n_out, void* dst) {
  LM_CHECK(n_in % QK_K == 0, "repack_matrix: Q4_K n_in {} is not a multiple of {}", n_in, QK_K);
  const int64_t nb = n_in / QK_K;
  const auto* in = static_cast<const BlockQ4_K*>(src);
  auto* out = static_cast<uint8_t*>(dst);
  const int64_t n_groups = (n_out + kRepackRows - 1) / kRepackRows;
  for (int64_t g = 0; g < n_groups; ++g) {
    const int64_t rows = n_out - g * kRepackRows < kRepackRows ? n_out - g * kRepackRows : kRepackRows;
    for (int64_t b = 0; b < nb; ++b, out += kBlockBytes) {
      // Padding rows: all zero (d = dmin = 0, scales 0, levels 0), so they add exact zeros.
      if (rows < kRepackRows) std::memset(out, 0, kBlockBytes);
      for (int64_t j = 0; j < rows; ++j) move_block<ToGroup>(&in[(g * kRepackRows + j) * nb + b], out, j);
    }
  }
}

void get_row_q4_k(const void* packed, int64_t n_in, int64_t row, void* dst) {
  const int64_t nb = n_in / QK_K;
  const auto* g = static_cast<const uint8_t*>(packed) + kBlockBytes * static_cast<size_t>(nb * (row / kRepackRows));
  auto* out = static_cast<BlockQ4_K*>(dst);
  for (int64_t b = 0; b < nb; ++b)
    move_block<ToRow>(&out[b], g + kBlockBytes * static_cast<size_t>(b), row % kRepackRows);
}

}  // namespace lm::kernels::detail
