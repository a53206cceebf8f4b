#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/check.h"
#include "kernels/cpu/attention_kernels.h"
#include "kernels/type_kernels.h"
#include "tensor/quants.h"

namespace lm::model {
namespace {

// q.k with 8 partial sums combined in a fixed order (vectorisable without reassociation).
float dot(const float* a, const float* b, int32_t n) {
  float acc[8] = {};
  int32_t d = 0;
  for (; d + 8 <= n; d += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += a[d + j] * b[d + j];
  }
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; d < n; ++d) s += a[d] * b[d];
  return s;
}

// The head_dim floats of KV head g for positions [p0, p0 + n): a pointer into the cache for F32
// (stride kv_dim), else converted into dst (stride head_dim). Non-F32 rows are converted by whole
// blocks (a Q8_0 block may span several heads when head_dim < 32). The n rows lie in one key
// tile, hence in one cache block: they are contiguous from r.row(p0).
const float* head_rows(const KvRows& r, const AttentionShape& s, int32_t g, int32_t p0, int32_t n,
                       float* dst, std::vector<float>& tmp, int64_t* stride) {
  const int32_t hd = s.head_dim;
  if (r.type == DType::F32) {
    *stride = s.kv_dim;
    return reinterpret_cast<const float*>(r.row(p0)) + static_cast<int64_t>(g) * hd;
  }
  const auto to_float = kernels::type_kernels(r.type)->to_float;
  const int64_t bs = dtype_info(r.type).block_size;
  const int64_t e0 = static_cast<int64_t>(g) * hd;
  const int64_t b0 = e0 / bs * bs, b1 = (e0 + hd + bs - 1) / bs * bs;
  if (tmp.size() < static_cast<size_t>(b1 - b0)) tmp.resize(static_cast<size_t>(b1 - b0));
  const uint8_t* base = r.row(p0) + row_bytes(r.type, b0);
  for (int32_t i = 0; i < n; ++i) {
    to_float(base + r.row_bytes * i, tmp.data(), b1 - b0);
    std::memcpy(dst + static_cast<size_t>(i) * hd, tmp.data() + (e0 - b0), sizeof(float) * hd);
  }
  *stride = hd;
  return dst;
}

// One key tile [p0, p0 + lim) for one (query, head) row: row = [running max, running sum,
// output[head_dim]] (Milakov & Gimelshein's online softmax).
void update_row(float* row, const float* q, const float* kp, int64_t ks, const float* vp,
                int64_t vs, int32_t lim, int32_t hd, float scale) {
  float sc[kKeyTile];
  float mt = -std::numeric_limits<float>::infinity();
  for (int32_t j = 0; j < lim; ++j) {
    sc[j] = dot(q, kp + j * ks, hd) * scale;
    mt = std::max(mt, sc[j]);
  }
  const float m_new = std::max(row[0], mt);
  const float c = std::exp(row[0] - m_new);  // 0 on the first tile (row[0] = -inf)
  float l = row[1] * c;
  float* out = row + 2;
  for (int32_t d = 0; d < hd; ++d) out[d] *= c;
  for (int32_t j = 0; j < lim; ++j) {
    const float e = std::exp(sc[j] - m_new);
    l += e;
    const float* v = vp + j * vs;
    for (int32_t d = 0; d < hd; ++d) out[d] += e * v[d];
  }
  row[0] = m_new;
  row[1] = l;
}

// The lane arrays of the SIMD kernel for rs rows (kernels/cpu/attention_kernels.h).
struct Lanes {
  float *m, *l, *c, *p, *qt, *out;
};

size_t lanes_floats(int32_t rs, int32_t hd) {
  return static_cast<size_t>(rs) * (3 + kKeyTile + 2 * static_cast<size_t>(hd));
}

// Splits scratch.lanes for rs rows and sets the state of a call's start: rows [0, n_rows) with
// no key seen yet (m = -inf), padding rows finite (m = 0, lim 0, q 0).
Lanes init_lanes(AttentionScratch& scratch, int32_t n_rows, int32_t rs, int32_t hd) {
  if (scratch.lanes.size() < lanes_floats(rs, hd)) scratch.lanes.resize(lanes_floats(rs, hd));
  if (scratch.lim.size() < static_cast<size_t>(rs)) scratch.lim.resize(rs);
  float* b = scratch.lanes.data();
  Lanes ln{b, b + rs, b + 2 * rs, b + 3 * rs, nullptr, nullptr};
  ln.qt = ln.p + static_cast<size_t>(kKeyTile) * rs;
  ln.out = ln.qt + static_cast<size_t>(hd) * rs;
  std::fill(ln.m, ln.m + n_rows, -std::numeric_limits<float>::infinity());
  std::fill(ln.m + n_rows, ln.m + rs, 0.0f);
  std::fill(ln.l, ln.l + rs, 0.0f);
  std::fill(ln.qt, ln.qt + static_cast<size_t>(2) * hd * rs, 0.0f);  // qt and out
  std::fill(scratch.lim.begin(), scratch.lim.begin() + rs, 0);
  return ln;
}

// attend_tile through the SIMD kernel: row r = i * group + h is lane r.
void attend_lanes(kernels::AttnTileFn fn, const AttentionShape& s, int32_t kv_head, const float* q,
                  int64_t q_stride, const int32_t* pos, int32_t n_q, const KvRows& k,
                  const KvRows& v, float* out, int64_t out_stride, AttentionScratch& scratch) {
  const int32_t hd = s.head_dim, group = s.group, n_rows = n_q * group;
  const int32_t rs = (n_rows + kernels::kAttnRowAlign - 1) / kernels::kAttnRowAlign *
                     kernels::kAttnRowAlign;
  const Lanes ln = init_lanes(scratch, n_rows, rs, hd);
  for (int32_t i = 0; i < n_q; ++i) {
    for (int32_t h = 0; h < group; ++h) {
      const float* src = q + i * q_stride + static_cast<int64_t>(kv_head * group + h) * hd;
      float* dst = ln.qt + i * group + h;
      for (int32_t d = 0; d < hd; ++d) dst[static_cast<size_t>(d) * rs] = src[d];
    }
  }
  kernels::AttnTileArgs a;
  a.head_dim = hd;
  a.scale = s.scale;
  a.n_rows = n_rows;
  a.rs = rs;
  a.qt = ln.qt;
  a.lim = scratch.lim.data();
  a.m = ln.m, a.l = ln.l, a.out = ln.out, a.p = ln.p, a.c = ln.c;
  const int32_t max_pos = *std::max_element(pos, pos + n_q);
  for (int32_t p0 = 0; p0 <= max_pos; p0 += kKeyTile) {
    a.n_k = std::min(kKeyTile, max_pos + 1 - p0);
    a.k = head_rows(k, s, kv_head, p0, a.n_k, scratch.kv.data(), scratch.tmp, &a.k_stride);
    a.v = head_rows(v, s, kv_head, p0, a.n_k, scratch.kv.data() + kKeyTile * hd, scratch.tmp,
                    &a.v_stride);
    for (int32_t i = 0; i < n_q; ++i) {
      const int32_t lim = std::max(0, std::min(a.n_k, pos[i] + 1 - p0));
      std::fill_n(scratch.lim.data() + i * group, group, lim);
    }
    fn(a);
  }
  for (int32_t i = 0; i < n_q; ++i) {
    for (int32_t h = 0; h < group; ++h) {
      const int32_t r = i * group + h;
      float* o = out + i * out_stride + static_cast<int64_t>(kv_head * group + h) * hd;
      const float* src = ln.out + static_cast<size_t>(r) * hd;
      const float inv = 1.0f / ln.l[r];
      for (int32_t d = 0; d < hd; ++d) o[d] = src[d] * inv;
    }
  }
}

// attend_tile with the portable loop: one (query, head) row at a time.
void attend_portable(const AttentionShape& s, int32_t kv_head, const float* q, int64_t q_stride,
                     const int32_t* pos, int32_t n_q, const KvRows& k, const KvRows& v, float* out,
                     int64_t out_stride, AttentionScratch& scratch) {
  const int32_t hd = s.head_dim, group = s.group;
  const size_t rw = static_cast<size_t>(hd) + 2;
  const size_t n_rows = static_cast<size_t>(n_q) * group;
  if (scratch.rows.size() < n_rows * rw) scratch.rows.resize(n_rows * rw);
  for (size_t r = 0; r < n_rows; ++r) {
    float* row = scratch.rows.data() + r * rw;
    row[0] = -std::numeric_limits<float>::infinity();
    std::fill(row + 1, row + rw, 0.0f);
  }
  const int32_t max_pos = *std::max_element(pos, pos + n_q);
  for (int32_t p0 = 0; p0 <= max_pos; p0 += kKeyTile) {
    const int32_t n_k = std::min(kKeyTile, max_pos + 1 - p0);
    int64_t ks = 0, vs = 0;
    const float* kp = head_rows(k, s, kv_head, p0, n_k, scratch.kv.data(), scratch.tmp, &ks);
    const float* vp =
        head_rows(v, s, kv_head, p0, n_k, scratch.kv.data() + kKeyTile * hd, scratch.tmp, &vs);
    for (int32_t i = 0; i < n_q; ++i) {
      const int32_t lim = std::min(n_k, pos[i] + 1 - p0);
      if (lim <= 0) continue;
      for (int32_t h = 0; h < group; ++h) {
        const float* qh = q + i * q_stride + static_cast<int64_t>(kv_head * group + h) * hd;
        float* row = scratch.rows.data() + (static_cast<size_t>(i) * group + h) * rw;
        update_row(row, qh, kp, ks, vp, vs, lim, hd, s.scale);
      }
    }
  }
  for (int32_t i = 0; i < n_q; ++i) {
    for (int32_t h = 0; h < group; ++h) {
      const float* row = scratch.rows.data() + (static_cast<size_t>(i) * group + h) * rw;
      float* o = out + i * out_stride + static_cast<int64_t>(kv_head * group + h) * hd;
      const float inv = 1.0f / row[1];
      for (int32_t d = 0; d < hd; ++d) o[d] = row[2 + d] * inv;
    }
  }
}

}  // namespace

