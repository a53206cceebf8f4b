// Reading and validating `tokenizer.ggml.*` metadata (key names from the GGUF spec).
#include <fmt/format.h>

#include <cmath>

#include "core/log.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace lm::tokenizer {
namespace {

constexpr std::string_view kTokens = "tokenizer.ggml.tokens";
constexpr std::string_view kScores = "tokenizer.ggml.scores";
constexpr std::string_view kTypes = "tokenizer.ggml.token_type";

bool is_byte_piece(std::string_view p) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  return p.size() == 6 && p.substr(0, 3) == "<0x" && hex(p[3]) && hex(p[4]) && p[5] == '>';
}

Status read_pieces(const gguf::File& f, Vocab& v) {
  LM_TRY(const gguf::Value* tokens, f.get_array(kTokens, gguf::ValueType::STRING));
  if (tokens->size() == 0) return errorf("'{}' is empty", kTokens);
  if (tokens->size() > static_cast<uint64_t>(INT32_MAX)) {
    return errorf("'{}' has {} entries, more than token ids can address", kTokens, tokens->size());
  }
  v.pieces.reserve(tokens->size());
  for (uint64_t i = 0; i < tokens->size(); ++i) v.pieces.emplace_back(tokens->string_at(i));
  return Ok{};
}

Status read_scores(const gguf::File& f, Vocab& v) {
  const gguf::Value* scores = f.find(kScores);
  if (!scores) {
    if (v.model == "llama") {
      return errorf("missing '{}' (SentencePiece merges need piece scores)", kScores);
    }
    v.scores.assign(v.pieces.size(), 0.0f);   // BPE vocabularies rank by merges instead
    return Ok{};
  }
  if (scores->type() != gguf::ValueType::ARRAY || !scores->size() ||
      (scores->array_type() != gguf::ValueType::FLOAT32 &&
       scores->array_type() != gguf::ValueType::FLOAT64)) {
    return errorf("'{}' must be an array of floats, found {}", kScores, scores->to_string(4));
  }
  if (scores->size() != v.pieces.size()) {
    return errorf("'{}' has {} entries but '{}' has {}", kScores, scores->size(), kTokens,
                  v.pieces.size());
  }
  v.scores.resize(v.pieces.size());
  for (size_t i = 0; i < v.scores.size(); ++i) {
    double s = scores->float_at(i);
    if (std::isnan(s)) return errorf("'{}'[{}] is NaN", kScores, i);
    v.scores[i] = static_cast<float>(s);
  }
  return Ok{};
}

// token_type is optional in some converters' output: then types are inferred from the pieces
// (byte pieces "<0xXX>", the special ids as control / unknown, the rest normal).
Status read_types(const gguf::File& f, Vocab& v) {
  const gguf::Value* types = f.find(kTypes);
  v.types.assign(v.pieces.size(), TokenType::kNormal);
  if (!types) {
    for (size_t i = 0; i < v.pieces.size(); ++i) {
      if (is_byte_piece(v.pieces[i])) v.types[i] = TokenType::kByte;
    }
    return Ok{};
  }
  if (types->type() != gguf::ValueType::ARRAY || !types->size() ||
      (types->array_type() != gguf::ValueType::INT32 &&
       types->array_type() != gguf::ValueType::UINT32)) {
    return errorf("'{}' must be an array of int32, found {}", kTypes, types->to_string(4));
  }
  if (types->size() != v.pieces.size()) {
    return errorf("'{}' has {} entries but '{}' has {}", kTypes, types->size(), kTokens,
                  v.pieces.size());
  }
  for (size_t i = 0; i < v.types.size(); ++i) {
    int64_t t = types->int_at(i);
    if (t < 1 || t > 6) {
      return errorf("'{}'[{}] = {} is not a token type (1..6), piece '{}'", kTypes, i, t,
                    v.pieces[i]);
    }
    v.types[i] = static_cast<TokenType>(t);   // byte pieces are checked in validate_vocab
  }
  return Ok{};
}

// A special id: absent → `def` when that is in range (llama's defaults), else -1. Negative
// (some converters write -1 for "none") → -1. Present but out of range → an error, unless
// `lenient`, for ids that only label the vocabulary (padding): then a warning.
Result<int32_t> read_special_id(const gguf::File& f, std::string_view key, int64_t def,
                                int64_t n_vocab, bool lenient = false) {
  const gguf::Value* val = f.find(key);
  if (!val) return static_cast<int32_t>(def >= 0 && def < n_vocab ? def : -1);
  if (!val->is_integer()) return errorf("'{}' must be an integer, found {}", key, val->to_string());
  if (val->is_negative()) return -1;
  uint64_t id = val->as_u64();
  if (id >= static_cast<uint64_t>(n_vocab)) {
    if (id == UINT32_MAX) return -1;   // -1 written as u32
    if (lenient) {
      log::warn("tokenizer: '{}' = {} is out of range (n_vocab {}); ignored", key, id, n_vocab);
      return -1;
    }
    return errorf("'{}' = {} is out of range (n_vocab {})", key, id, n_vocab);
  }
  return static_cast<int32_t>(id);
}

