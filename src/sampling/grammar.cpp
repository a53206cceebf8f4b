#include "sampling/grammar.h"

#include <algorithm>
#include <functional>
#include <map>
#include <unordered_map>

#include "core/check.h"

namespace lm::sampling {

// ---- Expr ----

Expr Expr::lit(std::string_view bytes) {
  Expr e;
  e.kind = Kind::kLiteral;
  e.literal = std::string(bytes);
  return e;
}

Expr Expr::cls(std::vector<std::pair<uint32_t, uint32_t>> ranges, bool negated) {
  Expr e;
  e.kind = Kind::kClass;
  e.ranges = std::move(ranges);
  e.negated = negated;
  return e;
}

Expr Expr::ref(int32_t rule) {
  Expr e;
  e.kind = Kind::kRef;
  e.rule = rule;
  return e;
}

Expr Expr::seq(std::vector<Expr> items) {
  if (items.size() == 1) return std::move(items[0]);
  Expr e;
  e.kind = Kind::kSeq;
  e.items = std::move(items);
  return e;
}

Expr Expr::alt(std::vector<Expr> items) {
  if (items.size() == 1) return std::move(items[0]);
  Expr e;
  e.kind = Kind::kAlt;
  e.items = std::move(items);
  return e;
}

Expr Expr::repeat(Expr child, int32_t min, int32_t max) {
  Expr e;
  e.kind = Kind::kRepeat;
  e.items.push_back(std::move(child));
  e.min = min;
  e.max = max;
  return e;
}

// ---- GrammarBuilder ----

int32_t GrammarBuilder::rule(std::string_view name) {
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == name) return static_cast<int32_t>(i);
  names_.emplace_back(name);
  bodies_.emplace_back();
  defined_.push_back(false);
  return static_cast<int32_t>(names_.size() - 1);
}

int32_t GrammarBuilder::fresh_rule(std::string_view hint) {
  names_.push_back(fmt::format("{}-{}", hint, names_.size()));
  bodies_.emplace_back();
  defined_.push_back(false);
  return static_cast<int32_t>(names_.size() - 1);
}

bool GrammarBuilder::defined(int32_t r) const { return defined_.at(r); }

void GrammarBuilder::define(int32_t r, Expr e) {
  LM_CHECK(r >= 0 && static_cast<size_t>(r) < bodies_.size(), "rule {}", r);
  bodies_[r] = std::move(e);
  defined_[r] = true;
}

