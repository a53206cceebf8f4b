// Embeddings request parsing (every bad field a 400 naming it) and the base64 vector encoding.
#include "server/embeddings.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lm::server {
namespace {

void expect_bad(const std::string& body, const char* param, const char* needle, bool ollama = false) {
  auto r = ollama ? parse_ollama_embed(body, false) : parse_openai_embeddings(body);
  ASSERT_TRUE(std::holds_alternative<ApiError>(r)) << "accepted: " << body;
  const ApiError& e = std::get<ApiError>(r);
  EXPECT_EQ(e.status, 400) << body;
  EXPECT_EQ(e.param, param) << body << " → " << e.message;
  EXPECT_NE(e.message.find(needle), std::string::npos) << body << " → " << e.message;
}

EmbedRequest ok_openai(const std::string& body) {
  auto r = parse_openai_embeddings(body);
  if (auto* e = std::get_if<ApiError>(&r)) ADD_FAILURE() << body << " → " << e->message;
  return std::holds_alternative<EmbedRequest>(r) ? std::get<EmbedRequest>(r) : EmbedRequest{};
}

TEST(EmbeddingsRequest, OpenAiInputForms) {
  EmbedRequest a = ok_openai(R"({"model":"m","input":"hello","user":"u1"})");
  EXPECT_EQ(a.model, "m");
  EXPECT_EQ(a.texts, std::vector<std::string>{"hello"});
  EXPECT_FALSE(a.is_tokens);
  EXPECT_FALSE(a.base64);
  EXPECT_FALSE(a.truncate);   // OpenAI never truncates
  EmbedRequest b = ok_openai(R"({"input":["a","b","c"],"encoding_format":"base64","dimensions":8})");
  EXPECT_EQ(b.texts.size(), 3u);
  EXPECT_TRUE(b.base64);
  EXPECT_EQ(b.dimensions, 8);
  EmbedRequest c = ok_openai(R"({"input":[1,2,3]})");
  ASSERT_TRUE(c.is_tokens);
  EXPECT_EQ(c.token_inputs, (std::vector<std::vector<int32_t>>{{1, 2, 3}}));
  EmbedRequest d = ok_openai(R"({"input":[[1,2],[7]]})");
  EXPECT_EQ(d.token_inputs, (std::vector<std::vector<int32_t>>{{1, 2}, {7}}));
  EXPECT_EQ(d.n_inputs(), 2u);
}

TEST(EmbeddingsRequest, OpenAiErrorsNameTheField) {
  expect_bad("[1]", "", "JSON object");
  expect_bad("{", "", "not valid JSON");
  expect_bad(R"({"model":"m"})", "input", "required");
  expect_bad(R"({"input":""})", "input", "empty string");
  expect_bad(R"({"input":[]})", "input", "empty array");
  expect_bad(R"({"input":["a",""]})", "input", "'input[1]' is an empty string");
  expect_bad(R"({"input":["a",3]})", "input", "input[1]");
  expect_bad(R"({"input":[1,"a"]})", "input", "input[1]");
  expect_bad(R"({"input":[1,-2]})", "input", "input[1]");
  expect_bad(R"({"input":[[1],[]]})", "input", "'input[1]' is an empty list");
  expect_bad(R"({"input":[[1],2]})", "input", "input[1]");
  expect_bad(R"({"input":{"a":1}})", "input", "object");
  expect_bad(R"({"input":"x","encoding_format":"int8"})", "encoding_format", "int8");
  expect_bad(R"({"input":"x","dimensions":0})", "dimensions", "dimensions");
  expect_bad(R"({"input":"x","dimensions":"8"})", "dimensions", "dimensions");
  expect_bad(R"({"input":"x","model":5})", "model", "model");
  std::string many = R"({"input":[)";
  for (int i = 0; i < 2049; ++i) many += std::string(i ? "," : "") + "\"t\"";
  expect_bad(many + "]}", "input", "2049");
}

TEST(EmbeddingsRequest, OllamaForms) {
  auto r = parse_ollama_embed(R"({"model":"demo","input":["a","b"],"truncate":false,
      "keep_alive":"5m","options":{"num_ctx":64,"temperature":0.5},"dimensions":4})", false);
  ASSERT_TRUE(std::holds_alternative<EmbedRequest>(r)) << std::get<ApiError>(r).message;
  const EmbedRequest& q = std::get<EmbedRequest>(r);
  EXPECT_EQ(q.texts.size(), 2u);
  EXPECT_FALSE(q.truncate);
  EXPECT_EQ(q.num_ctx, 64);
  EXPECT_EQ(q.dimensions, 4);
  auto d = parse_ollama_embed(R"({"model":"demo","input":"x"})", false);
  EXPECT_TRUE(std::get<EmbedRequest>(d).truncate);   // Ollama's default
  auto load = parse_ollama_embed(R"({"model":"demo"})", false);   // load only
  EXPECT_EQ(std::get<EmbedRequest>(load).n_inputs(), 0u);
  auto legacy = parse_ollama_embed(R"({"model":"demo","prompt":"hi","keep_alive":0})", true);
  ASSERT_TRUE(std::holds_alternative<EmbedRequest>(legacy));
  EXPECT_TRUE(std::get<EmbedRequest>(legacy).legacy);
  EXPECT_EQ(std::get<EmbedRequest>(legacy).texts, std::vector<std::string>{"hi"});
  expect_bad(R"({"input":5})", "input", "integer", true);
  expect_bad(R"({"input":["a",""]})", "input", "input[1]", true);
  expect_bad(R"({"input":"a","truncate":"no"})", "truncate", "truncate", true);
  expect_bad(R"({"input":"a","keep_alive":[1]})", "keep_alive", "keep_alive", true);
  expect_bad(R"({"input":"a","options":{"num_ctx":0}})", "options.num_ctx", "num_ctx", true);
}

TEST(EmbeddingsRequest, Base64IsLittleEndianFloat32) {
  // 1.0f = 00 00 80 3F; -2.0f = 00 00 00 C0; 0.5f = 00 00 00 3F.
  EXPECT_EQ(base64_floats(std::vector<float>{1.0f}), "AACAPw==");
  EXPECT_EQ(base64_floats(std::vector<float>{1.0f, -2.0f}), "AACAPwAAAMA=");
  EXPECT_EQ(base64_floats(std::vector<float>{1.0f, -2.0f, 0.5f}), "AACAPwAAAMAAAAA/");
  EXPECT_EQ(base64_floats(std::vector<float>{}), "");
}

}  // namespace
}  // namespace lm::server
