// What `localmax quantize` does to each tensor: the quantization "mixes" (a target type per
// tensor, as llama.cpp's file types such as Q4_K_M define them) and the block-size fallback.
// Pure functions of names and shapes; no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "tensor/dtype.h"

namespace lm::cli {

struct QuantMix {
  std::string name;       // as given on the command line, upper-cased ("Q4_K_M")
  DType base;             // type of most weights
  uint32_t file_type;     // general.file_type: llama.cpp's LLAMA_FTYPE numbering
  bool k_mix = false;     // the _M mixes: some tensors get more bits (see choose_type)
};

// Parses F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q4_K_M,
// Q5_K_M (case-insensitive). Plain types are "pure": every quantizable tensor gets that type.
std::optional<QuantMix> parse_quant_mix(std::string_view name);

// The names parse_quant_mix accepts, for help and error messages.
std::string quant_mix_names();

// Whether a tensor is converted at all: weight matrices (`*.weight` with >= 2 dims). Everything
// else (norms, biases, 1-D tensors) is copied unchanged.
bool is_quantizable(std::string_view name, std::span<const int64_t> dims);

// Layer index of a "blk.<il>." tensor name, or -1.
int layer_index(std::string_view name);

// Where the model sits, for the layer-dependent rules of the _M mixes.
struct ModelShape {
  int n_layer = 0;          // blocks (max blk index + 1)
  bool has_output = false;  // an output.weight tensor exists (else the embedding is tied)
};

// Target type of one quantizable tensor under `mix`, before the block-size fallback.
//
// The _M mixes follow llama.cpp's llama_tensor_get_type (as a fact about the format family)
// in simplified form:
//   - output.weight (or token_embd.weight when there is no output.weight) -> Q6_K;
//   - attn_v.weight and ffn_down.weight of layer il -> Q6_K when use_more_bits(il, n_layer):
//     the first and last eighth of the layers, and every third layer in between;
//   - a fused attn_qkv.weight -> Q5_K (Q4_K_M) / Q6_K (Q5_K_M);
//   - everything else -> the base type.
// Not reproduced: the architecture special cases (Falcon, 70B GQA, MoE expert counts) and the
// counting of attn_v tensors rather than layers (identical for standard decoder models).
DType choose_type(const QuantMix& mix, std::string_view name, const ModelShape& shape);

// `want` if a row of `row_len` elements is a whole number of its blocks, else the first of
// Q8_0, F16, F32 that fits (F16/F32 always fit).
DType fit_block(DType want, int64_t row_len);

}  // namespace lm::cli