namespace {

using Seq = std::vector<GrammarElem>;
using Range = std::pair<uint32_t, uint32_t>;
using ByteSeq = std::vector<std::pair<uint8_t, uint8_t>>;   // one byte range per position

constexpr size_t kMaxElems = size_t{1} << 22;
constexpr int32_t kMaxRepeat = 100000;

void utf8_encode(uint32_t cp, int n, uint8_t* out) {
  static const uint8_t kLead[5] = {0, 0x00, 0xC0, 0xE0, 0xF0};
  for (int i = n - 1; i > 0; --i) {
    out[i] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    cp >>= 6;
  }
  out[0] = static_cast<uint8_t>(kLead[n] | cp);
}

// The byte sequences of all code points in [lo, hi], where lo and hi encode to n bytes each:
// split on the leading byte so each output is a product of byte ranges (the usual UTF-8 range
// compilation, as in RE2's and Rust's utf8-ranges).
void split_utf8(const uint8_t* lo, const uint8_t* hi, int n, ByteSeq prefix, std::vector<ByteSeq>& out) {
  if (n == 1) {
    prefix.emplace_back(lo[0], hi[0]);
    out.push_back(std::move(prefix));
    return;
  }
  if (lo[0] == hi[0]) {
    prefix.emplace_back(lo[0], lo[0]);
    return split_utf8(lo + 1, hi + 1, n - 1, std::move(prefix), out);
  }
  const bool lo_min = std::all_of(lo + 1, lo + n, [](uint8_t b) { return b == 0x80; });
  const bool hi_max = std::all_of(hi + 1, hi + n, [](uint8_t b) { return b == 0xBF; });
  const uint8_t kMin[4] = {0x80, 0x80, 0x80, 0x80}, kMax[4] = {0xBF, 0xBF, 0xBF, 0xBF};
  int b0 = lo[0], b1 = hi[0];
  if (!lo_min) {
    ByteSeq p = prefix;
    p.emplace_back(lo[0], lo[0]);
    split_utf8(lo + 1, kMax, n - 1, std::move(p), out);
    ++b0;
  }
  if (!hi_max) {
    ByteSeq p = prefix;
    p.emplace_back(hi[0], hi[0]);
    split_utf8(kMin, hi + 1, n - 1, std::move(p), out);
    --b1;
  }
  if (b0 <= b1) {
    prefix.emplace_back(static_cast<uint8_t>(b0), static_cast<uint8_t>(b1));
    for (int i = 1; i < n; ++i) prefix.emplace_back(0x80, 0xBF);
    out.push_back(std::move(prefix));
  }
}

// Sorted, merged, complemented if negated, surrogates and values past U+10FFFF removed.
std::vector<Range> normalize_class(std::vector<Range> r, bool negated) {
  for (auto& [a, b] : r)
    if (a > b) std::swap(a, b);
  std::sort(r.begin(), r.end());
  std::vector<Range> merged;
  for (auto [a, b] : r) {
    if (!merged.empty() && a <= merged.back().second + 1) merged.back().second = std::max(merged.back().second, b);
    else merged.emplace_back(a, b);
  }
  if (negated) {
    std::vector<Range> inv;
    uint32_t next = 0;
    for (auto [a, b] : merged) {
      if (a > next) inv.emplace_back(next, a - 1);
      next = b + 1;
      if (b >= 0x10FFFF) break;
    }
    if (next <= 0x10FFFF && (merged.empty() || merged.back().second < 0x10FFFF)) inv.emplace_back(next, 0x10FFFF);
    merged = std::move(inv);
  }
  std::vector<Range> out;
  for (auto [a, b] : merged) {
    b = std::min<uint32_t>(b, 0x10FFFF);
    if (a > b) continue;
    if (a < 0xD800 && b >= 0xD800) {   // drop the surrogates: never valid UTF-8
      out.emplace_back(a, 0xD7FF);
      if (b > 0xDFFF) out.emplace_back(0xE000, b);
    } else if (a >= 0xD800 && a <= 0xDFFF) {
      if (b > 0xDFFF) out.emplace_back(0xE000, b);
    } else {
      out.emplace_back(a, b);
    }
  }
  return out;
}

std::vector<ByteSeq> class_to_utf8(const std::vector<Range>& ranges) {
  static const uint32_t kBounds[5] = {0, 0x80, 0x800, 0x10000, 0x110000};
  std::vector<ByteSeq> out;
  for (auto [a, b] : ranges) {
    for (int n = 1; n <= 4; ++n) {
      const uint32_t lo = std::max(a, kBounds[n - 1]), hi = std::min(b, kBounds[n] - 1);
      if (lo > hi) continue;
      uint8_t el[4], eh[4];
      utf8_encode(lo, n, el);
      utf8_encode(hi, n, eh);
      split_utf8(el, eh, n, {}, out);
    }
  }
  return out;
}

}  // namespace

// Turns Exprs into flat alternatives (helper rules for nested alternations, repetitions and
// multi-byte classes).
class Flattener {
 public:
  explicit Flattener(size_t n_rules) : alts_(n_rules) {}

  Status define(int32_t r, const Expr& e, const std::string& name) {
    std::vector<Seq> alts;
    if (e.kind == Expr::Kind::kAlt) {
      for (const Expr& item : e.items) {
        Seq s;
        LM_TRY_STATUS(emit(item, s, name));
        alts.push_back(std::move(s));
      }
    } else {
      Seq s;
      LM_TRY_STATUS(emit(e, s, name));
      alts.push_back(std::move(s));
    }
    alts_[r] = std::move(alts);
    return Ok{};
  }

  std::shared_ptr<Grammar> finish(int32_t root) {
    auto g = std::make_shared<Grammar>();
    g->classes_ = std::move(classes_);
    g->root_ = root;
    for (const auto& alts : alts_) {
      g->rule_alts_.push_back(static_cast<uint32_t>(g->alt_starts_.size()));
      for (const Seq& s : alts) {
        g->alt_starts_.push_back(static_cast<uint32_t>(g->elems_.size()));
        g->elems_.insert(g->elems_.end(), s.begin(), s.end());
        g->elems_.push_back({GrammarElem::Kind::kEnd, 0});
      }
    }
    g->rule_alts_.push_back(static_cast<uint32_t>(g->alt_starts_.size()));
    return g;
  }

