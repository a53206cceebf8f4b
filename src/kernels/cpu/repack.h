// Weight matrices repacked at load into an interleaved layout for the prefill GEMM (and the
// decode matvec, which is the same kernel with one token): 16 weight rows per group, and in each
// group, block by block, the 16 rows' scales side by side and their quants interleaved 4 bytes
// per row, so that one zmm holds 4 elements of each of the 16 rows and one VPDPBUSD against 4
// broadcast activation bytes advances all 16 dot products. Results land one row per lane: no
// horizontal sums, and the float work per block is one convert + multiply + FMA for 16 rows.
//
// Layouts (per group of 16 rows g, per block b of 32 elements; rows past n_out are zero):
//   Q4_0: fp16 d[16]; uint8 qs[4][16][4], qs[m][j][i] = row j's qs[4 m + i] (low nibble: element
//         4 m + i, high nibble: element 16 + 4 m + i). 288 bytes = 16 x sizeof(BlockQ4_0).
//   Q8_0: fp16 d[16]; uint8 qs[8][16][4], qs[k][j][i] = row j's qs[4 k + i] + 128 (unsigned for
//         VPDPBUSD). 544 bytes = 16 x sizeof(BlockQ8_0).
//   Q4_K (per super-block b of 256 elements, 2304 bytes = 16 x sizeof(BlockQ4_K)): fp16 d[16];
//         fp16 dmin[16]; uint32 scales[3][16], scales[k][j] = bytes 4 k .. 4 k + 3 of row j's 12
//         packed scale bytes; uint8 qs[32][16][4], qs[k][j][i] = row j's qs[4 k + i] (low
//         nibble: element 64 (k / 8) + 4 (k % 8) + i of sub-block 2 (k / 8), high nibble: the
//         element 32 further, sub-block 2 (k / 8) + 1). Padding rows are all zero.
//   Q6_K (per super-block of 256): fp16 d[16]; int8 scales[16][16], scales[s][j] = row j's
//         scales[s]; uint8 z[48][16][4]: z[3 (8 h + m) + p][j][i] = row j's level (0..63) of
//         element 128 h + 32 p + 4 m + i (p < 3) in bits 0..5, and in bits 6, 7 the bits 2p, 2p+1
//         of its level of element 128 h + 96 + 4 m + i. 3360 bytes = 16 x sizeof(BlockQ6_K). A
//         zmm of levels is one AND (p < 3) or 3 shifts + 2 selects + 1 AND (p = 3). Bit-identical
//         to ref:: (the same exact integer sums, the same float operations in the same order).
// so a repacked matrix is the size of the original (plus the padding of the last group).
//
// Exactness: integer block sums are exact; the float sum over blocks is the same sequence of
// operations for every row and token whatever the batch, the tile or the thread split, so a
// token's result does not depend on its batch (matmul.h). Against ref:: the float sums differ by
// rounding only (d_w * d_x multiplied first), within the bound gemm_test uses for legacy types.
// Q4_K, Q6_K: the ref's float formula per super-block, lane by lane in the ref's order:
// bit-identical to ref::vec_dot_q4_k_q8_k / q6_k_q8_k (and so to the non-repacked GEMM and matvec).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/type_kernels.h"
#include "tensor/dtype.h"

namespace lm::kernels {

constexpr int64_t kRepackRows = 16;
// The longest row the repacked kernels take (their per-call activation tables are fixed-size).
constexpr int64_t kRepackMaxIn = 4096 * 32;

// True when `type` has a repacked layout with a kernel at the selected ISA level (or at `isa`).
bool repack_supported(DType type);
bool repack_supported(DType type, Isa isa);

// Bytes of one group of kRepackRows rows of n_in elements, and of the whole repacked matrix.
size_t repacked_group_bytes(DType type, int64_t n_in);
size_t repacked_bytes(DType type, int64_t n_in, int64_t n_out);

// src: [n_out, n_in] rows in `type` (GGUF layout); dst: repacked_bytes(type, n_in, n_out) bytes.
// Precondition: repack_supported(type, Isa::Scalar-independent layout), n_in a multiple of 32.
void repack_matrix(DType type, const void* src, int64_t n_in, int64_t n_out, void* dst);

// Row `row` of a repacked matrix back in the original layout: row_bytes(type, n_in) bytes into
// dst (for looking up rows of a repacked token embedding that is also the output matrix).
void repacked_get_row(DType type, const void* packed, int64_t n_in, int64_t row, void* dst);

// The GEMM over a repacked matrix at the selected ISA (or at `isa`), nullptr when none. GemmArgs:
// w points at the group holding row 0 of the tile (the tile starts on a group boundary),
// w_stride = repacked_group_bytes; x, y, n_tok as for gemm_kernel. Precondition: n <= kRepackMaxIn.
GemmFn repacked_gemm_kernel(DType type);
GemmFn repacked_gemm_kernel(DType type, Isa isa);

namespace avx512 {
void gemm_r16_q4_0_q8_0(const GemmArgs& a);
void gemm_r16_q8_0_q8_0(const GemmArgs& a);
void gemm_r16_q4_k_q8_k(const GemmArgs& a);
void gemm_r16_q6_k_q8_k(const GemmArgs& a);
}  // namespace avx512

namespace detail {  // per-type layouts in their own files, repack_<type>.cpp (repack.cpp dispatches)
constexpr size_t kQ6KGroupBlockBytes = 3360;  // one super-block of a Q6_K group
void repack_q4_k(const void* src, int64_t n_in, int64_t n_out, void* dst);
void get_row_q4_k(const void* packed, int64_t n_in, int64_t row, void* dst);
void repack_q6_k(const void* src, int64_t n_in, int64_t n_out, void* dst);
void get_row_q6_k(const void* packed, int64_t n_in, int64_t row, void* dst);
}  // namespace detail

}  // namespace lm::kernels
