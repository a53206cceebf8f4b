#include "model/forward.h"

#include <algorithm>
#include <climits>
#include <cmath>

#include "core/check.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/repack.h"
#include "kernels/ref/ops.h"
#include "kernels/type_kernels.h"
#include "model/attention.h"
#include "model/profile.h"

namespace lm::model {

namespace ops = kernels::ref;

namespace {

template <typename T>
void grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

uint64_t weight_bytes(const kernels::WeightView& w) {
  return row_bytes(w.type, w.n_in) * static_cast<uint64_t>(w.n_out);
}

}  // namespace

Forward::Forward(const Model& model, ThreadPool& pool, ThreadPool* batch_pool)
    : model_(model), c_(model.config()), pool_(pool), batch_pool_(batch_pool), cur_(&pool),
      prof_(std::make_unique<OpProfile>()) {}

Forward::~Forward() { prof_->print(); }

void Forward::mm(const kernels::WeightView& w, const float* x, int32_t n, float* y, bool head) {
  ProfScope scope(*prof_, head ? ProfOp::LmHead : ProfOp::Matmul, w.type, weight_bytes(w));
  kernels::matmul(pool(), w, x, n, y, mm_);
}

Status Forward::validate(const KvCache& cache, std::span<const BatchToken> batch) {
  if (cache.n_layer_ != c_.n_layer || cache.kv_dim_ != c_.kv_dim()) {
    return errorf("KV cache was made for another model ({} layers of width {}, model has {} of {})",
                  cache.n_layer_, cache.kv_dim_, c_.n_layer, c_.kv_dim());
  }
  seq_len_.assign(cache.len_.begin(), cache.len_.end());
  seq_first_.assign(cache.len_.size(), INT32_MAX);
  keys_.clear();
  for (size_t i = 0; i < batch.size(); ++i) {
    const BatchToken& t = batch[i];
    if (t.token < 0 || t.token >= c_.n_vocab) {
      return errorf("batch[{}]: token id {} out of range [0, {})", i, t.token, c_.n_vocab);
    }
    if (t.seq < 0 || t.seq >= cache.n_seq_max()) {
      return errorf("batch[{}]: sequence {} out of range [0, {})", i, t.seq, cache.n_seq_max());
    }
    if (t.pos < 0 || t.pos >= cache.n_ctx()) {
      return errorf("batch[{}]: position {} out of range [0, {}) (n_ctx)", i, t.pos, cache.n_ctx());
    }
    int32_t& len = seq_len_[t.seq];
    if (t.pos > len) {
      return errorf("batch[{}]: position {} of sequence {} leaves a gap (it holds {} positions)", i,
                    t.pos, t.seq, len);
    }
    len = std::max(len, t.pos + 1);
    seq_first_[t.seq] = std::min(seq_first_[t.seq], t.pos);
    keys_.push_back((static_cast<int64_t>(t.seq) << 32) | t.pos);
  }
  std::sort(keys_.begin(), keys_.end());
  auto dup = std::adjacent_find(keys_.begin(), keys_.end());
  if (dup != keys_.end()) {
    return errorf("batch: position {} of sequence {} appears twice", *dup & 0xffffffff, *dup >> 32);
  }
  // Blocks for the written positions (new ones and copies of shared ones), counted per
  // sequence: an upper bound when two sequences of the batch write one shared block.
  int64_t need = 0;
  for (int32_t s = 0; s < cache.n_seq_max(); ++s) {
    if (seq_first_[s] != INT32_MAX) need += cache.blocks_needed(s, seq_first_[s], seq_len_[s]);
  }
  if (need > cache.n_free_blocks()) {
    return errorf("KV cache full: the batch needs {} more blocks of {} positions, {} of {} are free",
                  need, KvCache::kBlockSize, cache.n_free_blocks(), cache.n_blocks());
  }
  return Ok{};
}

void Forward::reserve(int32_t n, int32_t n_ctx) {
  if (n > cap_tokens_) {
    const size_t nt = static_cast<size_t>(n);
    grow(x_, nt * c_.n_embd);
    grow(xb_, nt * c_.n_embd);
    grow(q_, nt * c_.q_dim());
    grow(k_, nt * c_.kv_dim());
    grow(v_, nt * c_.kv_dim());
    grow(att_, nt * c_.q_dim());
    grow(gate_, nt * c_.n_ff);
    grow(up_, nt * c_.n_ff);
    grow(rope_cs_, nt * c_.n_rot);
    keys_.reserve(nt);
    logit_rows_.reserve(nt);
    runs_.reserve(nt);
    pos_.resize(nt);
    cap_tokens_ = n;
  }
}

void Forward::embed(std::span<const BatchToken> batch) {
  ProfScope scope(*prof_, ProfOp::Embed);
  const kernels::WeightView& e = model_.weights().token_embd;
  auto to_float = kernels::type_kernels(e.type)->to_float;
  const size_t row = row_bytes(e.type, c_.n_embd);
  if (e.repacked) embd_row_.resize(row);
  for (size_t i = 0; i < batch.size(); ++i) {
    const uint8_t* src = static_cast<const uint8_t*>(e.data) + row * batch[i].token;
    if (e.repacked) {
      kernels::repacked_get_row(e.type, e.data, c_.n_embd, batch[i].token, embd_row_.data());
      src = embd_row_.data();
    }
    to_float(src, x_.data() + i * c_.n_embd, c_.n_embd);
  }
}

// Q/K/V family hooks and RoPE, per token: biases (qwen2), per-head RMSNorm (qwen3), rotation.
void Forward::qkv_hooks(const LayerWeights& l, int32_t n) {
  ProfScope scope(*prof_, ProfOp::QkvHooks);
  const int32_t qd = c_.q_dim(), kvd = c_.kv_dim(), hd = c_.head_dim;
  for_rows(n, qd + 2 * kvd, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      float* q = q_.data() + t * qd;
      float* k = k_.data() + t * kvd;
      float* v = v_.data() + t * kvd;
      if (c_.qkv_bias) {
        ops::add(l.bq, q, qd);
        ops::add(l.bk, k, kvd);
        ops::add(l.bv, v, kvd);
      }
      if (c_.qk_norm) {
        for (int32_t h = 0; h < c_.n_head; ++h)
          ops::rmsnorm(q + h * hd, l.q_norm, q + h * hd, hd, c_.norm_eps);
        for (int32_t h = 0; h < c_.n_head_kv; ++h)
          ops::rmsnorm(k + h * hd, l.k_norm, k + h * hd, hd, c_.norm_eps);
      }
      const float* cs = rope_cs_.data() + t * c_.n_rot;
      ops::rope(q, c_.n_head, hd, c_.n_rot, cs, c_.rope_neox);
      ops::rope(k, c_.n_head_kv, hd, c_.n_rot, cs, c_.rope_neox);
    }
  });
}

