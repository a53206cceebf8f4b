#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace lm::tokenizer {

std::string StreamDecoder::push(int32_t id) { return push(id, render_special_); }

std::string StreamDecoder::push(int32_t id, bool render_special) {
  tok_.append_piece(pending_, id, &at_start_, render_special);
  std::string out;
  size_t pos = 0;
  while (pos < pending_.size()) {
    Utf8Step st = utf8_step(pending_, pos);
    if (st.status == Utf8Status::kIncomplete) break;   // wait for the rest of the character
    if (st.status == Utf8Status::kValid) {
      out.append(pending_, pos, st.len);
    } else {
      out.append(kReplacementChar);
    }
    pos += st.len;
  }
  pending_.erase(0, pos);
  return out;
}

std::string StreamDecoder::flush() {
  // Whatever is held is a well-formed prefix that never completed: one maximal subpart.
  std::string out = pending_.empty() ? std::string() : std::string(kReplacementChar);
  pending_.clear();
  at_start_ = true;
  return out;
}

}  // namespace lm::tokenizer