  const std::vector<std::vector<Seq>>& alts() const { return alts_; }

 private:
  int32_t new_rule(std::vector<Seq> alts) {
    alts_.push_back(std::move(alts));
    return static_cast<int32_t>(alts_.size() - 1);
  }

  uint32_t class_id(const Grammar::ByteClass& c) {
    auto [it, inserted] = class_ids_.emplace(c, static_cast<uint32_t>(classes_.size()));
    if (inserted) classes_.push_back(c);
    return it->second;
  }

  GrammarElem byte_range(uint8_t a, uint8_t b) {
    Grammar::ByteClass c{};
    for (int x = a; x <= b; ++x) c[x >> 6] |= uint64_t{1} << (x & 63);
    return {GrammarElem::Kind::kBytes, class_id(c)};
  }

  Status count(size_t add) {
    n_elems_ += add;
    if (n_elems_ > kMaxElems) return errorf("the grammar is too large (over {} elements)", kMaxElems);
    return Ok{};
  }

  Status emit_class(const Expr& e, Seq& out) {
    std::vector<ByteSeq> seqs = class_to_utf8(normalize_class(e.ranges, e.negated));
    if (seqs.empty()) return errorf("empty character class");
    Grammar::ByteClass single{};
    bool any_single = false;
    std::vector<Seq> alts;
    for (const ByteSeq& bs : seqs) {
      if (bs.size() == 1) {
        for (int x = bs[0].first; x <= bs[0].second; ++x) single[x >> 6] |= uint64_t{1} << (x & 63);
        any_single = true;
        continue;
      }
      Seq s;
      for (auto [a, b] : bs) s.push_back(byte_range(a, b));
      alts.push_back(std::move(s));
    }
    LM_TRY_STATUS(count(alts.size() * 4 + 1));
    if (any_single) {
      GrammarElem el{GrammarElem::Kind::kBytes, class_id(single)};
      if (alts.empty()) {
        out.push_back(el);
        return Ok{};
      }
      alts.push_back({el});
    }
    if (alts.size() == 1) {
      out.insert(out.end(), alts[0].begin(), alts[0].end());
      return Ok{};
    }
    out.push_back({GrammarElem::Kind::kRule, static_cast<uint32_t>(new_rule(std::move(alts)))});
    return Ok{};
  }

  Status emit_repeat(const Expr& e, Seq& out, const std::string& name) {
    if (e.min < 0 || (e.max >= 0 && e.max < e.min) || e.min > kMaxRepeat || e.max > kMaxRepeat)
      return errorf("repetition {{{},{}}} out of range (at most {})", e.min, e.max, kMaxRepeat);
    Seq child;
    LM_TRY_STATUS(emit(e.items[0], child, name));
    if (child.size() != 1) {   // a helper rule makes the repeated part one element
      const int32_t r = new_rule({child});
      child = {{GrammarElem::Kind::kRule, static_cast<uint32_t>(r)}};
    }
    LM_TRY_STATUS(count(static_cast<size_t>(e.min) + (e.max < 0 ? 2 : 2 * (e.max - e.min))));
    for (int32_t i = 0; i < e.min; ++i) out.push_back(child[0]);
    if (e.max < 0) {   // R ::= X R | ε
      const int32_t r = new_rule({});
      alts_[r] = {{child[0], {GrammarElem::Kind::kRule, static_cast<uint32_t>(r)}}, {}};
      out.push_back({GrammarElem::Kind::kRule, static_cast<uint32_t>(r)});
    } else if (e.max > e.min) {   // O1 ::= X | ε;  Ok ::= X Ok-1 | ε
      int32_t prev = new_rule({{child[0]}, {}});
      for (int32_t k = 2; k <= e.max - e.min; ++k)
        prev = new_rule({{child[0], {GrammarElem::Kind::kRule, static_cast<uint32_t>(prev)}}, {}});
      out.push_back({GrammarElem::Kind::kRule, static_cast<uint32_t>(prev)});
    }
    return Ok{};
  }

