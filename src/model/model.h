// The model module's public API, in one include: ModelConfig (config.h), Model and its bound
// weights (weights.h), KvCache (kv_cache.h), BatchToken and Forward (forward.h).
//
//   auto model = lm::model::Model::load("model.gguf");          // Result<unique_ptr<Model>>
//   lm::ThreadPool pool(4);
//   lm::model::KvCache cache((*model)->config(), n_ctx, n_seq_max);
//   lm::model::Forward fwd(**model, pool);
//   std::vector<float> logits;                                  // [n_logits, n_vocab]
//   Status st = fwd.run(cache, batch, &logits);
#pragma once

#include "model/config.h"
#include "model/forward.h"
#include "model/kv_cache.h"
#include "model/weights.h"
