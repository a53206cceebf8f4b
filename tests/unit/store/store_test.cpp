// Store layout, manifests (including corrupt ones), removal, locks, resolve_model and SHA-256.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "store/download.h"
#include "store/ref.h"
#include "store/sha256.h"
#include "store/store.h"
#include "test_util.h"

namespace lm::store {
namespace {

namespace fs = std::filesystem;

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// A store with one blob holding `content`, registered as `name`. Returns the digest.
std::string add_model(const Store& st, const std::string& name, const std::string& content) {
  EXPECT_TRUE(st.ensure_dirs().ok());
  Sha256 h;
  h.update(content.data(), content.size());
  std::string d = h.final_hex();
  write_text(st.blob_path(d), content);
  Manifest m{name, "http://hub", "o/r", "f.gguf", "main", "c0ffee", d, content.size(), "2026-01-01T00:00:00Z"};
  EXPECT_TRUE(st.write_manifest(m).ok());
  return d;
}

TEST(Sha256, KnownVectors) {
  Sha256 h;
  EXPECT_EQ(h.final_hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  h.update("abc", 3);
  EXPECT_EQ(h.final_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string p = test::temp_path("abc.bin");
  write_text(p, "abc");
  EXPECT_EQ(*sha256_file(p), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 part;
  EXPECT_EQ(*hash_file_into(p, part, 2), 2u);   // "ab" then "c" == "abc"
  part.update("c", 1);
  EXPECT_EQ(part.final_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_FALSE(sha256_file(p + ".missing").ok());
}

TEST(Store, Layout) {
  Store st(test::temp_path("home"));
  std::string d(64, 'a');
  EXPECT_EQ(st.blob_path(d), st.root() + "/blobs/sha256-" + d);
  EXPECT_EQ(st.manifest_path("repo:f/x"), st.root() + "/manifests/repo%3Af%2Fx.json");
  ASSERT_TRUE(st.ensure_dirs().ok());
  for (const auto& dir : {st.blobs_dir(), st.manifests_dir(), st.tmp_dir()}) EXPECT_TRUE(fs::is_directory(dir));
  // blobs and tmp share a filesystem (completion is a rename)
  struct stat a, b;
  ASSERT_EQ(::stat(st.blobs_dir().c_str(), &a), 0);
  ASSERT_EQ(::stat(st.tmp_dir().c_str(), &b), 0);
  EXPECT_EQ(a.st_dev, b.st_dev);
}

TEST(Store, DefaultRootFromEnvironment) {
  ::setenv("LOCALMAX_HOME", "/x/lm", 1);
  EXPECT_EQ(Store::open_default()->root(), "/x/lm");
  ::unsetenv("LOCALMAX_HOME");
  ::setenv("XDG_DATA_HOME", "/x/data", 1);
  EXPECT_EQ(Store::open_default()->root(), "/x/data/localmax");
  ::unsetenv("XDG_DATA_HOME");
  ::setenv("HOME", "/x/home", 1);
  EXPECT_EQ(Store::open_default()->root(), "/x/home/.local/share/localmax");
}

TEST(Manifest, RoundTrip) {
  Store st(test::temp_path("home"));
  Manifest m{"repo:model-Q8_0", "https://hf", "o/repo", "model-Q8_0.gguf", "main", "abc123",
             std::string(64, 'f'), 12345, "2026-11-21T10:00:00Z"};
  ASSERT_TRUE(st.write_manifest(m).ok());
  auto back = st.read_manifest("repo:model-Q8_0");
  ASSERT_TRUE(back.ok()) << back.error().message();
  ASSERT_TRUE(back->has_value());
  const Manifest& b = **back;
  EXPECT_EQ(b.name, m.name);
  EXPECT_EQ(b.repo, m.repo);
  EXPECT_EQ(b.file, m.file);
  EXPECT_EQ(b.commit, m.commit);
  EXPECT_EQ(b.digest, m.digest);
  EXPECT_EQ(b.size, m.size);
  EXPECT_EQ(b.pulled_at, m.pulled_at);
  EXPECT_FALSE(st.read_manifest("absent")->has_value());
  EXPECT_EQ(st.list_manifests().size(), 1u);
}

TEST(Manifest, CorruptJsonIsAClearError) {
  const std::string good_digest = "\"sha256:" + std::string(64, '0') + "\"";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{not json", "invalid JSON"},
      {"", "invalid JSON"},
      {"[1,2]", "not a JSON object"},
      {"{\"digest\":" + good_digest + ",\"size\":1}", "missing \"name\""},
      {"{\"name\":\"m\",\"size\":1}", "missing \"digest\""},
      {"{\"name\":\"m\",\"digest\":\"md5:00\",\"size\":1}", "digest"},
      {"{\"name\":\"m\",\"digest\":" + good_digest + ",\"size\":-1}", "size"},
      {"{\"name\":7,\"digest\":" + good_digest + ",\"size\":1}", "not a string"},
      {"{\"name\":\"m\",\"digest\":" + good_digest + ",\"size\":1,\"source\":[]}", "source"},
      {"{\"name\":\"a b\",\"digest\":" + good_digest + ",\"size\":1}", "model name"},
  };
  for (const auto& [text, want] : cases) {
    auto m = manifest_from_json(text, "m.json");
    ASSERT_FALSE(m.ok()) << "accepted: " << text;
    EXPECT_NE(m.error().message().find("corrupt manifest m.json"), std::string::npos) << m.error().message();
    EXPECT_NE(m.error().message().find(want), std::string::npos) << m.error().message();
  }
  // In a store: read_manifest reports it, list_manifests skips it with a message.
  Store st(test::temp_path("home"));
  add_model(st, "good", "data");
  write_text(st.manifest_path("bad"), "{\"name\": \"bad\", ");
  auto r = st.read_manifest("bad");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("bad.json"), std::string::npos);
  std::vector<std::string> errors;
  auto all = st.list_manifests(&errors);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, "good");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("invalid JSON"), std::string::npos);
  // A manifest whose file name and content disagree is refused.
  write_text(st.manifest_path("other"), manifest_to_json(all[0]));
  EXPECT_FALSE(st.read_manifest("other").ok());
}

// Every truncation and many single-byte corruptions of a valid manifest give a Result (ok or a
// clear error), never a crash or an exception.
TEST(Manifest, MutatedInputsNeverCrash) {
  Manifest m{"repo:m", "https://hf", "o/repo", "m.gguf", "main", "abc", std::string(64, 'e'), 42, "2026-01-01T00:00:00Z"};
  const std::string good = manifest_to_json(m);
  ASSERT_TRUE(manifest_from_json(good, "m.json").ok());
  size_t errors = 0;
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = manifest_from_json(good.substr(0, n), "m.json");
    if (!r.ok()) {
      ++errors;
      EXPECT_NE(r.error().message().find("corrupt manifest m.json"), std::string::npos);
    }
  }
  EXPECT_GE(errors, good.size() - 2);   // only the whole text (and it minus the final newline) parse
  uint64_t x = 12345;
  for (int i = 0; i < 2000; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    std::string bad = good;
    bad[(x >> 33) % bad.size()] = static_cast<char>(x >> 17);
    auto r = manifest_from_json(bad, "m.json");
    if (r.ok()) {
      EXPECT_TRUE(validate_model_name(r->name).ok());
      EXPECT_TRUE(is_sha256_hex(r->digest));
    }
  }
}

TEST(Store, RemoveKeepsSharedBlob) {
  Store st(test::temp_path("home"));
  std::string d = add_model(st, "a", "shared bytes");
  add_model(st, "b", "shared bytes");
  auto ma = **st.read_manifest("a");
  auto removed = st.remove_model(ma);
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(*removed);
  EXPECT_TRUE(st.has_blob(d));
  EXPECT_FALSE(st.read_manifest("a")->has_value());
  auto mb = **st.read_manifest("b");
  EXPECT_TRUE(*st.remove_model(mb));
  EXPECT_FALSE(st.has_blob(d));
  EXPECT_TRUE(st.list_manifests().empty());
}

TEST(Resolve, PathNameDigestPrefixAndPin) {
  Store st(test::temp_path("home"));
  std::string d = add_model(st, "repo:m", "model bytes");
  std::string blob = st.blob_path(d);
  EXPECT_EQ(*resolve_model(st, blob), blob);                      // an existing path is a path
  EXPECT_EQ(*resolve_model(st, "repo:m"), blob);
  EXPECT_EQ(*resolve_model(st, "sha256:" + d.substr(0, 8)), blob);
  auto pinned = resolve_model(st, "repo:m@sha256:" + d);
  ASSERT_TRUE(pinned.ok()) << pinned.error().message();
  EXPECT_EQ(*pinned, blob);
  EXPECT_TRUE(st.verified_stamp_matches(d));

  auto missing = resolve_model(st, "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("localmax ls"), std::string::npos);
  auto missing_path = resolve_model(st, "/no/such/model.gguf");
  ASSERT_FALSE(missing_path.ok());
  EXPECT_NE(missing_path.error().message().find("cannot open /no/such/model.gguf: no such file"), std::string::npos);
  auto wrong_pin = resolve_model(st, "repo:m@sha256:" + std::string(64, '1'));
  ASSERT_FALSE(wrong_pin.ok());
  EXPECT_NE(wrong_pin.error().message().find("not the pinned"), std::string::npos);
  EXPECT_FALSE(resolve_model(st, "sha256:ffff0000").ok());
}

TEST(Resolve, PinnedBlobIsRehashedWhenItChanged) {
  Store st(test::temp_path("home"));
  std::string d = add_model(st, "m", "original");
  ASSERT_TRUE(resolve_model(st, "m@sha256:" + d).ok());
  // Tamper with the blob: size and mtime change, so the stamp no longer matches.
  write_text(st.blob_path(d), "tampered!");
  EXPECT_FALSE(st.verified_stamp_matches(d));
  auto r = resolve_model(st, "m@sha256:" + d);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("digest mismatch"), std::string::npos) << r.error().message();
  EXPECT_TRUE(resolve_model(st, "m").ok());   // unpinned names are not re-hashed
}

TEST(Resolve, AmbiguousPrefix) {
  Store st(test::temp_path("home"));
  ASSERT_TRUE(st.ensure_dirs().ok());
  write_text(st.blob_path("abcd" + std::string(60, '0')), "x");
  write_text(st.blob_path("abcd" + std::string(60, '1')), "y");
  auto r = resolve_model(st, "sha256:abcd");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("ambiguous"), std::string::npos);
  EXPECT_TRUE(resolve_model(st, "sha256:abcd1").ok());
}

TEST(BlobLock, SecondHolderWaits) {
  Store st(test::temp_path("home"));
  auto first = BlobLock::acquire(st, "k", nullptr);
  ASSERT_TRUE(first.ok());
  static std::atomic<bool> waited{false};
  std::atomic<bool> got{false};
  std::thread t([&] {
    auto second = BlobLock::acquire(st, "k", [](std::string_view) { waited = true; });
    got = second.ok();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(got.load());
  { auto release = std::move(*first); }
  t.join();
  EXPECT_TRUE(got.load());
  EXPECT_TRUE(waited.load());
}

TEST(Download, FreeSpace) {
  auto f = free_space(test::temp_path("x").substr(0, test::temp_path("y").rfind('/')));
  ASSERT_TRUE(f.ok());
  EXPECT_GT(*f, 0u);
  EXPECT_FALSE(free_space("/nonexistent/dir").ok());
}

}  // namespace
}  // namespace lm::store
