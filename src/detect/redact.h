// Redaction: replace detected spans by placeholders before text leaves the machine, and put the
// original values back into the reply (whole, or streamed chunk by chunk).
//
//   detect::Redactor red;                                   // one per request
//   std::string safe = red.redact(text, det.scan(text));    // "mail [EMAIL_1] or [PHONE_1]"
//   ... send `safe` upstream ...
//   std::string reply = red.restore(upstream_reply);        // placeholders -> original values
//
//   detect::StreamRestorer sr(red);                          // streamed replies
//   for (chunk : upstream) client.send(sr.feed(chunk));      // holds back a possible "[EMAIL_" prefix
//   client.send(sr.finish());
//
// Placeholders are "[" KIND "_" N "]" with KIND the upper-case kind name (EMAIL, CARD, PRIVATE_KEY,
// ...) and N counting from 1 per kind; the same value gets the same placeholder within a Redactor
// (also across several redact() calls, e.g. the messages of one request). A placeholder that
// already occurs literally in the text being redacted is skipped, so restore(redact(x)) == x.
// restore() replaces only exact, known placeholders in one left-to-right pass (restored values are
// never re-scanned); unknown or mangled ones ("[EMAIL_9]", "[EMAIL 1]", "[email_1]") stay as they are.
//
// Thread safety: none; a Redactor belongs to one request. A StreamRestorer reads its Redactor,
// which must outlive it and not change while it is in use.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "detect/detect.h"

namespace lm::detect {

class Redactor {
 public:
  struct Entry {
    std::string placeholder;  // "[EMAIL_1]"
    std::string value;        // the original text
    Kind kind;
  };

  // Returns text with every span replaced by its placeholder. spans: sorted, non-overlapping,
  // within text (as Detector::scan returns them).
  std::string redact(std::string_view text, const std::vector<Span>& spans);

  // Replaces known placeholders by their values.
  std::string restore(std::string_view text) const;

  const std::vector<Entry>& entries() const { return entries_; }

  // The value behind a placeholder's inner name ("EMAIL_1"), or nullptr.
  const std::string* lookup(std::string_view inner) const;

  // Longest placeholder inner name a restorer must wait for.
  static constexpr size_t kMaxInner = 40;

 private:
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> by_value_;  // kind byte + value -> entry
  std::unordered_map<std::string, size_t> by_inner_;  // "EMAIL_1" -> entry
  int next_[kNumKinds] = {};
};

class StreamRestorer {
 public:
  explicit StreamRestorer(const Redactor& redactor) : red_(redactor) {}

  // Returns the restored text that is safe to emit now; a trailing fragment that may still grow
  // into a placeholder is held back until the next chunk.
  std::string feed(std::string_view chunk);
  // Flushes what is held back (restoring nothing that is incomplete).
  std::string finish();

 private:
  const Redactor& red_;
  std::string pending_;
};

// Restores the known placeholders in text[0, n); when `partial` is set, stops before a trailing
// '[' that could still become a placeholder and returns its position in *held (else text.size()).
std::string restore_placeholders(const Redactor& red, std::string_view text, bool partial, size_t* held);

}  // namespace lm::detect
