// GGUF parser: every read is bounds-checked against the file; errors name the byte offset.
#include <algorithm>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "gguf/gguf.h"

namespace lm::gguf {

namespace {
constexpr int kMaxArrayDepth = 8;
constexpr uint32_t kMaxDims = 4;

size_t scalar_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
    case ValueType::UINT16: case ValueType::INT16: return 2;
    case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
    case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
    default: return 0;
  }
}
bool valid_type(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::FLOAT64); }
bool is_signed(ValueType t) {
  return t == ValueType::INT8 || t == ValueType::INT16 || t == ValueType::INT32 ||
         t == ValueType::INT64;
}

// Decodes one little-endian scalar into (u, f).
void decode_scalar(ValueType t, const uint8_t* p, uint64_t* u, double* f) {
  switch (t) {
    case ValueType::UINT8: *u = p[0]; break;
    case ValueType::INT8: *u = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(p[0]))); break;
    case ValueType::BOOL: *u = p[0] != 0; break;
    case ValueType::UINT16: { uint16_t v; std::memcpy(&v, p, 2); *u = v; break; }
    case ValueType::INT16: { int16_t v; std::memcpy(&v, p, 2); *u = static_cast<uint64_t>(static_cast<int64_t>(v)); break; }
    case ValueType::UINT32: { uint32_t v; std::memcpy(&v, p, 4); *u = v; break; }
    case ValueType::INT32: { int32_t v; std::memcpy(&v, p, 4); *u = static_cast<uint64_t>(static_cast<int64_t>(v)); break; }
    case ValueType::UINT64: case ValueType::INT64: std::memcpy(u, p, 8); break;
    case ValueType::FLOAT32: { float v; std::memcpy(&v, p, 4); *f = v; break; }
    case ValueType::FLOAT64: std::memcpy(f, p, 8); break;
    default: break;
  }
}
}  // namespace

std::string_view value_type_name(ValueType t) {
  static constexpr std::string_view kNames[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                                "bool", "string", "array", "u64", "i64", "f64"};
  auto i = static_cast<uint32_t>(t);
  return i < std::size(kNames) ? kNames[i] : "invalid";
}

bool Value::is_integer() const {
  return scalar_size(type_) != 0 && !is_float() && type_ != ValueType::BOOL;
}
bool Value::is_negative() const { return is_signed(type_) && as_i64() < 0; }

int64_t Value::int_at(uint64_t i) const {
  uint64_t u = 0;
  double f = 0;
  decode_scalar(elem_type_, raw_ + i * scalar_size(elem_type_), &u, &f);
  return static_cast<int64_t>(u);
}
double Value::float_at(uint64_t i) const {
  uint64_t u = 0;
  double f = 0;
  decode_scalar(elem_type_, raw_ + i * scalar_size(elem_type_), &u, &f);
  if (elem_type_ == ValueType::FLOAT32 || elem_type_ == ValueType::FLOAT64) return f;
  return is_signed(elem_type_) ? static_cast<double>(static_cast<int64_t>(u)) : static_cast<double>(u);
}

std::string Value::to_string(size_t max_items) const {
  switch (type_) {
    case ValueType::STRING: {
      return fmt::format("\"{}{}\"", str_.substr(0, 200), str_.size() > 200 ? "..." : "");
    }
    case ValueType::BOOL: return as_bool() ? "true" : "false";
    case ValueType::FLOAT32: case ValueType::FLOAT64: return fmt::format("{}", f_);
    case ValueType::ARRAY: {
      std::string s = fmt::format("[{} x {}] [", count_, value_type_name(elem_type_));
      for (uint64_t i = 0; i < count_ && i < max_items; ++i) {
        if (i) s += ", ";
        if (elem_type_ == ValueType::STRING) s += fmt::format("\"{}\"", strings_[i].substr(0, 40));
        else if (elem_type_ == ValueType::ARRAY) s += items_[i].to_string(max_items);
        else if (elem_type_ == ValueType::FLOAT32 || elem_type_ == ValueType::FLOAT64) s += fmt::format("{}", float_at(i));
        else if (elem_type_ == ValueType::BOOL) s += int_at(i) ? "true" : "false";
        else s += fmt::format("{}", is_signed(elem_type_) ? int_at(i) : static_cast<int64_t>(int_at(i)));
      }
      if (count_ > max_items) s += ", ...";
      return s + "]";
    }
    default:
      return is_signed(type_) ? fmt::format("{}", as_i64()) : fmt::format("{}", as_u64());
  }
}

