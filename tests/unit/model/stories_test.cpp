// End-to-end checks on the real stories260K model (llama architecture, GQA, tied output):
// exact greedy text from the fixtures README, batching equivalences and KV cache reuse.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "model/model.h"
#include "test_util.h"

namespace lm::model {
namespace {

constexpr const char* kStories = "models/stories260K.gguf";

// Minimal SentencePiece piece decoding (the tokenizer module lives elsewhere): "▁" is a space,
// "<0xXX>" is a raw byte.
std::string decode(const gguf::File& f, const std::vector<int32_t>& ids) {
  const gguf::Value* tokens = f.find("tokenizer.ggml.tokens");
  std::string out;
  for (int32_t id : ids) {
    std::string piece(tokens->string_at(static_cast<uint64_t>(id)));
    if (piece.size() == 6 && piece.rfind("<0x", 0) == 0 && piece.back() == '>') {
      out.push_back(static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
      continue;
    }
    for (size_t i = 0; i < piece.size(); ++i) {
      if (piece.compare(i, 3, "\xE2\x96\x81") == 0) {  // U+2581
        out.push_back(' ');
        i += 2;
      } else {
        out.push_back(piece[i]);
      }
    }
  }
  return out;
}

int32_t argmax(const float* row, int32_t n) {
  return static_cast<int32_t>(std::max_element(row, row + n) - row);
}

class StoriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LM_REQUIRE_FIXTURE(path, kStories);
    auto m = Model::load(path);
    ASSERT_TRUE(m.ok()) << m.error().message();
    model_ = std::move(*m);
  }

  // Runs `batch` and returns the logits rows.
  std::vector<float> run(Forward& fwd, KvCache& cache, const std::vector<BatchToken>& batch) {
    std::vector<float> logits;
    Status st = fwd.run(cache, batch, &logits);
    EXPECT_TRUE(st.ok()) << st.error().message();
    return logits;
  }

  // Logits of every token of `tokens` (one sequence at positions 0..), one token per call.
  std::vector<float> one_by_one(Forward& fwd, KvCache& cache, int32_t seq,
                                const std::vector<int32_t>& tokens, int32_t pos0 = 0) {
    std::vector<float> all;
    for (size_t i = 0; i < tokens.size(); ++i) {
      auto l = run(fwd, cache, {{tokens[i], pos0 + static_cast<int32_t>(i), seq, true}});
      all.insert(all.end(), l.begin(), l.end());
    }
    return all;
  }

