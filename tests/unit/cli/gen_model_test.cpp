#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <set>

#include "cli/gen_model.h"
#include "convert/safetensors.h"
#include "tensor/fp16.h"
#include "test_util.h"

namespace lm::cli {
namespace {

GenModelSpec tiny_spec(const std::string& arch, DType type = DType::F32) {
  auto s = gen_model_preset("micro", arch);
  EXPECT_TRUE(s.ok());
  GenModelSpec spec = *s;
  spec.type = type;
  spec.seed = 42;
  EXPECT_TRUE(validate_spec(spec).ok());
  return spec;
}

// Builds a model in memory and parses it back.
struct Built {
  std::vector<uint8_t> bytes;
  std::unique_ptr<gguf::File> file;
};
Built build(const GenModelSpec& spec, int threads) {
  gguf::Writer w;
  auto n = add_synthetic_vocab(w, spec.n_vocab);
  EXPECT_TRUE(n.ok());
  ThreadPool pool(threads);
  EXPECT_TRUE(add_model(w, spec, pool).ok());
  Built b;
  b.bytes = w.to_bytes();
  auto f = gguf::File::parse(b.bytes, "mem");
  EXPECT_TRUE(f.ok()) << f.error().message();
  b.file = std::move(*f);
  return b;
}

std::vector<float> floats_of(const gguf::TensorInfo& t) {
  std::vector<float> v(static_cast<size_t>(t.n_elements()));
  for (size_t i = 0; i < v.size(); ++i) {
    if (t.type == DType::F32) std::memcpy(&v[i], t.data + 4 * i, 4);
    else {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      v[i] = t.type == DType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
    }
  }
  return v;
}

TEST(GenModel, OutputDoesNotDependOnThreadCount) {
  GenModelSpec spec = tiny_spec("qwen2", DType::F16);
  EXPECT_EQ(build(spec, 1).bytes, build(spec, 2).bytes);
  EXPECT_EQ(build(spec, 2).bytes, build(spec, 3).bytes);
}

TEST(GenModel, SeedChangesWeights) {
  GenModelSpec a = tiny_spec("llama"), b = tiny_spec("llama");
  b.seed = 43;
  auto fa = build(a, 2), fb = build(b, 2);
  auto wa = floats_of(*fa.file->find_tensor("blk.0.attn_q.weight"));
  auto wb = floats_of(*fb.file->find_tensor("blk.0.attn_q.weight"));
  EXPECT_NE(wa, wb);
}

TEST(GenModel, RngIsStandardNormalLike) {
  const int n = 200000;
  double sum = 0, sum2 = 0, max_abs = 0;
  for (int i = 0; i < n; ++i) {
    double x = gen_normal(7, gen_stream_id("t"), static_cast<uint64_t>(i));
    sum += x, sum2 += x * x, max_abs = std::max(max_abs, std::abs(x));
  }
  double mean = sum / n, var = sum2 / n - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(var, 1.0, 0.02);
  EXPECT_LE(max_abs, 3.5);
  EXPECT_GT(max_abs, 2.5);
  EXPECT_NE(gen_normal(7, gen_stream_id("a"), 0), gen_normal(7, gen_stream_id("b"), 0));
  EXPECT_EQ(gen_normal(7, 1, 123), gen_normal(7, 1, 123));
}

TEST(GenModel, ArchitectureSpecificTensors) {
  auto llama = build(tiny_spec("llama"), 2);
  auto qwen2 = build(tiny_spec("qwen2"), 2);
  auto qwen3 = build(tiny_spec("qwen3"), 2);
  EXPECT_NE(llama.file->find_tensor("output.weight"), nullptr);   // micro is untied
  EXPECT_EQ(llama.file->find_tensor("blk.0.attn_q.bias"), nullptr);
  ASSERT_NE(qwen2.file->find_tensor("blk.1.attn_k.bias"), nullptr);
  EXPECT_EQ(qwen2.file->find_tensor("blk.1.attn_k.bias")->dims, (std::vector<int64_t>{32}));
  EXPECT_EQ(qwen2.file->find_tensor("blk.0.attn_q_norm.weight"), nullptr);
  ASSERT_NE(qwen3.file->find_tensor("blk.1.attn_q_norm.weight"), nullptr);
  EXPECT_EQ(qwen3.file->find_tensor("blk.1.attn_k_norm.weight")->dims, (std::vector<int64_t>{16}));
  EXPECT_EQ(*qwen3.file->get_string("general.architecture"), "qwen3");
  EXPECT_EQ(*qwen3.file->get_uint("qwen3.attention.head_count_kv"), 2u);
  EXPECT_EQ(*qwen3.file->get_uint("qwen3.block_count"), 2u);

  GenModelSpec tied = tiny_spec("llama");
  tied.tied = true;
  EXPECT_EQ(build(tied, 2).file->find_tensor("output.weight"), nullptr);
}

TEST(GenModel, ShapesAndScales) {
  GenModelSpec spec = tiny_spec("qwen3");
  spec.head_dim = 32;  // q dim 128 != n_embd 64
  spec.n_vocab = 600;
  auto b = build(spec, 2);
  const gguf::File& f = *b.file;
  EXPECT_EQ(f.find_tensor("blk.0.attn_q.weight")->dims, (std::vector<int64_t>{64, 128}));
  EXPECT_EQ(f.find_tensor("blk.0.attn_k.weight")->dims, (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(f.find_tensor("blk.0.attn_output.weight")->dims, (std::vector<int64_t>{128, 64}));
  EXPECT_EQ(f.find_tensor("token_embd.weight")->dims, (std::vector<int64_t>{64, 600}));
  EXPECT_EQ(*f.get_uint("qwen3.attention.key_length"), 32u);
  // Matrices ~ N(0, 1/n_in); norms near 1.
  auto rms = [](const std::vector<float>& v, double mean) {
    double s = 0;
    for (float x : v) s += (x - mean) * (x - mean);
    return std::sqrt(s / static_cast<double>(v.size()));
  };
  EXPECT_NEAR(rms(floats_of(*f.find_tensor("blk.0.ffn_down.weight")), 0), 1.0 / std::sqrt(96.0), 0.01);
  EXPECT_NEAR(rms(floats_of(*f.find_tensor("blk.0.attn_output.weight")), 0), 1.0 / std::sqrt(128.0), 0.01);
  auto norm = floats_of(*f.find_tensor("output_norm.weight"));
  for (float x : norm) EXPECT_NEAR(x, 1.0f, 0.4f);
}

TEST(GenModel, Llama3RopeFactors) {
  // Llama 3.2 1B: head_dim 64, theta 500000, factor 32, low 1, high 4, original ctx 8192.
  auto f = llama3_rope_factors(64, 500000.0, Llama3RopeScaling{});
  ASSERT_EQ(f.size(), 32u);
  EXPECT_EQ(f.front(), 1.0f);    // highest frequency: wavelength 2*pi, kept
  EXPECT_EQ(f.back(), 32.0f);    // lowest: wavelength far beyond 8192, divided by 32
  for (size_t i = 1; i < f.size(); ++i) EXPECT_GE(f[i], f[i - 1]);
  // A pair in the smooth band: wavelength between 2048 and 8192.
  int smooth_seen = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    double freq = std::pow(500000.0, -2.0 * static_cast<double>(i) / 64.0);
    double wavelen = 2 * std::numbers::pi / freq;
    if (wavelen > 2048 && wavelen < 8192) {
      double smooth = (8192 / wavelen - 1.0) / 3.0;
      EXPECT_NEAR(f[i], 1.0 / ((1 - smooth) / 32 + smooth), 1e-4);
      ++smooth_seen;
    }
  }
  EXPECT_GT(smooth_seen, 0);

  GenModelSpec spec = tiny_spec("llama");
  spec.llama3_rope = true;
  auto b = build(spec, 1);
  ASSERT_NE(b.file->find_tensor("rope_freqs.weight"), nullptr);
  EXPECT_EQ(b.file->find_tensor("rope_freqs.weight")->dims, (std::vector<int64_t>{8}));
}

TEST(GenModel, PresetsHaveRealShapes) {
  auto l = gen_model_preset("llama3.2-1b", "");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->n_embd, 2048);
  EXPECT_EQ(l->n_head_kv, 8);
  EXPECT_EQ(l->n_vocab, 128256);
  EXPECT_TRUE(l->tied && l->llama3_rope);
  auto q3 = gen_model_preset("qwen3-0.6b", "qwen3");
  ASSERT_TRUE(q3.ok());
  EXPECT_EQ(q3->head_dim, 128);
  EXPECT_EQ(q3->n_layer, 28);
  EXPECT_FALSE(gen_model_preset("qwen2.5-0.5b", "llama").ok());  // arch mismatch
  EXPECT_FALSE(gen_model_preset("nope", "").ok());
  for (const auto& name : gen_model_preset_names()) {
    auto s = gen_model_preset(name, "");
    ASSERT_TRUE(s.ok()) << name;
    s->type = DType::BF16;
    EXPECT_TRUE(validate_spec(*s).ok()) << name;
  }
}

TEST(GenModel, ValidationErrors) {
  GenModelSpec s = tiny_spec("llama");
  s.head_dim = 0;
  s.n_embd = 100;
  s.n_head = 3;
  auto st = validate_spec(s);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("does not divide n_embd"), std::string::npos);
  s = tiny_spec("llama");
  s.n_head_kv = 3;
  EXPECT_FALSE(validate_spec(s).ok());
  s = tiny_spec("llama");
  s.arch = "gpt9";
  EXPECT_FALSE(validate_spec(s).ok());
  s = tiny_spec("qwen2");
  s.llama3_rope = true;
  EXPECT_FALSE(validate_spec(s).ok());
}

TEST(GenModel, SyntheticVocab) {
  gguf::Writer w;
  ASSERT_TRUE(add_synthetic_vocab(w, 1000).ok());
  auto bytes = w.to_bytes();
  auto f = gguf::File::parse(bytes, "mem");
  ASSERT_TRUE(f.ok());
  auto toks = (*f)->get_array("tokenizer.ggml.tokens", gguf::ValueType::STRING);
  ASSERT_TRUE(toks.ok());
  ASSERT_EQ((*toks)->size(), 1000u);
  std::set<std::string> unique;
  for (uint64_t i = 0; i < 1000; ++i) unique.insert(std::string((*toks)->string_at(i)));
  EXPECT_EQ(unique.size(), 1000u);
  EXPECT_EQ((*toks)->string_at(3), "<0x00>");
  EXPECT_EQ((*toks)->string_at(258), "<0xFF>");
  EXPECT_EQ((*toks)->string_at(259), "\xe2\x96\x81" "e");
  auto types = (*f)->get_array("tokenizer.ggml.token_type", gguf::ValueType::INT32);
  ASSERT_TRUE(types.ok());
  EXPECT_EQ((*types)->int_at(0), 2);
  EXPECT_EQ((*types)->int_at(1), 3);
  EXPECT_EQ((*types)->int_at(100), 6);
  EXPECT_EQ((*types)->int_at(500), 1);
  EXPECT_EQ(*(*f)->get_string("tokenizer.ggml.model"), "llama");
  EXPECT_FALSE(add_synthetic_vocab(w, 100).ok());
}

TEST(GenModel, CopiesVocabFromGguf) {
  LM_REQUIRE_FIXTURE(path, "tokenizer/ggml-vocab-llama-spm.gguf");
  gguf::Writer w;
  auto n = copy_vocab_from_gguf(w, path);
  ASSERT_TRUE(n.ok()) << n.error().message();
  EXPECT_EQ(*n, 32000);
  auto bytes = w.to_bytes();
  auto f = gguf::File::parse(bytes, "mem");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*(*f)->get_string("tokenizer.ggml.model"), "llama");
  EXPECT_TRUE((*f)->get_array("tokenizer.ggml.scores", gguf::ValueType::FLOAT32).ok());
  EXPECT_FALSE(copy_vocab_from_gguf(w, "/nonexistent/vocab.gguf").ok());
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

TEST(GenModel, ImportsBpeTokenizerJson) {
  std::string dir = test::temp_path("hf_bpe");
  std::filesystem::create_directories(dir);
  write_file(dir + "/tokenizer.json", R"({
    "added_tokens": [{"id": 5, "content": "<|endoftext|>", "special": true},
                     {"id": 6, "content": "<|im_end|>", "special": true},
                     {"id": 7, "content": "<think>", "special": false}],
    "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\p{N}"}},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4},
              "merges": ["a b", ["Ġ", "ab"]]}})");
  write_file(dir + "/tokenizer_config.json",
             R"({"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "bos_token": null,
                 "add_bos_token": false, "chat_template": "{{ messages }}"})");
  gguf::Writer w;
  auto n = import_tokenizer_json(w, dir + "/tokenizer.json", "qwen2", 10);
  ASSERT_TRUE(n.ok()) << n.error().message();
  EXPECT_EQ(*n, 10);  // 8 tokens padded to 10
  auto bytes = w.to_bytes();
  auto f = std::move(*gguf::File::parse(bytes, "mem"));
  EXPECT_EQ(*f->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(*f->get_string("tokenizer.ggml.pre"), "qwen2");
  auto toks = *f->get_array("tokenizer.ggml.tokens", gguf::ValueType::STRING);
  EXPECT_EQ(toks->string_at(4), "Ġab");
  EXPECT_EQ(toks->string_at(6), "<|im_end|>");
  EXPECT_EQ(toks->string_at(9), "[PAD9]");
  auto merges = *f->get_array("tokenizer.ggml.merges", gguf::ValueType::STRING);
  ASSERT_EQ(merges->size(), 2u);
  EXPECT_EQ(merges->string_at(1), "Ġ ab");
  auto types = *f->get_array("tokenizer.ggml.token_type", gguf::ValueType::INT32);
  EXPECT_EQ(types->int_at(0), 1);
  EXPECT_EQ(types->int_at(5), 3);
  EXPECT_EQ(types->int_at(7), 4);
  EXPECT_EQ(types->int_at(8), 5);
  EXPECT_EQ(*f->get_uint("tokenizer.ggml.eos_token_id"), 6u);
  EXPECT_EQ(*f->get_uint("tokenizer.ggml.padding_token_id"), 5u);
  EXPECT_EQ(*f->get_uint("tokenizer.ggml.bos_token_id"), 5u);  // falls back to <|endoftext|>
  EXPECT_FALSE(*f->get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_EQ(*f->get_string("tokenizer.chat_template"), "{{ messages }}");
  EXPECT_EQ(f->find("tokenizer.ggml.scores"), nullptr);
}

TEST(GenModel, ImportsByteFallbackTokenizerAsLlama) {
  std::string dir = test::temp_path("hf_spm");
  std::filesystem::create_directories(dir);
  write_file(dir + "/tokenizer.json", R"({
    "added_tokens": [{"id": 0, "content": "<unk>", "special": true},
                     {"id": 1, "content": "<s>", "special": true},
                     {"id": 2, "content": "</s>", "special": true}],
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}]},
    "model": {"type": "BPE", "byte_fallback": true, "unk_token": "<unk>",
              "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x00>": 3, "<0x01>": 4, "▁a": 5},
              "merges": []}})");
  gguf::Writer w;
  auto n = import_tokenizer_json(w, dir + "/tokenizer.json", "llama", 0);
  ASSERT_TRUE(n.ok()) << n.error().message();
  EXPECT_EQ(*n, 6);
  auto bytes = w.to_bytes();
  auto f = std::move(*gguf::File::parse(bytes, "mem"));
  EXPECT_EQ(*f->get_string("tokenizer.ggml.model"), "llama");
  auto types = *f->get_array("tokenizer.ggml.token_type", gguf::ValueType::INT32);
  EXPECT_EQ(types->int_at(0), 2);
  EXPECT_EQ(types->int_at(1), 3);
  EXPECT_EQ(types->int_at(4), 6);
  EXPECT_EQ(types->int_at(5), 1);
  auto scores = *f->get_array("tokenizer.ggml.scores", gguf::ValueType::FLOAT32);
  EXPECT_EQ(scores->size(), 6u);
  EXPECT_EQ(*f->get_uint("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(*f->get_uint("tokenizer.ggml.eos_token_id"), 2u);
  EXPECT_EQ(*f->get_uint("tokenizer.ggml.unknown_token_id"), 0u);
  EXPECT_TRUE(*f->get_bool("tokenizer.ggml.add_bos_token"));

  write_file(dir + "/bad.json", "{ not json");
  auto bad = import_tokenizer_json(w, dir + "/bad.json", "llama", 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("invalid JSON"), std::string::npos);
  EXPECT_FALSE(import_tokenizer_json(w, dir + "/missing.json", "llama", 0).ok());
  write_file(dir + "/odd.json", R"({"model": {"type": "WordPiece", "vocab": {}}})");
  EXPECT_FALSE(import_tokenizer_json(w, dir + "/odd.json", "llama", 0).ok());
}

// --format safetensors: HF names and shapes, llama q/k rows in the HF order (the inverse of the
// GGUF permutation), vectors in F32, and every value equal to the GGUF path's.
TEST(GenModel, SafetensorsHoldTheSameWeightsInHfLayout) {
  GenModelSpec spec = tiny_spec("llama", DType::F16);
  Built b = build(spec, 2);
  const std::string dir = test::temp_path("hf_llama");
  ThreadPool pool(2);
  ASSERT_TRUE(write_hf_model(dir, spec, 2, pool).ok());
  EXPECT_TRUE(std::filesystem::exists(dir + "/model-00002-of-00002.safetensors"));
  auto m = convert::SafetensorsModel::open_dir(dir);
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->n_files(), 2u);
  EXPECT_EQ(m->tensors().size(), b.file->tensors().size());
  const gguf::TensorInfo* q = b.file->find_tensor("blk.1.attn_q.weight");
  const convert::StTensor* hq = m->find("model.layers.1.self_attn.q_proj.weight");
  ASSERT_TRUE(q && hq);
  EXPECT_EQ(hq->type, DType::F16);
  EXPECT_EQ(hq->shape, (std::vector<int64_t>{q->dims[1], q->dims[0]}));
  const int64_t n_in = q->dims[0], hd = spec.head_dim;
  for (int64_t r = 0; r < q->dims[1]; ++r) {
    // HF row r of head h: element (t, i) of the half-split layout <- GGUF row h*hd + 2i + t.
    const int64_t h = r / hd, t = (r % hd) / (hd / 2), i = r % (hd / 2);
    ASSERT_EQ(std::memcmp(hq->data.data() + r * n_in * 2, q->data + (h * hd + 2 * i + t) * n_in * 2, n_in * 2), 0) << r;
  }
  const gguf::TensorInfo* v = b.file->find_tensor("blk.0.attn_v.weight");
  const convert::StTensor* hv = m->find("model.layers.0.self_attn.v_proj.weight");
  ASSERT_TRUE(v && hv);
  EXPECT_EQ(std::memcmp(hv->data.data(), v->data, v->n_bytes), 0);
  const convert::StTensor* norm = m->find("model.layers.0.input_layernorm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->type, DType::F32);
  EXPECT_EQ(std::memcmp(norm->data.data(), b.file->find_tensor("blk.0.attn_norm.weight")->data, norm->data.size()), 0);
  EXPECT_FALSE(write_hf_model(dir, spec, 1000, pool).ok());  // more shards than tensors
}

}  // namespace
}  // namespace lm::cli
