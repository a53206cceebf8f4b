// Tensor element types, with the numeric ids GGUF uses (ggml_type).
//
// Every type GGUF files can contain is listed so the reader can validate sizes and `info` can
// name them; `computable` marks the ones localmax can run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace lm {

enum class DType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct DTypeInfo {
  DType type;
  std::string_view name;   // GGUF spelling, e.g. "Q4_K"
  int64_t block_size;      // elements per block
  size_t type_size;        // bytes per block
  bool quantized;
  bool computable;         // localmax has dequantize + dot kernels for it
};

// Info for a raw GGUF type id, or nullptr when the id is unknown (or a removed type).
const DTypeInfo* dtype_info(uint32_t id);
const DTypeInfo& dtype_info(DType t);
inline std::string_view dtype_name(DType t) { return dtype_info(t).name; }

// Parses a GGUF spelling ("q4_k" or "Q4_K"), case-insensitively.
std::optional<DType> dtype_from_name(std::string_view name);

// Bytes taken by n elements (n must be a multiple of the block size).
inline size_t row_bytes(DType t, int64_t n) {
  const DTypeInfo& i = dtype_info(t);
  return static_cast<size_t>(n / i.block_size) * i.type_size;
}

}  // namespace lm
