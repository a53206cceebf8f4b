// Fuzzes chat::OutputParser: the first byte picks the output format, the second the chunk size;
// the rest is the generated text. Checks that nothing crashes and that the streamed message
// (chunked, then byte by byte) equals the one-shot parse, tool-call ids aside.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "chat/tool_calls.h"

namespace {

using lm::chat::OutputFormat;
using lm::chat::OutputParser;
using lm::chat::ParsedMessage;
using lm::chat::ToolCallFormat;

ParsedMessage parse(OutputFormat f, std::string_view text, size_t chunk) {
  OutputParser p(f);
  for (size_t i = 0; i < text.size(); i += chunk) (void)p.feed(text.substr(i, chunk));
  (void)p.finish();
  return p.message();
}

void expect_same(const ParsedMessage& a, const ParsedMessage& b) {
  bool same = a.content == b.content && a.reasoning_content == b.reasoning_content &&
              a.tool_calls.size() == b.tool_calls.size();
  for (size_t i = 0; same && i < a.tool_calls.size(); ++i) {
    same = a.tool_calls[i].name == b.tool_calls[i].name && a.tool_calls[i].arguments == b.tool_calls[i].arguments;
  }
  if (!same) {
    std::fprintf(stderr, "streamed message differs from the one-shot parse\n");
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  OutputFormat f;
  f.tools = static_cast<ToolCallFormat>(data[0] % 4);
  f.think = (data[0] >> 2) & 1;
  f.starts_in_think = (data[0] >> 3) & 1;
  size_t chunk = 1 + data[1] % 16;
  std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
  ParsedMessage once = parse(f, text, text.size() + 1);
  expect_same(once, parse(f, text, chunk));
  expect_same(once, parse(f, text, 1));
  (void)once.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return 0;
}
