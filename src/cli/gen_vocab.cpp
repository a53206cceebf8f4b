// Tokenizers for generated models: synthetic SentencePiece-style vocabularies, copies from a
// vocabulary GGUF, and imports of Hugging Face tokenizer.json files.
#include <filesystem>
#include <fstream>

#include "cli/gen_model.h"
#include "convert/hf_tokenizer.h"

namespace lm::cli {

namespace {

using convert::GgufVocab;
using namespace convert;  // TokenType values

std::string byte_piece(int b) { return fmt::format("<0x{:02X}>", b); }

}  // namespace

// <unk>, <s>, </s>, the 256 byte pieces, then words over a frequency-ordered alphabet, shortest
// first, each with and without the "▁" word-start marker. Scores decrease with the id, so
// shorter pieces are preferred merges.
Result<GgufVocab> synthetic_vocab(int64_t n_vocab) {
  if (n_vocab < 3 + 256 + 1) {
    return errorf("a synthetic vocabulary needs at least 260 tokens (got --n-vocab {})", n_vocab);
  }
  GgufVocab v;
  v.model = "llama";
  v.unk = 0, v.bos = 1, v.eos = 2;
  v.add_bos = true;
  v.tokens = {"<unk>", "<s>", "</s>"};
  v.types = {kUnknown, kControl, kControl};
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(byte_piece(b));
    v.types.push_back(kByte);
  }
  static const std::string kAlphabet = "etaoinshrdlucmfwypvbgkjqxz";
  std::vector<size_t> digits;  // the current word, as indices into kAlphabet
  while (static_cast<int64_t>(v.tokens.size()) < n_vocab) {
    // Advance to the next word (odometer over kAlphabet, growing in length).
    size_t k = 0;
    while (k < digits.size() && ++digits[k] == kAlphabet.size()) digits[k++] = 0;
    if (k == digits.size()) digits.push_back(0);
    std::string word;
    for (auto it = digits.rbegin(); it != digits.rend(); ++it) word += kAlphabet[*it];
    for (const std::string& piece : {"\xe2\x96\x81" + word, word}) {
      if (static_cast<int64_t>(v.tokens.size()) == n_vocab) break;
      v.tokens.push_back(piece);
      v.types.push_back(kNormal);
    }
  }
  v.scores.resize(v.tokens.size(), 0.0f);
  for (size_t i = 259; i < v.tokens.size(); ++i) v.scores[i] = -static_cast<float>(i - 259);
  return v;
}

Result<int64_t> add_synthetic_vocab(gguf::Writer& w, int64_t n_vocab) {
  LM_TRY(GgufVocab v, synthetic_vocab(n_vocab));
  convert::write_gguf_vocab(w, v);
  return n_vocab;
}

Result<int64_t> copy_vocab_from_gguf(gguf::Writer& w, const std::string& path) {
  LM_TRY(auto file, gguf::File::open(path));
  LM_TRY(const gguf::Value* tokens, file->get_array("tokenizer.ggml.tokens", gguf::ValueType::STRING));
  for (const auto& kv : file->metadata()) {
    if (kv.key.starts_with("tokenizer.")) w.set_value(kv.key, kv.value);
  }
  if (tokens->size() == 0) return errorf("{}: tokenizer.ggml.tokens is empty", path);
  return static_cast<int64_t>(tokens->size());
}

}  // namespace lm::cli