  Status emit(const Expr& e, Seq& out, const std::string& name) {
    switch (e.kind) {
      case Expr::Kind::kSeq:
        for (const Expr& item : e.items) LM_TRY_STATUS(emit(item, out, name));
        return Ok{};
      case Expr::Kind::kLiteral:
        LM_TRY_STATUS(count(e.literal.size()));
        for (char c : e.literal) out.push_back(byte_range(static_cast<uint8_t>(c), static_cast<uint8_t>(c)));
        return Ok{};
      case Expr::Kind::kClass:
        return emit_class(e, out);
      case Expr::Kind::kRef:
        if (e.rule < 0 || static_cast<size_t>(e.rule) >= alts_.size())
          return errorf("reference to an unknown rule id {}", e.rule);
        out.push_back({GrammarElem::Kind::kRule, static_cast<uint32_t>(e.rule)});
        return Ok{};
      case Expr::Kind::kAlt: {
        std::vector<Seq> alts;
        for (const Expr& item : e.items) {
          Seq s;
          LM_TRY_STATUS(emit(item, s, name));
          alts.push_back(std::move(s));
        }
        out.push_back({GrammarElem::Kind::kRule, static_cast<uint32_t>(new_rule(std::move(alts)))});
        return Ok{};
      }
      case Expr::Kind::kRepeat:
        return emit_repeat(e, out, name);
    }
    return Ok{};
  }

  std::vector<std::vector<Seq>> alts_;   // per rule: alternatives (declared rules first)
  std::vector<Grammar::ByteClass> classes_;
  std::map<Grammar::ByteClass, uint32_t> class_ids_;
  size_t n_elems_ = 0;
};

namespace {

// A rule that can reach itself before consuming a byte would make matching loop forever.
Status check_left_recursion(const std::vector<std::vector<Seq>>& alts, const std::vector<std::string>& names) {
  const size_t n = alts.size();
  std::vector<bool> nullable(n, false);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < n; ++r) {
      if (nullable[r]) continue;
      for (const Seq& s : alts[r]) {
        bool all = std::all_of(s.begin(), s.end(), [&](const GrammarElem& e) {
          return e.kind == GrammarElem::Kind::kRule && nullable[e.arg];
        });
        if (all) {
          nullable[r] = changed = true;
          break;
        }
      }
    }
  }
  // Left edges, then a DFS for a cycle (0 unvisited, 1 on the path, 2 done).
  std::vector<std::vector<uint32_t>> edges(n);
  for (size_t r = 0; r < n; ++r)
    for (const Seq& s : alts[r])
      for (const GrammarElem& e : s) {
        if (e.kind != GrammarElem::Kind::kRule) break;
        edges[r].push_back(e.arg);
        if (!nullable[e.arg]) break;
      }
  std::vector<uint8_t> mark(n, 0);
  for (size_t start = 0; start < n; ++start) {
    if (mark[start]) continue;
    std::vector<std::pair<uint32_t, size_t>> stack{{static_cast<uint32_t>(start), 0}};
    mark[start] = 1;
    while (!stack.empty()) {
      auto& [r, i] = stack.back();
      if (i == edges[r].size()) {
        mark[r] = 2;
        stack.pop_back();
        continue;
      }
      const uint32_t next = edges[r][i++];
      if (mark[next] == 1) {
        // Report the nearest named (declared) rule on the cycle.
        std::string who = next < names.size() ? names[next] : "";
        for (auto it = stack.rbegin(); who.empty() && it != stack.rend(); ++it)
          if (it->first < names.size()) who = names[it->first];
        return errorf("rule '{}' is left-recursive (it can reach itself without consuming input)",
                      who.empty() ? "?" : who);
      }
      if (mark[next] == 0) {
        mark[next] = 1;
        stack.emplace_back(next, 0);
      }
    }
  }
  return Ok{};
}

}  // namespace

Result<std::shared_ptr<const Grammar>> GrammarBuilder::build(int32_t root) const {
  if (root < 0 || static_cast<size_t>(root) >= names_.size()) return errorf("no root rule");
  Flattener f(names_.size());
  for (size_t r = 0; r < names_.size(); ++r) {
    if (!defined_[r]) return errorf("rule '{}' is used but not defined", names_[r]);
    Status st = f.define(static_cast<int32_t>(r), bodies_[r], names_[r]);
    if (!st.ok()) return std::move(st).error().wrap(fmt::format("rule '{}'", names_[r]));
  }
  Status st = check_left_recursion(f.alts(), names_);
  if (!st.ok()) return std::move(st).error();
  return std::shared_ptr<const Grammar>(f.finish(root));
}

// ---- TokenTrie ----

