#include "engine/scheduler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "core/check.h"
#include "core/log.h"
#include "engine/stop.h"
#include "sampling/sampler.h"

namespace lm::engine {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int32_t kMinPrefillChunk = 16;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// log softmax of logits[id] over the raw row ([n_vocab]); NaN counts as -inf, as in
// sampling::top_logprobs.
float token_logprob(std::span<const float> logits, int32_t id) {
  float max_l = -std::numeric_limits<float>::infinity();
  for (float x : logits)
    if (!std::isnan(x)) max_l = std::max(max_l, x);
  if (!std::isfinite(max_l) || std::isnan(logits[id])) return -std::numeric_limits<float>::infinity();
  double sum = 0.0;
  for (float x : logits)
    if (!std::isnan(x)) sum += std::exp(static_cast<double>(x - max_l));
  return static_cast<float>(static_cast<double>(logits[id]) - max_l - std::log(sum));
}

// A request's time limit (CompletionRequest::timeout_ms, already capped by the scheduler's).
bool past_time_limit(const CompletionRequest& r, Clock::time_point submitted, Clock::time_point now) {
  return r.timeout_ms > 0 && !r.embedding && now - submitted >= std::chrono::milliseconds(r.timeout_ms);
}

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = std::min(a.size(), b.size()), i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

}  // namespace

std::string_view submit_error_name(SubmitError e) {
  switch (e) {
    case SubmitError::kQueueFull: return "queue_full";
    case SubmitError::kPromptTooLong: return "prompt_too_long";
    case SubmitError::kInvalid: return "invalid";
    case SubmitError::kShuttingDown: return "shutting_down";
  }
  return "unknown";
}

LatencyHistogram::LatencyHistogram()
    : bounds_ms{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000},
      counts(bounds_ms.size() + 1, 0) {}

void LatencyHistogram::add(double ms) {
  size_t i = std::lower_bound(bounds_ms.begin(), bounds_ms.end(), ms) - bounds_ms.begin();
  ++counts[i];
  sum_ms += ms;
  ++count;
}

struct Scheduler::Pending {
  CompletionRequest req;
  std::weak_ptr<RequestHandle> handle;
  Clock::time_point submitted;
};

struct Scheduler::Sequence {
  Sequence(Pending&& p, const tokenizer::Tokenizer& tok)
      : req(std::move(p.req)),
        handle(std::move(p.handle)),
        submitted(p.submitted),
        sampler(req.sampling, tok.n_vocab()),
        decoder(tok),
        stop(req.stop) {
    if (req.grammar) grammar.emplace(req.grammar);
  }

  CompletionRequest req;
  std::weak_ptr<RequestHandle> handle;
  Clock::time_point submitted;
  Clock::time_point last_token;
  int64_t serial = 0;               // admission order: prefill is served FIFO
  sampling::Sampler sampler;
  tokenizer::StreamDecoder decoder;
  StopMatcher stop;
  int32_t n_cached = 0;
  int32_t n_generated = 0;
  int32_t next_token = -1;          // sampled, fed at the next step; -1 while prefilling
  double ttft_ms = -1;
  std::vector<TokenInfo> unsent;    // tokens not yet covered by an event
  std::unique_ptr<Pooler> pooler;   // embedding requests only
  std::optional<sampling::GrammarMatcher> grammar;   // constrained decoding state, if any

  int32_t n_prompt() const { return static_cast<int32_t>(req.prompt.size()); }
  bool preserved(int32_t id) const {
    return std::find(req.preserved_tokens.begin(), req.preserved_tokens.end(), id) != req.preserved_tokens.end();
  }
};

struct Scheduler::Slot {
  int32_t seq = 0;
  std::vector<int32_t> tokens;      // tokens whose K/V the slot holds, positions 0..size-1
  int64_t last_used = 0;            // LRU clock of the last request end
  std::unique_ptr<Sequence> run;    // null: free
  int32_t n_fed = 0;                // tokens of this slot in the current batch
  bool embedding_only = false;      // one of the n_embedding_slots
};

