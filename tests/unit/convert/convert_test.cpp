// The converter on small hand-built Hugging Face folders: metadata, names, the Q/K permutation,
// type conversion, and the errors (each leaves no output file).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "convert/convert.h"
#include "convert/hf_layout.h"
#include "gguf/gguf.h"
#include "tensor/fp16.h"
#include "test_util.h"

namespace lm::convert {
namespace {

namespace fs = std::filesystem;

// Element i of HF tensor `name`: a distinct, exactly representable value (also in F16/BF16).
float value_of(const std::string& name, int64_t i) {
  size_t h = std::hash<std::string>{}(name) % 7;
  return static_cast<float>(h) + static_cast<float>(i % 64) * 0.25f - 8.0f;
}

HfConfig tiny_config(const std::string& arch) {
  HfConfig c;
  c.arch = arch;
  c.n_embd = 8, c.n_ff = 16, c.n_layer = 2, c.n_head = 2, c.n_head_kv = 1, c.head_dim = 4;
  c.n_ctx = 64, c.n_vocab = 10, c.rms_eps = 1e-5, c.rope_theta = 10000.0;
  c.attention_bias = arch == "qwen2";
  return c;
}

// Writes config.json and model.safetensors for `c`, all tensors in `type`, except those the
// `skip` names (omitted) or `reshape` names (given a wrong shape).
void write_folder(const std::string& dir, const HfConfig& c, DType type, const std::string& skip = "",
                  const std::string& reshape = "") {
  fs::create_directories(dir);
  std::ofstream(dir + "/config.json") << hf_config_json(c);
  std::vector<StWriteTensor> ts;
  for (const ModelTensor& t : model_tensors(c.arch, c.n_embd, c.n_ff, c.n_layer, c.n_head, c.n_head_kv,
                                            c.head_dim, c.n_vocab, c.tied, c.attention_bias)) {
    std::string hf = *hf_name_from_gguf(t.name);
    if (hf == skip) continue;
    std::vector<int64_t> shape(t.dims.rbegin(), t.dims.rend());
    if (hf == reshape) shape[0] += 1;
    ts.push_back({hf, type, shape, [hf, type](std::span<uint8_t> out) {
                    const size_t es = type == DType::F32 ? 4 : 2;
                    for (size_t i = 0; i < out.size() / es; ++i) {
                      float f = value_of(hf, static_cast<int64_t>(i));
                      uint16_t h = type == DType::F16 ? fp32_to_fp16(f) : fp32_to_bf16(f);
                      std::memcpy(out.data() + i * es, type == DType::F32 ? static_cast<void*>(&f) : &h, es);
                    }
                    return Status(Ok{});
                  }});
  }
  ASSERT_TRUE(write_safetensors(dir + "/model.safetensors", ts).ok());
}

float gguf_value(const gguf::TensorInfo& t, int64_t i) {
  if (t.type == DType::F32) {
    float f;
    std::memcpy(&f, t.data + 4 * i, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, t.data + 2 * i, 2);
  return t.type == DType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
}

// The streaming writer the converter relies on: deferred tensors are filled at write time, and
// a failing filler leaves no file.
TEST(GgufWriterDeferred, FillsAtWriteTimeAndFailsCleanly) {
  const std::string path = test::temp_path("deferred.gguf");
  gguf::Writer w;
  w.set_string("general.architecture", "test");
  int calls = 0;
  ASSERT_TRUE(w.add_tensor_deferred("a", DType::F32, {3}, [&](std::span<uint8_t> out) {
                 ++calls;
                 const float v[3] = {1.5f, -2.0f, 4.0f};
                 std::memcpy(out.data(), v, sizeof v);
                 return Status(Ok{});
               }).ok());
  ASSERT_TRUE(w.add_tensor("b", DType::F32, {1}, std::vector<uint8_t>(4, 0)).ok());
  EXPECT_EQ(calls, 0);
  ASSERT_TRUE(w.write(path).ok());
  EXPECT_EQ(calls, 1);
  auto f = gguf::File::open(path);
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_EQ(gguf_value(*(*f)->find_tensor("a"), 2), 4.0f);
  EXPECT_EQ((*f)->find_tensor("b")->offset, 32u);  // aligned after the 12 bytes of a
  EXPECT_EQ(w.to_bytes().size(), (*f)->file_size());

  const std::string bad_path = test::temp_path("deferred_bad.gguf");
  ASSERT_TRUE(w.add_tensor_deferred("c", DType::F16, {2}, [](std::span<uint8_t> out) {
                 return out.size() == 4 ? Status(errorf("source unreadable")) : Status(Ok{});
               }).ok());
  Status st = w.write(bad_path);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("tensor c: source unreadable"), std::string::npos) << st.error().message();
  EXPECT_FALSE(fs::exists(bad_path));
  EXPECT_FALSE(w.add_tensor_deferred("a", DType::F32, {1}, [](std::span<uint8_t>) { return Status(Ok{}); }).ok());
}

TEST(Convert, LlamaFolderToGguf) {
  const std::string dir = test::temp_path("llama_hf"), out = dir + ".gguf";
  HfConfig c = tiny_config("llama");
  c.rope_scaling = RopeScaling::kLlama3;
  write_folder(dir, c, DType::BF16);
  std::vector<std::string> lines;
  ConvertOptions o{dir, out, DType::F16, [&](const std::string& l) { lines.push_back(l); }};
  Status st = convert_hf_model(o);
  ASSERT_TRUE(st.ok()) << st.error().message();
  auto f = gguf::File::open(out);
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_EQ((*f)->get_string("general.architecture").value(), "llama");
  EXPECT_EQ((*f)->get_uint("llama.attention.head_count_kv").value(), 1u);
  EXPECT_EQ((*f)->get_uint("llama.attention.key_length").value(), 4u);
  EXPECT_EQ((*f)->get_uint("general.file_type").value(), 1u);  // MOSTLY_F16
  // tokens of 1 layer: embd, norm, output, rope_freqs + 9 per layer.
  EXPECT_EQ((*f)->tensors().size(), 4u + 9u * 2u);
  const gguf::TensorInfo* rope = (*f)->find_tensor("rope_freqs.weight");
  ASSERT_NE(rope, nullptr);
  EXPECT_EQ(rope->dims, (std::vector<int64_t>{2}));
  const gguf::TensorInfo* norm = (*f)->find_tensor("blk.1.attn_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->type, DType::F32);  // vectors stay F32
  EXPECT_EQ(gguf_value(*norm, 3), value_of("model.layers.1.input_layernorm.weight", 3));

  // attn_q: [n_embd, q_dim] = 8 x 8, heads of 4: GGUF rows of head 0 read HF rows 0, 2, 1, 3.
  const gguf::TensorInfo* q = (*f)->find_tensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, DType::F16);
  EXPECT_EQ(q->dims, (std::vector<int64_t>{8, 8}));
  const int64_t expect_rows[] = {0, 2, 1, 3, 4, 6, 5, 7};
  for (int64_t r = 0; r < 8; ++r) {
    for (int64_t col = 0; col < 8; ++col) {
      ASSERT_EQ(gguf_value(*q, r * 8 + col),
                value_of("model.layers.0.self_attn.q_proj.weight", expect_rows[r] * 8 + col)) << r << "," << col;
    }
  }
  // attn_v is not permuted.
  const gguf::TensorInfo* v = (*f)->find_tensor("blk.0.attn_v.weight");
  for (int64_t i = 0; i < 32; ++i) {
    ASSERT_EQ(gguf_value(*v, i), value_of("model.layers.0.self_attn.v_proj.weight", i));
  }
  EXPECT_GE(lines.size(), 22u);  // a progress line per tensor, plus the tokenizer warning
}

TEST(Convert, Qwen2KeepsRowOrderAndSourceType) {
  const std::string dir = test::temp_path("qwen2_hf"), out = dir + ".gguf";
  HfConfig c = tiny_config("qwen2");
  c.tied = true;
  write_folder(dir, c, DType::F32);
  ASSERT_TRUE(convert_hf_model({dir, out, std::nullopt, {}}).ok());
  auto f = gguf::File::open(out);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->find_tensor("output.weight"), nullptr);  // tied
  const gguf::TensorInfo* q = (*f)->find_tensor("blk.1.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, DType::F32);
  for (int64_t i = 0; i < 64; ++i) {
    ASSERT_EQ(gguf_value(*q, i), value_of("model.layers.1.self_attn.q_proj.weight", i));
  }
  ASSERT_NE((*f)->find_tensor("blk.1.attn_k.bias"), nullptr);
}

TEST(Convert, LinearRopeScalingBecomesGgufKeys) {
  const std::string dir = test::temp_path("linear_hf"), out = dir + ".gguf";
  HfConfig c = tiny_config("qwen3");
  c.rope_scaling = RopeScaling::kLinear;
  c.linear_factor = 4.0;
  write_folder(dir, c, DType::F16);
  ASSERT_TRUE(convert_hf_model({dir, out, DType::F32, {}}).ok());
  auto f = gguf::File::open(out);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->get_string("qwen3.rope.scaling.type").value(), "linear");
  EXPECT_EQ((*f)->get_float("qwen3.rope.scaling.factor").value(), 4.0);
  EXPECT_EQ((*f)->find_tensor("rope_freqs.weight"), nullptr);
  const gguf::TensorInfo* k = (*f)->find_tensor("blk.0.attn_k.weight");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->type, DType::F32);  // --type F32 from an F16 checkpoint
  for (int64_t i = 0; i < 32; ++i) {
    ASSERT_EQ(gguf_value(*k, i), value_of("model.layers.0.self_attn.k_proj.weight", i));
  }
}

