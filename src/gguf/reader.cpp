// GGUF parser: every read is bounds-checked against the file; errors name the byte offset.
#include <algorithm>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "core/check.h"
#include "gguf/gguf.h"

namespace lm::gguf {

namespace {
constexpr int kMaxArrayDepth = 8;
constexpr uint32_t kMaxDims = 4;
// Vectors sized from counts in the file are reserved at most this far ahead and then grow with
// what is actually parsed, so a count that the file cannot back never allocates.
constexpr uint64_t kMaxReserve = 4096;

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
    // Floats keep their raw bits in *u too, so a copy (Writer::set_value) is bit-exact.
    case ValueType::FLOAT32: { float v; std::memcpy(&v, p, 4); *f = v; uint32_t b; std::memcpy(&b, p, 4); *u = b; break; }
    case ValueType::FLOAT64: std::memcpy(f, p, 8); std::memcpy(u, p, 8); break;
    default: break;
  }
}
// Type ids that ggml once defined and then removed (per the ggml type enum).
std::string_view removed_type_hint(uint32_t id) {
  if (id == 4 || id == 5) return " (Q4_2/Q4_3 were removed from GGUF)";
  if (id >= 31 && id <= 33) return " (Q4_0_4_4/Q4_0_4_8/Q4_0_8_8 were removed: repack Q4_0 at load)";
  if (id >= 36 && id <= 38) return " (IQ4_NL_4_4/IQ4_NL_4_8/IQ4_NL_8_8 were removed: repack at load)";
  return "";
}
}  // namespace

std::string printable(std::string_view s, size_t max_len) {
  std::string out;
  out.reserve(std::min(s.size(), max_len) + 8);
  for (size_t i = 0; i < s.size() && i < max_len; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max_len) out += "...";
  return out;
}

std::string_view value_type_name(ValueType t) {
  static constexpr std::string_view kNames[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                                "bool", "string", "array", "u64", "i64", "f64"};
  auto i = static_cast<uint32_t>(t);
  return i < std::size(kNames) ? kNames[i] : "invalid";
}

size_t value_type_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
    case ValueType::UINT16: case ValueType::INT16: return 2;
    case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
    case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
    default: return 0;
  }
}

bool Value::is_integer() const {
  return value_type_size(type_) != 0 && !is_float() && type_ != ValueType::BOOL;
}
bool Value::is_negative() const { return is_signed(type_) && as_i64() < 0; }

std::string_view Value::string_at(uint64_t i) const {
  LM_CHECK(elem_type_ == ValueType::STRING && i < strings_.size(), "string_at({}) on {} x {}", i,
           count_, value_type_name(elem_type_));
  return strings_[i];
}
const Value& Value::item(uint64_t i) const {
  LM_CHECK(elem_type_ == ValueType::ARRAY && i < items_.size(), "item({}) on {} x {}", i, count_,
           value_type_name(elem_type_));
  return items_[i];
}
namespace {
// Element i of a numeric array, decoded into (u, f); `accessor` names the caller in the check.
void decode_element(ValueType t, const uint8_t* raw, uint64_t count, uint64_t i,
                    std::string_view accessor, uint64_t* u, double* f) {
  LM_CHECK(value_type_size(t) != 0 && i < count, "{}({}) on {} x {}", accessor, i, count,
           value_type_name(t));
  decode_scalar(t, raw + i * value_type_size(t), u, f);
}
}  // namespace

uint64_t Value::uint_at(uint64_t i) const {
  uint64_t u = 0;
  double f = 0;
  decode_element(elem_type_, raw_, count_, i, "uint_at", &u, &f);
  return u;
}
int64_t Value::int_at(uint64_t i) const {
  uint64_t u = 0;
  double f = 0;
  decode_element(elem_type_, raw_, count_, i, "int_at", &u, &f);
  return static_cast<int64_t>(u);
}
double Value::float_at(uint64_t i) const {
  uint64_t u = 0;
  double f = 0;
  decode_element(elem_type_, raw_, count_, i, "float_at", &u, &f);
  if (elem_type_ == ValueType::FLOAT32 || elem_type_ == ValueType::FLOAT64) return f;
  return is_signed(elem_type_) ? static_cast<double>(static_cast<int64_t>(u)) : static_cast<double>(u);
}

