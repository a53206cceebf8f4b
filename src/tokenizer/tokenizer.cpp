#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <bitset>

#include "gguf/gguf.h"
#include "tokenizer/bpe.h"
#include "tokenizer/spm.h"

namespace lm::tokenizer {
namespace {

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";   // U+2581 "▁"

// Control / user-defined pieces that end a turn in common chat formats, for vocabularies that
// don't name them in eot_token_id (llama.cpp detects EOG tokens by these texts too).
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|eom_id|>", "<EOT>",      "<|end_of_text|>", "<end_of_utterance>",
};

int hex_digit(char c) { return c <= '9' ? c - '0' : c - 'A' + 10; }

// "<0x41>" → 0x41 (the piece was validated as a byte piece at load).
uint8_t byte_of_piece(std::string_view p) {
  return static_cast<uint8_t>(hex_digit(p[3]) * 16 + hex_digit(p[4]));
}

bool is_special_type(TokenType t) {
  return t == TokenType::kControl || t == TokenType::kUserDefined || t == TokenType::kUnknown;
}

}  // namespace

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {
  const int32_t n = n_vocab();
  piece_to_id_.build(vocab_.pieces);
  byte_to_id_.fill(-1);
  for (int32_t id = 0; id < n; ++id) {
    if (vocab_.types[id] == TokenType::kByte) {
      int32_t& slot = byte_to_id_[byte_of_piece(vocab_.pieces[id])];
      if (slot < 0) slot = id;
    }
  }
  for (int32_t id = 0; id < n; ++id) {
    if (is_special_type(vocab_.types[id]) && !vocab_.pieces[id].empty()) special_.push_back(id);
  }
  // Longest first, so "<|im_end|>" is not cut by a shorter special token inside it.
  std::stable_sort(special_.begin(), special_.end(), [&](int32_t a, int32_t b) {
    return vocab_.pieces[a].size() > vocab_.pieces[b].size();
  });
  for (int32_t id : special_) special_by_byte_[static_cast<uint8_t>(vocab_.pieces[id][0])].push_back(id);
  for (int32_t id : {vocab_.eos, vocab_.eot, vocab_.eom}) {
    if (id >= 0) eog_.push_back(id);
  }
  for (std::string_view text : kEogTexts) {
    int32_t id = piece_to_id(text);
    if (id >= 0 && (vocab_.types[id] == TokenType::kControl ||
                    vocab_.types[id] == TokenType::kUserDefined)) {
      eog_.push_back(id);
    }
  }
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_vocab(Vocab vocab) {
  LM_TRY_STATUS(validate_vocab(vocab));
  if (vocab.model == "llama") {
    return std::unique_ptr<Tokenizer>(std::make_unique<SpmTokenizer>(std::move(vocab)));
  }
  if (vocab.model == "gpt2" || vocab.model == "hf-bpe") return BpeTokenizer::create(std::move(vocab));
  return errorf("tokenizer model '{}' is not supported (supported: llama, gpt2)", vocab.model);
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const gguf::File& f) {
  auto vocab = read_vocab(f);
  if (!vocab.ok()) return std::move(vocab).error().wrap(fmt::format("tokenizer of {}", f.name()));
  return from_vocab(std::move(vocab).value()).wrap(fmt::format("tokenizer of {}", f.name()));
}

int32_t Tokenizer::piece_to_id(std::string_view piece) const {
  return piece_to_id_.find(piece);
}

std::string_view Tokenizer::token_text(int32_t id) const {
  if (id < 0 || id >= n_vocab()) return {};
  return vocab_.pieces[id];
}

TokenType Tokenizer::token_type(int32_t id) const {
  if (id < 0 || id >= n_vocab()) return TokenType::kUnused;
  return vocab_.types[id];
}

bool Tokenizer::is_control(int32_t id) const {
  return token_type(id) == TokenType::kControl;
}

bool Tokenizer::is_eog(int32_t id) const {
  return id >= 0 && std::find(eog_.begin(), eog_.end(), id) != eog_.end();
}

// Splits `text` around special tokens, the way llama.cpp's tokenizer_st_partition does: each
// special token in turn (longest first) cuts every remaining plain-text fragment at each of its
// occurrences.
std::vector<Tokenizer::Fragment> Tokenizer::split_special(std::string_view text,
                                                          bool parse_special) const {
  std::vector<Fragment> frags{{text, -1}};
  std::bitset<256> present;   // bytes in the text: a cheap filter before searching
  for (char c : text) present.set(static_cast<uint8_t>(c));
  std::vector<Fragment> next;
  for (int32_t id : special_) {
    const std::string& piece = vocab_.pieces[id];
    if (!parse_special && vocab_.types[id] != TokenType::kUserDefined) continue;
    if (!present.test(static_cast<uint8_t>(piece[0])) || piece.size() > text.size()) continue;
    if (text.find(piece) == std::string_view::npos) continue;
    next.clear();
    for (const Fragment& f : frags) {
      if (f.token >= 0) { next.push_back(f); continue; }
      std::string_view rest = f.text;
      for (size_t at; (at = rest.find(piece)) != std::string_view::npos;) {
        if (at > 0) next.push_back({rest.substr(0, at), -1});
        next.push_back({{}, id});
        rest.remove_prefix(at + piece.size());
      }
      if (!rest.empty()) next.push_back({rest, -1});
    }
    frags.swap(next);
  }
  return frags;
}

// Hugging Face's AddedVocabulary split: scanning left to right, the longest special token that
// starts at each position is cut out.
std::vector<Tokenizer::Fragment> Tokenizer::split_special_leftmost(std::string_view text,
                                                                   bool parse_special) const {
  std::vector<Fragment> frags;
  size_t plain = 0;   // start of the pending plain text
  for (size_t pos = 0; pos < text.size();) {
    int32_t best = -1;
    auto it = special_by_byte_.find(static_cast<uint8_t>(text[pos]));
    if (it != special_by_byte_.end()) {
      for (int32_t id : it->second) {   // longest first
        if (!parse_special && vocab_.types[id] != TokenType::kUserDefined) continue;
        if (text.substr(pos).starts_with(vocab_.pieces[id])) { best = id; break; }
      }
    }
    if (best < 0) { ++pos; continue; }
    if (pos > plain) frags.push_back({text.substr(plain, pos - plain), -1});
    frags.push_back({{}, best});
    pos += vocab_.pieces[best].size();
    plain = pos;
  }
  if (plain < text.size()) frags.push_back({text.substr(plain), -1});
  return frags;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos,
                                       bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
  if (text.empty()) return out;
  bool after_special = true;   // the first stretch counts as following a special token
  auto frags = vocab_.split_leftmost ? split_special_leftmost(text, parse_special)
                                     : split_special(text, parse_special);
  for (const Fragment& f : frags) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
    } else {
      encode_text(f.text, after_special, out);
      after_special = false;
    }
  }
  return out;
}

