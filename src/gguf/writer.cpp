#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "gguf/gguf.h"

namespace lm::gguf {

namespace {
template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  size_t n = out.size();
  out.resize(n + sizeof(T));
  std::memcpy(out.data() + n, &v, sizeof(T));
}
void put_string(std::vector<uint8_t>& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}
// Serialises a value read from a File (payload only, without its type tag). Numbers are copied
// as their raw little-endian bits (floats included, NaN payloads too).
void put_value(std::vector<uint8_t>& out, const Value& v) {
  if (v.type() == ValueType::STRING) {
    put_string(out, v.as_string());
  } else if (v.type() == ValueType::ARRAY) {
    put<uint32_t>(out, static_cast<uint32_t>(v.array_type()));
    put<uint64_t>(out, v.size());
    size_t sz = value_type_size(v.array_type());
    for (uint64_t i = 0; i < v.size(); ++i) {
      if (v.array_type() == ValueType::STRING) {
        put_string(out, v.string_at(i));
      } else if (v.array_type() == ValueType::ARRAY) {
        put_value(out, v.item(i));
      } else {
        uint64_t x = v.uint_at(i);
        const auto* p = reinterpret_cast<const uint8_t*>(&x);
        out.insert(out.end(), p, p + sz);  // little-endian: the low bytes
      }
    }
  } else {
    uint64_t x = v.as_u64();
    const auto* p = reinterpret_cast<const uint8_t*>(&x);
    out.insert(out.end(), p, p + value_type_size(v.type()));
  }
}
}  // namespace

Writer::Writer(uint32_t version) : version_(version) {
  LM_CHECK(version == 2 || version == 3, "GGUF version {} cannot be written", version);
}

void Writer::set_raw(std::string_view key, ValueType type, std::vector<uint8_t> payload) {
  std::vector<uint8_t> bytes;
  put<uint32_t>(bytes, static_cast<uint32_t>(type));
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  for (auto& kv : kv_) {
    if (kv.first == key) {
      kv.second = std::move(bytes);
      return;
    }
  }
  kv_.emplace_back(std::string(key), std::move(bytes));
}

#define LM_SCALAR_SETTER(fn, T, VT)                    \
  void Writer::fn(std::string_view key, T v) {         \
    std::vector<uint8_t> p;                            \
    put<T>(p, v);                                      \
    set_raw(key, ValueType::VT, std::move(p));         \
  }
LM_SCALAR_SETTER(set_u8, uint8_t, UINT8)
LM_SCALAR_SETTER(set_i8, int8_t, INT8)
LM_SCALAR_SETTER(set_u16, uint16_t, UINT16)
LM_SCALAR_SETTER(set_i16, int16_t, INT16)
LM_SCALAR_SETTER(set_u32, uint32_t, UINT32)
LM_SCALAR_SETTER(set_i32, int32_t, INT32)
LM_SCALAR_SETTER(set_u64, uint64_t, UINT64)
LM_SCALAR_SETTER(set_i64, int64_t, INT64)
LM_SCALAR_SETTER(set_f32, float, FLOAT32)
LM_SCALAR_SETTER(set_f64, double, FLOAT64)
#undef LM_SCALAR_SETTER

void Writer::set_bool(std::string_view key, bool v) {
  set_raw(key, ValueType::BOOL, {static_cast<uint8_t>(v ? 1 : 0)});
}
void Writer::set_string(std::string_view key, std::string_view v) {
  std::vector<uint8_t> p;
  put_string(p, v);
  set_raw(key, ValueType::STRING, std::move(p));
}
void Writer::set_array_string(std::string_view key, const std::vector<std::string>& v) {
  std::vector<uint8_t> p;
  put<uint32_t>(p, static_cast<uint32_t>(ValueType::STRING));
  put<uint64_t>(p, v.size());
  for (const auto& s : v) put_string(p, s);
  set_raw(key, ValueType::ARRAY, std::move(p));
}
template <typename T>
static std::vector<uint8_t> numeric_array(ValueType t, std::span<const T> v) {
  std::vector<uint8_t> p;
  put<uint32_t>(p, static_cast<uint32_t>(t));
  put<uint64_t>(p, v.size());
  const auto* b = reinterpret_cast<const uint8_t*>(v.data());
  p.insert(p.end(), b, b + v.size_bytes());
  return p;
}
void Writer::set_array_f32(std::string_view key, std::span<const float> v) {
  set_raw(key, ValueType::ARRAY, numeric_array(ValueType::FLOAT32, v));
}
void Writer::set_array_i32(std::string_view key, std::span<const int32_t> v) {
  set_raw(key, ValueType::ARRAY, numeric_array(ValueType::INT32, v));
}
void Writer::set_array_u32(std::string_view key, std::span<const uint32_t> v) {
  set_raw(key, ValueType::ARRAY, numeric_array(ValueType::UINT32, v));
}
void Writer::set_value(std::string_view key, const Value& v) {
  std::vector<uint8_t> p;
  put_value(p, v);
  if (key == "general.alignment") {
    LM_CHECK(v.type() == ValueType::UINT32, "general.alignment must be u32, got {}",
             value_type_name(v.type()));
    set_alignment(static_cast<uint32_t>(v.as_u64()));
    return;
  }
  set_raw(key, v.type(), std::move(p));
}
void Writer::remove(std::string_view key) {
  std::erase_if(kv_, [&](const auto& kv) { return kv.first == key; });
}
void Writer::set_alignment(uint32_t alignment) {
  LM_CHECK(alignment != 0 && (alignment & (alignment - 1)) == 0,
           "alignment {} is not a power of two", alignment);
  alignment_ = alignment;
  set_u32("general.alignment", alignment);
}