namespace {
std::string scalar_string(ValueType t, uint64_t u, double f) {
  switch (t) {
    case ValueType::BOOL: return u ? "true" : "false";
    case ValueType::FLOAT32: return fmt::format("{}", static_cast<float>(f));
    case ValueType::FLOAT64: return fmt::format("{}", f);
    default:
      return is_signed(t) ? fmt::format("{}", static_cast<int64_t>(u)) : fmt::format("{}", u);
  }
}
}  // namespace

std::string Value::to_string(size_t max_items) const {
  if (type_ == ValueType::STRING) return fmt::format("\"{}\"", printable(str_, 200));
  if (type_ != ValueType::ARRAY) return scalar_string(type_, u_, f_);
  std::string s = fmt::format("[{} x {}] [", count_, value_type_name(elem_type_));
  for (uint64_t i = 0; i < count_ && i < max_items; ++i) {
    if (i) s += ", ";
    if (elem_type_ == ValueType::STRING) {
      s += fmt::format("\"{}\"", printable(strings_[i], 40));
    } else if (elem_type_ == ValueType::ARRAY) {
      s += items_[i].to_string(max_items);
    } else {
      uint64_t u = 0;
      double f = 0;
      decode_scalar(elem_type_, raw_ + i * value_type_size(elem_type_), &u, &f);
      s += scalar_string(elem_type_, u, f);
    }
  }
  if (count_ > max_items) s += ", ...";
  return s + "]";
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
  uint64_t n_blocks = n / static_cast<uint64_t>(info.block_size);
  if (n_blocks > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / info.type_size) {
    return errorf("size in bytes of {} {} elements overflows", n, info.name);
  }
  return n_blocks * info.type_size;
}

// Cursor over the file bytes; each read checks the remaining length. Errors name the byte
// offset where the offending field starts.
class Parser {
 public:
  explicit Parser(File* f) : f_(f), p_(f->bytes_) {}

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
  Status read_header(uint64_t* n_tensors, uint64_t* n_kv);
  Status read_value(Value* v, ValueType type, int depth);
  Status read_array(Value* v, int depth);
  Status read_metadata(uint64_t n_kv);
  Status read_alignment();
  Status read_tensor_info(TensorInfo* t);
  Status check_tensor_data();

  File* f_;
  std::span<const uint8_t> p_;
  uint64_t pos_ = 0;
};

Status Parser::read_value(Value* v, ValueType type, int depth) {
  v->type_ = type;
  if (size_t sz = value_type_size(type)) {
    LM_TRY_STATUS(need(sz, value_type_name(type)));
    decode_scalar(type, p_.data() + pos_, &v->u_, &v->f_);
    pos_ += sz;
    return Ok{};
  }
  if (type == ValueType::STRING) {
    LM_TRY(v->str_, read_string("string"));
    return Ok{};
  }
  return read_array(v, depth);
}

Status Parser::read_array(Value* v, int depth) {
  uint64_t at = pos_;
  LM_TRY(uint32_t et, read<uint32_t>("array element type"));
  if (!valid_type(et)) return errorf("array at byte {} has invalid element type {}", at, et);
  LM_TRY(uint64_t count, read<uint64_t>("array length"));
  v->elem_type_ = static_cast<ValueType>(et);
  v->count_ = count;
  if (size_t sz = value_type_size(v->elem_type_)) {
    if (count > remaining() / sz) {
      return errorf("array at byte {} claims {} elements of {} but only {} bytes remain", at, count,
                    value_type_name(v->elem_type_), remaining());
    }
    v->raw_ = p_.data() + pos_;
    pos_ += count * sz;
    return Ok{};
  }
  if (v->elem_type_ == ValueType::STRING) {
    if (count > remaining() / 8) {  // each element has at least its u64 length
      return errorf("string array at byte {} claims {} elements but only {} bytes remain", at, count,
                    remaining());
    }
    v->strings_.reserve(std::min(count, kMaxReserve));
    for (uint64_t i = 0; i < count; ++i) {
      LM_TRY(auto s, read_string("string array element"));
      v->strings_.push_back(s);
    }
    return Ok{};
  }
  if (depth >= kMaxArrayDepth) {
    return errorf("array at byte {} nests arrays deeper than {} levels", at, kMaxArrayDepth);
  }
  if (count > remaining() / 12) {  // each element has at least its type and length
    return errorf("nested array at byte {} claims {} elements but only {} bytes remain", at, count,
                  remaining());
  }
  v->items_.reserve(std::min(count, kMaxReserve));
  for (uint64_t i = 0; i < count; ++i) {
    v->items_.emplace_back();
    v->items_.back().type_ = ValueType::ARRAY;
    LM_TRY_STATUS(read_array(&v->items_.back(), depth + 1));
  }
  return Ok{};
}

