// Repacking of weight matrices into the row-group layouts of repack.h, and the choice of the
// kernel that reads them. Plain byte moves (no ISA flags needed).
#include "kernels/cpu/repack.h"

#include <cstring>

#include "core/check.h"
#include "tensor/quants.h"

namespace lm::kernels {
namespace {

// Group g of Q4_0 / Q8_0: for each block, d[16] then the interleaved quants.
template <class Block, int kQuantBytes, uint8_t kXor>
void repack_legacy(const void* src, int64_t n_in, int64_t n_out, void* dst) {
  const int64_t nb = n_in / 32;
  const size_t row = sizeof(Block) * static_cast<size_t>(nb);
  auto* out = static_cast<uint8_t*>(dst);
  const auto* in = static_cast<const uint8_t*>(src);
  const int64_t n_groups = (n_out + kRepackRows - 1) / kRepackRows;
  for (int64_t g = 0; g < n_groups; ++g) {
    for (int64_t b = 0; b < nb; ++b) {
      fp16_t d[kRepackRows] = {};
      uint8_t qs[kQuantBytes / 4][kRepackRows][4];
      std::memset(qs, kXor, sizeof(qs));  // padding rows: d = 0, levels of value 0 (+128)
      for (int64_t j = 0; j < kRepackRows; ++j) {
        const int64_t r = g * kRepackRows + j;
        if (r >= n_out) break;
        const auto* blk = reinterpret_cast<const Block*>(in + row * static_cast<size_t>(r)) + b;
        d[j] = blk->d;
        const auto* q = reinterpret_cast<const uint8_t*>(blk->qs);
        for (int m = 0; m < kQuantBytes / 4; ++m)
          for (int i = 0; i < 4; ++i) qs[m][j][i] = static_cast<uint8_t>(q[4 * m + i] ^ kXor);
      }
      std::memcpy(out, d, sizeof(d));
      std::memcpy(out + sizeof(d), qs, sizeof(qs));
      out += sizeof(d) + sizeof(qs);
    }
  }
}

// Row r of a Q4_0 / Q8_0 layout: block by block, its d and its 4-byte quant groups.
template <class Block, int kQuantBytes, uint8_t kXor>
void get_row_legacy(const void* packed, int64_t n_in, int64_t r, void* dst) {
  const int64_t nb = n_in / 32;
  constexpr size_t kBlockBytes = kRepackRows * sizeof(Block);
  const auto* g = static_cast<const uint8_t*>(packed) + kBlockBytes * static_cast<size_t>(nb * (r / kRepackRows));
  const int64_t j = r % kRepackRows;
  auto* out = static_cast<Block*>(dst);
  for (int64_t b = 0; b < nb; ++b, g += kBlockBytes) {
    std::memcpy(&out[b].d, g + sizeof(fp16_t) * j, sizeof(fp16_t));
    auto* q = reinterpret_cast<uint8_t*>(out[b].qs);
    const uint8_t* src = g + sizeof(fp16_t) * kRepackRows + 4 * j;
    for (int m = 0; m < kQuantBytes / 4; ++m)
      for (int i = 0; i < 4; ++i) q[4 * m + i] = static_cast<uint8_t>(src[64 * m + i] ^ kXor);
  }
}

}  // namespace

bool repack_supported(DType type, Isa isa) { return repacked_gemm_kernel(type, isa) != nullptr; }
bool repack_supported(DType type) { return repacked_gemm_kernel(type) != nullptr; }

size_t repacked_group_bytes(DType type, int64_t n_in) {
  return row_bytes(type, n_in) * static_cast<size_t>(kRepackRows);
}

size_t repacked_bytes(DType type, int64_t n_in, int64_t n_out) {
  const int64_t n_groups = (n_out + kRepackRows - 1) / kRepackRows;
  return repacked_group_bytes(type, n_in) * static_cast<size_t>(n_groups);
}

void repack_matrix(DType type, const void* src, int64_t n_in, int64_t n_out, void* dst) {
  LM_CHECK(n_in % 32 == 0, "repack_matrix: n_in {} is not a multiple of 32", n_in);
  switch (type) {
    case DType::Q4_0: return repack_legacy<BlockQ4_0, 16, 0x00>(src, n_in, n_out, dst);
    case DType::Q8_0: return repack_legacy<BlockQ8_0, 32, 0x80>(src, n_in, n_out, dst);
    case DType::Q4_K: return detail::repack_q4_k(src, n_in, n_out, dst);
    case DType::Q6_K: return detail::repack_q6_k(src, n_in, n_out, dst);
    default: LM_CHECK(false, "repack_matrix: no repacked layout for {}", dtype_name(type));
  }
}

void repacked_get_row(DType type, const void* packed, int64_t n_in, int64_t row, void* dst) {
  switch (type) {
    case DType::Q4_0: return get_row_legacy<BlockQ4_0, 16, 0x00>(packed, n_in, row, dst);
    case DType::Q8_0: return get_row_legacy<BlockQ8_0, 32, 0x80>(packed, n_in, row, dst);
    case DType::Q4_K: return detail::get_row_q4_k(packed, n_in, row, dst);
    case DType::Q6_K: return detail::get_row_q6_k(packed, n_in, row, dst);
    default: LM_CHECK(false, "repacked_get_row: no repacked layout for {}", dtype_name(type));
  }
}

GemmFn repacked_gemm_kernel(DType type, Isa isa) {
  LM_CHECK(static_cast<int>(isa) <= static_cast<int>(best_isa()),
           "repacked_gemm_kernel: ISA {} is not available on this CPU", isa_name(isa));
  if (isa != Isa::Avx512) return nullptr;
  switch (type) {
    case DType::Q4_0: return avx512::gemm_r16_q4_0_q8_0;
    case DType::Q8_0: return avx512::gemm_r16_q8_0_q8_0;
    case DType::Q4_K: return avx512::gemm_r16_q4_k_q8_k;
    case DType::Q6_K: return avx512::gemm_r16_q6_k_q8_k;
    default: return nullptr;
  }
}

GemmFn repacked_gemm_kernel(DType type) { return repacked_gemm_kernel(type, selected_isa()); }

}  // namespace lm::kernels
