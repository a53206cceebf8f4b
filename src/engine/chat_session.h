// ChatSession: generation over a growing conversation in one KV-cache sequence.
//
// Each turn's prompt is the whole conversation rendered again; the longest common token prefix
// with what the cache already holds is kept (KvCache::truncate_seq) and only the rest is fed,
// so a turn costs its new tokens, not the whole history. Generated tokens stay in the cache.
//
// Ownership: borrows the Session (which must outlive it) and owns the record of the tokens in
// its cache sequence. Thread-safety: none. Nothing else may write the sequence between turns
// (call reset() if something did).
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "engine/generate.h"
#include "engine/session.h"

namespace lm::engine {

struct ChatTurnResult {
  GenerateResult gen;
  int32_t n_reused = 0;  // prompt tokens that were already in the cache
};

class ChatSession {
 public:
  explicit ChatSession(Session& session, int32_t seq = 0);

  // Generates a reply to request.prompt (the whole conversation). on_text receives complete
  // UTF-8 pieces and returns false to stop (the tokens so far stay in the cache). Generation
  // stops at the model's end-of-generation tokens (not shown). Errors leave the cache empty.
  Result<ChatTurnResult> generate(const GenerateRequest& request,
                                  const std::function<bool(std::string_view)>& on_text);

  // Forgets the cached tokens (the next turn is fed whole).
  void reset();
  const std::vector<int32_t>& cached_tokens() const { return cached_; }

 private:
  Status prefill(const std::vector<int32_t>& tokens, int32_t from, int32_t n_batch,
                 std::vector<float>* logits);

  Session& session_;
  int32_t seq_;
  std::vector<int32_t> cached_;  // the tokens at positions 0.. of the cache sequence
};

}  // namespace lm::engine