Scheduler::Scheduler(std::unique_ptr<Session> session, const SchedulerOptions& options)
    : session_(std::move(session)), opt_(options) {}

Result<std::unique_ptr<Scheduler>> Scheduler::start(std::unique_ptr<Session> session,
                                                    const SchedulerOptions& o) {
  LM_CHECK(session != nullptr);
  const int32_t n_seq_max = session->kv().n_seq_max();
  if (o.n_parallel < 1 || o.n_parallel > n_seq_max)
    return errorf("n_parallel = {}: must be in [1, {}] (the KV cache's sequence slots)", o.n_parallel,
                  n_seq_max);
  if (o.n_batch < 1) return errorf("n_batch = {}: must be positive", o.n_batch);
  if (o.max_queue < 0) return errorf("max_queue = {}: must not be negative", o.max_queue);
  if (o.request_timeout_ms < 0)
    return errorf("request_timeout_ms = {}: must not be negative", o.request_timeout_ms);
  if (o.n_ctx < 0 || o.n_ctx > session->n_ctx())
    return errorf("n_ctx = {}: must be in [0, {}] (the session's context)", o.n_ctx, session->n_ctx());

  std::unique_ptr<Scheduler> s(new Scheduler(std::move(session), o));
  s->n_ctx_ = o.n_ctx > 0 ? o.n_ctx : s->session_->n_ctx();
  if (auto p = pooling_from_gguf(s->config().pooling_type); p.ok())
    s->pooling_ = *p;
  else
    s->pooling_error_ = p.error().message();
  s->session_->kv().clear();
  const int32_t n_embd_slots = std::clamp(o.n_embedding_slots, 0, n_seq_max - o.n_parallel);
  for (int32_t i = 0; i < o.n_parallel + n_embd_slots; ++i) {
    s->slots_.push_back(std::make_unique<Slot>());
    s->slots_.back()->seq = i;
    s->slots_.back()->embedding_only = i >= o.n_parallel;
  }
  s->stats_.n_parallel = o.n_parallel;
  const model::KvCache& kv = s->session_->kv();
  s->n_pool_pos_ = kv.n_blocks() * model::KvCache::kBlockSize;
  s->stats_.kv_cells_total = s->n_pool_pos_;
  s->stats_.kv_blocks_total = kv.n_blocks();
  s->stats_.kv_bytes = static_cast<int64_t>(kv.bytes());
  s->thread_ = std::thread([p = s.get()] { p->loop(); });
  return s;
}

Result<std::unique_ptr<Scheduler>> Scheduler::open(const std::string& model_path,
                                                   const SchedulerOptions& o) {
  SessionOptions so;
  so.model_path = model_path;
  so.n_ctx = o.n_ctx;
  so.n_threads = o.n_threads;
  so.n_seq_max = std::max(1, o.n_parallel) + std::max(0, o.n_embedding_slots);
  so.n_kv_pool = o.n_kv_pool;
  LM_TRY(auto session, Session::open(so));
  SchedulerOptions o2 = o;
  o2.n_ctx = 0;   // the session was opened with it
  return start(std::move(session), o2);
}

Scheduler::~Scheduler() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

