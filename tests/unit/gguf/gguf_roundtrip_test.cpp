// Round trips through Writer and File: every metadata type, versions 2 and 3, alignments,
// many tensors of several dtypes, and Writer::set_value copies of parsed values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "gguf/gguf.h"
#include "gguf_test_util.h"
#include "test_util.h"

namespace lm::gguf {
namespace {

using test::Raw;
using test::values_equal;

std::unique_ptr<File> parse_ok(const std::vector<uint8_t>& bytes) {
  auto r = File::parse(bytes, "mem");
  EXPECT_TRUE(r.ok()) << r.error().message();
  return r.ok() ? std::move(r).value() : nullptr;
}

class GgufVersions : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GgufVersions, RoundTripsEveryScalarType) {
  Writer w(GetParam());
  w.set_u8("u8", 250);
  w.set_i8("i8", -7);
  w.set_u16("u16", 65000);
  w.set_i16("i16", -30000);
  w.set_u32("u32", 4000000000u);
  w.set_i32("i32", -2000000000);
  w.set_u64("u64", 18000000000000000000ull);
  w.set_i64("i64", -9000000000000000000ll);
  w.set_f32("f32", 0.1f);
  w.set_f64("f64", -1e300);
  w.set_bool("t", true);
  w.set_bool("f", false);
  w.set_string("s", "h\xc3\xa9llo");
  w.set_string("empty", "");
  w.set_string("", "empty key");
  std::vector<uint8_t> bytes = w.to_bytes();
  auto f = parse_ok(bytes);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), GetParam());
  EXPECT_EQ(f->metadata().size(), 15u);
  EXPECT_EQ(*f->get_uint("u8"), 250u);
  EXPECT_EQ(*f->get_int("i8"), -7);
  EXPECT_EQ(*f->get_uint("u16"), 65000u);
  EXPECT_EQ(*f->get_int("i16"), -30000);
  EXPECT_EQ(*f->get_uint("u32"), 4000000000u);
  EXPECT_EQ(*f->get_int("i32"), -2000000000);
  EXPECT_EQ(*f->get_uint("u64"), 18000000000000000000ull);
  EXPECT_EQ(*f->get_int("i64"), -9000000000000000000ll);
  EXPECT_EQ(*f->get_float("f32"), static_cast<double>(0.1f));
  EXPECT_EQ(*f->get_float("f64"), -1e300);
  EXPECT_TRUE(*f->get_bool("t"));
  EXPECT_FALSE(*f->get_bool("f"));
  EXPECT_EQ(*f->get_string("s"), "h\xc3\xa9llo");
  EXPECT_EQ(*f->get_string("empty"), "");
  EXPECT_EQ(*f->get_string(""), "empty key");
  // The type tags survive.
  EXPECT_EQ(f->find("i16")->type(), ValueType::INT16);
  EXPECT_EQ(f->find("f32")->type(), ValueType::FLOAT32);
  EXPECT_EQ(f->find("u64")->to_string(), "18000000000000000000");
  EXPECT_EQ(f->find("i8")->to_string(), "-7");
  EXPECT_EQ(f->find("f32")->to_string(), "0.1");
  // No tensors: the file is the header alone, padded.
  EXPECT_EQ(bytes.size() % kDefaultAlignment, 0u);
  EXPECT_TRUE(f->tensors().empty());
}

// A file holding an array of every element type, nested arrays and empty arrays, written by hand.
std::vector<uint8_t> every_array_file(uint32_t version) {
  Raw r;
  r.header(0, 15, version);
  auto arr = [&](std::string_view k, ValueType et, uint64_t n) -> Raw& {
    return r.key(k, ValueType::ARRAY).u32(static_cast<uint32_t>(et)).u64(n);
  };
  arr("a.u8", ValueType::UINT8, 3).u8(0).u8(1).u8(255);
  arr("a.i8", ValueType::INT8, 2).u8(0x80).u8(0x7f);
  arr("a.u16", ValueType::UINT16, 2).u16(0).u16(65535);
  arr("a.i16", ValueType::INT16, 2).u16(0x8000).u16(5);
  arr("a.u32", ValueType::UINT32, 1).u32(0xffffffffu);
  arr("a.i32", ValueType::INT32, 2).u32(0x80000000u).u32(42);
  arr("a.f32", ValueType::FLOAT32, 3).f32(1.5f).f32(-0.0f).f32(std::numeric_limits<float>::quiet_NaN());
  arr("a.bool", ValueType::BOOL, 2).u8(1).u8(0);
  arr("a.str", ValueType::STRING, 3).str("x").str("").str("tab\there");
  arr("a.u64", ValueType::UINT64, 2).u64(0).u64(~0ull);
  arr("a.i64", ValueType::INT64, 1).u64(1ull << 63);
  arr("a.f64", ValueType::FLOAT64, 1).f64(2.5);
  arr("a.empty", ValueType::UINT32, 0);
  arr("a.empty_str", ValueType::STRING, 0);
  // [[1, 2], [], [["deep"]]] as arrays of arrays; the first holds u16, the last strings.
  arr("a.nested", ValueType::ARRAY, 3);
  r.u32(static_cast<uint32_t>(ValueType::UINT16)).u64(2).u16(1).u16(2);
  r.u32(static_cast<uint32_t>(ValueType::INT8)).u64(0);
  r.u32(static_cast<uint32_t>(ValueType::ARRAY)).u64(1);
  r.u32(static_cast<uint32_t>(ValueType::STRING)).u64(1).str("deep");
  return r.bytes();
}

