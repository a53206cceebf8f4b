// `localmax logits`: the file it writes holds [n_tokens, n_vocab] little-endian float32 equal to
// the forward pass run one token at a time; bad arguments are usage errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "cli/commands.h"
#include "model/model.h"
#include "test_util.h"

namespace lm::cli {
namespace {

TEST(LogitsCmdTest, WritesEveryPositionsLogits) {
  LM_REQUIRE_FIXTURE(path, "models/stories260K.gguf");
  const std::vector<int32_t> tokens = {1, 410, 469, 347, 30, 99};
  const std::string out = test::temp_path("logits.bin");
  ASSERT_EQ(
      cmd_logits({"-m", path, "--tokens", "1 410 469 347 30 99", "--out", out, "--threads", "2"}),
      0);
  std::ifstream f(out, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.size(), tokens.size() * 512 * sizeof(float));
  std::vector<float> got(tokens.size() * 512);
  std::memcpy(got.data(), bytes.data(), bytes.size());

  auto m = model::Model::load(path);
  ASSERT_TRUE(m.ok());
  ThreadPool pool(1);
  model::Forward fwd(**m, pool);
  model::KvCache cache((*m)->config(), 8, 1);
  std::vector<float> row;
  for (size_t i = 0; i < tokens.size(); ++i) {
    ASSERT_TRUE(
        fwd.run(cache, std::vector<model::BatchToken>{{tokens[i], int32_t(i), 0, true}}, &row)
            .ok());
    for (int v = 0; v < 512; ++v) ASSERT_NEAR(got[i * 512 + v], row[v], 1e-5) << i << " " << v;
  }
}

TEST(LogitsCmdTest, BadArgumentsAreErrors) {
  EXPECT_EQ(cmd_logits({"--tokens", "1 2"}), 2);  // no model
  EXPECT_EQ(cmd_logits({"-m", "x.gguf"}), 2);     // no tokens
  EXPECT_EQ(cmd_logits({"-m", "x.gguf", "--tokens", "1 b"}), 2);
  EXPECT_EQ(cmd_logits({"-m", "x.gguf", "--tokens", ""}), 2);
  EXPECT_EQ(cmd_logits({"-m", "x.gguf", "--tokens", "1", "--threads", "0"}), 2);
  EXPECT_EQ(cmd_logits({"-m", "/nonexistent.gguf", "--tokens", "1"}), 1);
  LM_REQUIRE_FIXTURE(path, "models/stories260K.gguf");
  EXPECT_EQ(cmd_logits({"-m", path, "--tokens", "1 512"}), 1);  // token out of range
}

}  // namespace
}  // namespace lm::cli