  int32_t n_vocab() const { return model_->config().n_vocab; }
  std::unique_ptr<Model> model_;
};

void expect_near_all(const std::vector<float>& a, const std::vector<float>& b, float tol) {
  ASSERT_EQ(a.size(), b.size());
  float worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  EXPECT_LE(worst, tol);
}

TEST_F(StoriesTest, ConfigMatchesReadme) {
  const ModelConfig& c = model_->config();
  EXPECT_EQ(c.arch, "llama");
  EXPECT_EQ(c.n_embd, 64);
  EXPECT_EQ(c.n_ff, 172);
  EXPECT_EQ(c.n_layer, 5);
  EXPECT_EQ(c.n_head, 8);
  EXPECT_EQ(c.n_head_kv, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.n_rot, 8);
  EXPECT_EQ(c.n_vocab, 512);
  EXPECT_EQ(c.n_ctx_train, 512);
  EXPECT_FALSE(c.tied_output);  // the file carries output.weight (a copy of the embedding)
  EXPECT_FALSE(c.rope_neox);
  EXPECT_FLOAT_EQ(c.norm_eps, 1e-5f);
}

TEST_F(StoriesTest, GreedyDecodeMatchesKnownText) {
  ThreadPool pool(2);
  Forward fwd(*model_, pool);
  KvCache cache(model_->config(), 128, 1);
  std::vector<int32_t> ids = {1, 410, 469, 347};
  std::vector<float> logits;
  for (size_t i = 0; i < ids.size(); ++i) logits = run(fwd, cache, {{ids[i], int32_t(i), 0, true}});
  // The README's "60 tokens" are the tokens after BOS: the 3 of the prompt "Zoo" plus 57
  // generated ones (generating 60 continues the same text with " it.\n").
  for (int step = 0; step < 57; ++step) {
    int32_t next = argmax(logits.data(), n_vocab());
    ids.push_back(next);
    logits = run(fwd, cache, {{next, int32_t(ids.size() - 1), 0, true}});
  }
  EXPECT_EQ(cache.seq_len(0), 61);
  std::vector<int32_t> text_ids(ids.begin() + 1, ids.end());  // without BOS
  std::string text = decode(model_->file(), text_ids);
  if (!text.empty() && text[0] == ' ') text.erase(0, 1);  // SentencePiece leading space
  EXPECT_EQ(text,
            "Zoo was a little girl named Lily. She loved to play outside in the park. One day, she "
            "saw a big, red ball. She wanted to play with it, but she didn't want to play with");
}

TEST_F(StoriesTest, WholePromptEqualsOneTokenPerCall) {
  ThreadPool pool(2);
  Forward fwd(*model_, pool);
  const std::vector<int32_t> prompt = {1, 410, 469, 347, 30, 99, 260, 411, 59, 400, 7, 300};
  KvCache a(model_->config(), 64, 1), b(model_->config(), 64, 1);
  std::vector<float> step = one_by_one(fwd, a, 0, prompt);
  std::vector<BatchToken> batch;
  for (size_t i = 0; i < prompt.size(); ++i) batch.push_back({prompt[i], int32_t(i), 0, true});
  std::vector<float> whole = run(fwd, b, batch);
  expect_near_all(step, whole, 1e-5f);
  // Only some rows asked for: the same rows, in batch order.
  for (auto& t : batch) t.logits = (t.pos % 5 == 0);
  b.clear();
  std::vector<float> some = run(fwd, b, batch);
  ASSERT_EQ(some.size(), 3u * n_vocab());
  for (int r = 0; r < 3; ++r) {
    std::vector<float> got(some.begin() + r * n_vocab(), some.begin() + (r + 1) * n_vocab());
    std::vector<float> want(step.begin() + 5 * r * n_vocab(),
                            step.begin() + (5 * r + 1) * n_vocab());
    expect_near_all(got, want, 1e-5f);
  }
}

// A batch longer than Forward's slice (128 tokens) runs in consecutive slices: the logits and
// hidden-state rows of every slice come back in batch order, equal to one token per call.
TEST_F(StoriesTest, LongBatchRunsInSlicesWithTheSameResults) {
  ThreadPool pool(2);
  Forward fwd(*model_, pool);
  std::vector<int32_t> prompt = {1};
  for (int32_t i = 1; i < 300; ++i) prompt.push_back(2 + (i * 37) % (n_vocab() - 2));
  KvCache a(model_->config(), 320, 1), b(model_->config(), 320, 1);
  const std::vector<float> step = one_by_one(fwd, a, 0, prompt);
  std::vector<BatchToken> batch;
  for (size_t i = 0; i < prompt.size(); ++i) {
    batch.push_back({prompt[i], int32_t(i), 0, i % 61 == 0 || i + 1 == prompt.size(), i % 97 == 5});
  }
  std::vector<float> logits, embd;
  ASSERT_TRUE(fwd.run(b, batch, &logits, &embd).ok());
  EXPECT_EQ(b.seq_len(0), 300);
  std::vector<size_t> rows;
  for (size_t i = 0; i < batch.size(); ++i)
    if (batch[i].logits) rows.push_back(i);
  ASSERT_EQ(rows.size(), 6u);  // 0, 61, 122, 183, 244 and 299: in the first, second and third slice
  ASSERT_EQ(logits.size(), rows.size() * n_vocab());
  for (size_t r = 0; r < rows.size(); ++r) {
    std::vector<float> got(logits.begin() + r * n_vocab(), logits.begin() + (r + 1) * n_vocab());
    std::vector<float> want(step.begin() + rows[r] * n_vocab(), step.begin() + (rows[r] + 1) * n_vocab());
    expect_near_all(got, want, 1e-5f);
  }
  // Hidden states of rows 5, 102, 199 and 296 (one per slice and the last), against single runs.
  ASSERT_EQ(embd.size(), 4u * model_->config().n_embd);
  KvCache c(model_->config(), 320, 1);
  std::vector<float> one_logits, one_embd;
  for (size_t i = 0; i < batch.size(); ++i) {
    BatchToken t = batch[i];
    t.logits = false;
    ASSERT_TRUE(fwd.run(c, {&t, 1}, &one_logits, &one_embd).ok());
    if (!t.embd) continue;
    const size_t r = (i - 5) / 97, d = model_->config().n_embd;
    std::vector<float> got(embd.begin() + r * d, embd.begin() + (r + 1) * d);
    expect_near_all(got, one_embd, 1e-5f);
  }
}

TEST_F(StoriesTest, InterleavedSequencesEqualSeparateRuns) {
  ThreadPool pool(3);
  Forward fwd(*model_, pool);
  const std::vector<std::vector<int32_t>> prompts = {
      {1, 410, 469, 347, 30, 99, 260}, {1, 70, 411}, {1, 300, 301, 302, 303, 7}};
  std::vector<std::vector<float>> want;
  for (const auto& p : prompts) {
    KvCache c(model_->config(), 32, 1);
    want.push_back(one_by_one(fwd, c, 0, p));
  }
  // Round-robin interleaving in one batch, sequences in slots 2, 0, 1.
  const int32_t slot[3] = {2, 0, 1};
  KvCache cache(model_->config(), 32, 3);
  std::vector<BatchToken> batch;
  std::vector<std::pair<int, int>> origin;  // (prompt, position) of each batch row
  for (int32_t i = 0; i < 7; ++i) {
    for (int s = 2; s >= 0; --s) {
      if (i < static_cast<int32_t>(prompts[s].size())) {
        batch.push_back({prompts[s][i], i, slot[s], true});
        origin.push_back({s, i});
      }
    }
  }
  std::vector<float> got = run(fwd, cache, batch);
  ASSERT_EQ(got.size(), batch.size() * n_vocab());
  for (size_t r = 0; r < batch.size(); ++r) {
    auto [s, i] = origin[r];
    std::vector<float> g(got.begin() + r * n_vocab(), got.begin() + (r + 1) * n_vocab());
    std::vector<float> w(want[s].begin() + i * n_vocab(), want[s].begin() + (i + 1) * n_vocab());
    expect_near_all(g, w, 1e-5f);
  }
  for (int s = 0; s < 3; ++s) EXPECT_EQ(cache.seq_len(slot[s]), int32_t(prompts[s].size()));
}

TEST_F(StoriesTest, ThreadCountDoesNotChangeLogits) {
  // Every output element is computed by one thread in a fixed order: results are bitwise equal.
  const std::vector<int32_t> prompt = {1, 410, 469, 347, 30, 99, 260, 411, 59};
  std::vector<BatchToken> batch;
  for (size_t i = 0; i < prompt.size(); ++i) batch.push_back({prompt[i], int32_t(i), 0, true});
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    Forward fwd(*model_, pool);
    KvCache cache(model_->config(), 16, 1);
    results.push_back(run(fwd, cache, batch));
  }
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

TEST_F(StoriesTest, ClearAndTruncateThenRerunMatchesFresh) {
  ThreadPool pool(2);
  Forward fwd(*model_, pool);
  const std::vector<int32_t> a = {1, 410, 469, 347, 30, 99};
  const std::vector<int32_t> b = {1, 70, 411, 59};
  KvCache fresh(model_->config(), 32, 2);
  std::vector<float> want_a = one_by_one(fwd, fresh, 0, a);

  KvCache cache(model_->config(), 32, 2);
  one_by_one(fwd, cache, 0, b);
  one_by_one(fwd, cache, 1, b);
  cache.clear_seq(0);
  EXPECT_EQ(cache.seq_len(0), 0);
  EXPECT_EQ(cache.seq_len(1), 4);
  expect_near_all(one_by_one(fwd, cache, 0, a), want_a, 1e-5f);

  // Keep the shared prefix {1} of seq 1, then continue with a's tail.
  cache.truncate_seq(1, 1);
  EXPECT_EQ(cache.seq_len(1), 1);
  std::vector<float> tail = one_by_one(fwd, cache, 1, {a.begin() + 1, a.end()}, 1);
  expect_near_all(tail, {want_a.begin() + n_vocab(), want_a.end()}, 1e-5f);

  cache.clear();
  EXPECT_EQ(cache.seq_len(1), 0);
  expect_near_all(one_by_one(fwd, cache, 1, a), want_a, 1e-5f);
}

TEST_F(StoriesTest, BadBatchesAreErrorsAndLeaveCacheUnchanged) {
  ThreadPool pool(1);
  Forward fwd(*model_, pool);
  KvCache cache(model_->config(), 8, 2);
  std::vector<float> logits;
  auto error_of = [&](std::vector<BatchToken> batch) {
    Status st = fwd.run(cache, batch, &logits);
    return st.ok() ? std::string("ok") : st.error().message();
  };
  EXPECT_NE(error_of({{512, 0, 0, true}}).find("token id 512 out of range"), std::string::npos);
  EXPECT_NE(error_of({{-1, 0, 0, true}}).find("token id -1"), std::string::npos);
  EXPECT_NE(error_of({{1, 0, 2, true}}).find("sequence 2 out of range"), std::string::npos);
  EXPECT_NE(error_of({{1, 0, -1, true}}).find("sequence -1"), std::string::npos);
  EXPECT_NE(error_of({{1, 1, 0, true}}).find("leaves a gap"), std::string::npos);
  EXPECT_NE(error_of({{1, 0, 0, false}, {1, 2, 0, true}}).find("batch[1]: position 2"),
            std::string::npos);
  EXPECT_NE(error_of({{1, 1, 0, true}, {1, 0, 0, true}}).find("leaves a gap"), std::string::npos);
  EXPECT_NE(error_of({{1, 0, 0, true}, {1, 0, 0, true}}).find("appears twice"), std::string::npos);
  EXPECT_EQ(cache.seq_len(0), 0);
  EXPECT_EQ(error_of({{1, 0, 0, true}, {2, 1, 0, true}, {3, 0, 1, false}}), "ok");
  EXPECT_EQ(logits.size(), 2u * n_vocab());
  for (int32_t p = 2; p < 8; ++p) EXPECT_EQ(error_of({{1, p, 0, true}}), "ok");
  EXPECT_NE(error_of({{1, 8, 0, true}}).find("position 8 out of range [0, 8)"), std::string::npos);
  EXPECT_EQ(cache.seq_len(0), 8);
  EXPECT_EQ(cache.seq_len(1), 1);
  // A cache shaped for another model is refused.
  ModelConfig other = model_->config();
  other.n_layer = 2;
  KvCache wrong(other, 8, 1);
  Status st = fwd.run(wrong, std::vector<BatchToken>{{1, 0, 0, true}}, &logits);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("another model"), std::string::npos);
  // Whole blocks: each sequence's 8 positions take one block of KvCache::kBlockSize.
  EXPECT_EQ(cache.bytes(), 2u * 5 * 2 * KvCache::kBlockSize * 32 * sizeof(float));
}

}  // namespace
}  // namespace lm::model
