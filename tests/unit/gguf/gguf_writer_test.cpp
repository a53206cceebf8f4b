// Writer error cases and the atomicity of Writer::write.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gguf/gguf.h"
#include "test_util.h"

namespace lm::gguf {
namespace {

namespace fs = std::filesystem;

std::string error_of(const Status& s) { return s.ok() ? "ok" : s.error().message(); }

TEST(GgufWriter, RejectsBadTensors) {
  Writer w;
  std::vector<uint8_t> f32x4(16);
  ASSERT_TRUE(w.add_tensor("a", DType::F32, {4}, f32x4).ok());
  EXPECT_EQ(error_of(w.add_tensor("a", DType::F32, {4}, f32x4)), "duplicate tensor name 'a'");
  EXPECT_EQ(error_of(w.add_tensor("b", DType::F32, {5}, f32x4)), "tensor 'b': F32 5 needs 20 bytes, got 16");
  EXPECT_EQ(error_of(w.add_tensor("c", DType::F16, {2, 2}, f32x4)), "tensor 'c': F16 2x2 needs 8 bytes, got 16");
  EXPECT_EQ(error_of(w.add_tensor("d", DType::F32, {}, f32x4)), "tensor 'd' has 0 dimensions (1 to 4 allowed)");
  EXPECT_EQ(error_of(w.add_tensor("e", DType::F32, {1, 1, 1, 1, 4}, f32x4)),
            "tensor 'e' has 5 dimensions (1 to 4 allowed)");
  EXPECT_EQ(error_of(w.add_tensor("f", DType::Q4_0, {16}, f32x4)),
            "tensor 'f': first dimension 16 is not a multiple of the Q4_0 block size 32");
  EXPECT_EQ(error_of(w.add_tensor("g", DType::F32, {-4}, f32x4)), "tensor 'g': negative dimension -4");
  EXPECT_EQ(error_of(w.add_tensor_view("h", DType::F64, {1ll << 62}, f32x4)),
            "tensor 'h': size in bytes of 4611686018427387904 F64 elements overflows");
  EXPECT_EQ(error_of(w.add_tensor_view("i", DType::F32, {1ll << 40, 1ll << 40}, f32x4)),
            "tensor 'i': element count overflows");
  // Only the first tensor made it in.
  std::vector<uint8_t> bytes = w.to_bytes();
  auto f = File::parse(bytes, "mem");
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_EQ((*f)->tensors().size(), 1u);
}

TEST(GgufWriter, LaterSetReplacesAndRemoveDeletes) {
  Writer w;
  w.set_u32("k", 1);
  w.set_string("k", "two");
  w.set_u8("gone", 1);
  w.remove("gone");
  std::vector<uint8_t> bytes = w.to_bytes();
  auto f = File::parse(bytes, "mem");
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_EQ((*f)->metadata().size(), 1u);
  EXPECT_EQ(*(*f)->get_string("k"), "two");
}

std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

Writer small_writer(size_t n_floats) {
  Writer w;
  w.set_string("general.architecture", "test");
  EXPECT_TRUE(w.add_tensor("t", DType::F32, {static_cast<int64_t>(n_floats)},
                           std::vector<uint8_t>(n_floats * 4, 0x3f)).ok());
  return w;
}

TEST(GgufWriter, WriteIntoMissingDirectoryFailsCleanly) {
  std::string dir = lm::test::temp_path("no_such_dir");
  Status st = small_writer(4).write(dir + "/model.gguf");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("No such file or directory"), std::string::npos) << st.error().message();
  EXPECT_FALSE(fs::exists(dir));
}

TEST(GgufWriter, WriteWhereNobodyCanCreateFilesFails) {
  // /proc refuses new files even to root.
  Status st = small_writer(4).write("/proc/localmax-test.gguf");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("cannot create a temporary file for /proc/localmax-test.gguf"),
            std::string::npos) << st.error().message();
}

// Runs `fn` in a forked child; returns its exit code (or -1 when it died from a signal).
template <typename Fn>
int run_in_child(Fn fn) {
  pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST(GgufWriter, WriteIntoReadOnlyDirectoryFailsCleanly) {
  std::string dir = lm::test::temp_path("ro");
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::others_read |
                           fs::perms::others_exec);
  int rc = run_in_child([&] {
    // Root ignores permissions: drop to an unprivileged user first.
    if (geteuid() == 0 && setuid(65534) != 0) return 3;
    Status st = small_writer(4).write(dir + "/model.gguf");
    return !st.ok() && st.error().message().find("Permission denied") != std::string::npos ? 0 : 1;
  });
  fs::permissions(dir, fs::perms::owner_all);
  EXPECT_EQ(rc, 0) << "writing into a read-only directory did not fail with EACCES";
  EXPECT_TRUE(dir_entries(dir).empty());
}

// A disk that fills up mid-write, simulated with RLIMIT_FSIZE in a child process (EFBIG once
// the file reaches the limit): the old file must survive untouched and no temporary remain.
TEST(GgufWriter, FailedWriteKeepsTheOldFileAndLeavesNoTemporary) {
  std::string dir = lm::test::temp_path("full");
  fs::create_directories(dir);
  std::string path = dir + "/model.gguf";
  Writer old_writer = small_writer(4);
  ASSERT_TRUE(old_writer.write(path).ok());
  std::vector<uint8_t> old_bytes = old_writer.to_bytes();
  int rc = run_in_child([&] {
    std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl {};
    getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = 10000;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) return 3;
    Status st = small_writer(100000).write(path);  // 400 KB
    return !st.ok() && st.error().message().find("File too large") != std::string::npos ? 0 : 1;
  });
  ASSERT_EQ(rc, 0) << "the write did not fail with EFBIG";
  EXPECT_EQ(dir_entries(dir), std::vector<std::string>{"model.gguf"});
  auto f = File::open(path);
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_EQ((*f)->file_size(), old_bytes.size());
  EXPECT_EQ((*f)->tensors()[0].n_bytes, 16u);
}

TEST(GgufWriter, WriteReplacesAnExistingFile) {
  std::string path = lm::test::temp_path("replace.gguf");
  ASSERT_TRUE(small_writer(4).write(path).ok());
  ASSERT_TRUE(small_writer(8).write(path).ok());
  auto f = File::open(path);
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_EQ((*f)->tensors()[0].n_bytes, 32u);
  for (const auto& name : dir_entries(fs::path(path).parent_path().string())) {
    EXPECT_EQ(name.find(".tmp."), std::string::npos) << "temporary left behind: " << name;
  }
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST(GgufWriter, OpenReportsMissingFilesAndDirectories) {
  auto a = File::open("/nonexistent/x.gguf");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message().find("cannot open /nonexistent/x.gguf"), std::string::npos);
  auto b = File::open("/tmp");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message().find("not a regular file"), std::string::npos);
}

}  // namespace
}  // namespace lm::gguf