// Causal attention (model/attention.h): work items are (query run, KV head), where a query run is
// up to kQueryTile consecutive batch tokens of one sequence; they share every K/V tile they read.
// Items are dealt to threads round-robin so that long and short rows of a prompt spread evenly.
void Forward::attend(int il, KvCache& cache, std::span<const BatchToken> batch) {
  ProfScope scope(*prof_, ProfOp::Attention);
  const int32_t n = static_cast<int32_t>(batch.size()), qd = c_.q_dim();
  runs_.clear();
  for (int32_t i = 0; i < n;) {
    int32_t j = i + 1;
    while (j < n && j - i < kQueryTile && batch[j].seq == batch[i].seq) ++j;
    runs_.push_back({i, j});
    i = j;
  }
  const AttentionShape shape{c_.head_dim, c_.n_head / c_.n_head_kv, c_.kv_dim(),
                             1.0f / std::sqrt(static_cast<float>(c_.head_dim))};
  const int64_t n_items = static_cast<int64_t>(runs_.size()) * c_.n_head_kv;
  ThreadPool& pool = this->pool();
  if (attn_scratch_.size() < static_cast<size_t>(pool.size())) attn_scratch_.resize(pool.size());
  for (AttentionScratch& sc : attn_scratch_) reserve_attention(shape, kQueryTile, sc);
  auto body = [&](int ith, int nth) {
    for (int64_t item = ith; item < n_items; item += nth) {
      const auto [b, e] = runs_[item / c_.n_head_kv];
      const int32_t g = static_cast<int32_t>(item % c_.n_head_kv);
      const int32_t seq = batch[b].seq;
      attend_tile(shape, g, q_.data() + static_cast<size_t>(b) * qd, qd, pos_.data() + b, e - b,
                  cache.k(il, seq), cache.v(il, seq), att_.data() + static_cast<size_t>(b) * qd, qd,
                  attn_scratch_[ith]);
    }
  };
  pool.run([&body](int ith, int nth) { body(ith, nth); });  // no heap allocation
}

