// Safetensors reader/writer: round trips, sharded folders, and a table of corrupt files, each of
// which must give an error naming the problem (never a crash).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "convert/safetensors.h"
#include "test_util.h"

namespace lm::convert {
namespace {

namespace fs = std::filesystem;

// A file: u64 header length, the header text as given, then `data_size` bytes (0, 1, 2, ...).
std::vector<uint8_t> st_file(const std::string& header, size_t data_size, uint64_t claimed_len = ~0ull) {
  std::string b(8, '\0');
  uint64_t n = claimed_len == ~0ull ? header.size() : claimed_len;
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(n >> (8 * i));
  b += header;
  for (size_t i = 0; i < data_size; ++i) b += static_cast<char>(i);
  return std::vector<uint8_t>(b.begin(), b.end());
}

TEST(Safetensors, ParsesTensorsAndMetadata) {
  auto bytes = st_file(
      R"({"b": {"dtype": "F16", "shape": [2, 3], "data_offsets": [8, 20]},
          "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
          "e": {"dtype": "BF16", "shape": [0, 4], "data_offsets": [20, 20]},
          "__metadata__": {"format": "pt"}})",
      20);
  auto f = SafetensorsFile::parse(bytes, "mem.safetensors");
  ASSERT_TRUE(f.ok()) << f.error().message();
  ASSERT_EQ((*f)->tensors().size(), 3u);
  const StTensor* a = (*f)->find("a");
  const StTensor* b = (*f)->find("b");
  ASSERT_TRUE(a && b);
  EXPECT_EQ((*f)->tensors()[0].name, "a");  // in data order
  EXPECT_EQ(a->type, DType::F32);
  EXPECT_EQ(b->type, DType::F16);
  EXPECT_EQ(b->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(b->n_elements(), 6);
  EXPECT_EQ(b->data.size(), 12u);
  const size_t data_start = bytes.size() - 20;
  EXPECT_EQ(a->data.data(), bytes.data() + data_start);
  EXPECT_EQ(b->data[0], 8);  // the 9th data byte
  EXPECT_EQ((*f)->find("e")->n_elements(), 0);
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
  EXPECT_EQ((*f)->find("missing"), nullptr);
}

struct Corrupt {
  const char* name;
  std::vector<uint8_t> bytes;
  const char* expect;
};

std::string one(const std::string& entry) { return "{\"t\": " + entry + "}"; }

std::vector<Corrupt> corrupt_cases() {
  std::vector<Corrupt> c;
  const std::string ok_f32 = R"({"dtype": "F32", "shape": [2], "data_offsets": [0, 8]})";
  c.push_back({"empty", {}, "too short for the 8-byte header length"});
  c.push_back({"short", {1, 2, 3}, "file of 3 bytes is too short"});
  c.push_back({"header_past_end", st_file(one(ok_f32), 8, 1000), "header length 1000 exceeds the"});
  c.push_back({"huge_header_len", st_file("{}", 0, 1ull << 63), "exceeds the"});
  c.push_back({"invalid_json", st_file("{\"t\": ", 0), "invalid JSON header"});
  c.push_back({"not_object", st_file("[1, 2]", 0), "JSON header must be an object"});
  c.push_back({"entry_not_object", st_file(one("3"), 0), "tensor 't': entry must be an object"});
  c.push_back({"no_dtype", st_file(one(R"({"shape": [2], "data_offsets": [0, 8]})"), 8), "missing or non-string \"dtype\""});
  c.push_back({"no_shape", st_file(one(R"({"dtype": "F32", "data_offsets": [0, 8]})"), 8), "non-array \"shape\""});
  c.push_back({"no_offsets", st_file(one(R"({"dtype": "F32", "shape": [2]})"), 8), "\"data_offsets\" must be an array"});
  c.push_back({"three_offsets", st_file(one(R"({"dtype": "F32", "shape": [2], "data_offsets": [0, 4, 8]})"), 8),
               "\"data_offsets\" must be an array [begin, end]"});
  c.push_back({"int64_dtype", st_file(one(R"({"dtype": "I64", "shape": [1], "data_offsets": [0, 8]})"), 8),
               "tensor 't': dtype I64 is not supported (supported: F32, F16, BF16)"});
  c.push_back({"fp8_dtype", st_file(one(R"({"dtype": "F8_E4M3", "shape": [8], "data_offsets": [0, 8]})"), 8),
               "dtype F8_E4M3 is not supported"});
  c.push_back({"unknown_dtype", st_file(one(R"({"dtype": "F7", "shape": [2], "data_offsets": [0, 8]})"), 8),
               "unknown dtype 'F7'"});
  c.push_back({"negative_dim", st_file(one(R"({"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]})"), 8),
               "shape dimension -2 is negative"});
  c.push_back({"float_dim", st_file(one(R"({"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]})"), 8),
               "shape dimension must be a non-negative integer"});
  c.push_back({"overflow_shape",
               st_file(one(R"({"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]})"), 8),
               "is too large"});
  c.push_back({"begin_after_end", st_file(one(R"({"dtype": "F32", "shape": [0], "data_offsets": [8, 0]})"), 8),
               "end before they begin"});
  c.push_back({"past_data", st_file(one(R"({"dtype": "F32", "shape": [2], "data_offsets": [4, 12]})"), 8),
               "go past the data section of 8 bytes"});
  c.push_back({"huge_offset",
               st_file(one(R"({"dtype": "F32", "shape": [2], "data_offsets": [0, 18446744073709551615]})"), 8),
               "data_offsets end 18446744073709551615 is out of range"});
  c.push_back({"size_mismatch", st_file(one(R"({"dtype": "F32", "shape": [3], "data_offsets": [0, 8]})"), 8),
               "F32 [3] needs 12 bytes, but data_offsets [0, 8] hold 8"});
  c.push_back({"overlap",
               st_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                           "b": {"dtype": "F16", "shape": [2], "data_offsets": [6, 10]}})", 12),
               "tensors 'a' and 'b' overlap"});
  c.push_back({"metadata_not_string", st_file(R"({"__metadata__": {"format": 3}})", 0),
               "__metadata__[\"format\"] must be a string"});
  c.push_back({"metadata_not_object", st_file(R"({"__metadata__": []})", 0), "__metadata__ must be an object"});
  return c;
}

