// Helpers for the GGUF tests: a raw byte builder (to write files the Writer refuses to write,
// with known field offsets) and a deep comparison of metadata values.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"

namespace lm::gguf::test {

// Appends little-endian GGUF fields; pos() is the offset the next field will have.
class Raw {
 public:
  Raw& u8(uint8_t v) { return put(v); }
  Raw& u16(uint16_t v) { return put(v); }
  Raw& u32(uint32_t v) { return put(v); }
  Raw& u64(uint64_t v) { return put(v); }
  Raw& f32(float v) { return put(v); }
  Raw& f64(double v) { return put(v); }
  Raw& str(std::string_view s) {
    u64(s.size());
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  // magic, version, tensor count, metadata count
  Raw& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return u32(0x46554747u).u32(version).u64(n_tensors).u64(n_kv);
  }
  Raw& key(std::string_view k, ValueType t) { return str(k).u32(static_cast<uint32_t>(t)); }
  Raw& kv_u32(std::string_view k, uint32_t v) { return key(k, ValueType::UINT32).u32(v); }
  Raw& kv_str(std::string_view k, std::string_view v) { return key(k, ValueType::STRING).str(v); }
  Raw& tensor(std::string_view name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) u64(d);
    return u32(type).u64(offset);
  }
  Raw& pad_to(size_t alignment) {
    b_.resize((b_.size() + alignment - 1) / alignment * alignment, 0);
    return *this;
  }
  Raw& zeros(size_t n) {
    b_.resize(b_.size() + n, 0);
    return *this;
  }
  uint64_t pos() const { return b_.size(); }
  const std::vector<uint8_t>& bytes() const { return b_; }

 private:
  template <typename T>
  Raw& put(T v) {
    size_t n = b_.size();
    b_.resize(n + sizeof(T));
    std::memcpy(b_.data() + n, &v, sizeof(T));
    return *this;
  }
  std::vector<uint8_t> b_;
};

// Deep equality: same type, same bits for numbers, same strings, same nested items.
inline ::testing::AssertionResult values_equal(const Value& a, const Value& b) {
  if (a.type() != b.type()) {
    return ::testing::AssertionFailure() << "type " << value_type_name(a.type()) << " vs "
                                         << value_type_name(b.type());
  }
  if (a.type() == ValueType::STRING) {
    if (a.as_string() != b.as_string()) return ::testing::AssertionFailure() << "string differs";
    return ::testing::AssertionSuccess();
  }
  if (a.type() != ValueType::ARRAY) {
    if (a.as_u64() != b.as_u64()) return ::testing::AssertionFailure() << "scalar bits differ";
    return ::testing::AssertionSuccess();
  }
  if (a.array_type() != b.array_type() || a.size() != b.size()) {
    return ::testing::AssertionFailure() << "array type or size differs";
  }
  for (uint64_t i = 0; i < a.size(); ++i) {
    if (a.array_type() == ValueType::STRING) {
      if (a.string_at(i) != b.string_at(i)) return ::testing::AssertionFailure() << "element " << i;
    } else if (a.array_type() == ValueType::ARRAY) {
      auto r = values_equal(a.item(i), b.item(i));
      if (!r) return r << " (in element " << i << ")";
    } else if (a.uint_at(i) != b.uint_at(i)) {
      return ::testing::AssertionFailure() << "element " << i << " bits differ";
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace lm::gguf::test
