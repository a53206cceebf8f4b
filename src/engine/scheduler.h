// Scheduler: continuous batching of many completion requests over one Session.
//
// One engine thread loops: it admits queued requests into free KV slots (FIFO), then builds ONE
// batch per step: one decode token for every running sequence plus prompt chunks of the
// sequences still prefilling (chunked prefill: together at most n_batch tokens, so streams keep
// decoding while a long prompt prefills), runs model::Forward::run, and samples each sequence
// with its own Sampler. Text is detokenized incrementally; text that could begin a stop string is
// held back until it cannot. A request ends on an EOG token (unless ignore_eos), a stop string,
// max_tokens, a full context or its time limit (kLength), cancel() or a dropped handle (kCancelled).
// A request with a grammar (CompletionRequest::grammar) samples from the masked row: only tokens
// the grammar accepts, EOG only once it is complete; it ends (kStop) when nothing can follow.
//
// Prefix cache: a slot remembers the tokens whose K/V it holds after its request ends; a new
// request goes to the free slot with the longest common prefix and prefills only the rest (at
// least its last prompt token is recomputed, for the logits). Usage::cached_tokens reports it.
//
// KV pool (model/kv_cache.h): the session's cache is a pool of blocks shared by every slot, so
// n_parallel slots need not each own n_ctx positions (SchedulerOptions::n_kv_pool). A request is
// admitted (FIFO) when a slot is free and its prompt's blocks fit in what the pool has free or
// could free by evicting idle slots' cached prefixes, less the blocks that admitted prompts still
// need and one block of headroom per running sequence. Prefill chunks always get their blocks;
// a decoding sequence that needs a block when none is free (after evicting idle prefixes, least
// recently used first) ends with kLength and a log line: it is not preempted. A new request
// that shares whole blocks with another slot's tokens (running or idle) maps them (ref-counted,
// no copy; an idle slot's last partial block too, copied when written) instead of recomputing.
//
// Embedding requests (CompletionRequest::embedding) are prefill-only sequences: they take a slot,
// prefill in chunks beside the running streams without the LM head, pool their final hidden
// states (engine/embed.h, pooling from the model's pooling_type) and end with one done event
// carrying the vector; they neither reuse nor need a cached prefix (every position's hidden state
// is pooled), but leave theirs for later requests. They use any free slot, and also the
// n_embedding_slots slots that chat requests never take, so they pass queued chat requests.
//
// Exactness: the forward pass is batch-invariant and sampling is per request, so a request gives
// the same tokens whether it runs alone or beside others (same seed, same params).
//
// Ownership: owns the Session (and so the model, KV cache and thread pool) and the engine thread.
// Thread-safety: submit(), stats() and the accessors may be called from any thread; handles are
// thread-safe. The destructor cancels every request (kCancelled events) and joins the thread.
// Cost: the engine thread sleeps on a condition variable when idle (no busy wait).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "core/result.h"
#include "engine/embed.h"
#include "engine/request.h"
#include "engine/session.h"

