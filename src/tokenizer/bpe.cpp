#include "tokenizer/bpe.h"

#include <utf8proc.h>

#include <cstdlib>
#include <queue>

#include "tokenizer/utf8.h"

namespace lm::tokenizer {
namespace {

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";   // U+2581 "▁"

std::string encode_cp(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {   // the table only needs up to U+0143
    s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

// The code point of a valid UTF-8 character of `len` bytes at s[0].
uint32_t decode_cp(std::string_view s, size_t len) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(s[i])); };
  switch (len) {
    case 1: return b(0);
    case 2: return (b(0) & 0x1F) << 6 | (b(1) & 0x3F);
    case 3: return (b(0) & 0x0F) << 12 | (b(1) & 0x3F) << 6 | (b(2) & 0x3F);
    default: return (b(0) & 0x07) << 18 | (b(1) & 0x3F) << 12 | (b(2) & 0x3F) << 6 | (b(3) & 0x3F);
  }
}

std::string nfc(std::string_view s) {
  utf8proc_uint8_t* p = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(std::string(s).c_str()));
  if (!p) return std::string(s);
  std::string r(reinterpret_cast<const char*>(p));
  std::free(p);
  return r;
}

struct Symbol {
  uint32_t start = 0, len = 0;
  int32_t id = -1;                 // the piece, or -1
  int32_t prev = -1, next = -1;
  bool alive = true;
};

struct Pair {
  int32_t rank;
  uint32_t start;   // of the left symbol: leftmost wins ties
  int32_t left, right;
};

struct PairOrder {   // priority_queue pops the "largest": lowest rank, then leftmost
  bool operator()(const Pair& a, const Pair& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.start > b.start);
  }
};

}  // namespace

const std::array<std::string, 256>& byte_to_unicode() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    uint32_t extra = 0;
    for (uint32_t b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      t[b] = encode_cp(printable ? b : 0x100 + extra++);
    }
    return t;
  }();
  return table;
}