TEST_P(GgufVersions, ReadsArraysOfEveryType) {
  std::vector<uint8_t> bytes = every_array_file(GetParam());
  auto f = parse_ok(bytes);
  ASSERT_NE(f, nullptr);
  auto get = [&](std::string_view k) { return f->find(k); };
  EXPECT_EQ(get("a.u8")->int_at(2), 255);
  EXPECT_EQ(get("a.i8")->int_at(0), -128);
  EXPECT_EQ(get("a.u16")->int_at(1), 65535);
  EXPECT_EQ(get("a.i16")->int_at(0), -32768);
  EXPECT_EQ(get("a.u32")->int_at(0), 0xffffffffll);
  EXPECT_EQ(get("a.i32")->int_at(0), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(get("a.f32")->float_at(0), 1.5);
  EXPECT_TRUE(std::signbit(get("a.f32")->float_at(1)));
  EXPECT_TRUE(std::isnan(get("a.f32")->float_at(2)));
  EXPECT_EQ(get("a.bool")->int_at(0), 1);
  EXPECT_EQ(get("a.str")->string_at(2), "tab\there");
  EXPECT_EQ(get("a.u64")->uint_at(1), ~0ull);
  EXPECT_EQ(get("a.i64")->int_at(0), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(get("a.f64")->float_at(0), 2.5);
  EXPECT_EQ(get("a.empty")->size(), 0u);
  EXPECT_EQ(get("a.empty_str")->size(), 0u);
  const Value* n = get("a.nested");
  ASSERT_EQ(n->size(), 3u);
  EXPECT_EQ(n->item(0).array_type(), ValueType::UINT16);
  EXPECT_EQ(n->item(0).int_at(1), 2);
  EXPECT_EQ(n->item(1).size(), 0u);
  EXPECT_EQ(n->item(2).item(0).string_at(0), "deep");
  // Rendering: unsigned stays unsigned, strings are escaped, nested arrays recurse.
  EXPECT_EQ(get("a.u64")->to_string(), "[2 x u64] [0, 18446744073709551615]");
  EXPECT_EQ(get("a.i8")->to_string(), "[2 x i8] [-128, 127]");
  EXPECT_EQ(get("a.str")->to_string(), "[3 x string] [\"x\", \"\", \"tab\\x09here\"]");
  EXPECT_EQ(get("a.bool")->to_string(), "[2 x bool] [true, false]");
  EXPECT_EQ(n->to_string(), "[3 x array] [[2 x u16] [1, 2], [0 x i8] [], [1 x array] [[1 x string] [\"deep\"]]]");
  EXPECT_EQ(get("a.u8")->to_string(2), "[3 x u8] [0, 1, ...]");
  // Typed lookups.
  EXPECT_TRUE(f->get_array("a.str", ValueType::STRING).ok());
  auto wrong = f->get_array("a.str", ValueType::INT32);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message().find("is an array of string, expected an array of i32"), std::string::npos);
}

TEST_P(GgufVersions, SetValueCopiesEveryTypeBitExactly) {
  std::vector<uint8_t> src_bytes = every_array_file(GetParam());
  auto src = parse_ok(src_bytes);
  ASSERT_NE(src, nullptr);
  Writer w(GetParam());
  for (const auto& kv : src->metadata()) w.set_value(kv.key, kv.value);
  // The copy of the metadata section is byte-identical to the hand-written one.
  std::vector<uint8_t> copy = w.to_bytes();
  ASSERT_GE(copy.size(), src_bytes.size());
  EXPECT_EQ(std::memcmp(copy.data(), src_bytes.data(), src_bytes.size()), 0);
  w.set_value("copy.scalar", *src->find("a.nested"));  // a value under another key
  std::vector<uint8_t> bytes = w.to_bytes();
  auto dst = parse_ok(bytes);
  ASSERT_NE(dst, nullptr);
  ASSERT_EQ(dst->metadata().size(), src->metadata().size() + 1);
  for (const auto& kv : src->metadata()) {
    const Value* v = dst->find(kv.key);
    ASSERT_NE(v, nullptr) << kv.key;
    EXPECT_TRUE(values_equal(kv.value, *v)) << kv.key;
  }
  EXPECT_TRUE(values_equal(*src->find("a.nested"), *dst->find("copy.scalar")));
}

INSTANTIATE_TEST_SUITE_P(V2V3, GgufVersions, ::testing::Values(2u, 3u));

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

struct TensorSpec {
  std::string name;
  DType type;
  std::vector<int64_t> dims;
};

const std::vector<TensorSpec> kSpecs = {
    {"tok_embd.weight", DType::F32, {7, 3}},       {"blk.0.attn_q.weight", DType::F16, {5}},
    {"blk.0.ffn_up.weight", DType::Q4_0, {64, 3}}, {"blk.0.ffn_down.weight", DType::Q8_0, {32, 1, 2}},
    {"blk.1.attn_k.weight", DType::Q4_K, {256, 2}}, {"blk.1.attn_v.weight", DType::Q6_K, {512}},
    {"ids", DType::I32, {3, 1, 1, 2}},              {"bf", DType::BF16, {9}},
    {"empty", DType::F32, {0, 4}},                  {"bytes", DType::I8, {1}},
};

// Adds kSpecs with random data; returns the data by name.
std::vector<std::vector<uint8_t>> add_specs(Writer& w) {
  std::vector<std::vector<uint8_t>> data;
  for (size_t i = 0; i < kSpecs.size(); ++i) {
    const TensorSpec& s = kSpecs[i];
    data.push_back(random_bytes(*tensor_bytes(s.type, s.dims), static_cast<uint32_t>(i)));
    auto st = w.add_tensor(s.name, s.type, s.dims, data.back());
    EXPECT_TRUE(st.ok()) << st.error().message();
  }
  return data;
}

void expect_tensors(const File& f, const std::vector<std::vector<uint8_t>>& data, uint32_t alignment,
                    const uint8_t* base) {
  ASSERT_EQ(f.tensors().size(), kSpecs.size());
  EXPECT_EQ(f.alignment(), alignment);
  EXPECT_EQ(f.data_offset() % alignment, 0u);
  for (size_t i = 0; i < kSpecs.size(); ++i) {
    const TensorInfo* t = f.find_tensor(kSpecs[i].name);
    ASSERT_NE(t, nullptr) << kSpecs[i].name;
    EXPECT_EQ(t, &f.tensors()[i]);  // order is kept
    EXPECT_EQ(t->type, kSpecs[i].type);
    EXPECT_EQ(t->dims, kSpecs[i].dims);
    EXPECT_EQ(t->n_bytes, data[i].size());
    EXPECT_EQ(t->offset % alignment, 0u) << t->name;
    EXPECT_EQ(static_cast<uint64_t>(t->data - base), f.data_offset() + t->offset);
    EXPECT_EQ(static_cast<uint64_t>(t->data - base) % alignment, 0u);
    if (!data[i].empty()) {
      EXPECT_EQ(std::memcmp(t->data, data[i].data(), data[i].size()), 0) << t->name;
    }
  }
}

class GgufAlignment : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GgufAlignment, PlacesTensorDataAtAlignedOffsets) {
  uint32_t alignment = GetParam();
  Writer w;
  w.set_string("general.architecture", "test");
  if (alignment != kDefaultAlignment) w.set_alignment(alignment);
  auto data = add_specs(w);
  std::vector<uint8_t> bytes = w.to_bytes();
  auto f = parse_ok(bytes);
  ASSERT_NE(f, nullptr);
  expect_tensors(*f, data, alignment, bytes.data());
  EXPECT_EQ(bytes.size() % alignment, 0u);
  if (alignment == 1) {  // no padding anywhere: data section is exactly the tensors
    uint64_t total = 0;
    for (const auto& d : data) total += d.size();
    EXPECT_EQ(bytes.size(), f->data_offset() + total);
  }
  // The same through a real file and the mmap path; write() and to_bytes() agree.
  std::string path = lm::test::temp_path("aligned.gguf");
  ASSERT_TRUE(w.write(path).ok());
  auto g = File::open(path);
  ASSERT_TRUE(g.ok()) << g.error().message();
  EXPECT_EQ((*g)->file_size(), bytes.size());
  expect_tensors(**g, data, alignment, (*g)->tensors()[0].data - (*g)->data_offset());
  EXPECT_EQ(std::memcmp((*g)->tensors()[0].data - (*g)->data_offset(), bytes.data(), bytes.size()), 0);
}