int64_t TensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}
std::string TensorInfo::shape_string() const { return fmt::format("[{}]", fmt::join(dims, ", ")); }

Result<uint64_t> tensor_bytes(DType type, std::span<const int64_t> dims) {
  const DTypeInfo& info = dtype_info(type);
  if (dims.empty()) return errorf("tensor has no dimensions");
  uint64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) return errorf("negative dimension {}", d);
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / static_cast<uint64_t>(d)) {
      return errorf("element count overflows");
    }
    n *= static_cast<uint64_t>(d);
  }
  if (dims[0] % info.block_size != 0) {
    return errorf("first dimension {} is not a multiple of the {} block size {}", dims[0], info.name,
                  info.block_size);
  }
  return n / info.block_size * info.type_size;
}

// Cursor over the file bytes; each read checks the remaining length.
class Parser {
 public:
  Parser(File* f) : f_(f), p_(f->bytes_) {}

  Status parse();

 private:
  uint64_t remaining() const { return p_.size() - pos_; }
  Status need(uint64_t n, std::string_view what) {
    if (n > remaining()) {
      return errorf("truncated at byte {}: {} needs {} bytes, {} left", pos_, what, n, remaining());
    }
    return Ok{};
  }
  template <typename T>
  Result<T> read(std::string_view what) {
    LM_TRY_STATUS(need(sizeof(T), what));
    T v;
    std::memcpy(&v, p_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  Result<std::string_view> read_string(std::string_view what) {
    LM_TRY(uint64_t len, read<uint64_t>(what));
    if (len > remaining()) {
      return errorf("{} at byte {} claims length {} but only {} bytes remain", what, pos_ - 8, len,
                    remaining());
    }
    std::string_view s(reinterpret_cast<const char*>(p_.data() + pos_), len);
    pos_ += len;
    return s;
  }
  Status read_value(Value* v, ValueType type, int depth);

  File* f_;
  std::span<const uint8_t> p_;
  uint64_t pos_ = 0;
};

Status Parser::read_value(Value* v, ValueType type, int depth) {
  v->type_ = type;
  if (size_t sz = scalar_size(type)) {
    LM_TRY_STATUS(need(sz, value_type_name(type)));
    decode_scalar(type, p_.data() + pos_, &v->u_, &v->f_);
    pos_ += sz;
    return Ok{};
  }
  if (type == ValueType::STRING) {
    LM_TRY(v->str_, read_string("string"));
    return Ok{};
  }
  // Array.
  uint64_t at = pos_;
  LM_TRY(uint32_t et, read<uint32_t>("array element type"));
  if (!valid_type(et)) return errorf("array at byte {} has invalid element type {}", at, et);
  LM_TRY(uint64_t count, read<uint64_t>("array length"));
  v->elem_type_ = static_cast<ValueType>(et);
  v->count_ = count;
  if (size_t sz = scalar_size(v->elem_type_)) {
    if (count > remaining() / sz) {
      return errorf("array at byte {} claims {} elements of {} but only {} bytes remain", at, count,
                    value_type_name(v->elem_type_), remaining());
    }
    v->raw_ = p_.data() + pos_;
    pos_ += count * sz;
    return Ok{};
  }
  if (v->elem_type_ == ValueType::STRING) {
    if (count > remaining() / 8) {
      return errorf("string array at byte {} claims {} elements but only {} bytes remain", at, count,
                    remaining());
    }
    v->strings_.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
      LM_TRY(auto s, read_string("string array element"));
      v->strings_.push_back(s);
    }
    return Ok{};
  }
  if (depth >= kMaxArrayDepth) return errorf("arrays nested deeper than {} at byte {}", kMaxArrayDepth, at);
  if (count > remaining() / 12) {
    return errorf("nested array at byte {} claims {} elements but only {} bytes remain", at, count,
                  remaining());
  }
  v->items_.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    LM_TRY_STATUS(read_value(&v->items_[i], ValueType::ARRAY, depth + 1));
  }
  return Ok{};
}