SubmitResult Scheduler::submit(CompletionRequest req) {
  using E = std::pair<SubmitError, std::string>;
  const int32_t n_prompt = static_cast<int32_t>(req.prompt.size());
  const int32_t n_vocab = tokenizer().n_vocab();
  if (n_prompt == 0) return E{SubmitError::kInvalid, "the prompt is empty"};
  for (int32_t i = 0; i < n_prompt; ++i) {
    if (req.prompt[i] < 0 || req.prompt[i] >= n_vocab)
      return E{SubmitError::kInvalid,
               fmt::format("prompt token {} is {}: not in [0, {})", i, req.prompt[i], n_vocab)};
  }
  if (req.embedding) {
    if (!pooling_error_.empty()) return E{SubmitError::kInvalid, pooling_error_};
    if (n_prompt > n_ctx_)
      return E{SubmitError::kPromptTooLong,
               fmt::format("the input is {} tokens but the context holds {}", n_prompt, n_ctx_)};
  } else if (n_prompt >= n_ctx_) {
    return E{SubmitError::kPromptTooLong,
             fmt::format("the prompt is {} tokens but the context holds {} (it must leave room for "
                         "at least one generated token)", n_prompt, n_ctx_)};
  }
  if (n_prompt > n_pool_pos_) {
    return E{SubmitError::kPromptTooLong,
             fmt::format("the prompt is {} tokens but the KV cache pool holds {} positions",
                         n_prompt, n_pool_pos_)};
  }
  if (auto st = sampling::validate(req.sampling); !st.ok())
    return E{SubmitError::kInvalid, st.error().message()};
  if (req.max_tokens < -1)
    return E{SubmitError::kInvalid, fmt::format("max_tokens = {}: must be >= -1", req.max_tokens)};
  if (req.top_logprobs < -1 || req.top_logprobs > kMaxTopLogprobs)
    return E{SubmitError::kInvalid, fmt::format("top_logprobs = {}: must be in [-1, {}]",
                                                req.top_logprobs, kMaxTopLogprobs)};
  if (req.timeout_ms < 0)
    return E{SubmitError::kInvalid, fmt::format("timeout_ms = {}: must be >= 0", req.timeout_ms)};
  if (opt_.request_timeout_ms > 0 && (req.timeout_ms == 0 || req.timeout_ms > opt_.request_timeout_ms))
    req.timeout_ms = opt_.request_timeout_ms;

  auto handle = std::make_shared<RequestHandle>();
  auto pending = std::make_unique<Pending>();
  pending->submitted = Clock::now();
  if (req.max_tokens == 0 && !req.embedding) {   // nothing to generate: answer at once, without the model
    StreamEvent ev;
    ev.done = true;
    ev.finish = FinishReason::kLength;
    ev.usage.prompt_tokens = n_prompt;
    handle->push(std::move(ev));
    return handle;
  }
  pending->req = std::move(req);
  pending->handle = handle;
  {
    std::lock_guard lock(mu_);
    if (stop_) return E{SubmitError::kShuttingDown, "the scheduler is shutting down"};
    if (static_cast<int32_t>(queue_.size()) >= opt_.max_queue)
      return E{SubmitError::kQueueFull,
               fmt::format("the queue is full ({} requests waiting)", queue_.size())};
    queue_.push_back(std::move(pending));
    stats_.queued = static_cast<int32_t>(queue_.size());
  }
  wake_.notify_one();
  return handle;
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

// ---- engine thread ----

void Scheduler::cancel_pending(const Pending& p, RequestHandle& h, std::string error, FinishReason why) {
  StreamEvent ev;
  ev.done = true;
  ev.finish = why;
  ev.error = std::move(error);
  ev.usage.prompt_tokens = static_cast<int32_t>(p.req.prompt.size());
  ev.usage.total_ms = ms_between(p.submitted, Clock::now());
  h.push(std::move(ev));
}

void Scheduler::loop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] {
        if (stop_ || !queue_.empty()) return true;
        return std::any_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->run != nullptr; });
      });
      if (stop_) break;
    }
    step();
  }
  // Shutting down: every request ends with kCancelled.
  for (auto& slot : slots_)
    if (slot->run) finish(*slot, FinishReason::kCancelled, "the scheduler is shutting down");
  std::deque<std::unique_ptr<Pending>> queued;
  {
    std::lock_guard lock(mu_);
    queued.swap(queue_);
    stats_.queued = 0;
  }
  for (auto& p : queued)
    if (auto h = p->handle.lock()) cancel_pending(*p, *h, "the scheduler is shutting down");
}

void Scheduler::step() {
  drop_cancelled();
  admit();
  if (!run_batch()) return;
  const int64_t kv_used = session_->kv().n_pos_used();
  const int64_t kv_blocks = session_->kv().n_used_blocks();
  std::lock_guard lock(mu_);
  ++stats_.steps;
  stats_.batch_tokens += static_cast<int64_t>(batch_.size());
  stats_.kv_cells_used = kv_used;
  stats_.kv_blocks_used = kv_blocks;
  stats_.kv_blocks_peak = std::max(stats_.kv_blocks_peak, kv_blocks);
}

