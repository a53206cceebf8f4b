// Safetensors reading and writing (the Hugging Face checkpoint format).
//
// Format (https://github.com/huggingface/safetensors): u64 little-endian header length N, then N
// bytes of JSON {name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
// "__metadata__": {string: string}}, then the data section; offsets are relative to its start,
// shapes are row-major (shape[0] outermost). Every field is checked against the file before use
// (lengths, offsets in range and non-overlapping, byte counts = elements x element size, no
// overflow); a malformed file gives an Error naming the file, the tensor and the problem.
// Only the float types a converter needs are accepted: F32, F16, BF16.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/mmap.h"
#include "core/result.h"
#include "tensor/dtype.h"

namespace lm::convert {

struct StTensor {
  std::string name;
  DType type = DType::F32;             // F32, F16 or BF16
  std::vector<int64_t> shape;          // row-major: shape[0] is the outermost dimension
  std::span<const uint8_t> data;       // into the mapping of `file`
  std::string file;                    // path of the file holding it (for errors)

  int64_t n_elements() const;
  std::string shape_string() const;    // "[896, 4864]"
};

// One parsed .safetensors file. Owns the mapping when opened from a path; immutable after
// parsing, so safe to read from many threads. Cost: parsing the JSON header only.
class SafetensorsFile {
 public:
  static Result<std::unique_ptr<SafetensorsFile>> open(const std::string& path);
  // Parses bytes owned by the caller (they must outlive the object); `name` is used in errors.
  static Result<std::unique_ptr<SafetensorsFile>> parse(std::span<const uint8_t> bytes, std::string name);

  const std::string& name() const { return name_; }
  const std::vector<StTensor>& tensors() const { return tensors_; }   // in file order
  const StTensor* find(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::string name_;
  MappedFile map_;
  std::vector<StTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

// The tensors of a model folder: model.safetensors, or the shards a
// model.safetensors.index.json {"weight_map": {tensor: file}} names. Every tensor the index
// lists must be in the file it names, and no tensor may appear twice.
class SafetensorsModel {
 public:
  static Result<SafetensorsModel> open_dir(const std::string& dir);

  const StTensor* find(std::string_view name) const;
  const std::vector<const StTensor*>& tensors() const { return order_; }  // all, by file
  size_t n_files() const { return files_.size(); }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::vector<const StTensor*> order_;
  std::map<std::string, const StTensor*, std::less<>> by_name_;
};

// Safetensors dtype names ("F32", "F16", "BF16") of the types we read and write.
std::string_view st_dtype_name(DType t);

// A tensor to write: its bytes are produced by `fill` when the writer reaches it (one tensor in
// memory at a time). `fill` must write exactly n_elements x element size bytes.
struct StWriteTensor {
  std::string name;
  DType type = DType::F32;
  std::vector<int64_t> shape;   // row-major
  std::function<Status(std::span<uint8_t>)> fill;
};

// Writes a .safetensors file atomically (temporary file beside `path`, then rename; on failure
// nothing is left behind). The header is padded with spaces to a multiple of 8 bytes.
Status write_safetensors(const std::string& path, const std::vector<StWriteTensor>& tensors,
                         const std::map<std::string, std::string>& metadata = {});

// Writes `bytes` to `path` atomically (temporary file, fsync, rename). For config files.
Status write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace lm::convert