Status Writer::add_tensor_impl(Tensor t) {
  for (const auto& o : tensors_) {
    if (o.name == t.name) return errorf("duplicate tensor name '{}'", printable(t.name));
  }
  if (t.dims.empty() || t.dims.size() > 4) {
    return errorf("tensor '{}' has {} dimensions (1 to 4 allowed)", printable(t.name), t.dims.size());
  }
  auto bytes = tensor_bytes(t.type, t.dims);
  if (!bytes.ok()) return std::move(bytes).error().wrap(fmt::format("tensor '{}'", t.name));
  if (t.fill) t.size = *bytes;  // deferred: the size is what the filler must produce
  if (*bytes != t.size) {
    return errorf("tensor '{}': {} {} needs {} bytes, got {}", t.name, dtype_name(t.type),
                  fmt::join(t.dims, "x"), *bytes, t.size);
  }
  tensors_.push_back(std::move(t));
  return Ok{};
}

Status Writer::add_tensor(std::string_view name, DType type, std::vector<int64_t> dims,
                          std::vector<uint8_t> data) {
  Tensor t{std::string(name), type, std::move(dims), std::move(data), {}, {}, 0};
  t.data = t.owned;
  t.size = t.data.size();
  return add_tensor_impl(std::move(t));
}

Status Writer::add_tensor_deferred(std::string_view name, DType type, std::vector<int64_t> dims,
                                   TensorFiller fill) {
  LM_CHECK(fill != nullptr);
  return add_tensor_impl(Tensor{std::string(name), type, std::move(dims), {}, {}, std::move(fill), 0});
}

Status Writer::add_tensor_view(std::string_view name, DType type, std::vector<int64_t> dims,
                               std::span<const uint8_t> data) {
  return add_tensor_impl(Tensor{std::string(name), type, std::move(dims), {}, data, {}, data.size()});
}

namespace {
uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }
}  // namespace

std::vector<uint8_t> Writer::header_bytes() const {
  std::vector<uint8_t> out;
  put<uint32_t>(out, 0x46554747u);
  put<uint32_t>(out, version_);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, kv_.size());
  for (const auto& [key, bytes] : kv_) {
    put_string(out, key);
    out.insert(out.end(), bytes.begin(), bytes.end());
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.dims.size()));
    for (int64_t d : t.dims) put<uint64_t>(out, static_cast<uint64_t>(d));
    put<uint32_t>(out, static_cast<uint32_t>(t.type));
    put<uint64_t>(out, offset);
    offset = align_up(offset + t.size, alignment_);
  }
  out.resize(align_up(out.size(), alignment_), 0);
  return out;
}

std::vector<uint8_t> Writer::to_bytes() const {
  std::vector<uint8_t> out = header_bytes();
  for (const auto& t : tensors_) {
    if (t.fill) {
      size_t at = out.size();
      out.resize(at + t.size);
      Status st = t.fill(std::span<uint8_t>(out.data() + at, t.size));
      LM_CHECK(st.ok(), "to_bytes: filling tensor {}: {}", t.name, st.error().message());
    } else {
      out.insert(out.end(), t.data.begin(), t.data.end());
    }
    out.resize(align_up(out.size(), alignment_), 0);
  }
  return out;
}

namespace {
// Writes all of `bytes`, retrying on EINTR and short writes.
Status write_all(int fd, std::span<const uint8_t> bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return errorf("writing {} failed after {} of {} bytes: {}", path, done, bytes.size(),
                    n < 0 ? std::strerror(errno) : "no progress");
    }
    done += static_cast<size_t>(n);
  }
  return Ok{};
}

// Makes a finished rename durable; failure here is not worth failing the write for.
void sync_parent_dir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}
}  // namespace

Status Writer::write_fd(int fd, const std::string& path) const {
  LM_TRY_STATUS(write_all(fd, header_bytes(), path));
  static const std::vector<uint8_t> kZeros(4096, 0);
  uint64_t offset = 0;
  std::vector<uint8_t> buf;  // deferred tensors, one at a time
  for (const auto& t : tensors_) {
    if (t.fill) {
      buf.assign(t.size, 0);
      LM_TRY_STATUS(t.fill(std::span<uint8_t>(buf)).wrap(fmt::format("writing {}: tensor {}", path, t.name)));
      LM_TRY_STATUS(write_all(fd, buf, path));
    } else {
      LM_TRY_STATUS(write_all(fd, t.data, path));
    }
    uint64_t pad = align_up(offset + t.size, alignment_) - offset - t.size;
    offset += t.size + pad;
    while (pad > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(pad, kZeros.size()));
      LM_TRY_STATUS(write_all(fd, std::span<const uint8_t>(kZeros.data(), n), path));
      pad -= n;
    }
  }
  if (::fsync(fd) != 0) return errorf("writing {} failed: fsync: {}", path, std::strerror(errno));
  return Ok{};
}

// Writes to a unique temporary file beside `path`, then renames it over `path`: readers see
// either the old file or the complete new one, and a failure removes the temporary file.
Status Writer::write(const std::string& path) const {
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return errorf("cannot create a temporary file for {}: {}", path, std::strerror(errno));
  ::fchmod(fd, 0644);
  Status st = write_fd(fd, path);
  if (::close(fd) != 0 && st.ok()) {
    st = errorf("writing {} failed: close: {}", path, std::strerror(errno));
  }
  if (st.ok() && std::rename(tmp.c_str(), path.c_str()) != 0) {
    st = errorf("cannot rename {} to {}: {}", tmp, path, std::strerror(errno));
  }
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  sync_parent_dir(path);
  return Ok{};
}

}  // namespace lm::gguf