INSTANTIATE_TEST_SUITE_P(Alignments, GgufAlignment, ::testing::Values(1u, 8u, 32u, 64u, 4096u));

TEST(GgufRoundTrip, CopiesARealModelThroughSetValueAndViews) {
  LM_REQUIRE_FIXTURE(path, "models/stories260K.gguf");
  auto src = File::open(path);
  ASSERT_TRUE(src.ok()) << src.error().message();
  Writer w((*src)->version());
  for (const auto& kv : (*src)->metadata()) w.set_value(kv.key, kv.value);
  for (const auto& t : (*src)->tensors()) {
    ASSERT_TRUE(w.add_tensor_view(t.name, t.type, t.dims, {t.data, t.n_bytes}).ok());
  }
  std::string out = lm::test::temp_path("copy.gguf");
  ASSERT_TRUE(w.write(out).ok());
  auto dst = File::open(out);
  ASSERT_TRUE(dst.ok()) << dst.error().message();
  ASSERT_EQ((*dst)->metadata().size(), (*src)->metadata().size());
  for (size_t i = 0; i < (*src)->metadata().size(); ++i) {
    const KeyValue& a = (*src)->metadata()[i];
    const KeyValue& b = (*dst)->metadata()[i];
    EXPECT_EQ(a.key, b.key);
    EXPECT_TRUE(values_equal(a.value, b.value)) << a.key;
  }
  ASSERT_EQ((*dst)->tensors().size(), (*src)->tensors().size());
  for (size_t i = 0; i < (*src)->tensors().size(); ++i) {
    const TensorInfo& a = (*src)->tensors()[i];
    const TensorInfo& b = (*dst)->tensors()[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.dims, b.dims);
    ASSERT_EQ(a.n_bytes, b.n_bytes);
    EXPECT_EQ(std::memcmp(a.data, b.data, a.n_bytes), 0) << a.name;
  }
  EXPECT_EQ(*(*dst)->get_uint("llama.block_count"), 5u);
}

