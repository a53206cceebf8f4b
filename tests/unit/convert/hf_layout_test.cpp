// Name map, Q/K permutation and config.json parsing of the Hugging Face layout.
#include <gtest/gtest.h>

#include <numeric>
#include <set>

#include "convert/hf_layout.h"

namespace lm::convert {
namespace {

TEST(HfNames, MapBothWays) {
  const std::pair<const char*, const char*> pairs[] = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
      {"model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight"},
      {"model.layers.12.self_attn.k_proj.bias", "blk.12.attn_k.bias"},
      {"model.layers.3.self_attn.v_proj.weight", "blk.3.attn_v.weight"},
      {"model.layers.3.self_attn.o_proj.weight", "blk.3.attn_output.weight"},
      {"model.layers.7.self_attn.q_norm.weight", "blk.7.attn_q_norm.weight"},
      {"model.layers.7.self_attn.k_norm.weight", "blk.7.attn_k_norm.weight"},
      {"model.layers.1.mlp.gate_proj.weight", "blk.1.ffn_gate.weight"},
      {"model.layers.1.mlp.up_proj.weight", "blk.1.ffn_up.weight"},
      {"model.layers.1.mlp.down_proj.weight", "blk.1.ffn_down.weight"},
      {"model.layers.2.input_layernorm.weight", "blk.2.attn_norm.weight"},
      {"model.layers.2.post_attention_layernorm.weight", "blk.2.ffn_norm.weight"},
  };
  for (auto [hf, gguf] : pairs) {
    EXPECT_EQ(gguf_name_from_hf(hf).value_or("?"), gguf) << hf;
    EXPECT_EQ(hf_name_from_gguf(gguf).value_or("?"), hf) << gguf;
  }
  for (const char* bad : {"model.layers.x.mlp.up_proj.weight", "model.layers.1.mlp.up_proj",
                          "model.layers.1.self_attn.rotary_emb.inv_freq", "model.layers..mlp.up_proj.weight",
                          "lm_head.scale", "blk.1.ffn_up.weight", ""}) {
    EXPECT_FALSE(gguf_name_from_hf(bad).has_value()) << bad;
  }
  EXPECT_FALSE(hf_name_from_gguf("rope_freqs.weight").has_value());
}

TEST(HfNames, EveryModelTensorHasAnHfName) {
  for (const char* arch : {"llama", "qwen2", "qwen3"}) {
    auto ts = model_tensors(arch, 64, 96, 2, 4, 2, 16, 300, false, std::string(arch) == "qwen2");
    std::set<std::string> hf;
    for (const auto& t : ts) {
      auto h = hf_name_from_gguf(t.name);
      ASSERT_TRUE(h.has_value()) << t.name;
      EXPECT_EQ(gguf_name_from_hf(*h).value_or("?"), t.name);
      hf.insert(*h);
    }
    EXPECT_EQ(hf.size(), ts.size());
    EXPECT_EQ(ts.size(), 3u + 2u * (std::string(arch) == "qwen2" ? 12u : std::string(arch) == "qwen3" ? 11u : 9u));
  }
}

TEST(QkPermutation, MatchesPublishedReshape) {
  // HF -> GGUF: w.reshape(n_head, 2, head_dim/2, n_in).swapaxes(1, 2).reshape(...): GGUF row
  // (h, i, t) comes from HF row (h, t, i). Checked here by building the index arrays that way.
  const int64_t n_head = 3, head_dim = 8, half = head_dim / 2;
  for (int64_t h = 0; h < n_head; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t t = 0; t < 2; ++t) {
        const int64_t gguf_row = (h * half + i) * 2 + t;
        const int64_t hf_row = (h * 2 + t) * half + i;
        EXPECT_EQ(gguf_row_source(gguf_row, head_dim), hf_row);
        EXPECT_EQ(hf_row_source(hf_row, head_dim), gguf_row);
      }
    }
  }
  // First head of 8: GGUF rows 0..7 read HF rows 0,4,1,5,2,6,3,7.
  std::vector<int64_t> first;
  for (int64_t r = 0; r < 8; ++r) first.push_back(gguf_row_source(r, 8));
  EXPECT_EQ(first, (std::vector<int64_t>{0, 4, 1, 5, 2, 6, 3, 7}));
}

TEST(QkPermutation, RoundTripIsIdentity) {
  for (int64_t head_dim : {2, 4, 64, 128}) {
    const int64_t n_rows = head_dim * 5;
    const size_t row_bytes = 3;
    std::vector<uint8_t> src(static_cast<size_t>(n_rows) * row_bytes);
    std::iota(src.begin(), src.end(), 0);
    std::vector<uint8_t> gguf(src.size()), back(src.size());
    permute_rows(src.data(), gguf.data(), n_rows, row_bytes, head_dim, true);
    if (head_dim > 2) {
      EXPECT_NE(gguf, src);
    }
    permute_rows(gguf.data(), back.data(), n_rows, row_bytes, head_dim, false);
    EXPECT_EQ(back, src) << head_dim;
    permute_rows(src.data(), gguf.data(), n_rows, row_bytes, head_dim, false);
    permute_rows(gguf.data(), back.data(), n_rows, row_bytes, head_dim, true);
    EXPECT_EQ(back, src) << head_dim;
  }
}