TEST(Safetensors, CorruptFilesGiveClearErrors) {
  for (const Corrupt& c : corrupt_cases()) {
    auto f = SafetensorsFile::parse(c.bytes, "bad.safetensors");
    ASSERT_FALSE(f.ok()) << c.name << " parsed";
    const std::string& msg = f.error().message();
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.name << ": " << msg;
    EXPECT_EQ(msg.rfind("bad.safetensors", 0), 0u) << c.name << ": error does not name the file: " << msg;
  }
}

TEST(Safetensors, TruncatedPrefixesNeverCrash) {
  auto bytes = st_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 8);
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_FALSE(SafetensorsFile::parse(cut, "cut").ok()) << n;
  }
}

std::vector<float> read_floats(const StTensor& t) {
  std::vector<float> v(t.data.size() / 4);
  std::memcpy(v.data(), t.data.data(), t.data.size());
  return v;
}

StWriteTensor floats(const std::string& name, std::vector<int64_t> shape, float base) {
  StWriteTensor t{name, DType::F32, shape, {}};
  t.fill = [base](std::span<uint8_t> out) {
    for (size_t i = 0; i < out.size() / 4; ++i) {
      float f = base + static_cast<float>(i);
      std::memcpy(out.data() + 4 * i, &f, 4);
    }
    return Status(Ok{});
  };
  return t;
}