Status Parser::parse() {
  LM_TRY(uint32_t magic, read<uint32_t>("magic"));
  if (magic != 0x46554747u) {  // "GGUF" little-endian
    return errorf("not a GGUF file (magic {:02x} {:02x} {:02x} {:02x}, expected \"GGUF\")",
                  magic & 0xff, (magic >> 8) & 0xff, (magic >> 16) & 0xff, magic >> 24);
  }
  LM_TRY(uint32_t version, read<uint32_t>("version"));
  if (version == 0x02000000u || version == 0x03000000u) {
    return errorf("big-endian GGUF files are not supported");
  }
  if (version == 1) return errorf("GGUF version 1 is obsolete and not supported");
  if (version != 2 && version != 3) return errorf("unsupported GGUF version {}", version);
  f_->version_ = version;
  LM_TRY(uint64_t n_tensors, read<uint64_t>("tensor count"));
  LM_TRY(uint64_t n_kv, read<uint64_t>("metadata count"));
  // Each key/value takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at
  // least 8 + 4 + 4 + 8.
  if (n_kv > remaining() / 13) {
    return errorf("metadata count {} is impossible for a file of {} bytes", n_kv, p_.size());
  }
  if (n_tensors > remaining() / 24) {
    return errorf("tensor count {} is impossible for a file of {} bytes", n_tensors, p_.size());
  }

  std::unordered_set<std::string_view> keys;
  f_->kv_.resize(n_kv);
  for (uint64_t i = 0; i < n_kv; ++i) {
    uint64_t at = pos_;
    KeyValue& kv = f_->kv_[i];
    LM_TRY(kv.key, read_string("metadata key"));
    if (!keys.insert(kv.key).second) {
      return errorf("duplicate metadata key '{}' at byte {}", kv.key, at);
    }
    LM_TRY(uint32_t type, read<uint32_t>("metadata value type"));
    if (!valid_type(type)) return errorf("metadata '{}' at byte {} has invalid type {}", kv.key, at, type);
    auto st = read_value(&kv.value, static_cast<ValueType>(type), 0);
    if (!st.ok()) return std::move(st).error().wrap(fmt::format("metadata '{}'", kv.key));
  }

  if (const Value* a = f_->find("general.alignment")) {
    if (a->type() != ValueType::UINT32) {
      return errorf("general.alignment has type {}, expected u32", value_type_name(a->type()));
    }
    uint64_t al = a->as_u64();
    if (al == 0 || (al & (al - 1)) != 0) return errorf("general.alignment {} is not a power of two", al);
    f_->alignment_ = static_cast<uint32_t>(al);
  }

  std::unordered_set<std::string_view> names;
  f_->tensors_.resize(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    uint64_t at = pos_;
    TensorInfo& t = f_->tensors_[i];
    LM_TRY(t.name, read_string("tensor name"));
    if (!names.insert(t.name).second) return errorf("duplicate tensor name '{}' at byte {}", t.name, at);
    LM_TRY(uint32_t n_dims, read<uint32_t>("tensor dimension count"));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return errorf("tensor '{}' at byte {} has {} dimensions (1 to {} allowed)", t.name, at, n_dims, kMaxDims);
    }
    for (uint32_t d = 0; d < n_dims; ++d) {
      LM_TRY(uint64_t dim, read<uint64_t>("tensor dimension"));
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return errorf("tensor '{}' dimension {} is {}, out of range", t.name, d, dim);
      }
      t.dims.push_back(static_cast<int64_t>(dim));
    }
    LM_TRY(uint32_t type, read<uint32_t>("tensor type"));
    const DTypeInfo* info = dtype_info(type);
    if (!info) return errorf("tensor '{}' has unknown type id {}", t.name, type);
    t.type = info->type;
    LM_TRY(t.offset, read<uint64_t>("tensor offset"));
    auto bytes = tensor_bytes(t.type, t.dims);
    if (!bytes.ok()) {
      return std::move(bytes).error().wrap(fmt::format("tensor '{}' ({} {})", t.name, info->name, t.shape_string()));
    }
    t.n_bytes = *bytes;
    if (t.offset % f_->alignment_ != 0) {
      return errorf("tensor '{}' offset {} is not a multiple of the alignment {}", t.name, t.offset, f_->alignment_);
    }
  }

  uint64_t data_offset = (pos_ + f_->alignment_ - 1) / f_->alignment_ * f_->alignment_;
  f_->data_offset_ = data_offset;
  uint64_t data_size = p_.size() >= data_offset ? p_.size() - data_offset : 0;
  if (n_tensors > 0 && p_.size() < data_offset) {
    return errorf("file ends at byte {} before the data section at byte {}", p_.size(), data_offset);
  }
  for (TensorInfo& t : f_->tensors_) {
    if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
      return errorf("tensor '{}' ({} {}, {} bytes at data offset {}) extends past the end of the file "
                    "(data section holds {} bytes)", t.name, dtype_name(t.type), t.shape_string(),
                    t.n_bytes, t.offset, data_size);
    }
    t.data = p_.data() + data_offset + t.offset;
  }
  // Overlap check: sort by offset and compare neighbours.
  std::vector<const TensorInfo*> order;
  for (const auto& t : f_->tensors_) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    const TensorInfo* a = order[i - 1];
    if (a->offset + a->n_bytes > order[i]->offset) {
      return errorf("tensors '{}' (bytes {}..{}) and '{}' (from byte {}) overlap", a->name, a->offset,
                    a->offset + a->n_bytes, order[i]->name, order[i]->offset);
    }
  }
  return Ok{};
}

