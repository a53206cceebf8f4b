// Fuzzes what the router reads from hosted APIs: the bytes of an event stream go through the SSE
// parser and the OpenAI or Anthropic stream decoder (chosen by the first byte), fed whole and in
// pieces (size from the second byte); both feedings must deliver the same chunks and end the same
// way. The same bytes, parsed as JSON, go through the request and reply translators, which must
// return a Result, never throw.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "router/anthropic.h"
#include "router/upstream_stream.h"

namespace {

using lm::router::ProviderKind;
using lm::router::StreamDecoder;
using nlohmann::json;

void fail(const char* what) {
  std::fprintf(stderr, "fuzz_upstream_stream: %s\n", what);
  std::abort();
}

struct Run {
  std::vector<json> chunks;
  bool stopped = false;
  int end_kind = -1;   // -1: finished cleanly
};

Run decode(ProviderKind kind, std::string_view bytes, size_t piece) {
  Run run;
  StreamDecoder::OnChunk on_chunk = [&](const json& c) {
    if (!c.is_object()) fail("a delivered chunk is not an object");
    run.chunks.push_back(c);
    return true;
  };
  StreamDecoder dec(kind, on_chunk);
  for (size_t i = 0; i < bytes.size(); i += piece) {
    if (!dec.feed(bytes.substr(i, piece))) {
      run.stopped = true;
      break;
    }
  }
  if (auto e = dec.finish()) run.end_kind = static_cast<int>(e->kind);
  (void)dec.accumulated().completion();
  return run;
}

// Chunks carry their creation time: compare without it.
json strip(std::vector<json> chunks) {
  json a = json::array();
  for (auto& c : chunks) {
    c.erase("created");
    a.push_back(std::move(c));
  }
  return a;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  ProviderKind kind = data[0] & 1 ? ProviderKind::anthropic : ProviderKind::openai;
  size_t piece = 1 + data[1] % 32;
  std::string_view bytes(reinterpret_cast<const char*>(data + 2), size - 2);
  Run whole = decode(kind, bytes, bytes.size() + 1);
  Run pieces = decode(kind, bytes, piece);
  if (whole.stopped != pieces.stopped || whole.end_kind != pieces.end_kind) fail("the feeding changed how the stream ended");
  if (strip(whole.chunks) != strip(pieces.chunks)) fail("the feeding changed the chunks");

  json j = json::parse(bytes, nullptr, false);
  if (!j.is_discarded()) {
    try {
      (void)lm::router::anthropic_request(j);
      (void)lm::router::anthropic_response_to_openai(j);
      (void)lm::router::check_openai_completion(j);
      (void)lm::router::anthropic_error(j);
      lm::router::AnthropicStreamTranslator tr;
      (void)tr.on_event(j);
    } catch (const std::exception& e) {
      fail(e.what());
    }
  }
  return 0;
}
