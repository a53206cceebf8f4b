// Hugging Face tokenizer.json (+ tokenizer_config.json) import into GGUF tokenizer.* keys,
// shared by `localmax convert` and `localmax gen-model --tokenizer`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "gguf/gguf.h"

namespace lm::convert {

// tokenizer.ggml.token_type values (llama_token_type).
enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// A vocabulary in GGUF terms.
struct GgufVocab {
  std::string model;                 // "llama" or "gpt2"
  std::string pre;                   // pre-tokenizer name (gpt2 only)
  std::vector<std::string> tokens;
  std::vector<float> scores;         // llama only
  std::vector<int32_t> types;
  std::vector<std::string> merges;   // gpt2 only
  int64_t bos = -1, eos = -1, unk = -1, pad = -1;
  bool add_bos = false;
  std::string chat_template;
};

// Sets every tokenizer.* key of `v` on `w`.
void write_gguf_vocab(gguf::Writer& w, const GgufVocab& v);

// Reads tokenizer.json at `path` and tokenizer_config.json beside it (bos/eos/pad, add_bos_token,
// chat_template). `min_vocab` pads the vocabulary with [PADn] tokens up to that size (as
// converters do when the embedding has more rows than the tokenizer has tokens).
Result<GgufVocab> read_hf_tokenizer(const std::string& path, std::string_view arch, int64_t min_vocab);

// read_hf_tokenizer + write_gguf_vocab; returns the vocabulary size.
Result<int64_t> import_tokenizer_json(gguf::Writer& w, const std::string& path,
                                      std::string_view arch, int64_t min_vocab);

// A tokenizer.json (Unigram model with byte fallback) and tokenizer_config.json that
// read_hf_tokenizer turns back into `v` (a SentencePiece-style "llama" vocabulary).
std::string hf_tokenizer_json(const GgufVocab& v);
std::string hf_tokenizer_config_json(const GgufVocab& v);

}  // namespace lm::convert
