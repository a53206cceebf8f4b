// Tokenizers for GGUF vocabularies (`tokenizer.ggml.*` metadata).
//
// `Tokenizer` owns a copy of the vocabulary (pieces, scores, token types, special ids), so it
// outlives the gguf::File it was loaded from. It is immutable after loading: encode and decode
// are const and safe to call from many threads at once. Each subclass implements one
// `tokenizer.ggml.model`: "llama" = SentencePiece BPE with scores (spm.h); "gpt2" = byte-level
// BPE with ranked merges (bpe.h), which also serves Hugging Face tokenizer.json imports
// ("hf-bpe", from_hf_json).
//
// Cost: loading builds a hash map over all pieces (one pass); encode is O(n log n) in the text
// length; decode is linear.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "tokenizer/piece_map.h"

namespace lm::gguf {
class File;
}

namespace lm::tokenizer {

// Values of `tokenizer.ggml.token_type` (SentencePiece's ModelProto::SentencePiece::Type).
enum class TokenType : int32_t {
  kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6,
};

// The vocabulary as read from GGUF metadata, validated. Public so tests and tools can build one
// by hand; a Tokenizer is constructed from it.
struct Vocab {
  std::string model;                  // tokenizer.ggml.model ("llama", "gpt2"; "hf-bpe" imported)
  std::vector<std::string> pieces;    // [n_vocab] raw piece text ("▁the", "<0x41>", "<s>")
  std::vector<float> scores;          // [n_vocab]
  std::vector<TokenType> types;       // [n_vocab]
  int32_t bos = -1, eos = -1, unk = -1, pad = -1, eot = -1, eom = -1;  // -1: none
  bool add_bos = true;
  bool add_eos = false;
  bool add_space_prefix = true;

  // Byte-level BPE ("gpt2") and Hugging Face BPE ("hf-bpe") only.
  std::vector<std::pair<std::string, std::string>> merges;   // ranked: first = merged first
  std::string pre;                    // tokenizer.ggml.pre ("llama-bpe", "qwen2", ...)
  std::vector<std::string> pre_regexes;   // explicit pre-tokenizer regexes (override `pre`)
  bool byte_level = true;    // GPT-2 byte↔unicode mapping; false: "▁" for spaces + byte fallback
  bool ignore_merges = false;   // a pre-token that is a whole piece is emitted as is (Llama 3)
  bool normalize_nfc = false;   // NFC-normalize plain text before pre-tokenizing (Qwen)
  bool fuse_unk = false;        // consecutive UNKs become one
  // Special-token splitting: false = llama.cpp (each special token in turn, longest first);
  // true = Hugging Face (scan left to right, longest added token at each position).
  bool split_leftmost = false;
};

// Reads and validates the tokenizer metadata of `f` (lengths match, ids in range, types known).
Result<Vocab> read_vocab(const gguf::File& f);
// Checks a Vocab built by hand: equal lengths, known types, byte pieces, special ids in range.
Status validate_vocab(const Vocab& v);

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Loads the tokenizer named by `tokenizer.ggml.model`; an error names what is wrong.
  static Result<std::unique_ptr<Tokenizer>> from_gguf(const gguf::File& f);
  // Imports a Hugging Face tokenizer.json (BPE models: byte-level like Qwen / Llama 3, or
  // SentencePiece-style with byte fallback like Gemma), with its added tokens. `config_path`
  // (tokenizer_config.json, "" for none) supplies bos/eos and add_bos_token / add_eos_token.
  static Result<std::unique_ptr<Tokenizer>> from_hf_json(const std::string& path,
                                                         const std::string& config_path = "");
  // Builds the tokenizer for a vocabulary (validated again: a hand-built one may be wrong).
  static Result<std::unique_ptr<Tokenizer>> from_vocab(Vocab vocab);

