// Corrupt-file generator: many distinct kinds of malformed GGUF files, each of which must give
// an error naming the problem (and the byte offset where the reader knows it), never a crash.
// Every case is also written to ${LM_TEST_TMP}/gguf-corpus/ as a seed corpus for fuzz_gguf.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "gguf/gguf.h"
#include "gguf_test_util.h"

namespace lm::gguf {
namespace {

namespace fs = std::filesystem;
using test::Raw;

constexpr uint32_t kArray = static_cast<uint32_t>(ValueType::ARRAY);
constexpr uint32_t kU32 = static_cast<uint32_t>(ValueType::UINT32);
constexpr uint32_t kF32 = 0, kF64 = 28, kQ4_0 = 2;

struct Case {
  std::string name;
  std::vector<uint8_t> bytes;
  std::vector<std::string> expect;  // substrings of the error message
};

std::string at(uint64_t pos) { return fmt::format("at byte {}", pos); }

// Header with `n_tensors` tensors and one metadata entry, ready for tensor infos.
Raw tensor_file(uint64_t n_tensors) {
  Raw r;
  r.header(n_tensors, 1).kv_str("general.architecture", "test");
  return r;
}

void add_header_cases(std::vector<Case>& c) {
  c.push_back({"empty", {}, {"truncated at byte 0: magic needs 4 bytes, 0 left"}});
  c.push_back({"short_magic", {'G', 'G'}, {"truncated at byte 0: magic needs 4 bytes, 2 left"}});
  c.push_back({"bad_magic", Raw().u32(0x58554747u).u32(3).u64(0).u64(0).bytes(),
               {"not a GGUF file (magic 47 47 55 58 at byte 0"}});
  c.push_back({"ggjt_magic", Raw().u32(0x67676a74u).u32(3).u64(0).u64(0).bytes(), {"not a GGUF file"}});
  c.push_back({"version_0", Raw().header(0, 0, 0).bytes(), {"unsupported GGUF version 0 at byte 4"}});
  c.push_back({"version_1", Raw().header(0, 0, 1).bytes(), {"GGUF version 1 is obsolete"}});
  c.push_back({"version_4", Raw().header(0, 0, 4).bytes(), {"unsupported GGUF version 4 at byte 4"}});
  c.push_back({"big_endian_v3", Raw().header(0, 0, 0x03000000u).bytes(), {"big-endian GGUF files"}});
  c.push_back({"big_endian_v2", Raw().header(0, 0, 0x02000000u).bytes(), {"big-endian GGUF files"}});
  c.push_back({"truncated_counts", Raw().u32(0x46554747u).u32(3).u32(0).bytes(),
               {"truncated at byte 8: tensor count needs 8 bytes, 4 left"}});
  c.push_back({"huge_kv_count", Raw().header(0, 1ull << 62).bytes(),
               {"metadata count 4611686018427387904 at byte 16 is impossible for a file of 24 bytes"}});
  c.push_back({"huge_tensor_count", Raw().header(~0ull, 0).zeros(64).bytes(),
               {"tensor count 18446744073709551615 at byte 8 is impossible for a file of 88 bytes"}});
}

void add_string_cases(std::vector<Case>& c) {
  {
    Raw r;
    r.header(0, 2).kv_str("k", std::string(40, 'x'));
    uint64_t p = r.pos();
    c.push_back({"kv_count_too_big", r.bytes(), {"truncated " + at(p) + ": metadata key needs 8 bytes, 0 left"}});
  }
  c.push_back({"key_past_eof", Raw().header(0, 1).u64(1000).zeros(20).bytes(),
               {"metadata key at byte 24 claims length 1000 but only 20 bytes remain"}});
  c.push_back({"key_len_u64max", Raw().header(0, 1).u64(~0ull).zeros(20).bytes(),
               {"metadata key at byte 24 claims length 18446744073709551615"}});
  {
    Raw r;
    r.header(0, 1).key("s", ValueType::STRING);
    uint64_t p = r.pos();
    r.u64(1000).zeros(10);
    c.push_back({"string_past_eof", r.bytes(), {"metadata 's': string " + at(p) + " claims length 1000"}});
  }
  {
    Raw r;
    r.header(0, 1).key("s", ValueType::STRING);
    uint64_t p = r.pos();
    r.u64(~0ull - 7).zeros(10);
    c.push_back({"string_len_near_u64max", r.bytes(),
                 {"string " + at(p) + " claims length 18446744073709551608"}});
  }
  {
    Raw r;
    r.header(0, 1).key("s", ValueType::ARRAY).u32(static_cast<uint32_t>(ValueType::STRING)).u64(2).str("ok");
    uint64_t p = r.pos();
    r.u64(1000);
    c.push_back({"string_array_elem_past_eof", r.bytes(),
                 {"metadata 's': string array element " + at(p) + " claims length 1000"}});
  }
  {
    Raw r;
    r.header(0, 2).kv_u32("k", 1);
    uint64_t p = r.pos();
    r.kv_u32("k", 2);
    c.push_back({"duplicate_key", r.bytes(), {"duplicate metadata key 'k' " + at(p)}});
  }
  {
    Raw r;
    r.header(0, 2).kv_u32("a\nb", 1);
    uint64_t p = r.pos();
    r.kv_u32("a\nb", 2);
    c.push_back({"duplicate_key_control_chars", r.bytes(), {"duplicate metadata key 'a\\x0ab' " + at(p)}});
  }
}

void add_value_cases(std::vector<Case>& c) {
  for (uint32_t t : {13u, 0xffffffffu}) {
    Raw r;
    r.header(0, 1).str("k");
    uint64_t p = r.pos();
    r.u32(t).zeros(16);
    c.push_back({fmt::format("invalid_value_type_{}", t), r.bytes(),
                 {fmt::format("metadata 'k' has invalid value type {} {}", t, at(p))}});
  }
  {
    Raw r;
    r.header(0, 1).key("k", ValueType::UINT64);
    uint64_t p = r.pos();
    r.u8(1).u8(2).u8(3);
    c.push_back({"truncated_scalar", r.bytes(),
                 {"metadata 'k': truncated " + at(p) + ": u64 needs 8 bytes, 3 left"}});
  }
  {
    Raw r;
    r.header(0, 1).key("k", ValueType::ARRAY);
    uint64_t p = r.pos();
    r.u32(13).u64(1).zeros(8);
    c.push_back({"invalid_array_elem_type", r.bytes(),
                 {"metadata 'k': array " + at(p) + " has invalid element type 13"}});
  }
  auto huge = [&](std::string name, ValueType et, uint64_t n, std::string what) {
    Raw r;
    r.header(0, 1).key("k", ValueType::ARRAY);
    uint64_t p = r.pos();
    r.u32(static_cast<uint32_t>(et)).u64(n).zeros(64);
    c.push_back({name, r.bytes(), {what + " " + at(p) + fmt::format(" claims {} elements", n)}});
  };
  huge("huge_u32_array", ValueType::UINT32, 1ull << 62, "array");
  huge("u64_array_count_wraps", ValueType::UINT64, (1ull << 61) + 1, "array");  // count * 8 wraps
  huge("u8_array_one_too_many", ValueType::UINT8, 65, "array");
  huge("huge_string_array", ValueType::STRING, ~0ull, "string array");
  huge("huge_nested_array", ValueType::ARRAY, 1ull << 40, "nested array");
  {
    Raw r;
    r.header(0, 1).key("k", ValueType::ARRAY);
    uint64_t p = 0;
    for (int depth = 0; depth < 10; ++depth) {
      if (depth == 8) p = r.pos();
      r.u32(kArray).u64(1);
    }
    r.u32(kU32).u64(0);
    c.push_back({"nesting_too_deep", r.bytes(), {"array " + at(p) + " nests arrays deeper than 8 levels"}});
  }
}

void add_alignment_cases(std::vector<Case>& c) {
  auto align = [&](std::string name, ValueType t, uint64_t v, std::string what) {
    Raw r;
    r.header(0, 1).key("general.alignment", t);
    if (t == ValueType::UINT64) r.u64(v);
    else if (t == ValueType::STRING) r.str("32");
    else r.u32(static_cast<uint32_t>(v));
    c.push_back({name, r.bytes(), {what}});
  };
  align("alignment_48", ValueType::UINT32, 48, "general.alignment 48 is not a power of two");
  align("alignment_0", ValueType::UINT32, 0, "general.alignment 0 is not a power of two");
  align("alignment_u32max", ValueType::UINT32, 0xffffffffu, "general.alignment 4294967295 is not a power of two");
  align("alignment_u64", ValueType::UINT64, 32, "general.alignment has type u64, expected u32");
  align("alignment_string", ValueType::STRING, 0, "general.alignment has type string, expected u32");
  align("alignment_i32", ValueType::INT32, 32, "general.alignment has type i32, expected u32");
}

// One tensor info with a bad field; the rest of the file is plausible.
void add_tensor_info_cases(std::vector<Case>& c) {
  {
    Raw r = tensor_file(1);
    uint64_t p = r.pos();
    r.u64(5000).zeros(40);
    c.push_back({"tensor_name_past_eof", r.bytes(),
                 {"tensor #0 '' " + at(p) + ": tensor name " + at(p) + " claims length 5000"}});
  }
  for (uint32_t n_dims : {0u, 5u, 0xffffffffu}) {
    Raw r = tensor_file(1);
    uint64_t p = r.pos();
    r.str("t");
    uint64_t q = r.pos();
    r.u32(n_dims).zeros(64);
    c.push_back({fmt::format("n_dims_{}", n_dims), r.bytes(),
                 {fmt::format("tensor #0 't' {}: {} dimensions {} (1 to 4 allowed)", at(p), n_dims, at(q))}});
  }
  {
    Raw r = tensor_file(1);
    r.str("t").u32(2).u64(4);
    uint64_t q = r.pos();
    r.u64(1ull << 63).u32(kF32).u64(0).zeros(32);
    c.push_back({"dim_2pow63", r.bytes(), {"dimension 1 " + at(q) + " is 9223372036854775808, out of range"}});
  }
  {
    Raw r = tensor_file(1);
    r.str("tensor_x").u32(4).u64(1).u64(1);
    uint64_t q = r.pos();
    r.u32(0).u8(0);
    c.push_back({"truncated_dims", r.bytes(), {"truncated " + at(q) + ": tensor dimension needs 8 bytes, 5 left"}});
  }
  auto info = [&](std::string name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset,
                  std::string what, bool type_offset = false) {
    Raw r = tensor_file(1);
    uint64_t p = r.pos();
    r.str("t").u32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) r.u64(d);
    uint64_t type_at = r.pos();
    r.u32(type).u64(offset).pad_to(32).zeros(64);
    std::string where = type_offset ? " " + at(type_at) : "";
    c.push_back({name, r.bytes(), {"tensor #0 't' " + at(p), what + where}});
  };
  info("element_count_overflow", {1ull << 32, 1ull << 32}, kF32, 0, "element count overflows");
  info("element_count_overflow_3d", {1ull << 21, 1ull << 21, 1ull << 21}, kF32, 0, "element count overflows");
  info("byte_count_overflow_f64", {1ull << 62}, kF64, 0, "size in bytes of 4611686018427387904 F64 elements overflows");
  info("unknown_type_99", {4}, 99, 0, "unknown tensor type id 99", true);
  info("unknown_type_u32max", {4}, 0xffffffffu, 0, "unknown tensor type id 4294967295", true);
  info("removed_type_4", {32}, 4, 0, "unknown tensor type id 4", true);
  info("removed_type_5", {32}, 5, 0, "unknown tensor type id 5", true);
  info("removed_type_32", {32}, 32, 0, "unknown tensor type id 32", true);
  info("removed_type_37", {32}, 37, 0, "unknown tensor type id 37", true);
  info("block_size_mismatch", {33, 2}, kQ4_0, 0, "first dimension 33 is not a multiple of the Q4_0 block size 32");
  {
    Raw r = tensor_file(1);
    r.str("t").u32(1).u64(4).u32(kF32);
    uint64_t q = r.pos();
    r.u64(1).pad_to(32).zeros(64);
    c.push_back({"misaligned_offset", r.bytes(), {"data offset 1 " + at(q) + " is not a multiple of the alignment 32"}});
  }
  {
    Raw r;
    r.header(1, 1).kv_u32("general.alignment", 64).str("t").u32(1).u64(4).u32(kF32);
    uint64_t q = r.pos();
    r.u64(32).pad_to(64).zeros(128);
    c.push_back({"misaligned_offset_alignment_64", r.bytes(),
                 {"data offset 32 " + at(q) + " is not a multiple of the alignment 64"}});
  }
  {
    Raw r = tensor_file(2);
    r.tensor("t", {4}, kF32, 0);
    uint64_t p = r.pos();
    r.tensor("t", {4}, kF32, 32).pad_to(32).zeros(64);
    c.push_back({"duplicate_tensor_name", r.bytes(), {"duplicate tensor name 't' " + at(p)}});
  }
}

void add_data_cases(std::vector<Case>& c) {
  auto data = [&](std::string name, uint64_t offset, uint64_t n_floats, size_t data_bytes, std::string what) {
    Raw r = tensor_file(1);
    r.tensor("t", {n_floats}, kF32, offset).pad_to(32);
    uint64_t d = r.pos();
    r.zeros(data_bytes);
    c.push_back({name, r.bytes(), {fmt::format(fmt::runtime(what), d)}});
  };
  data("tensor_past_eof", 0, 64, 32,
       "tensor 't' (F32 [64], 256 bytes at data offset 0, file byte {}) extends past the end of the file "
       "(data section holds 32 bytes)");
  data("tensor_one_byte_short", 0, 8, 31, "tensor 't' (F32 [8], 32 bytes at data offset 0, file byte {}) extends past");
  data("offset_past_eof", 1ull << 40, 1, 64, "1099511627776, file byte");
  data("offset_near_u64max", ~0ull - 31, 16, 64, "at data offset 18446744073709551584");
  {
    Raw r = tensor_file(1);
    r.tensor("t", {4}, kF32, 0);
    uint64_t end = r.pos();
    c.push_back({"no_data_section", r.bytes(),
                 {fmt::format("file ends at byte {} before the data section at byte {}", end, (end + 31) / 32 * 32)}});
  }
  {
    Raw r = tensor_file(2);
    r.tensor("a", {16}, kF32, 0).tensor("b", {4}, kF32, 32).pad_to(32).zeros(64);
    c.push_back({"overlapping_tensors", r.bytes(), {"tensors 'a' (data bytes 0..64) and 'b' (from data byte 32) overlap"}});
  }
  {
    Raw s = tensor_file(2);
    s.tensor("x", {4}, kF32, 32).tensor("y", {8}, kF32, 32).pad_to(32).zeros(96);
    c.push_back({"same_offset_tensors", s.bytes(), {"(from data byte 32) overlap"}});
  }
}

std::vector<Case> corrupt_cases() {
  std::vector<Case> c;
  add_header_cases(c);
  add_string_cases(c);
  add_value_cases(c);
  add_alignment_cases(c);
  add_tensor_info_cases(c);
  add_data_cases(c);
  return c;
}

fs::path corpus_dir() {
  fs::path dir = fs::path(LM_TEST_TMP) / "gguf-corpus";
  fs::create_directories(dir);
  return dir;
}

void write_file(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

TEST(GgufCorrupt, EveryKindGivesAClearError) {
  std::vector<Case> cases = corrupt_cases();
  std::set<std::string> names;
  fs::path dir = corpus_dir();
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    EXPECT_TRUE(names.insert(k.name).second) << "duplicate case name";
    // An exact-size heap copy, so a sanitizer build catches any read past the end.
    std::vector<uint8_t> bytes(k.bytes);
    auto r = File::parse(bytes, k.name);
    ASSERT_FALSE(r.ok()) << "a corrupt file parsed";
    const std::string& msg = r.error().message();
    EXPECT_EQ(msg.rfind(k.name + ": ", 0), 0u) << msg;
    for (const auto& e : k.expect) EXPECT_NE(msg.find(e), std::string::npos) << "'" << e << "' not in: " << msg;
    // The same through the mmap path, which the fuzzer corpus and `localmax info` use.
    fs::path path = dir / ("bad_" + k.name + ".gguf");
    write_file(path, k.bytes);
    auto g = File::open(path.string());
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.error().message(), path.string() + msg.substr(k.name.size())) << g.error().message();
  }
  EXPECT_GE(names.size(), 30u);
}

