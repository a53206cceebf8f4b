// Fuzzes the detectors and redaction: every detector runs over arbitrary bytes (spans must be
// sorted, disjoint and in range), redact then restore must give back the input, and a streamed
// restore (chunk size from the first byte) must equal the one-shot restore.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "detect/detect.h"
#include "detect/redact.h"

namespace {

void fail(const char* what) {
  std::fprintf(stderr, "fuzz_detect: %s\n", what);
  std::abort();
}

const lm::detect::Detector& detector() {
  static lm::detect::Detector d = [] {
    lm::detect::DetectorConfig cfg;
    cfg.patterns.push_back({"employee", "EMP-[0-9]{4,8}", false});
    cfg.patterns.push_back({"nested", "(a|ab)*c", true});
    cfg.keywords.push_back({"words", {"falcon", "Project X", "[EMAIL_1]"}});
    cfg.match_limit = 10000;
    return std::move(lm::detect::Detector::create(cfg).value());
  }();
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t chunk = 1 + data[0] % 16;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  auto spans = detector().scan(text);
  size_t prev_end = 0;
  for (const auto& s : spans) {
    if (s.begin < prev_end || s.end <= s.begin || s.end > text.size()) fail("bad span");
    prev_end = s.end;
  }
  lm::detect::Redactor red;
  std::string safe = red.redact(text, spans);
  std::string back = red.restore(safe);
  if (back != text) fail("restore(redact(x)) != x");
  lm::detect::StreamRestorer sr(red);
  std::string streamed;
  for (size_t i = 0; i < safe.size(); i += chunk) streamed += sr.feed(std::string_view(safe).substr(i, chunk));
  streamed += sr.finish();
  if (streamed != back) fail("streamed restore differs from the one-shot restore");
  // The text itself as a model reply: unknown placeholders stay, streamed == one-shot.
  lm::detect::StreamRestorer sr2(red);
  std::string echo;
  for (size_t i = 0; i < text.size(); i += chunk) echo += sr2.feed(text.substr(i, chunk));
  echo += sr2.finish();
  if (echo != red.restore(text)) fail("streamed restore of the raw text differs");
  return 0;
}
