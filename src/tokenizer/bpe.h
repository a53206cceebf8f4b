// Byte-pair encoding with ranked merges: `tokenizer.ggml.model = "gpt2"` (byte-level, as GPT-2,
// Llama 3, Qwen, DeepSeek) and Hugging Face BPE models imported from tokenizer.json ("hf-bpe").
//
// Algorithm (GPT-2 / HF tokenizers BPE): plain text (special tokens are split off before, by the
// base class) is made valid UTF-8 (ill-formed subparts → U+FFFD), optionally NFC-normalized, cut
// into pre-tokens by the pre-tokenizer regexes (pretokenizer.h), and each pre-token is encoded
// on its own: byte-level vocabularies first map every byte to a printable character (GPT-2's
// bytes_to_unicode), SentencePiece-style ones replace " " with "▁". Starting from characters,
// the adjacent pair with the lowest merge rank is merged, repeatedly (ties: leftmost). With
// ignore_merges, a pre-token that is itself a piece is emitted whole. A character that is not a
// piece falls back to byte tokens <0xXX> (or UNK).
//
// Immutable after create(); encode/decode are const and thread-safe.
// Cost: O(n log n) per pre-token over a binary heap; merges are a hash map on (left id, right id).
#pragma once

#include <array>
#include <memory>
#include <unordered_map>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace lm::tokenizer {

// GPT-2's byte → character table as UTF-8: printable Latin-1 bytes map to themselves, the others
// (controls, space, ...) to U+0100 + n in byte order ("Ġ" = U+0120 for ' ').
const std::array<std::string, 256>& byte_to_unicode();

class BpeTokenizer final : public Tokenizer {
 public:
  // Validates merges (pieces that are not in the vocabulary are skipped, as llama.cpp does) and
  // compiles the pre-tokenizer; an error names the bad merge or regex.
  static Result<std::unique_ptr<Tokenizer>> create(Vocab vocab);

 protected:
  void encode_text(std::string_view text, bool after_special,
                   std::vector<int32_t>& out) const override;
  void append_text(std::string& out, int32_t id, bool* at_start) const override;

 private:
  struct Merge {
    int32_t rank;
    int32_t id;   // the merged piece
  };
  explicit BpeTokenizer(Vocab vocab) : Tokenizer(std::move(vocab)) {}
  Status init();
  // Encodes one pre-token, already mapped (byte-level characters or "▁" for spaces).
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  void emit_unknown(std::string_view sym, std::vector<int32_t>& out) const;
  const Merge* find_merge(int32_t left, int32_t right) const;

  std::unordered_map<uint64_t, Merge> merges_;   // (left id << 32 | right id) → merge
  std::shared_ptr<const Pretokenizer> pre_;      // null: the text is one pre-token
  std::unordered_map<uint32_t, uint8_t> unicode_to_byte_;   // inverse of byte_to_unicode()
};

}  // namespace lm::tokenizer
