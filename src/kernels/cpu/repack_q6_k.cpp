// The repacked Q6_K layout of repack.h: repacking and reading a row back. Plain byte moves
// (no ISA flags needed).
#include <cstring>

#include "core/check.h"
#include "kernels/cpu/repack.h"
#include "tensor/quants.h"

namespace lm::kernels::detail {
namespace {

// Byte offsets inside one super-block of a group (kQ6KGroupBlockBytes in all).
constexpr size_t kScales = kRepackRows * sizeof(fp16_t);         // int8 scales[16][16]
constexpr size_t kQl = kScales + kRepackRows * 16;               // uint8 ql[32][16][4]
constexpr size_t kQh = kQl + kRepackRows * QK_K / 2;             // uint8 qh[16][16][4]
static_assert(kQh + kRepackRows * QK_K / 4 == kQ6KGroupBlockBytes);
static_assert(kQ6KGroupBlockBytes == kRepackRows * sizeof(BlockQ6_K));

// Row j's block `blk` into super-block `sb` of its group.
void pack_row(const BlockQ6_K& blk, int64_t j, uint8_t* sb) {
  std::memcpy(sb + sizeof(fp16_t) * j, &blk.d, sizeof(fp16_t));
  for (int s = 0; s < 16; ++s) sb[kScales + 16 * s + j] = static_cast<uint8_t>(blk.scales[s]);
  for (int k = 0; k < QK_K / 8; ++k) std::memcpy(sb + kQl + 64 * k + 4 * j, blk.ql + 4 * k, 4);
  for (int k = 0; k < QK_K / 16; ++k) std::memcpy(sb + kQh + 64 * k + 4 * j, blk.qh + 4 * k, 4);
}

// Row j's block back out of super-block `sb` of its group.
void unpack_row(const uint8_t* sb, int64_t j, BlockQ6_K& blk) {
  std::memcpy(&blk.d, sb + sizeof(fp16_t) * j, sizeof(fp16_t));
  for (int s = 0; s < 16; ++s) blk.scales[s] = static_cast<int8_t>(sb[kScales + 16 * s + j]);
  for (int k = 0; k < QK_K / 8; ++k) std::memcpy(blk.ql + 4 * k, sb + kQl + 64 * k + 4 * j, 4);
  for (int k = 0; k < QK_K / 16; ++k) std::memcpy(blk.qh + 4 * k, sb + kQh + 64 * k + 4 * j, 4);
}

}  // namespace

void repack_q6_k(const void* src, int64_t n_in, int64_t n_out, void* dst) {
  LM_CHECK(n_in % QK_K == 0, "repack_matrix: Q6_K n_in {} is not a multiple of {}", n_in, QK_K);
  const int64_t nb = n_in / QK_K;
  const auto* rows = static_cast<const BlockQ6_K*>(src);
  auto* out = static_cast<uint8_t*>(dst);
  const int64_t n_groups = (n_out + kRepackRows - 1) / kRepackRows;
  for (int64_t g = 0; g < n_groups; ++g) {
    for (int64_t b = 0; b < nb; ++b, out += kQ6KGroupBlockBytes) {
      std::memset(out, 0, kQ6KGroupBlockBytes);  // padding rows: d = 0, scales 0, levels 0
      for (int64_t j = 0; j < kRepackRows && g * kRepackRows + j < n_out; ++j)
        pack_row(rows[(g * kRepackRows + j) * nb + b], j, out);
    }
  }
}

void get_row_q6_k(const void* packed, int64_t n_in, int64_t row, void* dst) {
  const int64_t nb = n_in / QK_K;
  const auto* sb = static_cast<const uint8_t*>(packed) +
                   kQ6KGroupBlockBytes * static_cast<size_t>(nb * (row / kRepackRows));
  auto* out = static_cast<BlockQ6_K*>(dst);
  for (int64_t b = 0; b < nb; ++b, sb += kQ6KGroupBlockBytes)
    unpack_row(sb, row % kRepackRows, out[b]);
}

}  // namespace lm::kernels::detail