Result<std::unique_ptr<Tokenizer>> BpeTokenizer::create(Vocab vocab) {
  if (vocab.model == "gpt2") vocab.byte_level = true;
  std::unique_ptr<BpeTokenizer> tok(new BpeTokenizer(std::move(vocab)));
  LM_TRY_STATUS(tok->init());
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

Status BpeTokenizer::init() {
  merges_.reserve(vocab_.merges.size() * 2);
  for (size_t rank = 0; rank < vocab_.merges.size(); ++rank) {
    const auto& [a, b] = vocab_.merges[rank];
    int32_t l = piece_to_id(a), r = piece_to_id(b), m = piece_to_id(a + b);
    if (l < 0 || r < 0 || m < 0) continue;   // llama.cpp ignores such merges too
    uint64_t key = static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32 | static_cast<uint32_t>(r);
    merges_.emplace(key, Merge{static_cast<int32_t>(rank), m});   // first (best) rank wins
  }
  if (vocab_.byte_level) {
    for (int b = 0; b < 256; ++b) {
      const std::string& s = byte_to_unicode()[b];
      unicode_to_byte_[decode_cp(s, s.size())] = static_cast<uint8_t>(b);
    }
  }
  std::vector<std::string> patterns = vocab_.pre_regexes;
  if (patterns.empty() && vocab_.model == "gpt2") {
    LM_TRY(patterns, Pretokenizer::patterns_for(vocab_.pre));
    if (vocab_.pre == "llama-bpe" || vocab_.pre == "llama3") vocab_.ignore_merges = true;
  }
  if (!patterns.empty()) {
    LM_TRY(pre_, Pretokenizer::compile(std::move(patterns)));
  }
  return Ok{};
}

const BpeTokenizer::Merge* BpeTokenizer::find_merge(int32_t left, int32_t right) const {
  if (left < 0 || right < 0) return nullptr;
  auto it = merges_.find(static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32 |
                         static_cast<uint32_t>(right));
  return it == merges_.end() ? nullptr : &it->second;
}

void BpeTokenizer::emit_unknown(std::string_view sym, std::vector<int32_t>& out) const {
  std::string bytes;
  if (vocab_.byte_level) {   // back to the original bytes for the byte-fallback lookup
    for (size_t i = 0; i < sym.size();) {
      Utf8Step st = utf8_step(sym, i);
      auto it = unicode_to_byte_.find(decode_cp(sym.substr(i), st.len));
      if (it != unicode_to_byte_.end()) bytes.push_back(static_cast<char>(it->second));
      i += st.len;
    }
  } else {
    bytes = sym;
  }
  bool all = !bytes.empty();
  for (char c : bytes) all = all && byte_token(static_cast<uint8_t>(c)) >= 0;
  if (all) {
    for (char c : bytes) out.push_back(byte_token(static_cast<uint8_t>(c)));
  } else if (unk() >= 0 && !(vocab_.fuse_unk && !out.empty() && out.back() == unk())) {
    out.push_back(unk());
  }
}

void BpeTokenizer::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (vocab_.ignore_merges) {
    int32_t id = piece_to_id(word);
    if (id >= 0) { out.push_back(id); return; }
  }
  std::vector<Symbol> syms;
  for (size_t pos = 0; pos < word.size();) {   // the word is valid UTF-8 here
    Symbol s;
    s.start = static_cast<uint32_t>(pos);
    s.len = static_cast<uint32_t>(utf8_step(word, pos).len);
    s.id = piece_to_id(word.substr(pos, s.len));
    s.prev = static_cast<int32_t>(syms.size()) - 1;
    pos += s.len;
    s.next = pos < word.size() ? static_cast<int32_t>(syms.size()) + 1 : -1;
    syms.push_back(s);
  }
  std::priority_queue<Pair, std::vector<Pair>, PairOrder> queue;
  auto try_pair = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    if (const Merge* m = find_merge(syms[l].id, syms[r].id)) queue.push({m->rank, syms[l].start, l, r});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) try_pair(i - 1, i);
  while (!queue.empty()) {
    Pair p = queue.top();
    queue.pop();
    Symbol& l = syms[p.left];
    Symbol& r = syms[p.right];
    if (!l.alive || !r.alive || l.next != p.right) continue;   // stale
    const Merge* m = find_merge(l.id, r.id);
    if (!m || m->rank != p.rank) continue;   // stale: a symbol changed since it was queued
    l.len += r.len;          // the left symbol grows in place; the right one dies
    l.id = m->id;
    l.next = r.next;
    r.alive = false;
    if (l.next >= 0) syms[l.next].prev = p.left;
    try_pair(l.prev, p.left);
    try_pair(p.left, l.next);
  }
  for (int32_t i = syms.empty() ? -1 : 0; i >= 0; i = syms[i].next) {
    if (syms[i].id >= 0) out.push_back(syms[i].id);
    else emit_unknown(word.substr(syms[i].start, syms[i].len), out);
  }
}

void BpeTokenizer::encode_text(std::string_view text, bool /*after_special*/,
                               std::vector<int32_t>& out) const {
  std::string clean = is_valid_utf8(text) ? std::string(text) : sanitize_utf8(text);
  if (vocab_.normalize_nfc) clean = nfc(clean);
  std::vector<std::string_view> words;
  if (pre_) pre_->split(clean, words); else if (!clean.empty()) words.push_back(clean);
  std::string mapped;
  for (std::string_view w : words) {
    mapped.clear();
    if (vocab_.byte_level) {
      for (char c : w) mapped += byte_to_unicode()[static_cast<uint8_t>(c)];
    } else {
      for (char c : w) {
        if (c == ' ') mapped += kSpaceSymbol; else mapped.push_back(c);
      }
    }
    encode_word(mapped, out);
  }
}

void BpeTokenizer::append_text(std::string& out, int32_t id, bool* at_start) const {
  if (!vocab_.byte_level) {
    Tokenizer::append_text(out, id, at_start);   // "▁" → " "
    return;
  }
  std::string_view p = vocab_.pieces[id];
  *at_start = false;
  if (vocab_.types[id] == TokenType::kUserDefined) {   // added tokens are raw text
    out.append(p);
    return;
  }
  for (size_t i = 0; i < p.size();) {
    Utf8Step st = utf8_step(p, i);
    size_t len = st.status == Utf8Status::kValid ? st.len : 1;
    auto it = st.status == Utf8Status::kValid ? unicode_to_byte_.find(decode_cp(p.substr(i), len))
                                              : unicode_to_byte_.end();
    if (it != unicode_to_byte_.end()) out.push_back(static_cast<char>(it->second));
    else out.append(p.substr(i, len));   // not a mapped character: kept as is
    i += len;
  }
}

}  // namespace lm::tokenizer
