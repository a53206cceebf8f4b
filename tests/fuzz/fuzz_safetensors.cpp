// libFuzzer target for the safetensors header parser: any input must parse or give an Error,
// never crash, and every tensor accepted must lie inside the input.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "convert/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = lm::convert::SafetensorsFile::parse(std::span<const uint8_t>(data, size), "fuzz");
  if (!f.ok()) return 0;
  for (const auto& t : (*f)->tensors()) {
    if (t.data.data() < data || t.data.data() + t.data.size() > data + size) std::abort();
  }
  return 0;
}
