// `localmax info MODEL`: metadata and tensor table of a GGUF file.
#include <fmt/format.h>

#include <map>

#include "cli/commands.h"
#include "gguf/gguf.h"

namespace lm::cli {

int cmd_info(const Args& args) {
  bool all_tensors = false;
  std::string path;
  for (const auto& a : args) {
    if (a == "-h" || a == "--help") {
      fmt::print("usage: localmax info MODEL.gguf [--tensors]\n"
                 "  --tensors   list every tensor (default: the first 32)\n");
      return 0;
    }
    if (a == "--tensors") all_tensors = true;
    else if (path.empty()) path = a;
    else {
      fmt::print(stderr, "localmax info: unexpected argument '{}'\n", a);
      return 2;
    }
  }
  if (path.empty()) {
    fmt::print(stderr, "localmax info: missing MODEL argument\n");
    return 2;
  }
  auto file = gguf::File::open(path);
  if (!file.ok()) {
    fmt::print(stderr, "error: {}\n", file.error().message());
    return 1;
  }
  const gguf::File& f = **file;
  fmt::print("file:       {}\n", f.name());
  fmt::print("version:    GGUF v{}\n", f.version());
  fmt::print("size:       {} bytes (data section at {}, alignment {})\n", f.file_size(),
             f.data_offset(), f.alignment());
  fmt::print("metadata:   {} keys\n", f.metadata().size());
  for (const auto& kv : f.metadata()) {
    fmt::print("  {:<40} {:<7} {}\n", gguf::printable(kv.key, 200), gguf::value_type_name(kv.value.type()),
               kv.value.to_string());
  }
  uint64_t total = 0, n_params = 0;
  std::map<std::string, uint64_t> by_type;
  for (const auto& t : f.tensors()) {
    total += t.n_bytes;
    n_params += static_cast<uint64_t>(t.n_elements());
    by_type[std::string(dtype_name(t.type))] += 1;
  }
  fmt::print("tensors:    {} ({} parameters, {} bytes)\n", f.tensors().size(), n_params, total);
  for (const auto& [type, n] : by_type) fmt::print("  {:<8} {}\n", type, n);
  size_t shown = 0;
  for (const auto& t : f.tensors()) {
    if (!all_tensors && shown == 32) {
      fmt::print("  ... {} more (--tensors lists all)\n", f.tensors().size() - shown);
      break;
    }
    fmt::print("  {:<40} {:<6} {:<20} {} bytes\n", gguf::printable(t.name, 200), dtype_name(t.type), t.shape_string(),
               t.n_bytes);
    ++shown;
  }
  return 0;
}

}  // namespace lm::cli