void expect_error(const ConvertOptions& o, const std::string& expect) {
  Status st = convert_hf_model(o);
  ASSERT_FALSE(st.ok()) << "expected: " << expect;
  EXPECT_NE(st.error().message().find(expect), std::string::npos) << st.error().message();
  EXPECT_FALSE(fs::exists(o.out)) << o.out;
}

TEST(Convert, Errors) {
  const std::string base = test::temp_path("errors");
  const HfConfig c = tiny_config("qwen3");
  {
    fs::create_directories(base + "/nocfg");
    expect_error({base + "/nocfg", base + "/nocfg.gguf", {}, {}}, "no config.json");
  }
  {
    write_folder(base + "/arch", c, DType::F32);
    std::ofstream(base + "/arch/config.json") << R"({"architectures": ["MambaForCausalLM"]})";
    expect_error({base + "/arch", base + "/arch.gguf", {}, {}}, "unknown architecture 'MambaForCausalLM'");
  }
  {
    write_folder(base + "/missing", c, DType::F32, "model.layers.1.mlp.up_proj.weight");
    expect_error({base + "/missing", base + "/missing.gguf", {}, {}},
                 "missing tensor model.layers.1.mlp.up_proj.weight (for blk.1.ffn_up.weight)");
  }
  {
    write_folder(base + "/shape", c, DType::F32, "", "model.layers.0.self_attn.k_norm.weight");
    expect_error({base + "/shape", base + "/shape.gguf", {}, {}},
                 "model.layers.0.self_attn.k_norm.weight in " + base + "/shape/model.safetensors: expected shape [4] "
                 "from config.json, found [5]");
  }
  {
    write_folder(base + "/corrupt", c, DType::F32);
    fs::resize_file(base + "/corrupt/model.safetensors", 100);
    expect_error({base + "/corrupt", base + "/corrupt.gguf", {}, {}}, "model.safetensors: header length");
  }
  {
    write_folder(base + "/badtype", c, DType::F32);
    expect_error({base + "/badtype", base + "/badtype.gguf", DType::Q8_0, {}}, "output type Q8_0");
  }
}

}  // namespace
}  // namespace lm::convert