void reserve_attention(const AttentionShape& s, int32_t n_q, AttentionScratch& scratch) {
  const size_t rows = static_cast<size_t>(n_q) * s.group * (s.head_dim + 2);
  if (scratch.rows.size() < rows) scratch.rows.resize(rows);
  if (scratch.kv.size() < 2u * kKeyTile * s.head_dim) scratch.kv.resize(2u * kKeyTile * s.head_dim);
  // A block-aligned span of one head: at most head_dim + 2 blocks of the largest block size.
  const size_t span = static_cast<size_t>(s.head_dim) + 2 * QK_K;
  if (scratch.tmp.size() < span) scratch.tmp.resize(span);
  const int32_t rs = (n_q * s.group + kernels::kAttnRowAlign - 1) / kernels::kAttnRowAlign *
                     kernels::kAttnRowAlign;
  if (scratch.lanes.size() < lanes_floats(rs, s.head_dim)) scratch.lanes.resize(lanes_floats(rs, s.head_dim));
  if (scratch.lim.size() < static_cast<size_t>(rs)) scratch.lim.resize(rs);
}

void attend_tile(const AttentionShape& s, int32_t kv_head, const float* q, int64_t q_stride,
                 const int32_t* pos, int32_t n_q, const KvRows& k, const KvRows& v, float* out,
                 int64_t out_stride, AttentionScratch& scratch) {
  attend_tile_with(kernels::attn_tile_kernel(s.head_dim), s, kv_head, q, q_stride, pos, n_q, k, v,
                   out, out_stride, scratch);
}

void attend_tile_with(kernels::AttnTileFn fn, const AttentionShape& s, int32_t kv_head,
                      const float* q, int64_t q_stride, const int32_t* pos, int32_t n_q,
                      const KvRows& k, const KvRows& v, float* out, int64_t out_stride,
                      AttentionScratch& scratch) {
  LM_CHECK((!k.blocks || k.block_size % kKeyTile == 0) && (!v.blocks || v.block_size % kKeyTile == 0),
           "attend_tile: block sizes {} / {} are not multiples of the key tile", k.block_size,
           v.block_size);
  if (scratch.kv.size() < 2u * kKeyTile * s.head_dim) scratch.kv.resize(2u * kKeyTile * s.head_dim);
  static_assert(kKeyTile <= kernels::kAttnMaxKeys, "the SIMD kernels hold one key tile");
  if (fn) return attend_lanes(fn, s, kv_head, q, q_stride, pos, n_q, k, v, out, out_stride, scratch);
  attend_portable(s, kv_head, q, q_stride, pos, n_q, k, v, out, out_stride, scratch);
}

}  // namespace lm::model
