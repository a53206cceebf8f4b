#include "convert/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lm::convert {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// The reference implementation refuses headers over 100 MB; so do we (a bound on memory).
constexpr uint64_t kMaxHeader = 100ull << 20;

struct StType {
  const char* name;
  DType type;
  size_t size;
  bool supported;
};

// Every dtype the format defines, so that an unsupported one is named as such, not "unknown".
constexpr StType kTypes[] = {
    {"F32", DType::F32, 4, true},   {"F16", DType::F16, 2, true},   {"BF16", DType::BF16, 2, true},
    {"F64", DType::F64, 8, false},  {"I64", DType::I64, 8, false},  {"I32", DType::I32, 4, false},
    {"I16", DType::I16, 2, false},  {"I8", DType::I8, 1, false},    {"U8", DType::I8, 1, false},
    {"U16", DType::I16, 2, false},  {"U32", DType::I32, 4, false},  {"U64", DType::I64, 8, false},
    {"BOOL", DType::I8, 1, false},  {"F8_E4M3", DType::I8, 1, false}, {"F8_E5M2", DType::I8, 1, false},
};

const StType* find_type(std::string_view name) {
  for (const auto& t : kTypes) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

// A non-negative integer that fits in int64, or an error naming `what`.
Result<int64_t> get_index(const json& j, std::string_view what) {
  if (j.is_number_unsigned()) {
    uint64_t v = j.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return errorf("{} {} is out of range", what, v);
    }
    return static_cast<int64_t>(v);
  }
  if (j.is_number_integer()) {
    int64_t v = j.get<int64_t>();
    if (v < 0) return errorf("{} {} is negative", what, v);
    return v;
  }
  return errorf("{} must be a non-negative integer, found {}", what, j.dump());
}

// One header entry; `data` is the start of the data section, `data_size` its length.
Result<StTensor> parse_entry(const std::string& name, const json& e, const uint8_t* data,
                             uint64_t data_size) {
  if (!e.is_object()) return errorf("entry must be an object, found {}", e.type_name());
  if (!e.contains("dtype") || !e["dtype"].is_string()) return errorf("missing or non-string \"dtype\"");
  if (!e.contains("shape") || !e["shape"].is_array()) return errorf("missing or non-array \"shape\"");
  if (!e.contains("data_offsets") || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2) {
    return errorf("\"data_offsets\" must be an array [begin, end]");
  }
  const std::string dtype = e["dtype"];
  const StType* st = find_type(dtype);
  if (!st) return errorf("unknown dtype '{}'", dtype);
  if (!st->supported) return errorf("dtype {} is not supported (supported: F32, F16, BF16)", dtype);
  StTensor t;
  t.name = name;
  t.type = st->type;
  if (e["shape"].size() > 8) return errorf("shape has {} dimensions (at most 8)", e["shape"].size());
  // The element count times the element size must stay below 2^62: no overflow below.
  uint64_t numel = 1;
  for (const json& d : e["shape"]) {
    LM_TRY(int64_t v, get_index(d, "shape dimension"));
    if (v != 0 && numel > (uint64_t{1} << 62) / static_cast<uint64_t>(v) / st->size) {
      return errorf("shape {} is too large", e["shape"].dump());
    }
    numel *= static_cast<uint64_t>(v);
    t.shape.push_back(v);
  }
  LM_TRY(int64_t begin, get_index(e["data_offsets"][0], "data_offsets begin"));
  LM_TRY(int64_t end, get_index(e["data_offsets"][1], "data_offsets end"));
  if (begin > end) return errorf("data_offsets [{}, {}] end before they begin", begin, end);
  if (static_cast<uint64_t>(end) > data_size) {
    return errorf("data_offsets [{}, {}] go past the data section of {} bytes", begin, end, data_size);
  }
  const uint64_t want = numel * st->size;
  if (static_cast<uint64_t>(end - begin) != want) {
    return errorf("{} {} needs {} bytes, but data_offsets [{}, {}] hold {}", dtype,
                  e["shape"].dump(), want, begin, end, end - begin);
  }
  t.data = std::span<const uint8_t>(data + begin, static_cast<size_t>(want));
  return t;
}

Status parse_metadata(const json& m, std::map<std::string, std::string>& out) {
  if (!m.is_object()) return errorf("__metadata__ must be an object, found {}", m.type_name());
  for (const auto& [k, v] : m.items()) {
    if (!v.is_string()) return errorf("__metadata__[\"{}\"] must be a string, found {}", k, v.type_name());
    out[k] = v.get<std::string>();
  }
  return Ok{};
}

}  // namespace

