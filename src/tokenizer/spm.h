// SentencePiece BPE with scores (`tokenizer.ggml.model = "llama"`).
//
// Algorithm (SentencePiece bpe_model; llama.cpp's "SPM" tokenizer): spaces become U+2581 "▁", a
// "▁" is prepended to a stretch of text at the start or after a special token (when
// add_space_prefix), the text is split into UTF-8 characters, and the adjacent pair whose
// concatenation is a piece with the highest score is merged, repeatedly (ties: leftmost). A
// symbol that is not a piece falls back to its bytes as <0xXX> tokens (or to UNK without them).
// Only normal, user-defined and unused pieces are merge targets (as in SentencePiece, whose
// control, unknown and byte pieces live outside its piece table); an unused piece that results
// from merging is split back into the pieces it was made of.
//
// Cost: O(n log n) per call over a binary heap and a linked list of symbols; no shared state.
#pragma once

#include "tokenizer/tokenizer.h"

namespace lm::tokenizer {

class SpmTokenizer final : public Tokenizer {
 public:
  explicit SpmTokenizer(Vocab vocab);

 protected:
  void encode_text(std::string_view text, bool after_special,
                   std::vector<int32_t>& out) const override;

 private:
  struct Session;
  // A piece that merging may produce, or -1.
  int32_t merge_target(std::string_view piece) const;

  static bool pieces_split_at_spaces(const Vocab& v);

  bool split_at_spaces_;
  std::vector<uint8_t> mergeable_;   // [n_vocab] type is normal / user-defined / unused
};

}  // namespace lm::tokenizer
