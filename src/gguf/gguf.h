// GGUF reading and writing (versions 2 and 3, little-endian).
//
// Format: magic "GGUF", u32 version, u64 tensor count, u64 metadata count, metadata key/values,
// tensor infos (name, dims, type, offset), padding to `general.alignment` (default 32), then
// the tensor data section. Every count, length and offset is checked against the file before
// use; a malformed file yields an Error saying what is wrong and at which byte offset.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/mmap.h"
#include "core/result.h"
#include "tensor/dtype.h"

namespace lm::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
std::string_view value_type_name(ValueType t);
// Bytes of one scalar of type t as stored in a file; 0 for STRING, ARRAY and invalid ids.
size_t value_type_size(ValueType t);

// `s` made safe to print: control characters as \xNN, quotes and backslashes escaped, cut
// after `max_len` bytes with "...". Keys, names and strings from a file go through it.
std::string printable(std::string_view s, size_t max_len = 200);

constexpr uint32_t kDefaultAlignment = 32;

// A metadata value. Strings and numeric array elements point into the file's bytes, so a Value
// lives as long as the File that produced it.
class Value {
 public:
  ValueType type() const { return type_; }
  bool is_integer() const;   // any of the integer types (not bool)
  bool is_float() const { return type_ == ValueType::FLOAT32 || type_ == ValueType::FLOAT64; }

  // Scalars. Integers are widened; checks on range are up to the caller (File::get_* check).
  uint64_t as_u64() const { return u_; }   // for f32/f64: the raw bits
  int64_t as_i64() const { return static_cast<int64_t>(u_); }
  bool is_negative() const;   // signed integer type with a negative value
  double as_f64() const { return f_; }
  bool as_bool() const { return u_ != 0; }
  std::string_view as_string() const { return str_; }

  // Arrays. Element accessors check (LM_CHECK) the index and that the element type fits:
  // a wrong call is a programmer error, not an input error.
  ValueType array_type() const { return elem_type_; }
  uint64_t size() const { return count_; }
  std::string_view string_at(uint64_t i) const;   // string arrays only
  int64_t int_at(uint64_t i) const;     // integer or bool element, signed ones sign-extended
  uint64_t uint_at(uint64_t i) const;   // the same, unsigned (u64 >= 2^63); f32/f64: raw bits
  double float_at(uint64_t i) const;    // any numeric element, converted
  const Value& item(uint64_t i) const;  // nested arrays only

  // Human-readable rendering (arrays abbreviated after `max_items`).
  std::string to_string(size_t max_items = 8) const;

 private:
  friend class Parser;
  ValueType type_ = ValueType::UINT8;
  uint64_t u_ = 0;
  double f_ = 0;
  std::string_view str_;
  ValueType elem_type_ = ValueType::UINT8;
  uint64_t count_ = 0;
  const uint8_t* raw_ = nullptr;             // numeric array elements, packed little-endian
  std::vector<std::string_view> strings_;    // string array elements
  std::vector<Value> items_;                 // nested array elements
};

struct KeyValue {
  std::string_view key;
  Value value;
};

struct TensorInfo {
  std::string_view name;
  std::vector<int64_t> dims;   // GGUF order: dims[0] is the innermost (contiguous) dimension
  DType type = DType::F32;
  uint64_t offset = 0;         // relative to the start of the data section
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;

  int64_t n_elements() const;
  std::string shape_string() const;   // "[4096, 32000]"
};

// A parsed GGUF file. Owns the mapping (when opened from a path). Immutable after parsing:
// safe to read from many threads. Cost: one pass over the header; tensor data is not touched,
// and memory grows with what the header holds, never with the counts it claims. (A file
// truncated by another process while mapped can still fault on access: mmap's contract.)
class File {
 public:
  static Result<std::unique_ptr<File>> open(const std::string& path);
  // Parses bytes owned by the caller (they must outlive the File). `name` is used in errors.
  static Result<std::unique_ptr<File>> parse(std::span<const uint8_t> bytes, std::string name);
  // A temporary buffer would dangle as soon as parse returned.
  static Result<std::unique_ptr<File>> parse(std::vector<uint8_t>&& bytes, std::string name) = delete;

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return bytes_.size(); }

  const std::vector<KeyValue>& metadata() const { return kv_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  const Value* find(std::string_view key) const;
  const TensorInfo* find_tensor(std::string_view name) const;

  // Typed lookups; an error names the key and what was found instead.
  Result<uint64_t> get_uint(std::string_view key) const;   // non-negative integer of any width
  Result<int64_t> get_int(std::string_view key) const;
  Result<double> get_float(std::string_view key) const;    // float or integer
  Result<bool> get_bool(std::string_view key) const;
  Result<std::string_view> get_string(std::string_view key) const;
  Result<const Value*> get_array(std::string_view key, ValueType elem_type) const;

  // The same, with a default when the key is absent (still an error if present but wrong).
  Result<uint64_t> get_uint_or(std::string_view key, uint64_t def) const;
  Result<double> get_float_or(std::string_view key, double def) const;
  Result<bool> get_bool_or(std::string_view key, bool def) const;
  Result<std::string_view> get_string_or(std::string_view key, std::string_view def) const;

 private:
  friend class Parser;
  std::string name_;
  MappedFile map_;
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<KeyValue> kv_;
  std::vector<TensorInfo> tensors_;
};

