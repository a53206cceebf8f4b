#include "cli/quantize_plan.h"

#include <cctype>
#include <charconv>

namespace lm::cli {
namespace {

// general.file_type values from llama.cpp's `enum llama_ftype`. Plain k-quant types map to the
// "_S" (small, mostly pure) file types, the closest llama.cpp label.
constexpr struct {
  std::string_view name;
  DType base;
  uint32_t file_type;
  bool k_mix;
} kMixes[] = {
    {"F32", DType::F32, 0, false},   {"F16", DType::F16, 1, false},
    {"BF16", DType::BF16, 32, false}, {"Q4_0", DType::Q4_0, 2, false},
    {"Q4_1", DType::Q4_1, 3, false}, {"Q5_0", DType::Q5_0, 8, false},
    {"Q5_1", DType::Q5_1, 9, false}, {"Q8_0", DType::Q8_0, 7, false},
    {"Q2_K", DType::Q2_K, 10, false}, {"Q3_K", DType::Q3_K, 11, false},
    {"Q4_K", DType::Q4_K, 14, false}, {"Q5_K", DType::Q5_K, 16, false},
    {"Q6_K", DType::Q6_K, 18, false}, {"Q4_K_M", DType::Q4_K, 15, true},
    {"Q5_K_M", DType::Q5_K, 17, true},
};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// llama.cpp's use_more_bits: the first and last eighth of the layers, and every third layer
// in between, get the bigger type.
bool use_more_bits(int il, int n_layer) {
  return il < n_layer / 8 || il >= 7 * n_layer / 8 || (il - n_layer / 8) % 3 == 2;
}

}  // namespace

std::optional<QuantMix> parse_quant_mix(std::string_view name) {
  std::string upper(name);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& m : kMixes) {
    if (m.name == upper) return QuantMix{upper, m.base, m.file_type, m.k_mix};
  }
  return std::nullopt;
}

std::string quant_mix_names() {
  std::string s;
  for (const auto& m : kMixes) {
    if (!s.empty()) s += ", ";
    s += m.name;
  }
  return s;
}

bool is_quantizable(std::string_view name, std::span<const int64_t> dims) {
  return dims.size() >= 2 && ends_with(name, ".weight");
}

int layer_index(std::string_view name) {
  constexpr std::string_view kPrefix = "blk.";
  if (name.substr(0, kPrefix.size()) != kPrefix) return -1;
  const char* begin = name.data() + kPrefix.size();
  const char* end = name.data() + name.size();
  int il = -1;
  auto [p, ec] = std::from_chars(begin, end, il);
  if (ec != std::errc() || p == begin || p == end || *p != '.') return -1;
  return il;
}

DType choose_type(const QuantMix& mix, std::string_view name, const ModelShape& shape) {
  if (!mix.k_mix) return mix.base;
  if (name == "output.weight" || (!shape.has_output && name == "token_embd.weight")) {
    return DType::Q6_K;
  }
  const int il = layer_index(name);
  if (il >= 0 && (ends_with(name, ".attn_v.weight") || ends_with(name, ".ffn_down.weight")) &&
      use_more_bits(il, shape.n_layer)) {
    return DType::Q6_K;
  }
  if (ends_with(name, ".attn_qkv.weight")) {
    return mix.base == DType::Q4_K ? DType::Q5_K : DType::Q6_K;
  }
  return mix.base;
}

DType fit_block(DType want, int64_t row_len) {
  for (DType t : {want, DType::Q8_0, DType::F16}) {
    if (row_len % dtype_info(t).block_size == 0) return t;
  }
  return DType::F32;
}

}  // namespace lm::cli
