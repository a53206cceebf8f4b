// The repacked Q6_K layout of repack.h: repacking and reading a row back. Plain scalar code
// (no ISA flags needed).
#include <cstring>

#include "core/check.h"
#include "kernels/cpu/repack.h"
#include "tensor/quants.h"

namespace lm::kernels::detail {
namespace {

// Byte offsets inside one super-block of a group (kQ6KGroupBlockBytes in all).
constexpr size_t kScales = kRepackRows * sizeof(fp16_t);  // int8 scales[16][16]
constexpr size_t kLevels = kScales + kRepackRows * 16;    // uint8 z[48][16][4]
static_assert(kLevels + kRepackRows * 192 == kQ6KGroupBlockBytes);
static_assert(kQ6KGroupBlockBytes == kRepackRows * sizeof(BlockQ6_K));

// Level (0..63) of element 128 h + 32 p + l of a block (the GGUF ql / qh bit layout).
int level(const BlockQ6_K& b, int h, int p, int l) {
  const int lo = b.ql[64 * h + 32 * (p % 2) + l] >> (4 * (p / 2)) & 0xF;
  return lo | (b.qh[32 * h + l] >> (2 * p) & 3) << 4;
}

// Row j's block `blk` into super-block `sb` of its group: z[3 (8 h + m) + p][j][i] holds the
// level of element 128 h + 32 p + 4 m + i in bits 0..5 and bits 2p, 2p+1 of the level of
// element 128 h + 96 + 4 m + i in bits 6, 7.
void pack_row(const BlockQ6_K& blk, int64_t j, uint8_t* sb) {
  std::memcpy(sb + sizeof(fp16_t) * j, &blk.d, sizeof(fp16_t));
  for (int s = 0; s < 16; ++s) sb[kScales + 16 * s + j] = static_cast<uint8_t>(blk.scales[s]);
  for (int h = 0; h < 2; ++h) {
    for (int l = 0; l < 32; ++l) {
      const int l3 = level(blk, h, 3, l);
      for (int p = 0; p < 3; ++p) {
        const size_t k = static_cast<size_t>(3 * (8 * h + l / 4) + p);
        sb[kLevels + 64 * k + 4 * j + l % 4] =
            static_cast<uint8_t>(level(blk, h, p, l) | (l3 >> (2 * p) & 3) << 6);
      }
    }
  }
}

// Row j's block back out of super-block `sb` of its group.
void unpack_row(const uint8_t* sb, int64_t j, BlockQ6_K& blk) {
  std::memcpy(&blk.d, sb + sizeof(fp16_t) * j, sizeof(fp16_t));
  for (int s = 0; s < 16; ++s) blk.scales[s] = static_cast<int8_t>(sb[kScales + 16 * s + j]);
  for (int h = 0; h < 2; ++h) {
    for (int l = 0; l < 32; ++l) {
      int lv[4] = {0, 0, 0, 0};
      for (int p = 0; p < 3; ++p) {
        const uint8_t z =
            sb[kLevels + 64 * static_cast<size_t>(3 * (8 * h + l / 4) + p) + 4 * j + l % 4];
        lv[p] = z & 0x3F;
        lv[3] |= (z >> 6) << (2 * p);
      }
      blk.ql[64 * h + l] = static_cast<uint8_t>((lv[0] & 0xF) | (lv[2] & 0xF) << 4);
      blk.ql[64 * h + 32 + l] = static_cast<uint8_t>((lv[1] & 0xF) | (lv[3] & 0xF) << 4);
      blk.qh[32 * h + l] = static_cast<uint8_t>(lv[0] >> 4 | (lv[1] >> 4) << 2 | (lv[2] >> 4) << 4 |
                                                (lv[3] >> 4) << 6);
    }
  }
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