void Forward::norm_rows(const float* norm, int32_t n) {
  ProfScope scope(*prof_, ProfOp::Norm);
  for_rows(n, c_.n_embd, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      ops::rmsnorm(x_.data() + t * c_.n_embd, norm, xb_.data() + t * c_.n_embd, c_.n_embd,
                   c_.norm_eps);
    }
  });
}

void Forward::add_residual(int32_t n) {
  ProfScope scope(*prof_, ProfOp::Residual);
  for_rows(n, c_.n_embd, [&](int64_t b, int64_t e) {
    ops::add(xb_.data() + b * c_.n_embd, x_.data() + b * c_.n_embd, (e - b) * c_.n_embd);
  });
}

void Forward::attention_block(int il, KvCache& cache, std::span<const BatchToken> batch) {
  const LayerWeights& l = model_.weights().layers[il];
  const int32_t n = static_cast<int32_t>(batch.size());
  const int32_t kvd = c_.kv_dim();
  norm_rows(l.attn_norm, n);
  mm(l.wq, xb_.data(), n, q_.data());
  mm(l.wk, xb_.data(), n, k_.data());
  mm(l.wv, xb_.data(), n, v_.data());
  qkv_hooks(l, n);
  {
    ProfScope scope(*prof_, ProfOp::KvWrite);
    for (int32_t t = 0; t < n; ++t) {
      cache.write(il, batch[t].seq, batch[t].pos, k_.data() + static_cast<size_t>(t) * kvd,
                  v_.data() + static_cast<size_t>(t) * kvd);
    }
  }
  attend(il, cache, batch);
  mm(l.wo, att_.data(), n, xb_.data());
  add_residual(n);
}

void Forward::ffn_block(int il, int32_t n) {
  const LayerWeights& l = model_.weights().layers[il];
  norm_rows(l.ffn_norm, n);
  mm(l.ffn_gate, xb_.data(), n, gate_.data());
  mm(l.ffn_up, xb_.data(), n, up_.data());
  {
    ProfScope scope(*prof_, ProfOp::Swiglu);
    // Split by elements, not rows, above kParallelMinFloats (elementwise with no tail path, so the
    // split does not change any result).
    const int64_t total = static_cast<int64_t>(n) * c_.n_ff;
    const kernels::SwigluFn swiglu = kernels::swiglu_kernel();  // the selected ISA's (activation.h)
    auto body = [&](int64_t b, int64_t e) {
      swiglu(gate_.data() + b, up_.data() + b, gate_.data() + b, e - b);
    };
    if (total < kParallelMinFloats) {
      body(0, total);
    } else {
      pool().parallel_for(total, body);
    }
  }
  mm(l.ffn_down, gate_.data(), n, xb_.data());
  add_residual(n);
}

// Final norm and output projection, only for the rows that want logits.
void Forward::output(std::span<const BatchToken> batch, std::vector<float>* logits) {
  logit_rows_.clear();
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].logits) logit_rows_.push_back(static_cast<int32_t>(i));
  }
  const int32_t n_out = static_cast<int32_t>(logit_rows_.size());
  const size_t row0 = logits->size() / static_cast<size_t>(c_.n_vocab);  // rows of earlier slices
  logits->resize((row0 + static_cast<size_t>(n_out)) * c_.n_vocab);
  if (n_out == 0) return;
  const float* norm = model_.weights().output_norm;
  {
    ProfScope scope(*prof_, ProfOp::Norm);
    for (int32_t r = 0; r < n_out; ++r) {
      ops::rmsnorm(x_.data() + static_cast<size_t>(logit_rows_[r]) * c_.n_embd, norm,
                   xb_.data() + static_cast<size_t>(r) * c_.n_embd, c_.n_embd, c_.norm_eps);
    }
  }
  mm(model_.weights().output, xb_.data(), n_out, logits->data() + row0 * c_.n_vocab, /*head=*/true);
}