  // Text → token ids. add_bos prepends BOS (if the vocabulary has one; callers usually pass
  // add_bos()). EOS is never appended here (callers check add_eos()). parse_special: control
  // (and unknown) tokens written literally in `text` ("<s>") become their ids; user-defined
  // tokens are always matched, as llama.cpp does. Any bytes are accepted (invalid UTF-8 goes to
  // byte tokens); a literal "▁" (U+2581) in the text reads as a space, as in SentencePiece.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_bos,
                                      bool parse_special) const;

  // The raw piece ("▁the", "<0x41>", "<s>"); "" for an id out of range.
  std::string_view token_text(int32_t id) const;
  // The bytes one token stands for: "▁" → " ", "<0x41>" → "A"; control, unknown and unused
  // tokens → "" unless render_special (then their raw text). "" for an id out of range.
  std::string decode_token(int32_t id, bool render_special = false) const;
  // The bytes a whole sequence stands for. SentencePiece rule: when the vocabulary adds a space
  // prefix, the leading space of the first token that renders text is removed (control tokens
  // such as BOS before it don't count; llama.cpp's detokenizer differs here: it keeps that space
  // when BOS comes first). Byte tokens are concatenated, so the result may hold invalid UTF-8 if
  // the ids do (use StreamDecoder for text meant for display). User-defined pieces decode like
  // normal ones ("▁" → " "), as in SentencePiece (llama.cpp copies them raw).
  std::string decode(std::span<const int32_t> ids, bool render_special = false) const;

  int32_t n_vocab() const { return static_cast<int32_t>(vocab_.pieces.size()); }
  int32_t bos() const { return vocab_.bos; }
  int32_t eos() const { return vocab_.eos; }
  int32_t unk() const { return vocab_.unk; }
  int32_t pad() const { return vocab_.pad; }
  bool add_bos() const { return vocab_.add_bos; }
  bool add_eos() const { return vocab_.add_eos; }
  bool add_space_prefix() const { return vocab_.add_space_prefix; }
  // End of generation: eos, eot, eom, plus control tokens whose text is a well-known
  // end-of-turn marker ("<end_of_turn>", "<|eot_id|>", ...), as llama.cpp detects them.
  bool is_eog(int32_t id) const;
  bool is_control(int32_t id) const;
  TokenType token_type(int32_t id) const;   // kUnused for an id out of range
  const Vocab& vocab() const { return vocab_; }

  // Id of an exact piece, or -1.
  int32_t piece_to_id(std::string_view piece) const;

  // Appends the bytes of token `id` to `out`, applying the leading-space rule while `*at_start`
  // (cleared by the first token that renders text). Shared by decode() and StreamDecoder.
  void append_piece(std::string& out, int32_t id, bool* at_start, bool render_special) const;

 protected:
  explicit Tokenizer(Vocab vocab);

  // Appends the bytes of a normal / user-defined piece (SPM: "▁" → " ", with the leading-space
  // rule while *at_start). Byte-level BPE overrides it to map its characters back to bytes.
  virtual void append_text(std::string& out, int32_t id, bool* at_start) const;

  // Encodes one stretch of plain text (no special tokens in it). `after_special` is true for
  // the first stretch and for one that follows a special token (SPM adds its space prefix there).
  virtual void encode_text(std::string_view text, bool after_special,
                           std::vector<int32_t>& out) const = 0;

  // The byte-fallback token for `byte`, or unk, or -1.
  int32_t byte_token(uint8_t byte) const { return byte_to_id_[byte]; }

  Vocab vocab_;

 private:
  struct Fragment {
    std::string_view text;   // plain text when token < 0
    int32_t token = -1;
  };
  std::vector<Fragment> split_special(std::string_view text, bool parse_special) const;
  std::vector<Fragment> split_special_leftmost(std::string_view text, bool parse_special) const;

  PieceMap piece_to_id_;   // over vocab_.pieces
  std::array<int32_t, 256> byte_to_id_{};
  std::vector<int32_t> special_;   // control/user-defined/unknown ids, longest text first
  std::unordered_map<uint8_t, std::vector<int32_t>> special_by_byte_;   // by first byte, longest first
  std::vector<int32_t> eog_;
};

// Where a StreamDecoder's first token sits: at the start of a sequence (the SentencePiece
// leading-space rule applies, as in decode()), or continuing text already shown, e.g. the
// generated tokens after a prompt, whose first "▁was" must keep its space ("Zoo" + " was").
enum class StreamStart { kSequenceStart, kContinuation };

// Streaming-safe detokenization for generated text. Feed tokens one at a time; push() returns
// only complete, valid UTF-8: an incomplete multi-byte sequence (a character split over byte
// tokens) is held back until it completes, and invalid bytes become U+FFFD rather than being held.
// From kSequenceStart, the concatenated output equals decode() of the same ids whenever that is
// valid UTF-8. Not thread-safe (one per sequence); holds a reference to the tokenizer, which
// must outlive it. Cost: O(bytes) per token, no allocation beyond the returned string.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, StreamStart start = StreamStart::kSequenceStart,
                         bool render_special = false)
      : tok_(tok), render_special_(render_special), at_start_(start == StreamStart::kSequenceStart) {}

  std::string push(int32_t id);
  // As push(id), rendering a control token as its raw text when render_special is true.
  std::string push(int32_t id, bool render_special);
  // Ends the stream: held-back bytes (an unfinished character) come out as U+FFFD. The decoder
  // can then be reused for a new sequence (from its start: the leading-space rule applies).
  std::string flush();

 private:
  const Tokenizer& tok_;
  bool render_special_;
  bool at_start_;
  std::string pending_;   // bytes of an incomplete UTF-8 sequence
};

}  // namespace lm::tokenizer