Result<std::unique_ptr<File>> File::parse(std::span<const uint8_t> bytes, std::string name) {
  auto f = std::make_unique<File>();
  f->name_ = std::move(name);
  f->bytes_ = bytes;
  Parser p(f.get());
  auto st = p.parse();
  if (!st.ok()) return std::move(st).error().wrap(f->name_);
  return f;
}

Result<std::unique_ptr<File>> File::open(const std::string& path) {
  LM_TRY(MappedFile map, MappedFile::open(path));
  auto f = std::make_unique<File>();
  f->name_ = path;
  f->map_ = std::move(map);
  f->bytes_ = f->map_.bytes();
  Parser p(f.get());
  auto st = p.parse();
  if (!st.ok()) return std::move(st).error().wrap(path);
  return f;
}

const Value* File::find(std::string_view key) const {
  for (const auto& kv : kv_) {
    if (kv.key == key) return &kv.value;
  }
  return nullptr;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

namespace {
Error missing(std::string_view key) { return errorf("missing metadata key '{}'", key); }
Error wrong(std::string_view key, const Value& v, std::string_view want) {
  return errorf("metadata '{}' has type {}, expected {}", key, value_type_name(v.type()), want);
}
}  // namespace

Result<uint64_t> File::get_uint(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return missing(key);
  if (!v->is_integer()) return wrong(key, *v, "an integer");
  if (v->is_negative()) return errorf("metadata '{}' is negative ({})", key, v->as_i64());
  return v->as_u64();
}
Result<int64_t> File::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return missing(key);
  if (!v->is_integer()) return wrong(key, *v, "an integer");
  return v->as_i64();
}
Result<double> File::get_float(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return missing(key);
  if (v->is_float()) return v->as_f64();
  if (v->is_integer()) return v->is_negative() ? static_cast<double>(v->as_i64()) : static_cast<double>(v->as_u64());
  return wrong(key, *v, "a number");
}
Result<bool> File::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return missing(key);
  if (v->type() != ValueType::BOOL) return wrong(key, *v, "bool");
  return v->as_bool();
}
Result<std::string_view> File::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return missing(key);
  if (v->type() != ValueType::STRING) return wrong(key, *v, "string");
  return v->as_string();
}
Result<const Value*> File::get_array(std::string_view key, ValueType elem_type) const {
  const Value* v = find(key);
  if (!v) return missing(key);
  if (v->type() != ValueType::ARRAY) return wrong(key, *v, "array");
  if (v->array_type() != elem_type) {
    return errorf("metadata '{}' is an array of {}, expected an array of {}", key,
                  value_type_name(v->array_type()), value_type_name(elem_type));
  }
  return v;
}
Result<uint64_t> File::get_uint_or(std::string_view key, uint64_t def) const {
  return find(key) ? get_uint(key) : Result<uint64_t>(def);
}
Result<double> File::get_float_or(std::string_view key, double def) const {
  return find(key) ? get_float(key) : Result<double>(def);
}
Result<bool> File::get_bool_or(std::string_view key, bool def) const {
  return find(key) ? get_bool(key) : Result<bool>(def);
}
Result<std::string_view> File::get_string_or(std::string_view key, std::string_view def) const {
  return find(key) ? get_string(key) : Result<std::string_view>(def);
}

}  // namespace lm::gguf