void Scheduler::drop_cancelled() {
  const auto now = Clock::now();
  for (auto& slot : slots_) {
    if (!slot->run) continue;
    auto h = slot->run->handle.lock();
    if (!h || h->cancelled()) finish(*slot, FinishReason::kCancelled);
    else if (past_time_limit(slot->run->req, slot->run->submitted, now)) finish(*slot, FinishReason::kLength);
  }
}

void Scheduler::admit() {
  std::vector<std::unique_ptr<Pending>> taken;
  // KV blocks a new prompt may use: free or held only by idle prefixes, less what admitted
  // prompts still need and one block of headroom per running sequence.
  int32_t n_running = 0;
  for (const auto& slot : slots_) n_running += slot->run != nullptr;
  int32_t blocks = 0;
  if (n_running < static_cast<int32_t>(slots_.size())) {
    blocks = session_->kv().n_free_blocks() + evictable_blocks() - prefill_reserve() - n_running;
  }
  {
    std::lock_guard lock(mu_);
    // Requests cancelled, dropped or out of time while waiting leave the queue now, not when a
    // slot frees.
    const auto now = Clock::now();
    for (auto it = queue_.begin(); it != queue_.end();) {
      auto h = (*it)->handle.lock();
      const bool late = past_time_limit((*it)->req, (*it)->submitted, now);
      if (h && !h->cancelled() && !late) {
        ++it;
        continue;
      }
      if (h) cancel_pending(**it, *h, {}, late && !h->cancelled() ? FinishReason::kLength : FinishReason::kCancelled);
      it = queue_.erase(it);
    }
    // FIFO, except that embedding requests may pass chat requests waiting for a slot: they can
    // also use the embedding-only slots.
    int32_t free_any = 0, free_embd = 0;
    for (const auto& slot : slots_) {
      if (slot->run) continue;
      (slot->embedding_only ? free_embd : free_any) += 1;
    }
    for (auto it = queue_.begin(); it != queue_.end() && free_any + free_embd > 0;) {
      const bool embedding = (*it)->req.embedding;
      if (!embedding && free_any == 0) {
        ++it;
        continue;
      }
      // The KV pool is FIFO for everyone: a prompt that does not fit holds back those behind it.
      const int32_t need = session_->kv().blocks_for(static_cast<int32_t>((*it)->req.prompt.size()));
      if (need > blocks) break;
      blocks -= need + 1;
      (embedding && free_embd > 0 ? free_embd : free_any) -= 1;
      taken.push_back(std::move(*it));
      it = queue_.erase(it);
    }
    stats_.queued = static_cast<int32_t>(queue_.size());
  }
  for (auto& p : taken) start_sequence(std::move(p));
}