// A valid file with every metadata shape and tensors of three dtypes.
std::vector<uint8_t> small_valid_file(uint32_t version = 3, uint32_t alignment = kDefaultAlignment) {
  Writer w(version);
  if (alignment != kDefaultAlignment) w.set_alignment(alignment);
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 2);
  w.set_f32("llama.rope.freq_base", 10000.0f);
  w.set_bool("b", true);
  w.set_i64("i", -5);
  w.set_array_string("tokenizer.ggml.tokens", {"<s>", "", "ab"});
  std::vector<int32_t> ints = {1, -2, 3};
  w.set_array_i32("ints", ints);
  Raw nested;  // [[7u32]] via set_value from a parsed file
  nested.header(0, 1).key("n", ValueType::ARRAY).u32(kArray).u64(1).u32(kU32).u64(1).u32(7);
  auto nf = File::parse(nested.bytes(), "nested");
  EXPECT_TRUE(nf.ok());
  w.set_value("nested", *(*nf)->find("n"));
  EXPECT_TRUE(w.add_tensor("a", DType::F32, {3, 2}, std::vector<uint8_t>(24, 1)).ok());
  EXPECT_TRUE(w.add_tensor("b", DType::F16, {5}, std::vector<uint8_t>(10, 2)).ok());
  EXPECT_TRUE(w.add_tensor("c", DType::Q8_0, {32}, std::vector<uint8_t>(34, 3)).ok());
  return w.to_bytes();
}