TEST(Safetensors, WriteThenReadBack) {
  const std::string path = test::temp_path("rt.safetensors");
  StWriteTensor h{"h", DType::BF16, {3}, [](std::span<uint8_t> out) {
                    std::memset(out.data(), 0x3f, out.size());
                    return Status(Ok{});
                  }};
  ASSERT_TRUE(write_safetensors(path, {floats("x", {2, 3}, 1.0f), h, floats("y", {5}, 10.0f)},
                                {{"format", "pt"}}).ok());
  auto f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_EQ((fs::file_size(path) - 8 - 6 - 6 * 4 - 5 * 4) % 8, 0u);  // header padded to 8
  EXPECT_EQ(read_floats(*(*f)->find("x")), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(read_floats(*(*f)->find("y")), (std::vector<float>{10, 11, 12, 13, 14}));
  EXPECT_EQ((*f)->find("h")->type, DType::BF16);
  EXPECT_EQ((*f)->find("h")->data[5], 0x3f);
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
}

TEST(Safetensors, FailedFillLeavesNoFile) {
  const std::string path = test::temp_path("fail.safetensors");
  StWriteTensor bad{"bad", DType::F32, {2}, [](std::span<uint8_t>) { return Status(errorf("boom")); }};
  Status st = write_safetensors(path, {floats("x", {2}, 0.0f), bad});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("tensor bad: boom"), std::string::npos) << st.error().message();
  EXPECT_FALSE(fs::exists(path));
  for (const auto& e : fs::directory_iterator(fs::path(path).parent_path())) {
    EXPECT_EQ(e.path().string().find("fail.safetensors.tmp"), std::string::npos) << e.path();
  }
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(Safetensors, ShardedFolder) {
  const std::string dir = test::temp_path("sharded");
  fs::create_directories(dir);
  ASSERT_TRUE(write_safetensors(dir + "/m-1.safetensors", {floats("a", {2}, 0), floats("b", {3}, 5)}).ok());
  ASSERT_TRUE(write_safetensors(dir + "/m-2.safetensors", {floats("c", {4}, 9)}).ok());
  write_text(dir + "/model.safetensors.index.json",
             R"({"metadata": {}, "weight_map": {"a": "m-1.safetensors", "b": "m-1.safetensors", "c": "m-2.safetensors"}})");
  auto m = SafetensorsModel::open_dir(dir);
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->n_files(), 2u);
  EXPECT_EQ(m->tensors().size(), 3u);
  ASSERT_NE(m->find("c"), nullptr);
  EXPECT_EQ(read_floats(*m->find("c")), (std::vector<float>{9, 10, 11, 12}));
  EXPECT_EQ(m->find("c")->file, dir + "/m-2.safetensors");

  // The index maps a tensor to the wrong shard.
  write_text(dir + "/model.safetensors.index.json",
             R"({"weight_map": {"a": "m-2.safetensors", "c": "m-2.safetensors"}})");
  auto wrong = SafetensorsModel::open_dir(dir);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message().find("tensor 'a' is mapped to m-2.safetensors, which does not hold it"),
            std::string::npos) << wrong.error().message();

  // A missing shard, an escaping path, a broken index.
  write_text(dir + "/model.safetensors.index.json", R"({"weight_map": {"a": "m-3.safetensors"}})");
  auto missing = SafetensorsModel::open_dir(dir);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("m-3.safetensors"), std::string::npos) << missing.error().message();
  write_text(dir + "/model.safetensors.index.json", R"({"weight_map": {"a": "../x.safetensors"}})");
  ASSERT_FALSE(SafetensorsModel::open_dir(dir).ok());
  write_text(dir + "/model.safetensors.index.json", R"({"weight_map": 3})");
  auto broken = SafetensorsModel::open_dir(dir);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message().find("\"weight_map\" object"), std::string::npos);

  // Duplicate tensors across shards.
  ASSERT_TRUE(write_safetensors(dir + "/m-3.safetensors", {floats("a", {2}, 0)}).ok());
  write_text(dir + "/model.safetensors.index.json",
             R"({"weight_map": {"a": "m-1.safetensors", "z": "m-3.safetensors"}})");
  auto dup = SafetensorsModel::open_dir(dir);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message().find("tensor 'a' is in both"), std::string::npos) << dup.error().message();
}

TEST(Safetensors, EmptyFolderIsAnError) {
  const std::string dir = test::temp_path("empty_model");
  fs::create_directories(dir);
  auto m = SafetensorsModel::open_dir(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find("no model.safetensors"), std::string::npos);
}

}  // namespace
}  // namespace lm::convert
