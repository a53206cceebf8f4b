// `localmax quantize` on a small random GGUF: every output tensor must be byte-identical to the
// reference quantizer applied to the source rows, with the documented type choices, fallbacks,
// metadata and alignment; errors must be reported with an exit code and no output file.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>

#include "cli/commands.h"
#include "cli/quantize_plan.h"
#include "gguf/gguf.h"
#include "kernels/ref/float_ref.h"
#include "kernels/ref/quant_ref.h"
#include "tensor/fp16.h"
#include "test_util.h"

namespace lm::cli {
namespace {

namespace r = lm::kernels::ref;

// The reference quantizer of each type, named directly (not through the dispatch table).
void (*ref_quantizer(DType t))(const float*, void*, int64_t) {
  switch (t) {
    case DType::F32: return r::from_float_f32;
    case DType::F16: return r::from_float_f16;
    case DType::BF16: return r::from_float_bf16;
    case DType::Q4_0: return r::quantize_row_q4_0;
    case DType::Q4_1: return r::quantize_row_q4_1;
    case DType::Q5_0: return r::quantize_row_q5_0;
    case DType::Q5_1: return r::quantize_row_q5_1;
    case DType::Q8_0: return r::quantize_row_q8_0;
    case DType::Q2_K: return r::quantize_row_q2_k;
    case DType::Q3_K: return r::quantize_row_q3_k;
    case DType::Q4_K: return r::quantize_row_q4_k;
    case DType::Q5_K: return r::quantize_row_q5_k;
    case DType::Q6_K: return r::quantize_row_q6_k;
    default: return nullptr;
  }
}

struct SrcTensor {
  std::string name;
  std::vector<int64_t> dims;
  DType type;                  // stored type in the source file (F32 or F16)
  std::vector<float> values;   // the exact values the file holds
};

// Source model: 3 layers; row lengths 256 (fits everything), 96 (fits 32-blocks only) and 40
// (fits no block: F16 fallback); one F16 input tensor; 1-D norms.
std::vector<SrcTensor> source_tensors() {
  std::vector<SrcTensor> ts = {
      {"token_embd.weight", {256, 6}, DType::F32, {}},
      {"output_norm.weight", {256}, DType::F32, {}},
      {"output.weight", {256, 6}, DType::F32, {}},
  };
  for (int il = 0; il < 3; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    ts.push_back({p + "attn_norm.weight", {256}, DType::F32, {}});
    ts.push_back({p + "attn_q.weight", {256, 4}, il == 1 ? DType::F16 : DType::F32, {}});
    ts.push_back({p + "attn_v.weight", {256, 2}, DType::F32, {}});
    ts.push_back({p + "ffn_up.weight", {96, 3}, DType::F32, {}});
    ts.push_back({p + "ffn_down.weight", {512, 2}, DType::F32, {}});
    ts.push_back({p + "ffn_odd.weight", {40, 2}, DType::F32, {}});
  }
  uint64_t seed = 1;
  for (auto& t : ts) {
    int64_t n = 1;
    for (int64_t d : t.dims) n *= d;
    t.values = test::random_floats(static_cast<size_t>(n), seed++, -0.5f, 0.5f);
    if (t.type == DType::F16) {
      for (auto& v : t.values) v = fp16_to_fp32(fp32_to_fp16(v));
    }
  }
  return ts;
}

std::string write_source(const std::vector<SrcTensor>& ts) {
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 3);
  w.set_array_string("tokenizer.ggml.tokens", {"a", "b", "c"});
  w.set_u32("general.file_type", 0);
  w.set_alignment(64);
  for (const auto& t : ts) {
    std::vector<uint8_t> bytes(row_bytes(t.type, static_cast<int64_t>(t.values.size())));
    ref_quantizer(t.type)(t.values.data(), bytes.data(), static_cast<int64_t>(t.values.size()));
    EXPECT_TRUE(w.add_tensor(t.name, t.type, t.dims, std::move(bytes)).ok());
  }
  std::string path = test::temp_path("src.gguf");
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

// Expected output bytes: the reference quantizer of `type` applied row by row.
std::vector<uint8_t> expected_bytes(const SrcTensor& t, DType type) {
  const int64_t row_len = t.dims[0];
  const int64_t n_rows = static_cast<int64_t>(t.values.size()) / row_len;
  const size_t rb = row_bytes(type, row_len);
  std::vector<uint8_t> out(rb * static_cast<size_t>(n_rows));
  for (int64_t i = 0; i < n_rows; ++i) {
    ref_quantizer(type)(t.values.data() + i * row_len, out.data() + static_cast<size_t>(i) * rb,
                        row_len);
  }
  return out;
}

// Expected type of each tensor for a pure target: fallbacks per the brief's order.
DType expected_pure_type(const SrcTensor& t, DType target) {
  if (t.dims.size() < 2) return t.type;
  const int64_t bs = dtype_info(target).block_size;
  if (t.dims[0] % bs == 0) return target;
  if (t.dims[0] % 32 == 0) return DType::Q8_0;
  return DType::F16;
}

void check_output(const std::string& out, const std::vector<SrcTensor>& src,
                  const std::map<std::string, DType>& expected, uint32_t file_type) {
  auto f = gguf::File::open(out);
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_EQ(*(*f)->get_string("general.architecture"), "llama");
  EXPECT_EQ(*(*f)->get_uint("llama.block_count"), 3u);
  EXPECT_EQ((*(*f)->get_array("tokenizer.ggml.tokens", gguf::ValueType::STRING))->size(), 3u);
  EXPECT_EQ(*(*f)->get_uint("general.file_type"), file_type);
  EXPECT_EQ((*f)->alignment(), 64u);
  ASSERT_EQ((*f)->tensors().size(), src.size());
  for (const auto& s : src) {
    SCOPED_TRACE(s.name);
    const gguf::TensorInfo* t = (*f)->find_tensor(s.name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dims, s.dims);
    const DType want = expected.at(s.name);
    ASSERT_EQ(t->type, want) << dtype_name(t->type) << " vs " << dtype_name(want);
    EXPECT_EQ(t->offset % 64, 0u);
    auto bytes = expected_bytes(s, want);
    ASSERT_EQ(t->n_bytes, bytes.size());
    EXPECT_EQ(0, std::memcmp(t->data, bytes.data(), bytes.size()));
  }
}

TEST(Quantize, PureTypesMatchReferenceQuantizerByteForByte) {
  const auto src = source_tensors();
  const std::string in = write_source(src);
  const std::pair<const char*, uint32_t> targets[] = {
      {"Q4_0", 2}, {"q4_1", 3}, {"Q5_0", 8}, {"Q5_1", 9}, {"Q8_0", 7}, {"Q2_K", 10},
      {"Q3_K", 11}, {"Q4_K", 14}, {"Q5_K", 16}, {"Q6_K", 18}, {"F16", 1}, {"BF16", 32}};
  for (const auto& [name, ftype] : targets) {
    SCOPED_TRACE(name);
    const DType target = parse_quant_mix(name)->base;
    const std::string out = test::temp_path(std::string(name) + ".gguf");
    ASSERT_EQ(cmd_quantize({in, out, name, "--threads", "3"}), 0);
    std::map<std::string, DType> expected;
    for (const auto& s : src) expected[s.name] = expected_pure_type(s, target);
    check_output(out, src, expected, ftype);
  }
}

TEST(Quantize, Q4_K_MGivesMoreBitsToOutputAttnVAndFfnDown) {
  const auto src = source_tensors();
  const std::string in = write_source(src);
  const std::string out = test::temp_path("q4km.gguf");
  ASSERT_EQ(cmd_quantize({in, out, "Q4_K_M"}), 0);
  std::map<std::string, DType> expected;
  for (const auto& s : src) expected[s.name] = expected_pure_type(s, DType::Q4_K);
  // n_layer = 3: n/8 = 0 and 7n/8 = 2, so use_more_bits holds for layer 2 only (il >= 2);
  // layer 1 would need (1 - 0) % 3 == 2.
  expected["output.weight"] = DType::Q6_K;
  expected["blk.2.attn_v.weight"] = DType::Q6_K;
  expected["blk.2.ffn_down.weight"] = DType::Q6_K;
  check_output(out, src, expected, 15);
}

TEST(Quantize, ReportsErrorsWithoutWritingOutput) {
  const auto src = source_tensors();
  const std::string in = write_source(src);
  const std::string out = test::temp_path("never.gguf");
  EXPECT_EQ(cmd_quantize({in + ".missing", out, "Q4_0"}), 1);
  EXPECT_EQ(cmd_quantize({in, out, "Q7_X"}), 2);
  EXPECT_EQ(cmd_quantize({in, out}), 2);
  EXPECT_EQ(cmd_quantize({in, out, "Q4_0", "--threads", "zero"}), 2);
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_EQ(cmd_quantize({in, "/nonexistent-dir/x.gguf", "Q4_0"}), 1);
  EXPECT_EQ(cmd_quantize({"--help"}), 0);

  // A weight in a type localmax cannot dequantize (IQ4_NL) is an error, not a crash.
  gguf::Writer w;
  ASSERT_TRUE(w.add_tensor("blk.0.attn_q.weight", DType::IQ4_NL, {64, 2},
                           std::vector<uint8_t>(4 * 18, 0)).ok());
  const std::string iq = test::temp_path("iq.gguf");
  ASSERT_TRUE(w.write(iq).ok());
  EXPECT_EQ(cmd_quantize({iq, out, "Q8_0"}), 1);
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(QuantizePlan, MixesLayersAndFallbacks) {
  EXPECT_EQ(layer_index("blk.17.attn_v.weight"), 17);
  EXPECT_EQ(layer_index("blk.x.attn_v.weight"), -1);
  EXPECT_EQ(layer_index("token_embd.weight"), -1);
  EXPECT_TRUE(is_quantizable("blk.0.attn_q.weight", std::vector<int64_t>{64, 64}));
  EXPECT_FALSE(is_quantizable("blk.0.attn_norm.weight", std::vector<int64_t>{64}));
  EXPECT_FALSE(is_quantizable("blk.0.attn_q.bias", std::vector<int64_t>{64, 64}));
  EXPECT_EQ(fit_block(DType::Q4_K, 512), DType::Q4_K);
  EXPECT_EQ(fit_block(DType::Q4_K, 96), DType::Q8_0);
  EXPECT_EQ(fit_block(DType::Q4_0, 40), DType::F16);
  // 32 layers: Q6_K for layers 0-3 and 28-31, and 4 + 3k + 2 in between (6, 9, ..., 27).
  const QuantMix mix = *parse_quant_mix("q4_k_m");
  const ModelShape shape{32, true};
  std::vector<int> more;
  for (int il = 0; il < 32; ++il) {
    if (choose_type(mix, "blk." + std::to_string(il) + ".ffn_down.weight", shape) == DType::Q6_K) {
      more.push_back(il);
    }
    EXPECT_EQ(choose_type(mix, "blk." + std::to_string(il) + ".attn_q.weight", shape), DType::Q4_K);
  }
  EXPECT_EQ(more, (std::vector<int>{0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31}));
  EXPECT_EQ(choose_type(mix, "token_embd.weight", shape), DType::Q4_K);
  EXPECT_EQ(choose_type(mix, "token_embd.weight", ModelShape{32, false}), DType::Q6_K);
  EXPECT_EQ(choose_type(mix, "output.weight", shape), DType::Q6_K);
}

}  // namespace
}  // namespace lm::cli
