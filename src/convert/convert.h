// Hugging Face model folder (config.json, *.safetensors, tokenizer.json) -> GGUF, for the
// llama, qwen2 and qwen3 families. Behind `localmax convert`.
//
// The output is written by the streaming gguf::Writer: tensors are read from the mapped
// safetensors and converted one at a time while the file is written, so memory stays near one
// tensor whatever the model size; the write is atomic (a failure leaves no output file).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/result.h"
#include "convert/safetensors.h"
#include "tensor/dtype.h"

namespace lm::convert {

struct ConvertOptions {
  std::string dir;              // the model folder
  std::string out;              // the GGUF to write
  std::optional<DType> type;    // F32 | F16 | BF16 for matrices; default: the embedding's type
  // Called with one line per step (tensor written, tokenizer imported, warnings); may be empty.
  std::function<void(const std::string&)> progress;
};

Status convert_hf_model(const ConvertOptions& options);

// Converts one tensor's elements to `out_type` (F32, F16 or BF16) into `out` (exactly
// n_elements x size bytes). With `permute_head_dim` > 0 the rows (shape[0]) are reordered from
// the HF rotate-half order to the GGUF llama order for heads of that size.
Status convert_tensor_data(const StTensor& src, DType out_type, int64_t permute_head_dim,
                           std::span<uint8_t> out);

}  // namespace lm::convert
