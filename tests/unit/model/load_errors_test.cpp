// Loading errors: every broken model is a Result error naming the tensor or key at fault.
#include <gtest/gtest.h>

#include "model/model.h"
#include "synthetic.h"

namespace lm::model {
namespace {

// Loads the model and returns its error message ("" when it loaded).
std::string load_error(const test::SynthSpec& s) {
  auto m = Model::load(test::write_synthetic(s));
  return m.ok() ? std::string() : m.error().message();
}

#define EXPECT_CONTAINS(hay, needle) \
  EXPECT_NE((hay).find(needle), std::string::npos) << "message: " << (hay)

TEST(LoadErrorsTest, ValidModelsLoad) {
  for (const char* arch : {"llama", "qwen2", "qwen3"}) {
    test::SynthSpec s;
    s.arch = arch;
    s.bias = s.arch == "qwen2";
    s.qk_norm = s.arch == "qwen3";
    auto m = Model::load(test::write_synthetic(s));
    ASSERT_TRUE(m.ok()) << m.error().message();
    const ModelConfig& c = (*m)->config();
    EXPECT_EQ(c.arch, arch);
    EXPECT_EQ(c.n_vocab, 50);
    EXPECT_EQ(c.head_dim, 16);
    EXPECT_EQ(c.q_dim(), 64);
    EXPECT_EQ(c.kv_dim(), 32);
    EXPECT_EQ(c.rope_neox, s.arch != "llama");
    EXPECT_EQ(c.qkv_bias, s.bias);
    EXPECT_EQ(c.qk_norm, s.qk_norm);
    EXPECT_FALSE(c.tied_output);
    EXPECT_FLOAT_EQ(c.rope_freq_base, 1e6f);
    EXPECT_EQ((*m)->weights().layers.size(), 2u);
  }
}

TEST(LoadErrorsTest, MissingTensor) {
  test::SynthSpec s;
  s.qk_norm = true;
  s.edit = [](const std::string& n, DType&, std::vector<int64_t>&) {
    return n != "blk.1.attn_k.weight";
  };
  std::string e = load_error(s);
  EXPECT_CONTAINS(e, "loading blk.1.attn_k.weight: tensor not found");
  EXPECT_CONTAINS(e, "qwen3.gguf");  // the file is named too
}

TEST(LoadErrorsTest, MissingFamilyTensors) {
  test::SynthSpec q2;
  q2.arch = "qwen2";  // requires biases, the spec writes none
  EXPECT_CONTAINS(load_error(q2), "loading blk.0.attn_q.bias: tensor not found");
  test::SynthSpec q3;  // requires QK norms
  EXPECT_CONTAINS(load_error(q3), "loading blk.0.attn_q_norm.weight: tensor not found");
  test::SynthSpec no_embd;
  no_embd.qk_norm = true;
  no_embd.edit = [](const std::string& n, DType&, std::vector<int64_t>&) {
    return n != "token_embd.weight";
  };
  EXPECT_CONTAINS(load_error(no_embd), "loading token_embd.weight: tensor not found");
}

TEST(LoadErrorsTest, WrongShape) {
  test::SynthSpec s;
  s.qk_norm = true;
  s.edit = [](const std::string& n, DType&, std::vector<int64_t>& d) {
    if (n == "blk.1.attn_q.weight") d = {32, 32};
    return true;
  };
  EXPECT_CONTAINS(load_error(s), "loading blk.1.attn_q.weight: expected [32, 64], found [32, 32]");
  s.edit = [](const std::string& n, DType&, std::vector<int64_t>& d) {
    if (n == "blk.0.attn_k_norm.weight") d = {8};
    return true;
  };
  EXPECT_CONTAINS(load_error(s), "loading blk.0.attn_k_norm.weight: expected [16], found [8]");
  s.edit = [](const std::string& n, DType&, std::vector<int64_t>& d) {
    if (n == "output.weight") d = {32, 49};
    return true;
  };
  EXPECT_CONTAINS(load_error(s), "loading output.weight: expected [32, 50], found [32, 49]");
}

TEST(LoadErrorsTest, WrongDtype) {
  test::SynthSpec s;
  s.qk_norm = true;
  s.edit = [](const std::string& n, DType& t, std::vector<int64_t>&) {
    if (n == "blk.0.ffn_down.weight") t = DType::I32;
    return true;
  };
  EXPECT_CONTAINS(load_error(s), "loading blk.0.ffn_down.weight: dtype I32 is not supported");
  s.edit = [](const std::string& n, DType& t, std::vector<int64_t>&) {
    if (n == "output_norm.weight") t = DType::I16;
    return true;
  };
  EXPECT_CONTAINS(load_error(s), "loading output_norm.weight: dtype I16 is not supported");
}

TEST(LoadErrorsTest, UnknownArchitecture) {
  test::SynthSpec s;
  s.arch = "mamba";
  EXPECT_CONTAINS(load_error(s), "unknown architecture 'mamba'");
}

TEST(LoadErrorsTest, BadMetadata) {
  test::SynthSpec s;
  s.qk_norm = true;
  s.edit_meta = [](gguf::Writer& w) { w.remove("qwen3.attention.head_count"); };
  EXPECT_CONTAINS(load_error(s), "qwen3.attention.head_count");
  s.edit_meta = [](gguf::Writer& w) { w.set_string("qwen3.rope.scaling.type", "yarn"); };
  EXPECT_CONTAINS(load_error(s), "unsupported RoPE scaling 'yarn'");
  s.edit_meta = [](gguf::Writer& w) { w.set_u32("qwen3.attention.head_count_kv", 3); };
  EXPECT_CONTAINS(load_error(s), "not a multiple of attention.head_count_kv 3");
  s.edit_meta = [](gguf::Writer& w) { w.set_u32("qwen3.rope.dimension_count", 18); };
  EXPECT_CONTAINS(load_error(s), "rope.dimension_count 18");
  s.edit_meta = [](gguf::Writer& w) { w.set_u32("qwen3.block_count", 0); };
  EXPECT_CONTAINS(load_error(s), "qwen3.block_count: expected a dimension");
  s.edit_meta = [](gguf::Writer& w) { w.set_string("qwen3.embedding_length", "big"); };
  EXPECT_CONTAINS(load_error(s), "qwen3.embedding_length");
  s.edit_meta = [](gguf::Writer& w) { w.set_u32("qwen3.block_count", 3); };
  EXPECT_CONTAINS(load_error(s), "loading blk.2.attn_norm.weight: tensor not found");
  s.edit_meta = [](gguf::Writer& w) {
    w.set_u32("qwen3.block_count", 1u << 30);
  };  // no huge allocation
  EXPECT_CONTAINS(load_error(s), "loading blk.2.attn_norm.weight: tensor not found");
  s.edit_meta = [](gguf::Writer& w) {
    w.set_u32("qwen3.attention.head_count", 1u << 20);
    w.set_u32("qwen3.attention.head_count_kv", 1u << 20);
    w.set_u32("qwen3.attention.key_length", 1u << 20);
    w.set_u32("qwen3.attention.value_length", 1u << 20);
  };
  EXPECT_CONTAINS(load_error(s), "is too large");
}

TEST(LoadErrorsTest, LinearRopeScalingIsRead) {
  test::SynthSpec s;
  s.qk_norm = true;
  s.linear_factor = 4;
  auto m = Model::load(test::write_synthetic(s));
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_FLOAT_EQ((*m)->config().rope_freq_scale, 0.25f);
}

TEST(LoadErrorsTest, MissingFile) {
  auto m = Model::load("/nonexistent/model.gguf");
  ASSERT_FALSE(m.ok());
  EXPECT_CONTAINS(m.error().message(), "/nonexistent/model.gguf");
}

}  // namespace
}  // namespace lm::model
