// Redaction: placeholders per kind and value, restore (whole and streamed, placeholders split
// across chunks), and the model echoing unknown or mangled placeholders.
#include <gtest/gtest.h>

#include <string>

#include "detect/detect.h"
#include "detect/redact.h"

namespace lm::detect {
namespace {

Detector make() { return std::move(Detector::create(DetectorConfig{}).value()); }

TEST(Redact, SameValueSamePlaceholder) {
  Detector det = make();
  Redactor red;
  std::string text = "Mail jane@example.com or bob@example.org; again jane@example.com. Card 4111 1111 1111 1111.";
  std::string safe = red.redact(text, det.scan(text));
  EXPECT_EQ(safe, "Mail [EMAIL_1] or [EMAIL_2]; again [EMAIL_1]. Card [CARD_1].");
  ASSERT_EQ(red.entries().size(), 3u);
  EXPECT_EQ(red.entries()[1].value, "bob@example.org");
  EXPECT_EQ(red.restore(safe), text);
  // A second message of the same request reuses the mapping.
  std::string second = "bob@example.org again";
  EXPECT_EQ(red.redact(second, det.scan(second)), "[EMAIL_2] again");
}

TEST(Redact, LiteralPlaceholderInInputIsNotReused) {
  Detector det = make();
  Redactor red;
  std::string text = "I typed [EMAIL_1] myself, my mail is x@example.com";
  std::string safe = red.redact(text, det.scan(text));
  EXPECT_EQ(safe, "I typed [EMAIL_1] myself, my mail is [EMAIL_2]");
  EXPECT_EQ(red.restore(safe), text);
}

TEST(Restore, UnknownAndMangledStayAsIs) {
  Detector det = make();
  Redactor red;
  std::string text = "a@example.com";
  (void)red.redact(text, det.scan(text));
  std::string reply = "[EMAIL_1] [EMAIL_7] [EMAIL 1] [email_1] [EMAIL_1 [[EMAIL_1]] [PHONE_1] EMAIL_1]";
  EXPECT_EQ(red.restore(reply),
            "a@example.com [EMAIL_7] [EMAIL 1] [email_1] [EMAIL_1 [a@example.com] [PHONE_1] EMAIL_1]");
}

TEST(Restore, ValuesAreNotRescanned) {
  Detector det = make();
  Redactor red;
  std::vector<Span> spans = {{Kind::CUSTOM, 0, 9, 1.0f, "x"}};
  std::string text = "[EMAIL_2] and b@example.com";
  spans.push_back({Kind::EMAIL, 14, 27, 1.0f, "email"});
  std::string safe = red.redact(text, spans);
  EXPECT_EQ(safe, "[CUSTOM_1] and [EMAIL_1]");
  EXPECT_EQ(red.restore(safe), text);
}

TEST(StreamRestorer, PlaceholderSplitAcrossChunks) {
  Detector det = make();
  Redactor red;
  std::string text = "reach me at jane@example.com or +19802180495";
  std::string safe = red.redact(text, det.scan(text));
  ASSERT_EQ(safe, "reach me at [EMAIL_1] or [PHONE_1]");
  for (size_t chunk = 1; chunk <= safe.size(); ++chunk) {
    StreamRestorer sr(red);
    std::string out;
    for (size_t i = 0; i < safe.size(); i += chunk) out += sr.feed(std::string_view(safe).substr(i, chunk));
    out += sr.finish();
    EXPECT_EQ(out, text) << "chunk " << chunk;
  }
}

TEST(StreamRestorer, HoldsBackOnlyPossiblePrefixes) {
  Detector det = make();
  Redactor red;
  std::string text = "x@example.com";
  (void)red.redact(text, det.scan(text));
  StreamRestorer sr(red);
  EXPECT_EQ(sr.feed("see [EM"), "see ");
  EXPECT_EQ(sr.feed("AIL_1] and [a"), "x@example.com and [a");
  EXPECT_EQ(sr.feed("rray] [EMAIL_"), "rray] ");
  EXPECT_EQ(sr.finish(), "[EMAIL_");
}

}  // namespace
}  // namespace lm::detect