TEST(QkPermutation, OnlyLlamaQK) {
  EXPECT_TRUE(needs_qk_permutation("llama", "blk.0.attn_q.weight"));
  EXPECT_TRUE(needs_qk_permutation("llama", "blk.10.attn_k.weight"));
  EXPECT_TRUE(needs_qk_permutation("llama", "blk.1.attn_q.bias"));
  EXPECT_FALSE(needs_qk_permutation("llama", "blk.0.attn_v.weight"));
  EXPECT_FALSE(needs_qk_permutation("llama", "blk.0.attn_q_norm.weight"));
  EXPECT_FALSE(needs_qk_permutation("qwen2", "blk.0.attn_q.weight"));
  EXPECT_FALSE(needs_qk_permutation("qwen3", "blk.0.attn_k.weight"));
}

constexpr const char* kLlamaConfig = R"({
  "architectures": ["LlamaForCausalLM"], "hidden_size": 2048, "intermediate_size": 8192,
  "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64,
  "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "max_position_embeddings": 131072,
  "tie_word_embeddings": true, "vocab_size": 128256, "torch_dtype": "bfloat16",
  "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"}})";

TEST(HfConfig, ParsesLlama32) {
  auto c = parse_hf_config(kLlamaConfig, "config.json");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->arch, "llama");
  EXPECT_EQ(c->n_embd, 2048);
  EXPECT_EQ(c->n_ff, 8192);
  EXPECT_EQ(c->n_layer, 16);
  EXPECT_EQ(c->n_head, 32);
  EXPECT_EQ(c->n_head_kv, 8);
  EXPECT_EQ(c->head_dim, 64);
  EXPECT_EQ(c->n_ctx, 131072);
  EXPECT_EQ(c->n_vocab, 128256);
  EXPECT_DOUBLE_EQ(c->rms_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c->rope_theta, 500000.0);
  EXPECT_TRUE(c->tied);
  EXPECT_FALSE(c->attention_bias);
  EXPECT_EQ(c->rope_scaling, RopeScaling::kLlama3);
  EXPECT_EQ(c->llama3.original_ctx, 8192);
  EXPECT_EQ(c->torch_dtype, "bfloat16");
}

TEST(HfConfig, WriteThenParseRoundTrips) {
  auto c = parse_hf_config(kLlamaConfig, "config.json");
  ASSERT_TRUE(c.ok());
  auto back = parse_hf_config(hf_config_json(*c), "again");
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(hf_config_json(*back), hf_config_json(*c));
  EXPECT_EQ(back->rope_scaling, RopeScaling::kLlama3);

  HfConfig q;
  q.arch = "qwen2";
  q.n_embd = 64, q.n_ff = 96, q.n_layer = 2, q.n_head = 4, q.n_head_kv = 2, q.head_dim = 16;
  q.n_ctx = 128, q.n_vocab = 300, q.rope_scaling = RopeScaling::kLinear, q.linear_factor = 4.0;
  auto qb = parse_hf_config(hf_config_json(q), "q");
  ASSERT_TRUE(qb.ok()) << qb.error().message();
  EXPECT_EQ(qb->hf_arch, "Qwen2ForCausalLM");
  EXPECT_TRUE(qb->attention_bias);  // always for qwen2
  EXPECT_EQ(qb->rope_scaling, RopeScaling::kLinear);
  EXPECT_DOUBLE_EQ(qb->linear_factor, 4.0);
  EXPECT_EQ(qb->head_dim, 16);
}

TEST(HfConfig, Errors) {
  struct Case {
    const char* json;
    const char* expect;
  } cases[] = {
      {"[", "invalid config"},
      {"{}", "missing \"architectures\""},
      {R"({"architectures": ["GPT2LMHeadModel"]})", "unknown architecture 'GPT2LMHeadModel'"},
      {R"({"architectures": ["Qwen3ForCausalLM"], "hidden_size": 64})", "missing key \"intermediate_size\""},
      {R"({"architectures": ["Qwen3ForCausalLM"], "hidden_size": -64})", "\"hidden_size\" must be a positive integer"},
      {R"({"architectures": ["Qwen3ForCausalLM"], "hidden_size": 64, "intermediate_size": 96,
          "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 3, "vocab_size": 10})",
       "num_key_value_heads 3 does not divide num_attention_heads 4"},
      {R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 96,
          "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 10,
          "rope_scaling": {"rope_type": "yarn", "factor": 4}})",
       "unsupported rope_scaling type 'yarn'"},
      {R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 96,
          "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 10, "rms_norm_eps": "x"})",
       "\"rms_norm_eps\" must be a positive number"},
  };
  for (const auto& c : cases) {
    auto r = parse_hf_config(c.json, "cfg.json");
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_NE(r.error().message().find(c.expect), std::string::npos) << r.error().message();
    EXPECT_EQ(r.error().message().rfind("cfg.json", 0), 0u) << r.error().message();
  }
}

}  // namespace
}  // namespace lm::convert
