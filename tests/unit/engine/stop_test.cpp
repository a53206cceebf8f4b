#include "engine/stop.h"

#include <gtest/gtest.h>

#include "engine/request.h"

namespace lm::engine {
namespace {

TEST(StopMatcher, NoStopsPassesEverythingThrough) {
  StopMatcher m({});
  EXPECT_EQ(m.push("hello "), "hello ");
  EXPECT_EQ(m.push("world"), "world");
  EXPECT_EQ(m.finish(), "");
  EXPECT_FALSE(m.matched());
}

TEST(StopMatcher, HoldsBackAPossibleStartAndReleasesItWhenItCannotMatch) {
  StopMatcher m({"END"});
  EXPECT_EQ(m.push("abc E"), "abc ");   // "E" may start "END"
  EXPECT_EQ(m.held(), "E");
  EXPECT_EQ(m.push("N"), "");           // "EN" still may
  EXPECT_EQ(m.push("x"), "ENx");        // "ENx" cannot
  EXPECT_FALSE(m.matched());
  EXPECT_EQ(m.push("yE"), "y");
  EXPECT_EQ(m.finish(), "E");           // end of stream: the held tail is text after all
}

TEST(StopMatcher, MatchSplitOverPiecesDropsItAndEverythingAfter) {
  StopMatcher m({"END"});
  EXPECT_EQ(m.push("one E"), "one ");
  EXPECT_EQ(m.push("ND two"), "");
  EXPECT_TRUE(m.matched());
  EXPECT_EQ(m.push("three"), "");
  EXPECT_EQ(m.finish(), "");
}

TEST(StopMatcher, EarliestOfSeveralStopsWins) {
  StopMatcher m({"zzz", "b", ""});   // the empty string is ignored
  EXPECT_EQ(m.push("a zzz b"), "a ");
  EXPECT_TRUE(m.matched());
}

TEST(StopMatcher, LongestPossiblePrefixIsHeld) {
  StopMatcher m({"abcd", "cx"});
  EXPECT_EQ(m.push("xxabc"), "xx");   // "abc" may start "abcd" ("c" may start "cx": shorter)
  EXPECT_EQ(m.push("x"), "ab");       // "abcx": "cx" matched; text before it is released
  EXPECT_TRUE(m.matched());
}

TEST(StopMatcher, MultibyteStopString) {
  StopMatcher m({"é!"});
  EXPECT_EQ(m.push("caf\xC3\xA9"), "caf");
  EXPECT_EQ(m.push("!"), "");
  EXPECT_TRUE(m.matched());
}

TEST(RequestHandle, NextMergesQueuedEventsAndEndsAfterDone) {
  RequestHandle h;
  StreamEvent a, b, c;
  a.text = "he";
  a.tokens.push_back({5, "he", 0, {}});
  b.text = "llo";
  b.tokens.push_back({6, "llo", 0, {}});
  c.done = true;
  c.finish = FinishReason::kLength;
  c.usage.completion_tokens = 2;
  h.push(a);
  h.push(b);
  h.push(c);
  h.push(a);   // nothing follows the last event
  StreamEvent ev;
  ASSERT_TRUE(h.next(&ev, std::chrono::milliseconds(0)));
  EXPECT_EQ(ev.text, "hello");
  ASSERT_EQ(ev.tokens.size(), 2u);
  EXPECT_EQ(ev.tokens[1].id, 6);
  EXPECT_TRUE(ev.done);
  EXPECT_EQ(ev.finish, FinishReason::kLength);
  EXPECT_EQ(ev.usage.completion_tokens, 2);
  EXPECT_FALSE(h.next(&ev, std::chrono::milliseconds(0)));
}

TEST(RequestHandle, NextTimesOutWithoutEvents) {
  RequestHandle h;
  StreamEvent ev;
  EXPECT_FALSE(h.next(&ev, std::chrono::milliseconds(5)));
  EXPECT_FALSE(h.cancelled());
  h.cancel();
  EXPECT_TRUE(h.cancelled());
}

}  // namespace
}  // namespace lm::engine
