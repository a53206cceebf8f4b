// Grammars over bytes for constrained decoding: build, compile once, match byte by byte, and
// mask a vocabulary (JSON schemas compile to these: json_schema.h; GBNF text: parse_gbnf).
//
// A grammar is a set of rules; a rule is an alternation of sequences of elements, an element
// is a byte class or a reference to a rule. Callers describe rules with `Expr` (literals,
// Unicode code-point classes, sequences, alternations, bounded or unbounded repetition) and
// GrammarBuilder flattens them: a code-point class becomes the alternation of its UTF-8 byte
// sequences (only valid UTF-8 is ever produced, surrogates excluded), repetition becomes
// right-recursive helper rules. Left recursion (a rule reaching itself without consuming a
// byte) is rejected at build time: it would make matching loop.
//
// Matching is a pushdown automaton run on a set of stacks (one per live parse), as in
// llama.cpp's grammar sampler (the algorithm, not its code). Stack frames are kept in an
// arena, shared between stacks (persistent linked lists), and a reference in tail position
// reuses its caller's frame, so repetition does not grow the stacks.
//
// Cost: Grammar is immutable and shared (thread-safe). GrammarMatcher holds O(depth * parses)
// frames; copying it copies those. accept_byte is O(parses * expansion). fill_mask walks a
// TokenTrie once, advancing the state one byte per trie edge: shared token prefixes are walked
// once and a rejected byte skips its whole subtree. During the walk equal frames are shared, so
// states can be interned and their byte transitions memoized: the inside of a string (where
// most of a vocabulary is allowed) costs a hash lookup per trie node.
// Matchers are not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/result.h"

namespace lm::sampling {

// A grammar expression. Build with the factory functions below.
struct Expr {
  enum class Kind { kSeq, kAlt, kLiteral, kClass, kRef, kRepeat };
  Kind kind = Kind::kSeq;
  std::vector<Expr> items;                         // kSeq / kAlt children; kRepeat: one child
  std::string literal;                             // kLiteral bytes
  std::vector<std::pair<uint32_t, uint32_t>> ranges;   // kClass: code-point ranges, inclusive
  bool negated = false;                            // kClass: every code point NOT in ranges
  int32_t rule = -1;                               // kRef
  int32_t min = 0, max = -1;                       // kRepeat; max -1: unbounded

  static Expr lit(std::string_view bytes);
  static Expr cls(std::vector<std::pair<uint32_t, uint32_t>> ranges, bool negated = false);
  static Expr ref(int32_t rule);
  static Expr seq(std::vector<Expr> items);
  static Expr alt(std::vector<Expr> items);
  static Expr repeat(Expr e, int32_t min, int32_t max);
  static Expr opt(Expr e) { return repeat(std::move(e), 0, 1); }
  static Expr empty() { return seq({}); }
};

class Grammar;

// Collects named rules, then builds a Grammar. Rules may be declared before they are defined
// (recursion); build() fails on an undefined rule, left recursion or a too large grammar.
class GrammarBuilder {
 public:
  // The id of rule `name`, declaring it if new.
  int32_t rule(std::string_view name);
  // A new rule with a unique name built from `hint`.
  int32_t fresh_rule(std::string_view hint);
  bool defined(int32_t rule) const;
  void define(int32_t rule, Expr e);
  const std::string& name(int32_t rule) const { return names_[rule]; }

  Result<std::shared_ptr<const Grammar>> build(int32_t root) const;

 private:
  std::vector<std::string> names_;
  std::vector<Expr> bodies_;
  std::vector<bool> defined_;
};

// Elements of the flattened grammar (Grammar::elems).
struct GrammarElem {
  enum class Kind : uint8_t { kEnd, kBytes, kRule };
  Kind kind;
  uint32_t arg;   // kBytes: byte class id; kRule: rule id
};

// A compiled grammar. Immutable; share it with std::shared_ptr.
class Grammar {
 public:
  using ByteClass = std::array<uint64_t, 4>;
  const std::vector<GrammarElem>& elems() const { return elems_; }
  // Alternative start positions of rule r: alt_starts()[rule_alts()[r] .. rule_alts()[r + 1]).
  const std::vector<uint32_t>& alt_starts() const { return alt_starts_; }
  const std::vector<uint32_t>& rule_alts() const { return rule_alts_; }
  bool byte_in(uint32_t cls, uint8_t b) const { return (classes_[cls][b >> 6] >> (b & 63)) & 1; }
  int32_t root() const { return root_; }
  size_t n_rules() const { return rule_alts_.size() - 1; }