Status read_specials(const gguf::File& f, Vocab& v) {
  const int64_t n = static_cast<int64_t>(v.pieces.size());
  const bool spm = v.model == "llama";   // SentencePiece defaults; BPE vocabularies name theirs
  LM_TRY(v.bos, read_special_id(f, "tokenizer.ggml.bos_token_id", spm ? 1 : -1, n));
  LM_TRY(v.eos, read_special_id(f, "tokenizer.ggml.eos_token_id", spm ? 2 : -1, n));
  LM_TRY(v.unk, read_special_id(f, "tokenizer.ggml.unknown_token_id", spm ? 0 : -1, n));
  LM_TRY(v.pad, read_special_id(f, "tokenizer.ggml.padding_token_id", -1, n, /*lenient=*/true));
  LM_TRY(v.eot, read_special_id(f, "tokenizer.ggml.eot_token_id", -1, n));
  LM_TRY(v.eom, read_special_id(f, "tokenizer.ggml.eom_token_id", -1, n));
  LM_TRY(v.add_bos, f.get_bool_or("tokenizer.ggml.add_bos_token", v.model == "llama"));
  LM_TRY(v.add_eos, f.get_bool_or("tokenizer.ggml.add_eos_token", false));
  // SentencePiece prefixes a space by default; byte-level BPE does not.
  LM_TRY(v.add_space_prefix, f.get_bool_or("tokenizer.ggml.add_space_prefix", v.model == "llama"));
  // Without token types, the special ids are what mark control / unknown tokens.
  if (!f.find(kTypes)) {
    for (int32_t id : {v.bos, v.eos, v.eot, v.eom, v.pad}) {
      if (id >= 0) v.types[id] = TokenType::kControl;
    }
    if (v.unk >= 0) v.types[v.unk] = TokenType::kUnknown;
  }
  return Ok{};
}


// tokenizer.ggml.merges ("left right", ranked) and tokenizer.ggml.pre, for BPE vocabularies.
Status read_merges(const gguf::File& f, Vocab& v) {
  if (v.model != "gpt2") return Ok{};
  LM_TRY(const gguf::Value* merges, f.get_array("tokenizer.ggml.merges", gguf::ValueType::STRING));
  v.merges.reserve(merges->size());
  for (uint64_t i = 0; i < merges->size(); ++i) {
    std::string_view m = merges->string_at(i);
    size_t sp = m.find(' ', 1);
    if (sp == std::string_view::npos || sp + 1 >= m.size()) {
      return errorf("'tokenizer.ggml.merges'[{}] = '{}' is not of the form 'left right'", i, m);
    }
    v.merges.emplace_back(std::string(m.substr(0, sp)), std::string(m.substr(sp + 1)));
  }
  if (const gguf::Value* pre = f.find("tokenizer.ggml.pre")) {
    if (pre->type() != gguf::ValueType::STRING) {
      return errorf("'tokenizer.ggml.pre' must be a string, found {}", pre->to_string());
    }
    LM_TRY(std::string_view name, f.get_string("tokenizer.ggml.pre"));
    v.pre = std::string(name);
  }
  return Ok{};
}

}  // namespace

Result<Vocab> read_vocab(const gguf::File& f) {
  Vocab v;
  LM_TRY(std::string_view model, f.get_string("tokenizer.ggml.model"));
  v.model = std::string(model);
  LM_TRY_STATUS(read_pieces(f, v));
  LM_TRY_STATUS(read_scores(f, v));
  LM_TRY_STATUS(read_types(f, v));
  LM_TRY_STATUS(read_specials(f, v));
  LM_TRY_STATUS(read_merges(f, v));
  LM_TRY_STATUS(validate_vocab(v));
  return v;
}

Status validate_vocab(const Vocab& v) {
  const size_t n = v.pieces.size();
  if (n == 0) return errorf("the vocabulary is empty");
  if (n > static_cast<size_t>(INT32_MAX)) return errorf("{} pieces is too many", n);
  if (v.scores.size() != n || v.types.size() != n) {
    return errorf("{} pieces but {} scores and {} token types", n, v.scores.size(), v.types.size());
  }
  uint64_t total_bytes = 0;
  for (const std::string& p : v.pieces) total_bytes += p.size();
  if (total_bytes >= UINT32_MAX) return errorf("the pieces hold {} bytes, over 4 GiB", total_bytes);
  for (size_t i = 0; i < n; ++i) {
    const auto t = static_cast<int32_t>(v.types[i]);
    if (t < 1 || t > 6) return errorf("token {} ('{}') has unknown type {}", i, v.pieces[i], t);
    if (v.types[i] == TokenType::kByte && !is_byte_piece(v.pieces[i])) {
      return errorf("token {} has type byte but its piece '{}' is not of the form <0xXX>", i,
                    v.pieces[i]);
    }
  }
  const std::pair<const char*, int32_t> ids[] = {{"bos", v.bos}, {"eos", v.eos}, {"unk", v.unk},
                                                 {"pad", v.pad}, {"eot", v.eot}, {"eom", v.eom}};
  for (const auto& [name, id] : ids) {
    if (id < -1 || id >= static_cast<int64_t>(n)) {
      return errorf("{} token id {} is out of range (n_vocab {})", name, id, n);
    }
  }
  return Ok{};
}

}  // namespace lm::tokenizer