int64_t StTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string StTensor::shape_string() const { return fmt::format("[{}]", fmt::join(shape, ", ")); }

std::string_view st_dtype_name(DType t) {
  for (const auto& s : kTypes) {
    if (s.supported && s.type == t) return s.name;
  }
  return "?";
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::open(const std::string& path) {
  LM_TRY(MappedFile map, MappedFile::open(path));
  LM_TRY(auto f, parse(map.bytes(), path));
  f->map_ = std::move(map);
  return f;
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::parse(std::span<const uint8_t> bytes,
                                                                std::string name) {
  auto f = std::make_unique<SafetensorsFile>();
  f->name_ = name;
  if (bytes.size() < 8) {
    return errorf("{}: file of {} bytes is too short for the 8-byte header length", name, bytes.size());
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[static_cast<size_t>(i)];
  if (n > bytes.size() - 8) {
    return errorf("{}: header length {} exceeds the {} bytes after it (truncated or not a safetensors file)",
                  name, n, bytes.size() - 8);
  }
  if (n > kMaxHeader) return errorf("{}: header length {} exceeds the 100 MB limit", name, n);
  const uint64_t data_size = bytes.size() - 8 - n;
  const uint8_t* data = bytes.data() + 8 + n;
  json header;
  try {
    header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<ptrdiff_t>(n));
  } catch (const std::exception& e) {
    return errorf("{}: invalid JSON header: {}", name, e.what());
  }
  if (!header.is_object()) return errorf("{}: JSON header must be an object, found {}", name, header.type_name());
  for (const auto& [key, entry] : header.items()) {
    if (key == "__metadata__") {
      LM_TRY_STATUS(parse_metadata(entry, f->metadata_).wrap(name));
      continue;
    }
    Result<StTensor> t = parse_entry(key, entry, data, data_size);
    if (!t.ok()) return std::move(t).error().wrap(fmt::format("{}: tensor '{}'", name, key));
    t->file = name;
    f->tensors_.push_back(std::move(*t));
  }
  std::sort(f->tensors_.begin(), f->tensors_.end(),
            [](const StTensor& a, const StTensor& b) { return a.data.data() < b.data.data(); });
  for (size_t i = 1; i < f->tensors_.size(); ++i) {
    const StTensor& a = f->tensors_[i - 1];
    const StTensor& b = f->tensors_[i];
    if (b.data.data() < a.data.data() + a.data.size()) {
      return errorf("{}: tensors '{}' and '{}' overlap (bytes {}..{} and {}..{} of the data section)",
                    name, a.name, b.name, a.data.data() - data, a.data.data() - data + a.data.size(),
                    b.data.data() - data, b.data.data() - data + b.data.size());
    }
  }
  return f;
}

const StTensor* SafetensorsFile::find(std::string_view name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

namespace {

Result<json> read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errorf("cannot open {}", path);
  try {
    return json::parse(in);
  } catch (const std::exception& e) {
    return errorf("{}: invalid JSON: {}", path, e.what());
  }
}

// The shard files an index names, in order of first mention, checked to stay inside `dir`.
Result<std::vector<std::string>> index_files(const json& index, const std::string& path) {
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    return errorf("{}: expected an object with a \"weight_map\" object", path);
  }
  std::vector<std::string> files;
  for (const auto& [tensor, file] : index["weight_map"].items()) {
    if (!file.is_string()) return errorf("{}: weight_map[\"{}\"] must be a file name", path, tensor);
    std::string f = file;
    if (f.empty() || f.starts_with("/") || f.find("..") != std::string::npos) {
      return errorf("{}: weight_map[\"{}\"] names '{}', not a file of the model folder", path, tensor, f);
    }
    if (std::find(files.begin(), files.end(), f) == files.end()) files.push_back(f);
  }
  if (files.empty()) return errorf("{}: weight_map is empty", path);
  return files;
}

}  // namespace

Result<SafetensorsModel> SafetensorsModel::open_dir(const std::string& dir) {
  SafetensorsModel m;
  const std::string index_path = (fs::path(dir) / "model.safetensors.index.json").string();
  const std::string single = (fs::path(dir) / "model.safetensors").string();
  json index;
  std::vector<std::string> files;
  if (fs::exists(index_path)) {
    LM_TRY(json j, read_json_file(index_path));
    index = std::move(j);
    LM_TRY(files, index_files(index, index_path));
  } else if (fs::exists(single)) {
    files = {"model.safetensors"};
  } else {
    return errorf("{}: no model.safetensors or model.safetensors.index.json", dir);
  }
  for (const std::string& name : files) {
    LM_TRY(auto f, SafetensorsFile::open((fs::path(dir) / name).string()));
    for (const StTensor& t : f->tensors()) {
      auto [it, fresh] = m.by_name_.emplace(t.name, &t);
      if (!fresh) return errorf("tensor '{}' is in both {} and {}", t.name, it->second->file, t.file);
      m.order_.push_back(&t);
    }
    m.files_.push_back(std::move(f));
  }
  if (!index.is_null()) {
    for (const auto& [tensor, file] : index["weight_map"].items()) {
      const StTensor* t = m.find(tensor);
      const std::string want = (fs::path(dir) / file.get<std::string>()).string();
      if (!t || t->file != want) {
        return errorf("{}: tensor '{}' is mapped to {}, which does not hold it", index_path, tensor,
                      file.get<std::string>());
      }
    }
  }
  return m;
}

const StTensor* SafetensorsModel::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

namespace {

Status write_all(int fd, std::span<const uint8_t> bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return errorf("writing {} failed: {}", path, n < 0 ? std::strerror(errno) : "no progress");
    done += static_cast<size_t>(n);
  }
  return Ok{};
}

Result<std::string> header_json(const std::vector<StWriteTensor>& tensors,
                                const std::map<std::string, std::string>& metadata) {
  json h = json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    uint64_t n = 1;
    for (int64_t d : t.shape) {
      if (d < 0) return errorf("tensor '{}': negative dimension", t.name);
      n *= static_cast<uint64_t>(d);
    }
    const uint64_t bytes = n * (t.type == DType::F32 ? 4 : 2);
    if (t.type != DType::F32 && t.type != DType::F16 && t.type != DType::BF16) {
      return errorf("tensor '{}': cannot write {} to safetensors", t.name, dtype_name(t.type));
    }
    if (h.contains(t.name)) return errorf("duplicate tensor name '{}'", t.name);
    h[t.name] = {{"dtype", st_dtype_name(t.type)}, {"shape", t.shape},
                 {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string s = h.dump();
  s.resize((s.size() + 7) / 8 * 8, ' ');  // data section 8-aligned, as the reference writes it
  return s;
}

Status write_body(int fd, const std::string& path, const std::string& header,
                  const std::vector<StWriteTensor>& tensors) {
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(header.size()) >> (8 * i));
  LM_TRY_STATUS(write_all(fd, len, path));
  LM_TRY_STATUS(write_all(fd, {reinterpret_cast<const uint8_t*>(header.data()), header.size()}, path));
  std::vector<uint8_t> buf;
  for (const auto& t : tensors) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    buf.assign(static_cast<size_t>(n) * (t.type == DType::F32 ? 4 : 2), 0);
    LM_TRY_STATUS(t.fill(buf).wrap(fmt::format("writing {}: tensor {}", path, t.name)));
    LM_TRY_STATUS(write_all(fd, buf, path));
  }
  if (::fsync(fd) != 0) return errorf("writing {} failed: fsync: {}", path, std::strerror(errno));
  return Ok{};
}

// Runs `body` on a temporary file beside `path` and renames it over `path` when it succeeds.
Status write_atomic(const std::string& path, const std::function<Status(int fd)>& body) {
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return errorf("cannot create a temporary file for {}: {}", path, std::strerror(errno));
  ::fchmod(fd, 0644);
  Status st = body(fd);
  if (::close(fd) != 0 && st.ok()) st = errorf("writing {} failed: close: {}", path, std::strerror(errno));
  if (st.ok() && std::rename(tmp.c_str(), path.c_str()) != 0) {
    st = errorf("cannot rename {} to {}: {}", tmp, path, std::strerror(errno));
  }
  if (!st.ok()) ::unlink(tmp.c_str());
  return st;
}

}  // namespace

Status write_safetensors(const std::string& path, const std::vector<StWriteTensor>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  LM_TRY(std::string header, header_json(tensors, metadata).wrap(path));
  return write_atomic(path, [&](int fd) { return write_body(fd, path, header, tensors); });
}

Status write_file_atomic(const std::string& path, std::string_view bytes) {
  return write_atomic(path, [&](int fd) -> Status {
    LM_TRY_STATUS(write_all(fd, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, path));
    if (::fsync(fd) != 0) return errorf("writing {} failed: fsync: {}", path, std::strerror(errno));
    return Ok{};
  });
}

}  // namespace lm::convert
