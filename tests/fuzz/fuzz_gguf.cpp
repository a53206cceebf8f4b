// libFuzzer target for the GGUF reader and writer.
//
// Parses the input; on success exercises every accessor (to_string of every value, every typed
// getter, every array element, tensor infos and all tensor bytes), then copies the whole file
// through Writer::set_value / add_tensor_view, re-parses the copy and checks that it holds the
// same metadata and tensors. Any crash, sanitizer report or LM_CHECK failure is a finding.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "core/check.h"
#include "gguf/gguf.h"

namespace {

using lm::gguf::File;
using lm::gguf::TensorInfo;
using lm::gguf::Value;
using lm::gguf::ValueType;

// Writing a copy pads to the alignment; a (valid) alignment of 2^31 would mean gigabytes of zeros.
constexpr uint32_t kMaxCopyAlignment = 1u << 16;

bool same_value(const Value& a, const Value& b) {
  if (a.type() != b.type()) return false;
  if (a.type() == ValueType::STRING) return a.as_string() == b.as_string();
  if (a.type() != ValueType::ARRAY) return a.as_u64() == b.as_u64();
  if (a.array_type() != b.array_type() || a.size() != b.size()) return false;
  for (uint64_t i = 0; i < a.size(); ++i) {
    bool eq = a.array_type() == ValueType::STRING  ? a.string_at(i) == b.string_at(i)
              : a.array_type() == ValueType::ARRAY ? same_value(a.item(i), b.item(i))
                                                   : a.uint_at(i) == b.uint_at(i);
    if (!eq) return false;
  }
  return true;
}

// Reads every element (the sanitizers check each access).
uint64_t touch_value(const Value& v) {
  uint64_t h = v.to_string().size() + v.to_string(1000).size() + v.is_integer() + v.is_float();
  h += v.is_negative() + static_cast<uint64_t>(v.as_i64()) + v.as_bool() + v.as_string().size();
  h += static_cast<uint64_t>(v.as_f64() == 0.0);
  if (v.type() != ValueType::ARRAY) return h;
  for (uint64_t i = 0; i < v.size(); ++i) {
    switch (v.array_type()) {
      case ValueType::STRING: h += lm::gguf::printable(v.string_at(i)).size(); break;
      case ValueType::ARRAY: h += touch_value(v.item(i)); break;
      default: h += v.uint_at(i) + static_cast<uint64_t>(v.int_at(i)) + (v.float_at(i) > 0);
    }
  }
  return h;
}

uint64_t touch_getters(const File& f, std::string_view key, const Value& v) {
  uint64_t h = 0;
  if (auto r = f.get_uint(key); r.ok()) h += *r;
  if (auto r = f.get_int(key); r.ok()) h += static_cast<uint64_t>(*r);
  if (auto r = f.get_float(key); r.ok()) h += *r > 0;
  if (auto r = f.get_bool(key); r.ok()) h += *r;
  if (auto r = f.get_string(key); r.ok()) h += r->size();
  if (auto r = f.get_array(key, v.array_type()); r.ok()) h += (*r)->size();
  LM_CHECK(f.get_uint_or(key, 1).ok() == f.get_uint(key).ok());
  LM_CHECK(f.get_float_or(key, 1).ok() == f.get_float(key).ok());
  LM_CHECK(f.get_bool_or(key, true).ok() == f.get_bool(key).ok());
  LM_CHECK(f.get_string_or(key, "").ok() == f.get_string(key).ok());
  LM_CHECK(f.find(key) == &v, "keys are unique, so find returns this entry");
  return h;
}

uint64_t touch_tensor(const File& f, const TensorInfo& t) {
  LM_CHECK(f.find_tensor(t.name) == &t);
  const uint8_t* base = f.tensors()[0].data - f.tensors()[0].offset;  // start of the data section
  LM_CHECK(t.data == base + t.offset);
  auto bytes = lm::gguf::tensor_bytes(t.type, t.dims);
  LM_CHECK(bytes.ok() && *bytes == t.n_bytes);
  LM_CHECK(f.data_offset() + t.offset + t.n_bytes <= f.file_size());
  LM_CHECK(t.offset % f.alignment() == 0);
  uint64_t h = static_cast<uint64_t>(t.n_elements()) + t.shape_string().size();
  for (uint64_t i = 0; i < t.n_bytes; ++i) h += t.data[i];
  return h;
}

// Copies `f` through the Writer and checks the re-parsed copy holds the same content.
void check_copy(const File& f) {
  if (f.alignment() > kMaxCopyAlignment) return;
  lm::gguf::Writer w(f.version());
  for (const auto& kv : f.metadata()) w.set_value(kv.key, kv.value);
  for (const auto& t : f.tensors()) {
    auto st = w.add_tensor_view(t.name, t.type, t.dims, {t.data, t.n_bytes});
    LM_CHECK(st.ok(), "copying tensor: {}", st.ok() ? "" : st.error().message());
  }
  std::vector<uint8_t> bytes = w.to_bytes();
  auto copy = File::parse(bytes, "copy");
  LM_CHECK(copy.ok(), "re-parsing a copy: {}", copy.ok() ? "" : copy.error().message());
  const File& g = **copy;
  LM_CHECK(g.version() == f.version() && g.alignment() == f.alignment());
  LM_CHECK(g.metadata().size() == f.metadata().size());
  for (size_t i = 0; i < f.metadata().size(); ++i) {
    LM_CHECK(g.metadata()[i].key == f.metadata()[i].key);
    LM_CHECK(same_value(g.metadata()[i].value, f.metadata()[i].value), "key {}",
             lm::gguf::printable(f.metadata()[i].key));
  }
  LM_CHECK(g.tensors().size() == f.tensors().size());
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const TensorInfo& a = f.tensors()[i];
    const TensorInfo& b = g.tensors()[i];
    LM_CHECK(a.name == b.name && a.type == b.type && a.dims == b.dims && a.n_bytes == b.n_bytes);
    LM_CHECK(a.n_bytes == 0 || std::memcmp(a.data, b.data, a.n_bytes) == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = File::parse(std::span<const uint8_t>(data, size), "fuzz");
  if (!r.ok()) {
    LM_CHECK(!r.error().message().empty());
    return 0;
  }
  const File& f = **r;
  LM_CHECK(f.version() == 2 || f.version() == 3);
  LM_CHECK(f.file_size() == size);
  volatile uint64_t sink = 0;
  for (const auto& kv : f.metadata()) {
    sink = sink + lm::gguf::printable(kv.key).size() + touch_value(kv.value);
    sink = sink + touch_getters(f, kv.key, kv.value);
    sink = sink + lm::gguf::value_type_name(kv.value.type()).size();
  }
  for (const auto& t : f.tensors()) sink = sink + touch_tensor(f, t);
  check_copy(f);
  return 0;
}