TEST(GgufAccessors, TypedGettersCheckTypeAndRange) {
  Writer w;
  w.set_i32("neg", -3);
  w.set_u64("big", 1ull << 63);
  w.set_string("s", "x");
  w.set_f32("f", 2.5f);
  w.set_u8("small", 7);
  std::vector<uint8_t> bytes = w.to_bytes();
  auto f = parse_ok(bytes);
  ASSERT_NE(f, nullptr);
  auto msg = [](const auto& r) { return r.ok() ? std::string("ok") : r.error().message(); };
  EXPECT_EQ(msg(f->get_uint("neg")), "metadata 'neg' is negative (-3)");
  EXPECT_EQ(*f->get_int("neg"), -3);
  EXPECT_EQ(*f->get_float("neg"), -3.0);
  EXPECT_EQ(msg(f->get_int("big")), "metadata 'big' is 9223372036854775808, out of range for a signed integer");
  EXPECT_EQ(*f->get_uint("big"), 1ull << 63);
  EXPECT_EQ(msg(f->get_uint("s")), "metadata 's' has type string, expected an integer");
  EXPECT_EQ(msg(f->get_bool("f")), "metadata 'f' has type f32, expected bool");
  EXPECT_EQ(msg(f->get_string("nope")), "missing metadata key 'nope'");
  EXPECT_EQ(msg(f->get_array("s", ValueType::STRING)), "metadata 's' has type string, expected array");
  EXPECT_EQ(*f->get_float("small"), 7.0);
  EXPECT_EQ(*f->get_uint_or("nope", 11), 11u);
  EXPECT_FALSE(f->get_uint_or("s", 11).ok());  // present but wrong: still an error
  EXPECT_EQ(*f->get_float_or("nope", 0.5), 0.5);
  EXPECT_TRUE(*f->get_bool_or("nope", true));
  EXPECT_EQ(*f->get_string_or("nope", "d"), "d");
  EXPECT_EQ(*f->get_string_or("s", "d"), "x");
}

TEST(GgufPrintable, EscapesControlCharactersAndCuts) {
  EXPECT_EQ(printable("a\nb\"c\\"), "a\\x0ab\\\"c\\\\");
  EXPECT_EQ(printable("abcdef", 3), "abc...");
  EXPECT_EQ(printable("h\xc3\xa9"), "h\xc3\xa9");  // UTF-8 passes through
}

}  // namespace
}  // namespace lm::gguf