TokenTrie::TokenTrie(const std::vector<std::string>& token_bytes)
    : n_vocab_(static_cast<int32_t>(token_bytes.size())) {
  std::vector<int32_t> order;
  for (size_t i = 0; i < token_bytes.size(); ++i)
    if (!token_bytes[i].empty()) order.push_back(static_cast<int32_t>(i));
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return token_bytes[a] != token_bytes[b] ? token_bytes[a] < token_bytes[b] : a < b;
  });
  std::vector<uint32_t> path;   // node indices from depth 1 to the current node
  std::string_view prev;
  for (int32_t id : order) {
    std::string_view s = token_bytes[id];
    size_t lcp = 0;
    while (lcp < path.size() && lcp < s.size() && prev[lcp] == s[lcp]) ++lcp;
    while (path.size() > lcp) {
      skip_[path.back()] = static_cast<uint32_t>(bytes_.size());
      path.pop_back();
    }
    for (size_t d = lcp; d < s.size(); ++d) {
      path.push_back(static_cast<uint32_t>(bytes_.size()));
      bytes_.push_back(static_cast<uint8_t>(s[d]));
      depth_.push_back(static_cast<uint32_t>(d + 1));
      skip_.push_back(0);
      tok_begin_.push_back(static_cast<uint32_t>(tokens_.size()));
    }
    max_depth_ = std::max<uint32_t>(max_depth_, static_cast<uint32_t>(s.size()));
    tokens_.push_back(id);
    prev = s;
  }
  for (uint32_t i : path) skip_[i] = static_cast<uint32_t>(bytes_.size());
  tok_begin_.push_back(static_cast<uint32_t>(tokens_.size()));
}

// ---- GrammarMatcher ----

GrammarMatcher::GrammarMatcher(std::shared_ptr<const Grammar> g) : g_(std::move(g)) {
  LM_CHECK(g_ != nullptr);
  const auto& ra = g_->rule_alts();
  for (uint32_t a = ra[g_->root()]; a < ra[g_->root() + 1]; ++a)
    close(*g_, frames_, g_->alt_starts()[a], -1, stacks_);
}

// Expands position `pos` (returning to frame `parent`) until every resulting stack has a byte
// class on top (or is done), appending the stacks to `out` (duplicates skipped).
int32_t GrammarMatcher::Arena::push(uint32_t pos, int32_t parent) {
  if (index) {
    const uint64_t key = (uint64_t{pos} << 32) | static_cast<uint32_t>(parent);
    auto [it, inserted] = index->emplace(key, static_cast<int32_t>(frames.size()));
    if (!inserted) return it->second;
  }
  frames.push_back({pos, parent});
  return static_cast<int32_t>(frames.size() - 1);
}

void GrammarMatcher::close(const Grammar& g, Arena& arena, uint32_t pos, int32_t parent, std::vector<Top>& out) {
  const auto& elems = g.elems();
  for (;;) {
    const GrammarElem e = elems[pos];
    if (e.kind == GrammarElem::Kind::kEnd) {
      if (parent < 0) {
        const Top done{kDone, -1};
        if (std::find(out.begin(), out.end(), done) == out.end()) out.push_back(done);
        return;
      }
      const Frame f = arena.frames[parent];
      pos = f.pos;
      parent = f.parent;
      continue;
    }
    if (e.kind == GrammarElem::Kind::kBytes) {
      const Top t{pos, parent};
      if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
      return;
    }
    // A rule reference; in tail position the caller's frame is reused.
    int32_t ret = parent;
    if (elems[pos + 1].kind != GrammarElem::Kind::kEnd) ret = arena.push(pos + 1, parent);
    const auto& ra = g.rule_alts();
    for (uint32_t a = ra[e.arg]; a < ra[e.arg + 1]; ++a) close(g, arena, g.alt_starts()[a], ret, out);
    return;
  }
}

void GrammarMatcher::advance(const Grammar& g, Arena& arena, const std::vector<Top>& in, uint8_t b,
                             std::vector<Top>& out) {
  out.clear();
  for (const Top& t : in) {
    if (t.pos == kDone) continue;
    if (g.byte_in(g.elems()[t.pos].arg, b)) close(g, arena, t.pos + 1, t.parent, out);
  }
}

bool GrammarMatcher::accept_byte(uint8_t b) {
  std::vector<Top> next;
  advance(*g_, frames_, stacks_, b, next);
  if (next.empty()) return false;
  stacks_ = std::move(next);
  if (frames_.frames.size() > 4096) compact();
  return true;
}