void Scheduler::start_sequence(std::unique_ptr<Pending> p) {
  // The free slot holding the longest prefix of the prompt; ties: the least recently used.
  const int32_t n_prompt = static_cast<int32_t>(p->req.prompt.size());
  Slot* best = nullptr;
  int32_t best_reuse = -1;
  for (auto& slot : slots_) {
    if (slot->run || (slot->embedding_only && !p->req.embedding)) continue;
    // At least the last prompt token is recomputed: its logits start the generation.
    // An embedding pools every position's hidden state, so it recomputes the whole prompt.
    int32_t reuse = p->req.embedding
                        ? 0
                        : std::min<int32_t>(static_cast<int32_t>(common_prefix(slot->tokens, p->req.prompt)),
                                            n_prompt - 1);
    // Embeddings prefer their own slots, keeping the others' cached prefixes.
    const bool better_kind = best && slot->embedding_only && !best->embedding_only;
    const bool worse_kind = best && !slot->embedding_only && best->embedding_only;
    if (worse_kind) continue;
    if (reuse > best_reuse || better_kind ||
        (reuse == best_reuse && slot->last_used < best->last_used)) {
      best = slot.get();
      best_reuse = reuse;
    }
  }
  LM_CHECK(best != nullptr);
  const int32_t shared = p->req.embedding ? 0 : share_longer_prefix(*best, p->req.prompt, best_reuse);
  if (shared > 0) {
    best_reuse = shared;
  } else {
    session_->kv().truncate_seq(best->seq, best_reuse);
    best->tokens.resize(best_reuse);
  }

  auto seq = std::make_unique<Sequence>(std::move(*p), tokenizer());
  seq->serial = ++admit_serial_;
  seq->n_cached = best_reuse;
  // The prompt feeds the penalties and the detokenizer (output discarded), as generate() does,
  // so the leading-space rule and an unfinished UTF-8 character carry over into the answer.
  if (seq->req.embedding) {
    seq->pooler = std::make_unique<Pooler>(pooling_, config().n_embd);
  } else {
    for (int32_t t : seq->req.prompt) {
      seq->sampler.accept(t);
      (void)seq->decoder.push(t);
    }
  }
  best->run = std::move(seq);
  std::lock_guard lock(mu_);
  ++stats_.running;
  ++stats_.requests;
  stats_.prompt_tokens += n_prompt;
  stats_.cached_prompt_tokens += best_reuse;
  stats_.shared_prefix_tokens += shared;
  if (best_reuse > 0) ++stats_.prefix_hits;
}

// Another slot (running or idle) holding more than `reuse` tokens of the prompt lends its blocks
// to `target` (no copy). Of a running slot only whole blocks are mapped: its next write into a
// shared partial block would need a copy that its admission did not reserve. Returns the
// positions mapped, or 0 when no slot beats `reuse`.
int32_t Scheduler::share_longer_prefix(Slot& target, const std::vector<int32_t>& prompt,
                                       int32_t reuse) {
  constexpr int32_t kB = model::KvCache::kBlockSize;
  const int32_t limit = static_cast<int32_t>(prompt.size()) - 1;   // the last token is recomputed
  Slot* src = nullptr;
  int32_t best = reuse;
  for (auto& slot : slots_) {
    if (slot.get() == &target) continue;
    int32_t n = std::min<int32_t>(static_cast<int32_t>(common_prefix(slot->tokens, prompt)), limit);
    if (slot->run) n = n / kB * kB;
    if (n > best) {
      src = slot.get();
      best = n;
    }
  }
  if (!src) return 0;
  session_->kv().share_prefix(target.seq, src->seq, best);
  target.tokens.assign(prompt.begin(), prompt.begin() + best);
  return best;
}

// One decode token for every generating sequence, then prompt chunks (FIFO) in the rest of the
// n_batch budget, as far as the KV pool allows. Returns false when there was nothing to run.
bool Scheduler::build_batch() {
  batch_.clear();
  std::vector<Slot*> decoding, prefilling;
  for (auto& slot : slots_) {
    slot->n_fed = 0;
    if (slot->run) (slot->run->next_token >= 0 ? decoding : prefilling).push_back(slot.get());
  }
  const auto by_serial = [](const Slot* a, const Slot* b) { return a->run->serial < b->run->serial; };
  std::sort(decoding.begin(), decoding.end(), by_serial);
  std::sort(prefilling.begin(), prefilling.end(), by_serial);
  int32_t taken = 0;   // KV blocks this batch takes from the pool
  add_decode_tokens(decoding, prefill_reserve(), &taken);
  // Prompts get what the decode tokens leave of n_batch, but never less than a small chunk: with
  // more running sequences than n_batch, a new request would otherwise wait for one to end.
  int32_t budget = std::max(opt_.n_batch - static_cast<int32_t>(batch_.size()),
                            std::min(opt_.n_batch, kMinPrefillChunk));
  for (Slot* slot : prefilling) {
    if (budget <= 0) break;
    const auto& prompt = slot->run->req.prompt;
    const int32_t n_prompt = slot->run->n_prompt();
    const int32_t pos0 = static_cast<int32_t>(slot->tokens.size());
    const int32_t take = fit_prefill(*slot, pos0, std::min(budget, n_prompt - pos0), &taken);
    const bool embd = slot->run->req.embedding;
    for (int32_t pos = pos0; pos < pos0 + take; ++pos)
      batch_.push_back({prompt[pos], pos, slot->seq, !embd && pos == n_prompt - 1, embd});
    slot->n_fed = take;
    budget -= take;
  }
  if (batch_.empty() && !prefilling.empty()) {
    // Cannot happen while admission reserves each prompt's blocks; never stall if it does.
    Slot* last = prefilling.back();
    log::warn("scheduler: KV cache full ({} blocks, none free): a prompt cannot be prefilled",
              session_->kv().n_blocks());
    finish(*last, FinishReason::kError, "KV cache full: the prompt does not fit the KV pool");
  }
  return !batch_.empty();
}