Status Parser::read_header(uint64_t* n_tensors, uint64_t* n_kv) {
  LM_TRY(uint32_t magic, read<uint32_t>("magic"));
  if (magic != 0x46554747u) {  // "GGUF" little-endian
    return errorf("not a GGUF file (magic {:02x} {:02x} {:02x} {:02x} at byte 0, expected \"GGUF\")",
                  magic & 0xff, (magic >> 8) & 0xff, (magic >> 16) & 0xff, magic >> 24);
  }
  LM_TRY(uint32_t version, read<uint32_t>("version"));
  if (version == 0x02000000u || version == 0x03000000u) {
    return errorf("big-endian GGUF files are not supported (version field at byte 4)");
  }
  if (version == 1) return errorf("GGUF version 1 is obsolete and not supported");
  if (version != 2 && version != 3) {
    return errorf("unsupported GGUF version {} at byte 4 (2 and 3 are supported)", version);
  }
  f_->version_ = version;
  LM_TRY(*n_tensors, read<uint64_t>("tensor count"));
  LM_TRY(*n_kv, read<uint64_t>("metadata count"));
  // Each key/value takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at
  // least 8 (name length) + 4 (n_dims) + 8 (one dim) + 4 (type) + 8 (offset).
  if (*n_kv > remaining() / 13) {
    return errorf("metadata count {} at byte 16 is impossible for a file of {} bytes", *n_kv,
                  p_.size());
  }
  if (*n_tensors > remaining() / 32) {
    return errorf("tensor count {} at byte 8 is impossible for a file of {} bytes", *n_tensors,
                  p_.size());
  }
  return Ok{};
}

Status Parser::read_metadata(uint64_t n_kv) {
  std::unordered_set<std::string_view> keys;
  f_->kv_.reserve(std::min(n_kv, kMaxReserve));
  for (uint64_t i = 0; i < n_kv; ++i) {
    uint64_t at = pos_;
    KeyValue kv;
    LM_TRY(kv.key, read_string("metadata key"));
    if (!keys.insert(kv.key).second) {
      return errorf("duplicate metadata key '{}' at byte {}", printable(kv.key), at);
    }
    uint64_t type_at = pos_;
    LM_TRY(uint32_t type, read<uint32_t>("metadata value type"));
    if (!valid_type(type)) {
      return errorf("metadata '{}' has invalid value type {} at byte {}", printable(kv.key), type,
                    type_at);
    }
    auto st = read_value(&kv.value, static_cast<ValueType>(type), 0);
    if (!st.ok()) return std::move(st).error().wrap(fmt::format("metadata '{}'", printable(kv.key)));
    f_->kv_.push_back(std::move(kv));
  }
  return Ok{};
}

Status Parser::read_alignment() {
  const Value* a = f_->find("general.alignment");
  if (!a) return Ok{};
  if (a->type() != ValueType::UINT32) {
    return errorf("general.alignment has type {}, expected u32", value_type_name(a->type()));
  }
  uint64_t al = a->as_u64();
  if (al == 0 || (al & (al - 1)) != 0) {
    return errorf("general.alignment {} is not a power of two", al);
  }
  f_->alignment_ = static_cast<uint32_t>(al);
  return Ok{};
}

