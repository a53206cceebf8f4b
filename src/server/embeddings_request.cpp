// Parsing of embeddings requests (embeddings.h).
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "server/duration.h"
#include "server/embeddings.h"
#include "server/json_fields.h"

namespace lm::server {
namespace {

using nlohmann::json;

constexpr int64_t kI32Max = 0x7fffffff;

// An array of token ids; `where` names it in errors ("input", "input[3]").
std::optional<ApiError> read_ids(const json& arr, const std::string& where, std::vector<int32_t>* out) {
  if (arr.empty()) return bad_param("input", fmt::format("'{}' is an empty list of token ids", where));
  for (size_t i = 0; i < arr.size(); ++i) {
    const json& t = arr[i];
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > kI32Max) {
      return bad_param("input", fmt::format("'{}[{}]' must be a non-negative token id, got {}", where,
                                            i, t.dump()));
    }
    out->push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  return std::nullopt;
}

std::optional<ApiError> read_string_list(const json& arr, EmbedRequest& q) {
  for (size_t i = 0; i < arr.size(); ++i) {
    if (!arr[i].is_string()) {
      return bad_param("input", fmt::format("'input[{}]' must be a string like the other items, got {}",
                                            i, json_type_name(arr[i])));
    }
    if (arr[i].get_ref<const std::string&>().empty())
      return bad_param("input", fmt::format("'input[{}]' is an empty string", i));
    q.texts.push_back(arr[i].get<std::string>());
  }
  return std::nullopt;
}

// OpenAI input: string | string[] | int[] | int[][].
std::optional<ApiError> read_openai_input(const json* in, EmbedRequest& q) {
  if (!in) return bad_param("input", "'input' is required");
  if (in->is_string()) {
    if (in->get_ref<const std::string&>().empty()) return bad_param("input", "'input' is an empty string");
    q.texts.push_back(in->get<std::string>());
    return std::nullopt;
  }
  if (!in->is_array()) {
    return bad_param("input", fmt::format("'input' must be a string, an array of strings or token "
                                          "ids, got {}", json_type_name(*in)));
  }
  if (in->empty()) return bad_param("input", "'input' is an empty array");
  const json& first = (*in)[0];
  if (first.is_string()) return read_string_list(*in, q);
  q.is_tokens = true;
  if (first.is_number()) {
    q.token_inputs.emplace_back();
    return read_ids(*in, "input", &q.token_inputs.back());
  }
  for (size_t i = 0; i < in->size(); ++i) {
    const json& a = (*in)[i];
    std::string where = fmt::format("input[{}]", i);
    if (!a.is_array()) {
      return bad_param("input", fmt::format("'{}' must be an array of token ids like the other items, "
                                            "got {}", where, json_type_name(a)));
    }
    q.token_inputs.emplace_back();
    if (auto e = read_ids(a, where, &q.token_inputs.back())) return e;
  }
  return std::nullopt;
}

std::optional<ApiError> check_count(const EmbedRequest& q) {
  if (q.n_inputs() <= kMaxEmbeddingInputs) return std::nullopt;
  return bad_param("input", fmt::format("'input' has {} items; at most {} are allowed per request",
                                        q.n_inputs(), kMaxEmbeddingInputs));
}

}  // namespace

Parsed<EmbedRequest> parse_openai_embeddings(std::string_view body) {
  auto obj = parse_json_object<json>(body);
  if (auto* e = std::get_if<ApiError>(&obj)) return *e;
  const json& j = std::get<json>(obj);
  EmbedRequest q;
  FieldReader r(j);
  r.string("model", &q.model);
  std::string format = "float";
  if (r.string("encoding_format", &format) && format != "float" && format != "base64") {
    r.fail("encoding_format",
           fmt::format("'encoding_format' must be \"float\" or \"base64\", got \"{}\"", format));
  }
  q.base64 = format == "base64";
  r.integer("dimensions", &q.dimensions, 1, kI32Max);
  std::string user;
  r.string("user", &user);   // accepted and ignored
  if (!r.ok()) return *r.error();
  if (auto e = read_openai_input(r.get("input"), q)) return *e;
  if (auto e = check_count(q)) return *e;
  return q;
}

Parsed<EmbedRequest> parse_ollama_embed(std::string_view body, bool legacy) {
  auto obj = parse_json_object<json>(body);
  if (auto* e = std::get_if<ApiError>(&obj)) return *e;
  const json& j = std::get<json>(obj);
  EmbedRequest q;
  q.legacy = legacy;
  FieldReader r(j);
  r.string("model", &q.model);
  if (legacy) {
    std::string prompt;
    if (r.string("prompt", &prompt) && !prompt.empty()) q.texts.push_back(std::move(prompt));
  } else {
    q.truncate = true;
    r.boolean("truncate", &q.truncate);
    r.integer("dimensions", &q.dimensions, 1, kI32Max);
  }
  if (const json* k = r.get("keep_alive"); k && !k->is_null()) {
    auto ms = duration_from_json(*k);
    if (ms.ok()) {
      q.keep_alive_ms = *ms;
    } else {
      r.fail("keep_alive", ms.error().message());
    }
  }
  const json* opts = nullptr;
  r.object("options", &opts);
  if (!r.ok()) return *r.error();
  if (opts) {
    FieldReader o(*opts, "options.");
    o.integer("num_ctx", &q.num_ctx, 1, kI32Max);
    if (!o.ok()) return *o.error();
  }
  if (legacy) return q;
  if (const json* in = r.get("input")) {
    if (in->is_string()) {
      if (!in->get_ref<const std::string&>().empty()) q.texts.push_back(in->get<std::string>());
    } else if (in->is_array()) {
      if (auto e = read_string_list(*in, q)) return *e;
    } else {
      return bad_param("input", fmt::format("'input' must be a string or an array of strings, got {}",
                                            json_type_name(*in)));
    }
  }
  if (auto e = check_count(q)) return *e;
  return q;
}

std::string base64_floats(std::span<const float> v) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static_assert(std::endian::native == std::endian::little, "float bytes are sent little-endian");
  std::vector<uint8_t> bytes(v.size() * sizeof(float));
  if (!v.empty()) std::memcpy(bytes.data(), v.data(), bytes.size());
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t w = static_cast<uint32_t>(bytes[i]) << 16;
    if (n > 1) w |= static_cast<uint32_t>(bytes[i + 1]) << 8;
    if (n > 2) w |= bytes[i + 2];
    out += kAlphabet[(w >> 18) & 63];
    out += kAlphabet[(w >> 12) & 63];
    out += n > 1 ? kAlphabet[(w >> 6) & 63] : '=';
    out += n > 2 ? kAlphabet[w & 63] : '=';
  }
  return out;
}

}  // namespace lm::server
