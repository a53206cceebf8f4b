// StopMatcher: finds stop strings in streamed text, holding back text that could still become one.
//
// Text arrives in pieces (complete UTF-8 from a StreamDecoder). push() returns the text that is
// safe to show: everything before the earliest stop string once one is found (then matched()
// is true and all later text is dropped), else everything except the longest tail that is a
// prefix of some stop string. finish() releases the held tail at the end of the stream.
// Not thread-safe (one per request). Cost: O(held * stops * max_stop_len) per push; the held
// text is shorter than the longest stop string plus the new piece.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lm::engine {

class StopMatcher {
 public:
  // Empty strings in `stops` are ignored.
  explicit StopMatcher(std::vector<std::string> stops);

  std::string push(std::string_view text);
  std::string finish();
  bool matched() const { return matched_; }
  const std::string& held() const { return held_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool matched_ = false;
};

}  // namespace lm::engine