void Scheduler::add_decode_tokens(std::vector<Slot*>& decoding, int32_t reserve, int32_t* taken) {
  model::KvCache& kv = session_->kv();
  for (Slot* slot : decoding) {
    const int32_t pos = static_cast<int32_t>(slot->tokens.size());
    const int32_t need = kv.blocks_needed(slot->seq, pos, pos + 1);
    if (need > 0 && !make_room(*taken + reserve + need)) {
      log::warn("scheduler: KV cache full ({} blocks of {} positions in use): a request ends with "
                "finish_reason length after {} tokens ({} in its sequence)",
                kv.n_used_blocks(), model::KvCache::kBlockSize, slot->run->n_generated, pos);
      {
        std::lock_guard lock(mu_);
        ++stats_.kv_full_ends;
      }
      finish(*slot, FinishReason::kLength);
      continue;
    }
    *taken += need;
    batch_.push_back({slot->run->next_token, pos, slot->seq, true});
    slot->n_fed = 1;
  }
}

int32_t Scheduler::fit_prefill(Slot& slot, int32_t pos0, int32_t take, int32_t* taken) {
  constexpr int32_t kB = model::KvCache::kBlockSize;
  model::KvCache& kv = session_->kv();
  (void)make_room(*taken + kv.blocks_needed(slot.seq, pos0, pos0 + take));
  // Shorten the chunk, a block at a time, to what the free blocks hold.
  while (take > 0 && *taken + kv.blocks_needed(slot.seq, pos0, pos0 + take) > kv.n_free_blocks())
    take = (pos0 + take - 1) / kB * kB - pos0;
  take = std::max(take, 0);
  *taken += kv.blocks_needed(slot.seq, pos0, pos0 + take);
  return take;
}

int32_t Scheduler::prefill_reserve() const {
  const model::KvCache& kv = session_->kv();
  int32_t n = 0;
  for (const auto& slot : slots_) {
    if (slot->run && slot->run->next_token < 0) {
      n += kv.blocks_needed(slot->seq, static_cast<int32_t>(slot->tokens.size()), slot->run->n_prompt());
    }
  }
  return n;
}

int32_t Scheduler::evictable_blocks() const {
  const model::KvCache& kv = session_->kv();
  std::vector<int32_t> idle_refs(static_cast<size_t>(kv.n_blocks()), 0);
  for (const auto& slot : slots_) {
    if (slot->run) continue;
    for (int32_t b : kv.block_table(slot->seq)) ++idle_refs[b];
  }
  int32_t n = 0;
  for (int32_t b = 0; b < kv.n_blocks(); ++b) n += idle_refs[b] > 0 && idle_refs[b] == kv.block_refs(b);
  return n;
}

bool Scheduler::make_room(int32_t need) {
  model::KvCache& kv = session_->kv();
  while (kv.n_free_blocks() < need) {
    Slot* lru = nullptr;
    for (auto& slot : slots_) {
      if (slot->run || kv.block_table(slot->seq).empty()) continue;
      if (!lru || slot->last_used < lru->last_used) lru = slot.get();
    }
    if (!lru) return false;
    kv.clear_seq(lru->seq);
    lru->tokens.clear();
  }
  return true;
}

