#include <gtest/gtest.h>

#include <cstring>

#include "gguf/gguf.h"
#include "test_util.h"

namespace lm::gguf {
namespace {

TEST(GgufBasic, ValueTypeSizes) {
  EXPECT_EQ(value_type_size(ValueType::UINT8), 1u);
  EXPECT_EQ(value_type_size(ValueType::BOOL), 1u);
  EXPECT_EQ(value_type_size(ValueType::INT16), 2u);
  EXPECT_EQ(value_type_size(ValueType::FLOAT32), 4u);
  EXPECT_EQ(value_type_size(ValueType::UINT64), 8u);
  EXPECT_EQ(value_type_size(ValueType::FLOAT64), 8u);
  EXPECT_EQ(value_type_size(ValueType::STRING), 0u);
  EXPECT_EQ(value_type_size(ValueType::ARRAY), 0u);
  EXPECT_EQ(value_type_size(static_cast<ValueType>(13)), 0u);
}

TEST(GgufBasic, RoundTripsMetadataAndTensors) {
  Writer w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 5);
  w.set_f32("llama.rope.freq_base", 10000.0f);
  w.set_array_string("tokenizer.ggml.tokens", {"<unk>", "a", "bc"});
  std::vector<float> data = {1, 2, 3, 4, 5, 6};
  std::vector<uint8_t> bytes(reinterpret_cast<uint8_t*>(data.data()),
                             reinterpret_cast<uint8_t*>(data.data() + data.size()));
  ASSERT_TRUE(w.add_tensor("t", DType::F32, {3, 2}, bytes).ok());
  std::vector<uint8_t> file = w.to_bytes();
  auto r = File::parse(file, "mem");
  ASSERT_TRUE(r.ok()) << r.error().message();
  const File& f = **r;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(*f.get_string("general.architecture"), "llama");
  EXPECT_EQ(*f.get_uint("llama.block_count"), 5u);
  EXPECT_FLOAT_EQ(*f.get_float("llama.rope.freq_base"), 10000.0f);
  auto toks = f.get_array("tokenizer.ggml.tokens", ValueType::STRING);
  ASSERT_TRUE(toks.ok());
  EXPECT_EQ((*toks)->size(), 3u);
  EXPECT_EQ((*toks)->string_at(2), "bc");
  const TensorInfo* t = f.find_tensor("t");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->n_bytes, 24u);
  EXPECT_EQ(std::memcmp(t->data, data.data(), 24), 0);
}

TEST(GgufBasic, RejectsBadMagic) {
  std::vector<uint8_t> bytes = {'G', 'G', 'U', 'X', 3, 0, 0, 0};
  auto r = File::parse(bytes, "bad");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("not a GGUF file"), std::string::npos);
}

}  // namespace
}  // namespace lm::gguf