TEST(GgufCorrupt, TruncationAtEveryByteIsAnErrorUntilTheLastTensorEnds) {
  std::vector<uint8_t> full = small_valid_file();
  auto f = File::parse(full, "full");
  ASSERT_TRUE(f.ok()) << f.error().message();
  uint64_t needed = 0;  // the file may end right after the last tensor's data
  for (const auto& t : (*f)->tensors()) needed = std::max(needed, (*f)->data_offset() + t.offset + t.n_bytes);
  ASSERT_LT(needed, full.size());  // the writer pads after the last tensor
  fs::path dir = corpus_dir();
  write_file(dir / "valid_small.gguf", full);
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<uint8_t> prefix(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
    auto r = File::parse(prefix, "cut");
    if (n >= needed) {
      EXPECT_TRUE(r.ok()) << n << ": " << r.error().message();
      continue;
    }
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
    const std::string& msg = r.error().message();
    bool named = msg.find("truncated at byte") != std::string::npos || msg.find("claims") != std::string::npos ||
                 msg.find("impossible for a file of") != std::string::npos ||
                 msg.find("extends past the end") != std::string::npos ||
                 msg.find("before the data section") != std::string::npos;
    EXPECT_TRUE(named) << n << ": " << msg;
    EXPECT_NE(msg.find("byte"), std::string::npos) << n << ": " << msg;
    if (n % 37 == 0) write_file(dir / fmt::format("cut_{}.gguf", n), prefix);
  }
}

