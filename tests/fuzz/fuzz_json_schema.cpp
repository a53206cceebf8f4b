// Fuzzes JSON Schema → grammar and the matcher: the input is "<schema JSON>\0<bytes>". A schema
// that parses is compiled (an error is fine; a crash, hang or leak is not); the bytes are then fed
// to a matcher, and every prefix it accepts is checked: a complete prefix must be valid JSON.
// Inputs without a NUL are also tried as GBNF text.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sampling/json_schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lm::sampling;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  if (nul == std::string_view::npos) {
    auto g = parse_gbnf(in);
    if (g.ok()) {
      GrammarMatcher m(*g);
      for (char c : in.substr(0, 64)) (void)m.accept_byte(static_cast<uint8_t>(c));
    }
    return 0;
  }
  auto schema = nlohmann::ordered_json::parse(in.substr(0, nul), nullptr, false);
  if (schema.is_discarded()) return 0;
  auto g = json_schema_grammar(schema, {.max_whitespace = 2});
  if (!g.ok()) return 0;
  GrammarMatcher m(*g);
  std::string accepted;
  for (char c : in.substr(nul + 1)) {
    if (!m.accept_byte(static_cast<uint8_t>(c))) continue;   // skip rejected bytes, keep walking
    accepted += c;
    if (m.is_complete() && nlohmann::json::parse(accepted, nullptr, false).is_discarded()) {
      std::fprintf(stderr, "grammar accepted invalid JSON: %s\n", accepted.c_str());
      std::abort();
    }
  }
  return 0;
}