Status Parser::read_tensor_info(TensorInfo* t) {
  LM_TRY(t->name, read_string("tensor name"));
  uint64_t dims_at = pos_;
  LM_TRY(uint32_t n_dims, read<uint32_t>("tensor dimension count"));
  if (n_dims == 0 || n_dims > kMaxDims) {
    return errorf("{} dimensions at byte {} (1 to {} allowed)", n_dims, dims_at, kMaxDims);
  }
  for (uint32_t d = 0; d < n_dims; ++d) {
    LM_TRY(uint64_t dim, read<uint64_t>("tensor dimension"));
    if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return errorf("dimension {} at byte {} is {}, out of range", d, pos_ - 8, dim);
    }
    t->dims.push_back(static_cast<int64_t>(dim));
  }
  uint64_t type_at = pos_;
  LM_TRY(uint32_t type, read<uint32_t>("tensor type"));
  const DTypeInfo* info = dtype_info(type);
  if (!info) return errorf("unknown tensor type id {} at byte {}{}", type, type_at, removed_type_hint(type));
  t->type = info->type;
  uint64_t offset_at = pos_;
  LM_TRY(t->offset, read<uint64_t>("tensor offset"));
  auto bytes = tensor_bytes(t->type, t->dims);
  if (!bytes.ok()) {
    return std::move(bytes).error().wrap(
        fmt::format("{} {} (info at byte {})", info->name, t->shape_string(), dims_at));
  }
  t->n_bytes = *bytes;
  if (t->offset % f_->alignment_ != 0) {
    return errorf("data offset {} at byte {} is not a multiple of the alignment {}", t->offset,
                  offset_at, f_->alignment_);
  }
  return Ok{};
}

// Every tensor must lie inside the data section, and no two may overlap.
Status Parser::check_tensor_data() {
  uint64_t data_offset = (pos_ + f_->alignment_ - 1) / f_->alignment_ * f_->alignment_;
  f_->data_offset_ = data_offset;
  if (!f_->tensors_.empty() && p_.size() < data_offset) {
    return errorf("file ends at byte {} before the data section at byte {}", p_.size(), data_offset);
  }
  uint64_t data_size = p_.size() >= data_offset ? p_.size() - data_offset : 0;
  for (TensorInfo& t : f_->tensors_) {
    if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
      return errorf("tensor '{}' ({} {}, {} bytes at data offset {}, file byte {}) extends past the "
                    "end of the file (data section holds {} bytes)", printable(t.name),
                    dtype_name(t.type), t.shape_string(), t.n_bytes, t.offset,
                    data_offset + std::min(t.offset, data_size), data_size);
    }
    t.data = p_.data() + data_offset + t.offset;
  }
  std::vector<const TensorInfo*> order;
  order.reserve(f_->tensors_.size());
  for (const auto& t : f_->tensors_) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    const TensorInfo* a = order[i - 1];
    const TensorInfo* b = order[i];
    if (a->offset + a->n_bytes > b->offset) {  // both are within data_size: no overflow
      return errorf("tensors '{}' (data bytes {}..{}) and '{}' (from data byte {}) overlap",
                    printable(a->name), a->offset, a->offset + a->n_bytes, printable(b->name),
                    b->offset);
    }
  }
  return Ok{};
}

Status Parser::parse() {
  uint64_t n_tensors = 0, n_kv = 0;
  LM_TRY_STATUS(read_header(&n_tensors, &n_kv));
  LM_TRY_STATUS(read_metadata(n_kv));
  LM_TRY_STATUS(read_alignment());
  std::unordered_set<std::string_view> names;
  f_->tensors_.reserve(std::min(n_tensors, kMaxReserve));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    uint64_t at = pos_;
    TensorInfo t;
    auto st = read_tensor_info(&t);
    if (!st.ok()) {
      return std::move(st).error().wrap(
          fmt::format("tensor #{} '{}' at byte {}", i, printable(t.name), at));
    }
    if (!names.insert(t.name).second) {
      return errorf("duplicate tensor name '{}' at byte {}", printable(t.name), at);
    }
    f_->tensors_.push_back(std::move(t));
  }
  return check_tensor_data();
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
  if (v->type() == ValueType::UINT64 && v->as_u64() > static_cast<uint64_t>(INT64_MAX)) {
    return errorf("metadata '{}' is {}, out of range for a signed integer", key, v->as_u64());
  }
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
