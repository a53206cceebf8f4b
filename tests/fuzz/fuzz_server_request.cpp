// Fuzzes the server's request parsing (src/server/request.cpp): any bytes, as the body of each
// endpoint, must give either a parsed request or a 4xx ApiError with a message, never an
// exception or a crash; the error body must serialise.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "server/embeddings.h"
#include "server/request.h"
#include "server/streaming.h"

namespace {

template <typename T>
void check(const lm::server::Parsed<T>& r) {
  if (const auto* e = std::get_if<lm::server::ApiError>(&r)) {
    if (e->status < 400 || e->status >= 500 || e->message.empty()) {
      std::fprintf(stderr, "bad error: status %d message '%s'\n", e->status, e->message.c_str());
      std::abort();
    }
    (void)lm::server::to_json_text(lm::server::error_body(*e, lm::server::Dialect::kOpenAi));
    (void)lm::server::to_json_text(lm::server::error_body(*e, lm::server::Dialect::kOllama));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  check(lm::server::parse_openai_chat(body));
  check(lm::server::parse_openai_completion(body));
  check(lm::server::parse_ollama_generate(body));
  check(lm::server::parse_ollama_chat(body));
  check(lm::server::parse_ollama_model_name(body));
  check(lm::server::parse_openai_embeddings(body));
  check(lm::server::parse_ollama_embed(body, /*legacy=*/false));
  check(lm::server::parse_ollama_embed(body, /*legacy=*/true));
  return 0;
}