// More valid seeds for the fuzzer: version 2 with another alignment, and metadata only.
TEST(GgufCorrupt, WritesValidSeeds) {
  fs::path dir = corpus_dir();
  for (auto [version, alignment] : {std::pair{2u, 64u}, std::pair{3u, 1u}}) {
    std::vector<uint8_t> bytes = small_valid_file(version, alignment);
    auto f = File::parse(bytes, "seed");
    ASSERT_TRUE(f.ok()) << f.error().message();
    EXPECT_EQ((*f)->alignment(), alignment);
    write_file(dir / fmt::format("valid_v{}_align{}.gguf", version, alignment), bytes);
  }
  Writer w;
  w.set_string("general.architecture", "none");
  w.set_array_string("tokenizer.ggml.tokens", {"a", "b"});
  std::vector<uint8_t> bytes = w.to_bytes();
  ASSERT_TRUE(File::parse(bytes, "seed").ok());
  write_file(dir / "valid_metadata_only.gguf", bytes);
}

// The checked-in fuzz seeds keep their meaning: valid_* parse, bad_* fail.
TEST(GgufCorrupt, CheckedInSeedCorpusKeepsItsMeaning) {
  fs::path dir = fs::path(LM_SOURCE_DIR) / "tests/fuzz/corpus/gguf";
  if (!fs::exists(dir)) GTEST_SKIP() << dir << " not found";
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    auto f = File::open(e.path().string());
    bool valid = name.rfind("valid_", 0) == 0;
    EXPECT_TRUE(valid || name.rfind("bad_", 0) == 0) << "seed names start with valid_ or bad_: " << name;
    EXPECT_EQ(f.ok(), valid) << name << ": " << (f.ok() ? "parsed" : f.error().message());
    EXPECT_LT(fs::file_size(e.path()), 4096u) << name;
    ++n;
  }
  EXPECT_GE(n, 10u);
}

// Every single-byte corruption (each byte inverted) parses or fails cleanly; most header bytes
// matter, so at least some must fail.
TEST(GgufCorrupt, InvertingAnyByteNeverCrashes) {
  std::vector<uint8_t> full = small_valid_file();
  size_t failures = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    std::vector<uint8_t> bytes(full);
    bytes[i] ^= 0xff;
    auto r = File::parse(bytes, "flip");
    if (!r.ok()) {
      ++failures;
      EXPECT_FALSE(r.error().message().empty());
      continue;
    }
    for (const auto& kv : (*r)->metadata()) (void)kv.value.to_string();
  }
  EXPECT_GT(failures, 50u);
}

}  // namespace
}  // namespace lm::gguf
