// Parsing of pull references, model references and quant-tag selection.
#include <gtest/gtest.h>

#include "store/pull.h"
#include "store/ref.h"

namespace lm::store {
namespace {

TEST(PullRef, AllForms) {
  auto a = parse_pull_ref("hf.co/owner/Repo-GGUF:model.Q4_K_M.gguf");
  ASSERT_TRUE(a.ok()) << a.error().message();
  EXPECT_EQ(a->repo, "owner/Repo-GGUF");
  EXPECT_EQ(a->file, "model.Q4_K_M.gguf");
  EXPECT_EQ(a->quant, "");
  EXPECT_EQ(a->revision, "main");

  auto b = parse_pull_ref("owner/repo/sub/dir/m.gguf@v1.0");
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ(b->repo, "owner/repo");
  EXPECT_EQ(b->file, "sub/dir/m.gguf");
  EXPECT_EQ(b->revision, "v1.0");

  auto c = parse_pull_ref("owner/repo:q4_k_m@0123456789abcdef0123456789abcdef01234567");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->quant, "q4_k_m");
  EXPECT_EQ(c->file, "");
  EXPECT_EQ(c->revision, "0123456789abcdef0123456789abcdef01234567");

  auto d = parse_pull_ref("https://huggingface.co/owner/repo");
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ(d->repo, "owner/repo");
  EXPECT_TRUE(d->file.empty() && d->quant.empty());
}

TEST(PullRef, Rejects) {
  for (const char* bad : {"", "repo", "owner/", "/repo", "owner/repo:", "owner/repo@", "owner/re po:x.gguf",
                          "owner/repo/../x.gguf", "owner/repo/notgguf.bin", "own:er/repo", "owner/repo:a/b"}) {
    auto r = parse_pull_ref(bad);
    EXPECT_FALSE(r.ok()) << "accepted '" << bad << "'";
    if (!r.ok()) {
      EXPECT_NE(r.error().message().find("bad model reference"), std::string::npos);
    }
  }
}

TEST(PullRef, DefaultName) {
  auto r = parse_pull_ref("owner/Repo-GGUF/sub/Model-Q8_0.gguf");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(default_model_name(*r, r->file), "Repo-GGUF:Model-Q8_0");
  EXPECT_TRUE(validate_model_name(default_model_name(*r, r->file)).ok());
}

TEST(ModelName, Validation) {
  EXPECT_TRUE(validate_model_name("repo:file-q4").ok());
  EXPECT_FALSE(validate_model_name("").ok());
  EXPECT_FALSE(validate_model_name("a b").ok());
  EXPECT_FALSE(validate_model_name("a@b").ok());
  EXPECT_FALSE(validate_model_name("sha256:abc").ok());
  EXPECT_FALSE(validate_model_name(std::string(201, 'x')).ok());
  EXPECT_FALSE(validate_model_name("a\nb").ok());
}

TEST(Quant, MatchesCaseInsensitiveAndWholeTag) {
  std::vector<std::string> files = {"README.md", "m-Q4_K_M.gguf", "m-Q4_K_S.gguf", "m-q8_0.gguf", "m-Q4_K.gguf",
                                    "m-Q8_0.bin"};
  EXPECT_EQ(match_quant(files, "q4_k_m"), std::vector<std::string>{"m-Q4_K_M.gguf"});
  EXPECT_EQ(match_quant(files, "Q8_0"), std::vector<std::string>{"m-q8_0.gguf"});
  EXPECT_EQ(match_quant(files, "Q4_K"), std::vector<std::string>{"m-Q4_K.gguf"});
  EXPECT_TRUE(match_quant(files, "Q5_K_M").empty());
}

TEST(Quant, ChooseFileErrorsListCandidates) {
  std::vector<std::string> files = {"a-Q4_K_M.gguf", "b-Q4_K_M.gguf", "c-Q8_0.gguf"};
  PullRef r{"o/r", "", "Q4_K_M", "main"};
  auto amb = choose_file(r, files);
  ASSERT_FALSE(amb.ok());
  EXPECT_NE(amb.error().message().find("ambiguous"), std::string::npos);
  EXPECT_NE(amb.error().message().find("b-Q4_K_M.gguf"), std::string::npos);
  r.quant = "F16";
  auto none = choose_file(r, files);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message().find("c-Q8_0.gguf"), std::string::npos);
  r.quant = "q8_0";
  EXPECT_EQ(*choose_file(r, files), "c-Q8_0.gguf");
  r.quant = "";
  r.file = "missing.gguf";
  EXPECT_FALSE(choose_file(r, files).ok());
  r.file = "";
  EXPECT_FALSE(choose_file(r, files).ok());   // three .gguf files, none named
  EXPECT_EQ(*choose_file(r, {"only.gguf", "x.txt"}), "only.gguf");
}

TEST(ModelRef, Forms) {
  auto n = parse_model_ref("repo:file");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->kind, ModelRef::Kind::kName);
  std::string hex(64, 'A');
  auto p = parse_model_ref("repo:file@sha256:" + hex);
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ(p->kind, ModelRef::Kind::kPinned);
  EXPECT_EQ(p->name, "repo:file");
  EXPECT_EQ(p->digest, std::string(64, 'a'));
  auto d = parse_model_ref("sha256:ABCD12");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, ModelRef::Kind::kDigestPrefix);
  EXPECT_EQ(d->digest, "abcd12");
  EXPECT_FALSE(parse_model_ref("sha256:abc").ok());          // too short
  EXPECT_FALSE(parse_model_ref("sha256:xyz123").ok());
  EXPECT_FALSE(parse_model_ref("m@sha256:abcd").ok());       // pins need all 64 digits
  EXPECT_FALSE(parse_model_ref("@sha256:" + hex).ok());      // no name
}

TEST(PercentEncode, Basics) {
  EXPECT_EQ(percent_encode("a/b:c d", false), "a%2Fb%3Ac%20d");
  EXPECT_EQ(percent_encode("a/b:c", true), "a/b%3Ac");
}

}  // namespace
}  // namespace lm::store
