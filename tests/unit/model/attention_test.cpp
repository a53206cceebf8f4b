// attend_tile (model/attention.h) against a plain two-pass softmax attention in double (the
// algorithm the forward pass used before tiling), on random queries/keys/values, for the portable
// loop and each SIMD tile kernel: GQA groups, query tiles, a 4096-position context;
// batch-independence bit for bit; F16 / Q8_0 rows; paged rows.
#include "model/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/attention_kernels.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/type_kernels.h"
#include "test_util.h"

namespace lm::model {
namespace {

struct Setup {
  int32_t hd, n_head_kv, group, n_ctx;
  int32_t kv_dim() const { return hd * n_head_kv; }
  int32_t q_dim() const { return hd * n_head_kv * group; }
};

// Softmax attention of query row q (all heads) at position pos, KV head g, in double.
std::vector<double> naive(const Setup& s, const float* q, int32_t pos, int32_t g,
                          const std::vector<float>& k, const std::vector<float>& v) {
  std::vector<double> out(size_t(s.group) * s.hd, 0.0);
  const double scale = 1.0 / std::sqrt(double(s.hd));
  for (int32_t h = 0; h < s.group; ++h) {
    const float* qh = q + (g * s.group + h) * s.hd;
    std::vector<double> sc(size_t(pos) + 1);
    double mx = -1e300, sum = 0;
    for (int32_t p = 0; p <= pos; ++p) {
      double d = 0;
      for (int32_t i = 0; i < s.hd; ++i) d += double(qh[i]) * k[size_t(p) * s.kv_dim() + g * s.hd + i];
      sc[p] = d * scale;
      mx = std::max(mx, sc[p]);
    }
    for (auto& x : sc) sum += (x = std::exp(x - mx));
    for (int32_t p = 0; p <= pos; ++p)
      for (int32_t i = 0; i < s.hd; ++i)
        out[size_t(h) * s.hd + i] += sc[p] / sum * v[size_t(p) * s.kv_dim() + g * s.hd + i];
  }
  return out;
}

KvRows rows_of(DType type, std::vector<uint8_t>& store, const std::vector<float>& f, const Setup& s) {
  const size_t rb = row_bytes(type, s.kv_dim());
  store.resize(rb * s.n_ctx);
  const auto* k = kernels::type_kernels(type);
  for (int32_t p = 0; p < s.n_ctx; ++p) {
    if (type == DType::F32) std::memcpy(store.data() + rb * p, f.data() + size_t(p) * s.kv_dim(), rb);
    else k->from_float(f.data() + size_t(p) * s.kv_dim(), store.data() + rb * p, s.kv_dim());
  }
  return {type, store.data(), rb};
}

// Every attention path this machine runs: the portable loop and the tile kernel of each ISA
// (with the head sizes it takes).
struct Path {
  const char* name;
  kernels::AttnTileFn fn;
  int32_t hd_multiple;
};
std::vector<Path> paths() {
  std::vector<Path> ps{{"portable", nullptr, 1}};
  for (kernels::Isa isa : kernels::available_isas()) {
    if (isa == kernels::Isa::Avx2) ps.push_back({"avx2", kernels::avx2::attn_tile, 8});
    if (isa == kernels::Isa::Avx512) ps.push_back({"avx512", kernels::avx512::attn_tile, 16});
  }
  return ps;
}

void check_with(const Path& path, const Setup& s, const std::vector<int32_t>& pos, DType type,
                double tol) {
  SCOPED_TRACE(std::string(path.name) + " hd " + std::to_string(s.hd) + " group " +
               std::to_string(s.group) + " n_q " + std::to_string(pos.size()) + " " +
               std::string(dtype_name(type)));
  const auto k = test::random_floats(size_t(s.n_ctx) * s.kv_dim(), 1, -2, 2);
  const auto v = test::random_floats(size_t(s.n_ctx) * s.kv_dim(), 2);
  const auto q = test::random_floats(pos.size() * s.q_dim(), 3, -2, 2);
  std::vector<uint8_t> ks, vs;
  const KvRows kr = rows_of(type, ks, k, s), vr = rows_of(type, vs, v, s);
  const AttentionShape shape{s.hd, s.group, s.kv_dim(), 1.0f / std::sqrt(float(s.hd))};
  const int32_t n_q = int32_t(pos.size());
  std::vector<float> out(size_t(n_q) * s.q_dim()), alone(size_t(s.q_dim()));
  AttentionScratch scratch;
  for (int32_t g = 0; g < s.n_head_kv; ++g) {
    attend_tile_with(path.fn, shape, g, q.data(), s.q_dim(), pos.data(), n_q, kr, vr, out.data(),
                     s.q_dim(), scratch);
  }
  double worst = 0;
  for (int32_t i = 0; i < n_q; ++i) {
    for (int32_t g = 0; g < s.n_head_kv; ++g) {
      const auto want = naive(s, q.data() + size_t(i) * s.q_dim(), pos[i], g, k, v);
      for (size_t j = 0; j < want.size(); ++j)
        worst = std::max(worst, std::fabs(out[size_t(i) * s.q_dim() + g * s.group * s.hd + j] - want[j]));
      // The same query alone: the same bits.
      attend_tile_with(path.fn, shape, g, q.data() + size_t(i) * s.q_dim(), s.q_dim(), &pos[i], 1,
                       kr, vr, alone.data(), s.q_dim(), scratch);
      for (int32_t j = 0; j < s.group * s.hd; ++j) {
        const size_t at = size_t(g) * s.group * s.hd + j;
        ASSERT_EQ(alone[at], out[size_t(i) * s.q_dim() + at]) << "query " << i << " kv head " << g;
      }
    }
  }
  EXPECT_LE(worst, tol) << dtype_name(type);
}

// check_with on every path that takes s.hd.
void check(const Setup& s, const std::vector<int32_t>& pos, DType type, double tol) {
  for (const Path& p : paths()) {
    if (s.hd % p.hd_multiple == 0) check_with(p, s, pos, type, tol);
  }
}

TEST(AttentionTest, MatchesTwoPassSoftmaxGqa) {
  check({64, 2, 4, 300}, {0, 1, 31, 32, 33, 100, 299, 64}, DType::F32, 2e-5);
  check({8, 4, 2, 80}, {5, 79, 40}, DType::F32, 2e-5);   // stories260K-like heads
  check({16, 1, 1, 50}, {49, 0}, DType::F32, 2e-5);      // no GQA
}

TEST(AttentionTest, LongContext4096) {
  check({64, 2, 4, 4096}, {4095, 2047, 4000, 17}, DType::F32, 2e-5);
}

// Rounded caches: F16 keeps 11 significant bits, Q8_0 about 7 (|x| <= 2 here).
TEST(AttentionTest, F16AndQ8_0Rows) {
  check({64, 2, 4, 300}, {0, 31, 32, 200, 299}, DType::F16, 2e-3);
  check({64, 2, 4, 300}, {0, 31, 32, 200, 299}, DType::Q8_0, 3e-2);
  check({8, 4, 2, 80}, {5, 79, 40}, DType::Q8_0, 3e-2);  // Q8_0 blocks span 4 heads
}

// The SIMD tile kernels' shapes: head sizes 16..128, GQA groups 1 / 4 / 8, 1..37 queries in one
// call (several row vectors, partial ones), causal positions inside and across key tiles,
// contexts of many tiles; F32, F16 and Q8_0 rows. Each query is also recomputed alone (check).
TEST(AttentionTest, TileKernelShapesAndBatchIndependence) {
  for (int32_t hd : {16, 32, 64, 128}) {
    for (int32_t group : {1, 4, 8}) {
      for (int32_t n_q : {1, 2, 5, 8, 37}) {
        const int32_t n_ctx = 40 + 13 * n_q;
        std::vector<int32_t> pos(n_q);
        for (int32_t i = 0; i < n_q; ++i) pos[i] = n_ctx - n_q + i;  // a prompt's last queries
        if (n_q > 2) pos[1] = 3, pos[2] = 31;  // and some early ones
        check({hd, 2, group, n_ctx}, pos, DType::F32, 2e-5);
      }
    }
  }
  for (DType type : {DType::F16, DType::Q8_0}) {
    check({64, 2, 4, 150}, {149, 148, 0, 33, 64, 65, 100, 120, 140}, type,
          type == DType::F16 ? 2e-3 : 3e-2);
    check({128, 1, 8, 90}, {89, 31, 32, 70}, type, type == DType::F16 ? 2e-3 : 3e-2);
  }
}

// The two SIMD kernels do the same lanewise operations in the same order: the same bits.
TEST(AttentionTest, Avx2AndAvx512KernelsAgreeBitForBit) {
  const auto ps = paths();
  if (ps.size() < 3) GTEST_SKIP() << "needs AVX2 and AVX-512";
  const lm::model::Setup s{64, 2, 4, 200};
  const auto k = test::random_floats(size_t(s.n_ctx) * s.kv_dim(), 21, -2, 2);
  const auto v = test::random_floats(size_t(s.n_ctx) * s.kv_dim(), 22);
  const std::vector<int32_t> pos{199, 5, 64, 150, 151, 152};
  const auto q = test::random_floats(pos.size() * s.q_dim(), 23, -2, 2);
  std::vector<uint8_t> ks, vs;
  const KvRows kr = rows_of(DType::F32, ks, k, s), vr = rows_of(DType::F32, vs, v, s);
  const AttentionShape shape{s.hd, s.group, s.kv_dim(), 1.0f / std::sqrt(float(s.hd))};
  std::vector<float> a(pos.size() * s.q_dim()), b(a.size());
  AttentionScratch scratch;
  for (int32_t g = 0; g < s.n_head_kv; ++g) {
    attend_tile_with(ps[1].fn, shape, g, q.data(), s.q_dim(), pos.data(), int32_t(pos.size()), kr, vr,
                     a.data(), s.q_dim(), scratch);
    attend_tile_with(ps[2].fn, shape, g, q.data(), s.q_dim(), pos.data(), int32_t(pos.size()), kr, vr,
                     b.data(), s.q_dim(), scratch);
  }
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << "element " << i;
}

// The same rows in blocks of block_size positions, placed in a random order behind a block table
// (a paged KV cache): every output bit equals the contiguous rows' output, for every row type.
void check_block_table(const Setup& s, int32_t block_size, DType type, uint64_t seed) {
  const auto k = test::random_floats(size_t(s.n_ctx) * s.kv_dim(), seed, -2, 2);
  const auto v = test::random_floats(size_t(s.n_ctx) * s.kv_dim(), seed + 1);
  std::vector<int32_t> pos;
  for (int32_t p : {0, 1, block_size - 1, block_size, s.n_ctx / 2, s.n_ctx - 2, s.n_ctx - 1})
    pos.push_back(p);
  const auto q = test::random_floats(pos.size() * s.q_dim(), seed + 2, -2, 2);
  std::vector<uint8_t> ks, vs;
  const KvRows kr = rows_of(type, ks, k, s), vr = rows_of(type, vs, v, s);
  // Physical block table[i] holds logical block i; two spare blocks stay unused (garbage).
  const int32_t n_blocks = (s.n_ctx + block_size - 1) / block_size;
  std::vector<int32_t> table(size_t(n_blocks) + 2);
  for (size_t i = 0; i < table.size(); ++i) table[i] = int32_t(i);
  std::mt19937 rng{static_cast<uint32_t>(seed)};
  std::shuffle(table.begin(), table.end(), rng);
  table.resize(size_t(n_blocks));
  const size_t rb = kr.row_bytes, block_bytes = rb * size_t(block_size);
  std::vector<uint8_t> kp((size_t(n_blocks) + 2) * block_bytes, 0xA5), vp(kp.size(), 0x5A);
  for (int32_t b = 0; b < n_blocks; ++b) {
    const size_t n = std::min(block_bytes, rb * size_t(s.n_ctx) - size_t(b) * block_bytes);
    std::memcpy(kp.data() + size_t(table[b]) * block_bytes, ks.data() + size_t(b) * block_bytes, n);
    std::memcpy(vp.data() + size_t(table[b]) * block_bytes, vs.data() + size_t(b) * block_bytes, n);
  }
  const KvRows kb{type, kp.data(), rb, table.data(), block_size};
  const KvRows vb{type, vp.data(), rb, table.data(), block_size};
  const AttentionShape shape{s.hd, s.group, s.kv_dim(), 1.0f / std::sqrt(float(s.hd))};
  const int32_t n_q = int32_t(pos.size());
  std::vector<float> want(size_t(n_q) * s.q_dim()), got(want.size());
  AttentionScratch scratch;
  for (int32_t g = 0; g < s.n_head_kv; ++g) {
    attend_tile(shape, g, q.data(), s.q_dim(), pos.data(), n_q, kr, vr, want.data(), s.q_dim(), scratch);
    attend_tile(shape, g, q.data(), s.q_dim(), pos.data(), n_q, kb, vb, got.data(), s.q_dim(), scratch);
  }
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(want[i], got[i]) << dtype_name(type) << " block_size " << block_size << " element " << i;
  }
}

TEST(AttentionTest, BlockTableGivesTheContiguousResultBitForBit) {
  for (DType type : {DType::F32, DType::F16, DType::Q8_0}) {
    check_block_table({64, 2, 4, 300}, 32, type, 11);
    check_block_table({64, 2, 4, 300}, 64, type, 12);
    check_block_table({8, 4, 2, 97}, 32, type, 13);   // stories260K-like heads, a partial last block
  }
}

}  // namespace
}  // namespace lm::model