bool Scheduler::run_batch() {
  if (!build_batch()) return false;
  Status st = session_->forward().run(session_->kv(), batch_, &logits_, &embd_);
  if (!st.ok()) {
    // Should not happen (the batch is built from validated requests): end the requests of this
    // batch and keep serving the others.
    log::error("scheduler: forward pass failed: {}", st.error().message());
    for (auto& slot : slots_) {
      if (!slot->run || slot->n_fed == 0) continue;
      session_->kv().clear_seq(slot->seq);
      slot->tokens.clear();
      finish(*slot, FinishReason::kError, st.error().message());
    }
    return true;
  }
  // The fed tokens are now in the cache; logits rows come in batch order.
  // Hidden-state rows (embedding requests) likewise.
  const int32_t n_vocab = tokenizer().n_vocab(), n_embd = config().n_embd;
  int32_t row = 0, embd_row = 0;
  std::vector<std::pair<Slot*, int32_t>> rows;
  for (const auto& bt : batch_) {
    Slot& slot = *slots_[bt.seq];
    slot.tokens.push_back(bt.token);
    if (bt.logits) rows.emplace_back(&slot, row++);
    if (bt.embd) {
      const float* h = embd_.data() + static_cast<size_t>(embd_row++) * n_embd;
      slot.run->pooler->add(bt.pos, std::span<const float>(h, n_embd));
    }
  }
  for (auto [slot, r] : rows)
    handle_logits(*slot, std::span<const float>(logits_.data() + static_cast<size_t>(r) * n_vocab, n_vocab));
  for (auto& slot : slots_) {
    if (slot->run && slot->run->pooler && slot->run->pooler->n_rows() == slot->run->n_prompt())
      finish(*slot, FinishReason::kStop);
  }
  return true;
}

void Scheduler::handle_logits(Slot& slot, std::span<const float> logits) {
  Sequence& s = *slot.run;
  const auto& tok = tokenizer();
  const auto now = Clock::now();
  int32_t id = -1;
  if (s.grammar) {
    auto constrained = sample_constrained(s, logits);
    if (!constrained.ok()) return finish(slot, FinishReason::kError, constrained.error().message());
    id = *constrained;
  } else {
    id = s.sampler.sample(logits);
  }
  s.sampler.accept(id);
  {
    std::lock_guard lock(mu_);
    if (s.ttft_ms < 0) {
      s.ttft_ms = ms_between(s.submitted, now);
      stats_.ttft.add(s.ttft_ms);
    } else {
      stats_.inter_token.add(ms_between(s.last_token, now));
    }
  }
  s.last_token = now;
  s.next_token = -1;
  if (tok.is_eog(id) && !s.req.ignore_eos) return finish(slot, FinishReason::kStop);

  ++s.n_generated;
  TokenInfo info;
  info.id = id;
  const bool render = s.preserved(id);
  info.text = tok.decode_token(id, render);
  if (s.req.top_logprobs >= 0) {
    info.logprob = token_logprob(logits, id);
    for (const auto& tl : sampling::top_logprobs(logits, static_cast<size_t>(s.req.top_logprobs)))
      info.top.emplace_back(tl.id, tl.logprob);
  }
  s.unsent.push_back(std::move(info));
  std::string text = s.stop.push(s.decoder.push(id, render));
  if (s.stop.matched()) return finish(slot, FinishReason::kStop, {}, std::move(text));
  if (s.grammar) {
    // The mask allowed only acceptable tokens, so this cannot fail.
    LM_CHECK(s.grammar->accept_bytes(s.unsent.back().text), "grammar rejected token {}", id);
    if (!s.grammar->can_continue()) return finish(slot, FinishReason::kStop, {}, std::move(text));
  }
  const bool length = s.req.max_tokens >= 0 && s.n_generated >= s.req.max_tokens;
  // The token would go at position tokens.size(): past the context, it cannot be fed.
  const bool full = static_cast<int32_t>(slot.tokens.size()) >= n_ctx_;
  if (length || full) return finish(slot, FinishReason::kLength, {}, std::move(text));
  s.next_token = id;
  if (!text.empty()) {
    StreamEvent ev;
    ev.text = std::move(text);
    ev.tokens = std::move(s.unsent);
    s.unsent.clear();
    if (auto h = s.handle.lock()) h->push(std::move(ev));
  }
}