bool GrammarMatcher::accept_bytes(std::string_view bytes) {
  GrammarMatcher copy = *this;
  for (char c : bytes)
    if (!copy.accept_byte(static_cast<uint8_t>(c))) return false;
  *this = std::move(copy);
  compact();
  return true;
}

bool GrammarMatcher::can_accept(std::string_view bytes) const {
  GrammarMatcher copy = *this;
  for (char c : bytes)
    if (!copy.accept_byte(static_cast<uint8_t>(c))) return false;
  return true;
}

bool GrammarMatcher::is_complete() const {
  return std::any_of(stacks_.begin(), stacks_.end(), [](const Top& t) { return t.pos == kDone; });
}

bool GrammarMatcher::can_continue() const {
  return std::any_of(stacks_.begin(), stacks_.end(), [](const Top& t) { return t.pos != kDone; });
}

// Keeps only the frames reachable from the live stacks.
void GrammarMatcher::compact() {
  const std::vector<Frame>& old = frames_.frames;
  std::vector<int32_t> remap(old.size(), -2);
  std::vector<Frame> kept;
  std::function<int32_t(int32_t)> copy = [&](int32_t id) -> int32_t {
    if (id < 0) return id;
    if (remap[id] != -2) return remap[id];
    const int32_t parent = copy(old[id].parent);
    kept.push_back({old[id].pos, parent});
    return remap[id] = static_cast<int32_t>(kept.size() - 1);
  };
  for (Top& t : stacks_) t.parent = copy(t.parent);
  frames_.frames = std::move(kept);
}

namespace {

constexpr size_t kMaxInterned = 16384;   // past this, states are computed without memoization

// Interned states of one fill_mask walk and their memoized byte transitions.
template <typename TopT>
struct StateTable {
  static constexpr int32_t kUnknown = -3, kReject = -2;
  std::map<std::vector<uint64_t>, int32_t> ids;
  std::vector<std::vector<TopT>> states;
  std::vector<std::array<int32_t, 256>> next;   // [state][byte] → state, kReject or kUnknown

  int32_t intern(const std::vector<TopT>& s) {
    std::vector<uint64_t> key;
    key.reserve(s.size());
    for (const TopT& t : s) key.push_back((uint64_t{t.pos} << 32) | static_cast<uint32_t>(t.parent));
    std::sort(key.begin(), key.end());
    auto [it, inserted] = ids.emplace(std::move(key), static_cast<int32_t>(states.size()));
    if (inserted) {
      states.push_back(s);
      next.emplace_back().fill(kUnknown);
    }
    return it->second;
  }
};

}  // namespace

void GrammarMatcher::fill_mask(const TokenTrie& trie, std::vector<uint8_t>* allowed) const {
  allowed->assign(trie.n_vocab(), 0);
  using Table = StateTable<Top>;
  Table table;
  std::unordered_map<uint64_t, int32_t> frame_index;
  Arena arena{frames_.frames, &frame_index};
  const uint32_t max_depth = trie.max_depth();
  std::vector<std::vector<Top>> tmp(max_depth + 1);   // per depth: the state when not interned
  std::vector<int32_t> level(max_depth + 1, -1);      // per depth: interned id, or -1
  level[0] = table.intern(stacks_);
  const auto& tokens = trie.tokens();
  const size_t n = trie.size();
  for (size_t i = 0; i < n;) {
    const uint32_t d = trie.depth(i);
    const uint8_t b = trie.byte(i);
    const int32_t from = level[d - 1];
    int32_t to = from >= 0 ? table.next[from][b] : Table::kUnknown;
    if (to == Table::kUnknown) {
      advance(*g_, arena, from >= 0 ? table.states[from] : tmp[d - 1], b, tmp[d]);
      if (tmp[d].empty()) to = Table::kReject;
      else to = table.states.size() < kMaxInterned ? table.intern(tmp[d]) : -1;
      if (from >= 0 && to != -1) table.next[from][b] = to;
    }
    if (to == Table::kReject) {
      i = trie.skip(i);
      continue;
    }
    level[d] = to;
    for (uint32_t t = trie.token_begin(i); t < trie.token_begin(i + 1); ++t) (*allowed)[tokens[t]] = 1;
    ++i;
  }
}

}  // namespace lm::sampling
