// PieceMap: piece text → token id, the lookup on the tokenizer's hot path (every candidate pair
// during merging is looked up). Open addressing with linear probing over a power-of-two table;
// each slot keeps 32 bits of the hash so most misses never touch the piece text.
//
// Keeps its own contiguous copy of the pieces (locality: a hit compares bytes next to each other).
// Immutable after build(): concurrent find() calls are safe. Pieces total under 4 GiB.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace lm::tokenizer {

inline uint64_t hash_piece(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (s.size() * 0xC2B2AE3D27D4EB4Full);
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
  }
  uint64_t w = 0;
  if (i < s.size()) std::memcpy(&w, s.data() + i, s.size() - i);
  h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 29;
  h *= 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 32);
}

class PieceMap {
 public:
  // Duplicated pieces map to their first id.
  void build(const std::vector<std::string>& pieces) {
    size_t cap = 16;
    while (cap < pieces.size() * 2) cap *= 2;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    blob_.clear();
    for (const std::string& p : pieces) blob_ += p;
    uint32_t off = 0;
    for (size_t id = 0; id < pieces.size(); ++id) {
      const auto len = static_cast<uint32_t>(pieces[id].size());
      const uint64_t h = hash_piece(pieces[id]);
      size_t i = h & mask_;
      while (slots_[i].id >= 0 && !matches(slots_[i], h, pieces[id])) i = (i + 1) & mask_;
      if (slots_[i].id < 0) slots_[i] = Slot{tag(h), static_cast<int32_t>(id), off, len};
      off += len;
    }
  }

  // The id of `s`, or -1.
  int32_t find(std::string_view s) const {
    if (slots_.empty()) return -1;
    const uint64_t h = hash_piece(s);
    for (size_t i = h & mask_; slots_[i].id >= 0; i = (i + 1) & mask_) {
      if (matches(slots_[i], h, s)) return slots_[i].id;
    }
    return -1;
  }

 private:
  struct Slot {
    uint32_t tag = 0;   // high bits of the hash
    int32_t id = -1;    // -1: empty
    uint32_t off = 0;   // the piece is blob_[off, off + len)
    uint32_t len = 0;
  };
  static uint32_t tag(uint64_t h) { return static_cast<uint32_t>(h >> 32); }
  bool matches(const Slot& slot, uint64_t h, std::string_view s) const {
    return slot.tag == tag(h) && slot.len == s.size() &&
           std::memcmp(blob_.data() + slot.off, s.data(), s.size()) == 0;
  }

  std::string blob_;   // all pieces, back to back (copied: the map owns what it compares)
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

}  // namespace lm::tokenizer