namespace lm::engine {

struct SchedulerOptions {
  int32_t n_parallel = 4;    // sequences decoded together (KV slots)
  int32_t n_ctx = 0;         // per sequence; 0: the session's (open(): the model's)
  int32_t n_batch = 512;     // tokens per forward call
  int32_t max_queue = 64;    // requests waiting for a slot; more → SubmitError::kQueueFull
  int32_t n_threads = 0;     // open() only; 0: all hardware threads
  // KV slots beyond n_parallel that only embedding requests use, so that embeddings run while
  // n_parallel streams decode. open() allocates them (each costs one sequence of KV cache);
  // start() uses those the session's cache has beyond n_parallel, up to this many.
  int32_t n_embedding_slots = 1;
  // open() only: positions of the KV block pool shared by all slots; 0: n_ctx per slot (every
  // sequence can always reach n_ctx; start() uses the session's cache as it is).
  int32_t n_kv_pool = 0;
  // Longest a request may take from submit() to its last token (0: no limit); a request's own
  // CompletionRequest::timeout_ms may only shorten it. Past it the request ends with kLength.
  int64_t request_timeout_ms = 0;
};

// Latency histogram with fixed bounds (milliseconds), cumulative-free: counts[i] holds the
// samples <= bounds_ms[i] and > bounds_ms[i-1]; counts.back() the samples above the last bound.
struct LatencyHistogram {
  std::vector<double> bounds_ms;
  std::vector<int64_t> counts;   // bounds_ms.size() + 1
  double sum_ms = 0;
  int64_t count = 0;
  LatencyHistogram();
  void add(double ms);
};

struct SchedulerStats {
  int32_t running = 0;           // requests holding a slot
  int32_t queued = 0;            // requests waiting for one
  int32_t n_parallel = 0;
  int64_t requests = 0;          // admitted since start
  int64_t prompt_tokens = 0;
  int64_t cached_prompt_tokens = 0;
  int64_t prefix_hits = 0;       // admitted requests with cached_tokens > 0
  int64_t completion_tokens = 0;
  int64_t embedding_requests = 0;  // embedding requests completed
  int64_t embedding_tokens = 0;    // their input tokens
  int64_t steps = 0;             // forward calls made by the engine thread
  int64_t batch_tokens = 0;      // tokens fed to those calls (prompt chunks + decode tokens)
  int64_t kv_cells_used = 0;     // positions held in the KV cache (idle slots' prefixes included;
                                 // a block shared by several slots counts once)
  int64_t kv_cells_total = 0;    // positions of the KV pool (n_kv_pool, rounded to whole blocks)
  int64_t kv_blocks_used = 0;    // KV pool blocks in use
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_peak = 0;    // the most blocks in use after any step
  int64_t kv_bytes = 0;          // bytes of the KV pool (keys and values, every layer)
  int64_t kv_full_ends = 0;      // requests ended (kLength) because the KV pool had no free block
  int64_t shared_prefix_tokens = 0;  // prompt tokens mapped from another slot's blocks (no copy)
  LatencyHistogram ttft;         // submit() to first token
  LatencyHistogram inter_token;  // between consecutive tokens of one request
};

enum class SubmitError { kQueueFull, kPromptTooLong, kInvalid, kShuttingDown };
std::string_view submit_error_name(SubmitError e);

using SubmitResult = std::variant<std::shared_ptr<RequestHandle>, std::pair<SubmitError, std::string>>;

class Scheduler {
 public:
  // Takes over a session whose KV cache has at least n_parallel sequence slots
  // (SessionOptions::n_seq_max = n_parallel) and starts the engine thread.
  static Result<std::unique_ptr<Scheduler>> start(std::unique_ptr<Session> session,
                                                  const SchedulerOptions& options);
  // Opens the model with the session the options call for, then start().
  static Result<std::unique_ptr<Scheduler>> open(const std::string& model_path,
                                                 const SchedulerOptions& options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Fails fast (no event stream) with a kind + message: queue full, prompt longer than n_ctx
  // (the message carries both numbers), empty prompt, token out of range, bad params, ...
  SubmitResult submit(CompletionRequest request);

  const tokenizer::Tokenizer& tokenizer() const { return session_->tokenizer(); }
  const model::ModelConfig& config() const { return session_->model().config(); }
  const model::Model& model() const { return session_->model(); }
  Pooling pooling() const { return pooling_; }
  int32_t n_ctx() const { return n_ctx_; }
  int32_t n_parallel() const { return opt_.n_parallel; }
  SchedulerStats stats() const;

 private:
  struct Sequence;   // engine-thread state of one running request
  struct Pending;    // a submitted request waiting for a slot
  struct Slot;       // one KV sequence slot and the tokens it holds
  Scheduler(std::unique_ptr<Session> session, const SchedulerOptions& options);

  void loop();
  void step();
  void admit();
  void start_sequence(std::unique_ptr<Pending> pending);
  void drop_cancelled();   // and ends the requests past their time limit
  // The done event of a request that never got a slot.
  static void cancel_pending(const Pending& pending, RequestHandle& handle, std::string error,
                             FinishReason why = FinishReason::kCancelled);
  bool build_batch();
  bool run_batch();
  void handle_logits(Slot& slot, std::span<const float> logits /* [n_vocab] */);
  Result<int32_t> sample_constrained(Sequence& s, std::span<const float> logits /* [n_vocab] */);
  const sampling::TokenTrie& token_trie();   // built at the first constrained request
  // Ends the slot's request with a done event (text: the last released text) and frees the slot.
  void finish(Slot& slot, FinishReason why, std::string error = {}, std::string text = {});
  int32_t share_longer_prefix(Slot& target, const std::vector<int32_t>& prompt, int32_t reuse);
  // KV pool accounting (engine thread).
  int32_t evictable_blocks() const;   // blocks freed if every idle slot's prefix were evicted
  int32_t prefill_reserve() const;    // blocks the prefilling sequences' prompts still need
  // Evicts idle slots' prefixes (least recently used first) until `need` blocks are free.
  bool make_room(int32_t need);
  // The decode token of each generating slot, as far as the pool allows; adds its blocks to *taken.
  void add_decode_tokens(std::vector<Slot*>& decoding, int32_t reserve, int32_t* taken);
  // Up to `take` prompt positions of slot from pos0 that fit the pool's free blocks.
  int32_t fit_prefill(Slot& slot, int32_t pos0, int32_t take, int32_t* taken);

  std::unique_ptr<Session> session_;
  SchedulerOptions opt_;
  int32_t n_ctx_ = 0;
  int32_t n_pool_pos_ = 0;             // positions of the KV pool (immutable after start)
  Pooling pooling_ = Pooling::kMean;
  std::string pooling_error_;          // non-empty: the model's pooling_type is unsupported

  mutable std::mutex mu_;              // guards queue_, stop_, stats_
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Pending>> queue_;
  bool stop_ = false;
  SchedulerStats stats_;

  // Engine thread only.
  std::vector<std::unique_ptr<Slot>> slots_;
  int64_t lru_clock_ = 0;
  int64_t admit_serial_ = 0;
  std::vector<model::BatchToken> batch_;   // [n_tokens] of the current step
  std::vector<float> logits_;              // [n_logits, n_vocab]
  std::vector<float> embd_;                // [n_embd_rows, n_embd] hidden states of the step
  std::unique_ptr<sampling::TokenTrie> trie_;   // the vocabulary's bytes, for grammar masks
  std::vector<int32_t> eog_ids_;           // end-of-generation ids (built with trie_)
  std::vector<int32_t> control_ids_;       // other control ids with text (built with trie_)
  std::vector<uint8_t> mask_;              // [n_vocab] scratch of sample_constrained
  std::vector<float> masked_;              // [n_vocab] the masked row
  std::thread thread_;
};

}  // namespace lm::engine