// Builds a GGUF file in memory and writes it atomically (temporary file, then rename), so a
// failed write (full disk, ...) never leaves a truncated file behind under the final name.
// Not thread-safe. Tensor data added as a view must outlive write().
class Writer {
 public:
  // version 2 or 3 (the same layout for little-endian files).
  explicit Writer(uint32_t version = 3);

  void set_u8(std::string_view key, uint8_t v);
  void set_i8(std::string_view key, int8_t v);
  void set_u16(std::string_view key, uint16_t v);
  void set_i16(std::string_view key, int16_t v);
  void set_u32(std::string_view key, uint32_t v);
  void set_i32(std::string_view key, int32_t v);
  void set_u64(std::string_view key, uint64_t v);
  void set_i64(std::string_view key, int64_t v);
  void set_f32(std::string_view key, float v);
  void set_f64(std::string_view key, double v);
  void set_bool(std::string_view key, bool v);
  void set_string(std::string_view key, std::string_view v);
  void set_array_string(std::string_view key, const std::vector<std::string>& v);
  void set_array_f32(std::string_view key, std::span<const float> v);
  void set_array_i32(std::string_view key, std::span<const int32_t> v);
  void set_array_u32(std::string_view key, std::span<const uint32_t> v);
  // Copies a value read from another file (any type, nested arrays included). For the key
  // general.alignment it calls set_alignment (the value must be a u32 power of two).
  void set_value(std::string_view key, const Value& v);
  void remove(std::string_view key);
  // Sets general.alignment too. `alignment` must be a power of two (LM_CHECK).
  void set_alignment(uint32_t alignment);

  // dims in GGUF order (innermost first); data must hold exactly row_bytes(type, ...) bytes.
  Status add_tensor(std::string_view name, DType type, std::vector<int64_t> dims,
                    std::vector<uint8_t> data);
  Status add_tensor_view(std::string_view name, DType type, std::vector<int64_t> dims,
                         std::span<const uint8_t> data);
  // Streaming: `fill` writes the tensor's bytes (exactly tensor_bytes(type, dims) of them) into
  // the buffer it is given when write() reaches the tensor, so a file larger than memory is
  // written holding one tensor at a time. An error from `fill` aborts the write (no file left).
  using TensorFiller = std::function<Status(std::span<uint8_t> out)>;
  Status add_tensor_deferred(std::string_view name, DType type, std::vector<int64_t> dims,
                             TensorFiller fill);

  // Serialises the whole file in memory.
  std::vector<uint8_t> to_bytes() const;
  // Streams the file to `path` (tensor data is not copied) through a temporary file in the same
  // directory, fsynced and renamed over `path`; on any failure no file is left behind.
  Status write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    DType type;
    std::vector<int64_t> dims;
    std::vector<uint8_t> owned;
    std::span<const uint8_t> data;
    TensorFiller fill;   // deferred tensors: data is empty, size holds the byte count
    uint64_t size = 0;
  };
  void set_raw(std::string_view key, ValueType type, std::vector<uint8_t> payload);
  Status add_tensor_impl(Tensor t);
  std::vector<uint8_t> header_bytes() const;   // everything before the tensor data, padded
  Status write_fd(int fd, const std::string& path) const;

  uint32_t version_;
  uint32_t alignment_ = kDefaultAlignment;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> kv_;  // key, (type + payload)
  std::vector<Tensor> tensors_;
};

// Bytes needed by a tensor of `type` with `dims`, or an error (bad dims, not a whole number of
// blocks, overflow).
Result<uint64_t> tensor_bytes(DType type, std::span<const int64_t> dims);

}  // namespace lm::gguf
