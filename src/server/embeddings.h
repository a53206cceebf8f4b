// Embeddings requests: parsing of OpenAI POST /v1/embeddings and Ollama POST /api/embed (and the
// legacy /api/embeddings), and the base64 encoding OpenAI uses for vectors. The handlers
// (embeddings.cpp) tokenize the inputs, submit each as an embedding request to the Scheduler
// (batched with whatever else runs) and answer unit vectors.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/request.h"

namespace lm::server {

// OpenAI allows 2048 inputs per request; so does localmax.
inline constexpr size_t kMaxEmbeddingInputs = 2048;

struct EmbedRequest {
  std::string model;
  // Either texts (tokenized by the handler) or token ids (OpenAI int[] / int[][]).
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> token_inputs;
  bool is_tokens = false;
  bool base64 = false;     // OpenAI encoding_format "base64"
  int32_t dimensions = 0;  // 0: all n_embd
  bool truncate = false;   // cut inputs to the context (Ollama /api/embed's default); else 400
  int32_t num_ctx = 0;     // Ollama options.num_ctx (0: not given)
  bool legacy = false;     // Ollama /api/embeddings (prompt in, one "embedding" out)

  size_t n_inputs() const { return is_tokens ? token_inputs.size() : texts.size(); }
};

// Errors name the field: empty input, an empty string at input[i], more than
// kMaxEmbeddingInputs inputs, mixed element types, bad encoding_format or dimensions.
Parsed<EmbedRequest> parse_openai_embeddings(std::string_view body);
// legacy: /api/embeddings ({model, prompt}); else /api/embed ({model, input, truncate, ...}).
// An absent or empty input (or prompt) is Ollama's "load the model" request: no inputs.
Parsed<EmbedRequest> parse_ollama_embed(std::string_view body, bool legacy);

// Standard base64 (RFC 4648, padded) of the vector's little-endian float32 bytes.
std::string base64_floats(std::span<const float> v);

}  // namespace lm::server
