#include "tokenizer/spm.h"

#include <queue>

#include "tokenizer/utf8.h"

namespace lm::tokenizer {

namespace {

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";   // U+2581 "▁"

// A symbol: a span of the escaped text. Merging two symbols creates a new one (the old two die),
// so a symbol's span never changes and a queued pair is current iff both its symbols are alive.
struct Symbol {
  uint32_t start = 0;
  uint32_t len = 0;
  int32_t prev = -1, next = -1;          // neighbours in the live list
  int32_t left = -1, right = -1;         // the two symbols it was merged from (-1: a character)
  bool alive = true;
};

struct Pair {
  float score;
  uint32_t start;   // of the left symbol: the leftmost pair wins ties
  int32_t left, right;
};

struct PairOrder {   // std::priority_queue pops the "largest": highest score, then leftmost
  bool operator()(const Pair& a, const Pair& b) const {
    return a.score < b.score || (a.score == b.score && a.start > b.start);
  }
};

}  // namespace

struct SpmTokenizer::Session {
  const SpmTokenizer& tok;
  std::string_view text;   // escaped; one segment of it at a time
  std::vector<Symbol> syms;
  std::priority_queue<Pair, std::vector<Pair>, PairOrder> queue;

  std::string_view span(const Symbol& s) const { return text.substr(s.start, s.len); }

  // Tokenizes one segment of escaped text, appending to out. Buffers are reused.
  void run(std::string_view segment, std::vector<int32_t>& out) {
    text = segment;
    syms.clear();
    split_chars();
    for (int32_t i = merge_all(); i >= 0; i = syms[i].next) emit(i, out);
  }

  void try_pair(int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    std::string_view joined = text.substr(syms[l].start, syms[l].len + syms[r].len);
    int32_t id = tok.merge_target(joined);
    if (id < 0) return;
    queue.push({tok.vocab_.scores[id], syms[l].start, l, r});
  }

  void split_chars() {
    for (size_t pos = 0; pos < text.size();) {
      Utf8Step st = utf8_step(text, pos);
      // Ill-formed bytes are symbols of one byte each: they end up as byte tokens.
      size_t len = st.status == Utf8Status::kValid ? st.len : 1;
      Symbol s;
      s.start = static_cast<uint32_t>(pos);
      s.len = static_cast<uint32_t>(len);
      s.prev = static_cast<int32_t>(syms.size()) - 1;
      pos += len;
      s.next = pos < text.size() ? static_cast<int32_t>(syms.size()) + 1 : -1;
      syms.push_back(s);
    }
  }

  // Returns the first live symbol.
  int32_t merge_all() {
    int32_t head = syms.empty() ? -1 : 0;
    for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) try_pair(i - 1, i);
    while (!queue.empty()) {
      Pair p = queue.top();
      queue.pop();
      if (!syms[p.left].alive || !syms[p.right].alive) continue;   // stale
      Symbol m;
      m.start = syms[p.left].start;
      m.len = syms[p.left].len + syms[p.right].len;
      m.prev = syms[p.left].prev;
      m.next = syms[p.right].next;
      m.left = p.left;
      m.right = p.right;
      const auto id = static_cast<int32_t>(syms.size());
      syms[p.left].alive = syms[p.right].alive = false;
      syms.push_back(m);
      if (m.prev >= 0) syms[m.prev].next = id; else head = id;
      if (m.next >= 0) syms[m.next].prev = id;
      try_pair(m.prev, id);
      try_pair(id, m.next);
    }
    return head;
  }

  void emit_bytes(std::string_view piece, std::vector<int32_t>& out) const {
    bool all_bytes = true;
    for (char c : piece) all_bytes = all_bytes && tok.byte_token(static_cast<uint8_t>(c)) >= 0;
    if (all_bytes) {
      for (char c : piece) out.push_back(tok.byte_token(static_cast<uint8_t>(c)));
    } else if (tok.unk() >= 0) {
      out.push_back(tok.unk());   // one UNK per unknown symbol, as SentencePiece does
    }
  }

  void emit(int32_t s, std::vector<int32_t>& out) const {
    const Symbol& sym = syms[s];
    int32_t id = tok.merge_target(span(sym));
    if (id >= 0 && tok.vocab_.types[id] == TokenType::kUnused && sym.left >= 0) {
      emit(sym.left, out);    // SentencePiece never outputs unused pieces: resegment
      emit(sym.right, out);
    } else if (id >= 0 && tok.vocab_.types[id] != TokenType::kUnused) {
      out.push_back(id);
    } else {
      emit_bytes(span(sym), out);
    }
  }
};

SpmTokenizer::SpmTokenizer(Vocab vocab)
    : Tokenizer(std::move(vocab)), split_at_spaces_(pieces_split_at_spaces(vocab_)) {
  mergeable_.resize(vocab_.types.size());
  for (size_t i = 0; i < mergeable_.size(); ++i) {
    TokenType t = vocab_.types[i];
    mergeable_[i] = t == TokenType::kNormal || t == TokenType::kUserDefined || t == TokenType::kUnused;
  }
}

int32_t SpmTokenizer::merge_target(std::string_view piece) const {
  int32_t id = piece_to_id(piece);
  return id >= 0 && mergeable_[id] ? id : -1;
}

// Where a text may be cut into independently merged segments: before a "▁" that follows
// another character, when no mergeable piece holds a "▁" after another character (true of
// vocabularies trained with whitespace splitting, Llama's included). No symbol can then span
// such a cut, so the result is the same as merging the whole text at once, with smaller heaps.
bool SpmTokenizer::pieces_split_at_spaces(const Vocab& v) {
  for (size_t id = 0; id < v.pieces.size(); ++id) {
    TokenType t = v.types[id];
    if (t != TokenType::kNormal && t != TokenType::kUserDefined && t != TokenType::kUnused) continue;
    std::string_view p = v.pieces[id];
    for (size_t at = p.find(kSpaceSymbol, 1); at != std::string_view::npos;
         at = p.find(kSpaceSymbol, at + 1)) {
      if (at < 3 || p.substr(at - 3, 3) != kSpaceSymbol) return false;
    }
  }
  return true;
}

void SpmTokenizer::encode_text(std::string_view text, bool after_special,
                               std::vector<int32_t>& out) const {
  std::string escaped;
  escaped.reserve(text.size() + 3 + text.size() / 2);
  if (after_special && vocab_.add_space_prefix) escaped.append(kSpaceSymbol);
  for (char c : text) {
    if (c == ' ') escaped.append(kSpaceSymbol); else escaped.push_back(c);
  }
  Session s{*this, {}, {}, {}};
  std::string_view rest = escaped;
  while (!rest.empty()) {
    size_t cut = rest.size();
    if (split_at_spaces_) {
      // The next "▁" after a character that is not "▁" itself.
      for (size_t at = rest.find(kSpaceSymbol, 1); at != std::string_view::npos;
           at = rest.find(kSpaceSymbol, at + 3)) {
        if (at < 3 || rest.substr(at - 3, 3) != kSpaceSymbol) {
          cut = at;
          break;
        }
      }
    }
    s.run(rest.substr(0, cut), out);
    rest.remove_prefix(cut);
  }
}

}  // namespace lm::tokenizer
