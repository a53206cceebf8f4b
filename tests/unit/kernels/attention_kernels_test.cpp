// The SIMD attention tile kernels (kernels/cpu/attention_kernels.h) on every ISA of this machine:
// rows of a KV head with causal positions, fed key tiles one after another (partial tiles, long
// contexts), end with the running max, the softmax denominator and the unnormalised output of a
// plain double-precision softmax; a row's bits do not depend on the other rows of the call.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/attention_kernels.h"
#include "kernels/cpu/cpu_features.h"
#include "test_util.h"

namespace lm::kernels {
namespace {

struct Case {
  int32_t hd, n_rows, n_ctx, tile;  // rows attend to keys [0, pos[r]]
};

// Keys and values [n_ctx, hd], queries [n_rows, hd], positions per row.
struct Data {
  std::vector<float> q, k, v;
  std::vector<int32_t> pos;
};

Data make_data(const Case& c, uint64_t seed) {
  Data d;
  d.q = test::random_floats(size_t(c.n_rows) * c.hd, seed, -2, 2);
  d.k = test::random_floats(size_t(c.n_ctx) * c.hd, seed + 1, -2, 2);
  d.v = test::random_floats(size_t(c.n_ctx) * c.hd, seed + 2);
  for (int32_t r = 0; r < c.n_rows; ++r) d.pos.push_back(int32_t((r * 7919u + seed) % c.n_ctx));
  d.pos[0] = c.n_ctx - 1;
  return d;
}

// Per row: m, l, out[hd] after every tile, running `rows` (indices into d) through fn.
std::vector<float> run(AttnTileFn fn, const Case& c, const Data& d, const std::vector<int32_t>& rows) {
  const int32_t n = int32_t(rows.size()), hd = c.hd;
  const int32_t rs = (n + kAttnRowAlign - 1) / kAttnRowAlign * kAttnRowAlign;
  std::vector<float> qt(size_t(hd) * rs, 0.0f), m(rs, 0.0f), l(rs, 0.0f), out(size_t(rs) * hd, 0.0f);
  std::vector<float> p(size_t(kAttnMaxKeys) * rs), cs(rs);
  std::vector<int32_t> lim(rs, 0);
  std::fill(m.begin(), m.begin() + n, -std::numeric_limits<float>::infinity());
  for (int32_t r = 0; r < n; ++r)
    for (int32_t i = 0; i < hd; ++i) qt[size_t(i) * rs + r] = d.q[size_t(rows[r]) * hd + i];
  AttnTileArgs a;
  a.k_stride = a.v_stride = hd;
  a.head_dim = hd;
  a.scale = 1.0f / std::sqrt(float(hd));
  a.n_rows = n;
  a.rs = rs;
  a.qt = qt.data(), a.lim = lim.data(), a.m = m.data(), a.l = l.data(), a.out = out.data();
  a.p = p.data(), a.c = cs.data();
  int32_t max_pos = 0;
  for (int32_t r : rows) max_pos = std::max(max_pos, d.pos[r]);
  for (int32_t p0 = 0; p0 <= max_pos; p0 += c.tile) {
    a.n_k = std::min(c.tile, max_pos + 1 - p0);
    a.k = d.k.data() + size_t(p0) * hd;
    a.v = d.v.data() + size_t(p0) * hd;
    for (int32_t r = 0; r < n; ++r) lim[r] = std::max(0, std::min(a.n_k, d.pos[rows[r]] + 1 - p0));
    fn(a);
  }
  std::vector<float> res;
  for (int32_t r = 0; r < n; ++r) {
    res.push_back(m[r]);
    res.push_back(l[r]);
    res.insert(res.end(), out.begin() + size_t(r) * hd, out.begin() + size_t(r + 1) * hd);
  }
  return res;
}

// Checks one row's m, l, out (got: hd + 2 floats) against a double softmax over keys 0..pos.
void expect_softmax(const Case& c, const Data& d, int32_t row, const float* got, const char* isa) {
  const int32_t hd = c.hd, pos = d.pos[row];
  std::vector<double> s(size_t(pos) + 1);
  double mx = -1e300, l = 0;
  for (int32_t j = 0; j <= pos; ++j) {
    double x = 0;
    for (int32_t i = 0; i < hd; ++i) x += double(d.q[size_t(row) * hd + i]) * d.k[size_t(j) * hd + i];
    s[j] = x / std::sqrt(double(hd));
    mx = std::max(mx, s[j]);
  }
  ASSERT_NEAR(got[0], mx, 1e-5 * (1 + std::fabs(mx))) << isa << " hd " << hd << " row " << row;
  for (double& x : s) l += (x = std::exp(x - got[0]));  // relative to the kernel's max
  ASSERT_NEAR(got[1], l, 1e-5 * l) << isa << " hd " << hd << " row " << row;
  for (int32_t i = 0; i < hd; ++i) {
    double o = 0;
    for (int32_t j = 0; j <= pos; ++j) o += s[j] * d.v[size_t(j) * hd + i];
    ASSERT_NEAR(got[2 + i], o, 1e-5 * l) << isa << " hd " << hd << " row " << row << " d " << i;
  }
}

std::vector<std::pair<Isa, AttnTileFn>> kernels_here() {
  std::vector<std::pair<Isa, AttnTileFn>> ks;
  for (Isa isa : available_isas()) {
    if (isa == Isa::Avx2) ks.push_back({isa, avx2::attn_tile});
    if (isa == Isa::Avx512) ks.push_back({isa, avx512::attn_tile});
  }
  return ks;
}

bool supports(Isa isa, int32_t hd) { return hd % (isa == Isa::Avx512 ? 16 : 8) == 0; }

TEST(AttentionKernelsTest, TilesAddUpToTheSoftmaxOnEveryIsa) {
  const auto ks = kernels_here();
  if (ks.empty()) GTEST_SKIP() << "no AVX2 on this CPU: attention uses the portable loop only";
  for (const auto& [isa, fn] : ks) {
    for (const Case c : {Case{64, 32, 300, 32}, Case{64, 4, 150, 32}, Case{128, 37, 200, 32},
                         Case{32, 8, 97, 64}, Case{16, 1, 70, 7}, Case{8, 17, 50, 32},
                         Case{80, 9, 40, 32}, Case{64, 148, 1500, 32}}) {
      if (!supports(isa, c.hd)) continue;
      const Data d = make_data(c, 10 + c.hd + c.n_rows);
      std::vector<int32_t> rows(c.n_rows);
      for (int32_t r = 0; r < c.n_rows; ++r) rows[r] = r;
      const auto got = run(fn, c, d, rows);
      for (int32_t r = 0; r < c.n_rows; ++r)
        expect_softmax(c, d, r, got.data() + size_t(r) * (c.hd + 2), isa_name(isa).data());
    }
  }
}

// A row computed alone, in its block, or in another lane of another block (rows reversed): the
// same bits; and the AVX2 and AVX-512 kernels agree bit for bit (same lanewise operations).
TEST(AttentionKernelsTest, RowBitsIndependentOfTheOtherRows) {
  const auto ks = kernels_here();
  if (ks.empty()) GTEST_SKIP() << "no AVX2 on this CPU: attention uses the portable loop only";
  for (const Case c : {Case{64, 37, 130, 32}, Case{128, 12, 70, 32}, Case{16, 21, 40, 5}}) {
    const Data d = make_data(c, 99 + c.hd);
    std::vector<int32_t> all(c.n_rows), rev(c.n_rows);
    for (int32_t r = 0; r < c.n_rows; ++r) all[r] = r, rev[r] = c.n_rows - 1 - r;
    std::vector<float> first;
    for (const auto& [isa, fn] : ks) {
      if (!supports(isa, c.hd)) continue;
      const auto in_all = run(fn, c, d, all), in_rev = run(fn, c, d, rev);
      if (first.empty()) first = in_all;
      const size_t w = size_t(c.hd) + 2;
      for (int32_t r = 0; r < c.n_rows; ++r) {
        const auto alone = run(fn, c, d, {r});
        for (size_t i = 0; i < w; ++i) {
          ASSERT_EQ(alone[i], in_all[r * w + i]) << isa_name(isa) << " row " << r << " alone";
          ASSERT_EQ(in_rev[(c.n_rows - 1 - r) * w + i], in_all[r * w + i]) << isa_name(isa) << " row " << r;
          ASSERT_EQ(first[r * w + i], in_all[r * w + i]) << isa_name(isa) << " vs the first ISA, row " << r;
        }
      }
    }
  }
}

}  // namespace
}  // namespace lm::kernels