void Tokenizer::append_piece(std::string& out, int32_t id, bool* at_start,
                             bool render_special) const {
  if (id < 0 || id >= n_vocab()) return;
  const std::string& piece = vocab_.pieces[id];
  switch (vocab_.types[id]) {
    case TokenType::kNormal:
    case TokenType::kUserDefined:
      append_text(out, id, at_start);
      return;
    case TokenType::kByte:
      out.push_back(static_cast<char>(byte_of_piece(piece)));
      *at_start = false;
      return;
    case TokenType::kControl:
    case TokenType::kUnknown:
    case TokenType::kUnused:
      if (render_special) {
        out.append(piece);
        *at_start = false;
      }
      return;
  }
}

void Tokenizer::append_text(std::string& out, int32_t id, bool* at_start) const {
  std::string_view p = vocab_.pieces[id];
  // SentencePiece decoding drops the dummy prefix of the first piece.
  if (*at_start && vocab_.add_space_prefix && p.substr(0, 3) == kSpaceSymbol) p.remove_prefix(3);
  for (size_t at; (at = p.find(kSpaceSymbol)) != std::string_view::npos;) {
    out.append(p.substr(0, at));
    out.push_back(' ');
    p.remove_prefix(at + 3);
  }
  out.append(p);
  *at_start = false;
}

std::string Tokenizer::decode_token(int32_t id, bool render_special) const {
  std::string out;
  bool at_start = false;
  append_piece(out, id, &at_start, render_special);
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
  std::string out;
  bool at_start = true;
  for (int32_t id : ids) append_piece(out, id, &at_start, render_special);
  return out;
}

}  // namespace lm::tokenizer