const sampling::TokenTrie& Scheduler::token_trie() {
  if (!trie_) {
    const auto& tok = tokenizer();
    std::vector<std::string> bytes(tok.n_vocab());
    for (int32_t id = 0; id < tok.n_vocab(); ++id) {
      // Control tokens enter the trie as their text, but only a request that preserves them
      // may sample them (sample_constrained).
      const bool control = tok.token_type(id) == tokenizer::TokenType::kControl;
      bytes[id] = tok.decode_token(id, control);
      if (tok.is_eog(id)) eog_ids_.push_back(id);
      else if (control && !bytes[id].empty()) control_ids_.push_back(id);
    }
    trie_ = std::make_unique<sampling::TokenTrie>(bytes);
  }
  return *trie_;
}

// Masks the row to the tokens the grammar accepts (EOG only once it is complete), then samples.
Result<int32_t> Scheduler::sample_constrained(Sequence& s, std::span<const float> logits) {
  s.grammar->fill_mask(token_trie(), &mask_);
  const bool complete = s.grammar->is_complete();
  for (int32_t id : control_ids_) mask_[id] = mask_[id] && s.preserved(id);
  for (int32_t id : eog_ids_) mask_[id] = complete;
  masked_.assign(logits.begin(), logits.end());
  int32_t first_allowed = -1;
  for (size_t i = 0; i < masked_.size(); ++i) {
    if (!mask_[i]) masked_[i] = -std::numeric_limits<float>::infinity();
    else if (first_allowed < 0) first_allowed = static_cast<int32_t>(i);
  }
  if (first_allowed < 0) return errorf("constrained decoding: no token of the vocabulary can continue the grammar");
  int32_t id = s.sampler.sample(masked_);
  if (!mask_[id]) {
    // Every allowed logit was -inf or NaN (the sampler then draws from the whole row): take the
    // best allowed token instead.
    id = first_allowed;
    for (size_t i = 0; i < masked_.size(); ++i)
      if (mask_[i] && masked_[i] > masked_[id]) id = static_cast<int32_t>(i);
  }
  return id;
}

void Scheduler::finish(Slot& slot, FinishReason why, std::string error, std::string text) {
  Sequence& s = *slot.run;
  const auto now = Clock::now();
  const bool embedded = s.pooler && why == FinishReason::kStop;
  if (!s.pooler && (why == FinishReason::kStop || why == FinishReason::kLength)) {
    // Release what the decoder and the stop matcher still hold (a stop string may complete).
    text += s.stop.push(s.decoder.flush());
    if (s.stop.matched()) why = FinishReason::kStop;
    text += s.stop.finish();
  }
  StreamEvent ev;
  ev.text = std::move(text);
  ev.tokens = std::move(s.unsent);
  ev.done = true;
  ev.finish = why;
  ev.error = std::move(error);
  ev.usage.prompt_tokens = s.n_prompt();
  ev.usage.cached_tokens = s.n_cached;
  ev.usage.completion_tokens = s.n_generated;
  ev.usage.ttft_ms = std::max(0.0, s.ttft_ms);
  ev.usage.total_ms = ms_between(s.submitted, now);
  if (embedded) ev.embedding = s.pooler->finish();
  auto handle = s.handle.lock();
  slot.run.reset();
  slot.last_used = ++lru_clock_;
  {
    // The slot is free (stats say so) before the caller can see the last event.
    std::lock_guard lock(mu_);
    --stats_.running;
    stats_.completion_tokens += ev.usage.completion_tokens;
    if (embedded) {
      ++stats_.embedding_requests;
      stats_.embedding_tokens += ev.usage.prompt_tokens;
    }
  }
  if (handle) handle->push(std::move(ev));
}

}  // namespace lm::engine