// Final norm of the rows that want their hidden state (embeddings), into *embd.
void Forward::hidden_states(std::span<const BatchToken> batch, std::vector<float>* embd) {
  size_t r = embd->size() / static_cast<size_t>(c_.n_embd);  // rows of earlier slices
  size_t n_rows = r;
  for (const BatchToken& t : batch) n_rows += t.embd;
  embd->resize(n_rows * c_.n_embd);
  const float* norm = model_.weights().output_norm;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i].embd) continue;
    ops::rmsnorm(x_.data() + i * c_.n_embd, norm, embd->data() + r * c_.n_embd, c_.n_embd,
                 c_.norm_eps);
    ++r;
  }
}

// True when the positions of every sequence increase in batch order: a token then attends only
// to positions written by earlier tokens of the batch (or already cached), so the batch may run
// in consecutive slices with the same results.
bool Forward::positions_increase(std::span<const BatchToken> batch, int32_t n_seq) {
  seq_last_.assign(static_cast<size_t>(n_seq), -1);
  for (const BatchToken& t : batch) {
    if (t.pos <= seq_last_[t.seq]) return false;
    seq_last_[t.seq] = t.pos;
  }
  return true;
}

Status Forward::run(KvCache& cache, std::span<const BatchToken> batch, std::vector<float>* logits,
                    std::vector<float>* embd) {
  LM_CHECK(logits != nullptr, "Forward::run: logits must not be null");
  LM_TRY_STATUS(validate(cache, batch));
  const int32_t n = static_cast<int32_t>(batch.size());
  logits->clear();
  if (embd) embd->clear();
  if (n == 0) return Ok{};
  const OpProfile::Stamp start = prof_->on() ? prof_->now() : OpProfile::Stamp{};
  // Long batches run in slices of kMaxSlice tokens: the activation buffers (about 100 KB per
  // token for a 1B model) then stay small, and each weight matrix is still reused by many tokens.
  const int32_t slice = n > kMaxSlice && positions_increase(batch, cache.n_seq_max()) ? kMaxSlice : n;
  reserve(slice, cache.n_ctx());
  cur_ = n > 1 && batch_pool_ ? batch_pool_ : &pool_;
  for (int32_t s = 0; s < cache.n_seq_max(); ++s) {
    if (seq_first_[s] == INT32_MAX) continue;
    cache.prepare_write(s, seq_first_[s], seq_len_[s]);
    cache.set_seq_len(s, seq_len_[s]);
  }
  for (int32_t b = 0; b < n; b += slice) run_slice(cache, batch.subspan(b, std::min(slice, n - b)), logits, embd);
  if (prof_->on()) {
    prof_->add_tokens(n, n == 1);
    prof_->add_total(start);
  }
  return Ok{};
}

// One slice of a batch (reserve and the cache bookkeeping done by run): its logits and hidden
// states are appended to *logits and *embd.
void Forward::run_slice(KvCache& cache, std::span<const BatchToken> batch, std::vector<float>* logits,
                        std::vector<float>* embd) {
  const int32_t n = static_cast<int32_t>(batch.size());
  for (int32_t t = 0; t < n; ++t) pos_[t] = batch[t].pos;
  embed(batch);
  for (int32_t t = 0; t < n; ++t) {
    ops::rope_angles(batch[t].pos, c_.n_rot, c_.rope_freq_base, c_.rope_freq_scale,
                     model_.weights().rope_freqs,
                     rope_cs_.data() + static_cast<size_t>(t) * c_.n_rot);
  }
  for (int il = 0; il < c_.n_layer; ++il) {
    attention_block(il, cache, batch);
    ffn_block(il, n);
  }
  if (embd) hidden_states(batch, embd);
  output(batch, logits);
}

}  // namespace lm::model