 private:
  friend class GrammarBuilder;
  friend class Flattener;
  std::vector<GrammarElem> elems_;
  std::vector<uint32_t> alt_starts_;
  std::vector<uint32_t> rule_alts_;
  std::vector<ByteClass> classes_;
  int32_t root_ = 0;
};

// The vocabulary as a byte trie, in preorder: node i has byte(i) at depth(i) (1 = first byte),
// its subtree ends before skip(i), and the tokens whose bytes end at it are
// tokens()[token_begin(i) .. token_begin(i + 1)). Tokens with no bytes are left out. Immutable.
class TokenTrie {
 public:
  // token_bytes[id]: the bytes token `id` stands for in the output ("" for control tokens).
  explicit TokenTrie(const std::vector<std::string>& token_bytes);
  size_t size() const { return bytes_.size(); }
  int32_t n_vocab() const { return n_vocab_; }
  uint8_t byte(size_t i) const { return bytes_[i]; }
  uint32_t depth(size_t i) const { return depth_[i]; }
  uint32_t skip(size_t i) const { return skip_[i]; }
  uint32_t token_begin(size_t i) const { return tok_begin_[i]; }
  const std::vector<int32_t>& tokens() const { return tokens_; }
  uint32_t max_depth() const { return max_depth_; }

 private:
  int32_t n_vocab_ = 0;
  uint32_t max_depth_ = 0;
  std::vector<uint8_t> bytes_;
  std::vector<uint32_t> depth_, skip_, tok_begin_;   // tok_begin_ has size() + 1 entries
  std::vector<int32_t> tokens_;
};

// The state of one parse. Copyable (copies its stacks). Not thread-safe.
class GrammarMatcher {
 public:
  explicit GrammarMatcher(std::shared_ptr<const Grammar> g);

  // Advances by one byte; false (state unchanged) if the grammar cannot take it.
  bool accept_byte(uint8_t b);
  // Advances by all bytes, or by none (false) if some byte is rejected.
  bool accept_bytes(std::string_view bytes);
  // Whether `bytes` could be accepted now (the state is unchanged).
  bool can_accept(std::string_view bytes) const;
  // The input so far is a whole sentence of the grammar.
  bool is_complete() const;
  // Some byte can still be accepted (false once only completion remains).
  bool can_continue() const;

  // Sets allowed[id] = 1 for every token whose whole bytes can be accepted now, 0 otherwise
  // (tokens without bytes: 0). allowed is resized to trie.n_vocab(). End-of-generation tokens
  // are the caller's business (allowed iff is_complete()).
  void fill_mask(const TokenTrie& trie, std::vector<uint8_t>* allowed) const;

  size_t n_stacks() const { return stacks_.size(); }

 private:
  // A stack is its top position plus a return chain of frames in an arena (shared by stacks).
  struct Frame {
    uint32_t pos;     // element index in Grammar::elems to continue at
    int32_t parent;   // next frame; -1: the root
  };
  struct Top {
    uint32_t pos;     // a byte-class element, or kDone: the root rule has ended
    int32_t parent;
    bool operator==(const Top& o) const { return pos == o.pos && parent == o.parent; }
  };
  static constexpr uint32_t kDone = 0xFFFFFFFFu;

  struct Arena {
    std::vector<Frame> frames;
    std::unordered_map<uint64_t, int32_t>* index = nullptr;   // if set: equal frames are shared
    int32_t push(uint32_t pos, int32_t parent);
  };
  static void close(const Grammar& g, Arena& arena, uint32_t pos, int32_t parent, std::vector<Top>& out);
  static void advance(const Grammar& g, Arena& arena, const std::vector<Top>& in, uint8_t b,
                      std::vector<Top>& out);
  void compact();

  std::shared_ptr<const Grammar> g_;
  Arena frames_;
  std::vector<Top> stacks_;
};

// Parses GBNF text (llama.cpp's grammar format: `root ::= ...`, "literals", [classes],
// [^negated], rule references, ( groups ), | * + ? {m} {m,} {m,n}, # comments) into a Grammar
// rooted at `root`. Errors name the line and column.
Result<std::shared_ptr<const Grammar>> parse_gbnf(std::string_view text);

}  // namespace lm::sampling
