// The forward pass on small random models of every family against an independent
// double-precision forward written from the definitions (no cache, whole sequence at once).
#include <gtest/gtest.h>

#include <cmath>

#include "model/model.h"
#include "synthetic.h"

namespace lm::model {
namespace {

using Vec = std::vector<double>;

class RefModel {
 public:
  RefModel(const gguf::File& f, const ModelConfig& c, const test::SynthSpec& s)
      : f_(f), c_(c), s_(s) {}

  // Logits of every position: [n_tokens][n_vocab].
  std::vector<Vec> forward(const std::vector<int32_t>& tokens) const {
    const size_t n = tokens.size();
    std::vector<Vec> x(n);
    for (size_t t = 0; t < n; ++t) x[t] = row("token_embd.weight", tokens[t], c_.n_embd);
    for (int il = 0; il < c_.n_layer; ++il) {
      const std::string p = "blk." + std::to_string(il) + ".";
      std::vector<Vec> q(n), k(n), v(n);
      for (size_t t = 0; t < n; ++t) {
        Vec xb = norm(x[t], vec(p + "attn_norm.weight"));
        q[t] = matvec(p + "attn_q.weight", xb);
        k[t] = matvec(p + "attn_k.weight", xb);
        v[t] = matvec(p + "attn_v.weight", xb);
        if (s_.bias) {
          add(q[t], vec(p + "attn_q.bias"));
          add(k[t], vec(p + "attn_k.bias"));
          add(v[t], vec(p + "attn_v.bias"));
        }
        heads(q[t], c_.n_head, p + "attn_q_norm.weight", int(t));
        heads(k[t], c_.n_head_kv, p + "attn_k_norm.weight", int(t));
      }
      for (size_t t = 0; t < n; ++t) {
        Vec att(size_t(c_.n_head) * c_.head_dim, 0.0);
        for (int h = 0; h < c_.n_head; ++h) {
          const int kvh = h / (c_.n_head / c_.n_head_kv);
          Vec sc(t + 1);
          double mx = -1e300, sum = 0;
          for (size_t j = 0; j <= t; ++j) {
            double d = 0;
            for (int i = 0; i < c_.head_dim; ++i)
              d += q[t][h * c_.head_dim + i] * k[j][kvh * c_.head_dim + i];
            sc[j] = d / std::sqrt(double(c_.head_dim));
            mx = std::max(mx, sc[j]);
          }
          for (auto& s : sc) sum += (s = std::exp(s - mx));
          for (size_t j = 0; j <= t; ++j) {
            for (int i = 0; i < c_.head_dim; ++i) {
              att[h * c_.head_dim + i] += sc[j] / sum * v[j][kvh * c_.head_dim + i];
            }
          }
        }
        add(x[t], matvec(p + "attn_output.weight", att));
      }
      for (size_t t = 0; t < n; ++t) {
        Vec xb = norm(x[t], vec(p + "ffn_norm.weight"));
        Vec g = matvec(p + "ffn_gate.weight", xb), u = matvec(p + "ffn_up.weight", xb);
        for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
        add(x[t], matvec(p + "ffn_down.weight", g));
      }
    }
    std::vector<Vec> logits(n);
    const char* out = f_.find_tensor("output.weight") ? "output.weight" : "token_embd.weight";
    for (size_t t = 0; t < n; ++t) logits[t] = matvec(out, norm(x[t], vec("output_norm.weight")));
    return logits;
  }

 private:
  Vec row(const std::string& name, int64_t r, int64_t n) const {
    const gguf::TensorInfo* t = f_.find_tensor(name);
    std::vector<float> buf(n);
    const size_t rb = row_bytes(t->type, n);
    kernels::type_kernels(t->type)->to_float(t->data + rb * r, buf.data(), n);
    return Vec(buf.begin(), buf.end());
  }
  Vec vec(const std::string& name) const { return row(name, 0, f_.find_tensor(name)->dims[0]); }
  Vec matvec(const std::string& name, const Vec& x) const {
    const gguf::TensorInfo* t = f_.find_tensor(name);
    Vec y(t->dims[1]);
    for (int64_t o = 0; o < t->dims[1]; ++o) {
      Vec w = row(name, o, t->dims[0]);
      for (int64_t i = 0; i < t->dims[0]; ++i) y[o] += w[i] * x[i];
    }
    return y;
  }
  Vec norm(const Vec& x, const Vec& w) const {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double r = 1 / std::sqrt(ss / x.size() + double(c_.norm_eps));
    Vec y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * r * w[i];
    return y;
  }
  static void add(Vec& y, const Vec& x) {
    for (size_t i = 0; i < y.size(); ++i) y[i] += x[i];
  }
  // Per-head QK norm (qwen3) then RoPE of every head of one token at position pos.
  void heads(Vec& x, int n_head, const std::string& norm_name, int pos) const {
    const int hd = c_.head_dim, nr = s_.n_rot;
    Vec factors = s_.rope_freqs ? vec("rope_freqs.weight") : Vec(nr / 2, 1.0);
    const double scale = s_.linear_factor != 0 ? 1.0 / s_.linear_factor : 1.0;
    for (int h = 0; h < n_head; ++h) {
      double* xh = x.data() + h * hd;
      if (s_.qk_norm) {
        Vec y = norm(Vec(xh, xh + hd), vec(norm_name));
        std::copy(y.begin(), y.end(), xh);
      }
      for (int i = 0; i < nr / 2; ++i) {
        const double th = pos * scale * std::pow(double(s_.freq_base), -2.0 * i / nr) / factors[i];
        const bool neox = s_.arch != "llama";
        double& a = neox ? xh[i] : xh[2 * i];
        double& b = neox ? xh[i + nr / 2] : xh[2 * i + 1];
        const double a0 = a, b0 = b;
        a = a0 * std::cos(th) - b0 * std::sin(th);
        b = a0 * std::sin(th) + b0 * std::cos(th);
      }
    }
  }

  const gguf::File& f_;
  const ModelConfig& c_;
  const test::SynthSpec& s_;
};

void check_against_reference(const test::SynthSpec& spec) {
  auto m = Model::load(test::write_synthetic(spec));
  ASSERT_TRUE(m.ok()) << m.error().message();
  const Model& model = **m;
  const int32_t nv = model.config().n_vocab;
  const std::vector<int32_t> tokens = {3, 17, 42, 0, 49, 8, 8, 25, 11, 30, 1};
  auto want = RefModel(model.file(), model.config(), spec).forward(tokens);

  ThreadPool pool(3);
  Forward fwd(model, pool);
  KvCache cache(model.config(), 16, 2);
  std::vector<BatchToken> batch;
  for (size_t i = 0; i < tokens.size(); ++i) batch.push_back({tokens[i], int32_t(i), 1, true});
  std::vector<float> got;
  Status st = fwd.run(cache, batch, &got);
  ASSERT_TRUE(st.ok()) << st.error().message();
  ASSERT_EQ(got.size(), tokens.size() * nv);
  double worst = 0;
  for (size_t t = 0; t < tokens.size(); ++t) {
    for (int32_t i = 0; i < nv; ++i) {
      const double w = want[t][i];
      worst = std::max(worst, std::fabs(got[t * nv + i] - w) / (1 + std::fabs(w)));
    }
  }
  EXPECT_LT(worst, 1e-4) << spec.arch;
  // Decoding one token at a time in the other slot agrees with the prompt pass.
  std::vector<float> one;
  for (size_t i = 0; i < tokens.size(); ++i) {
    ASSERT_TRUE(
        fwd.run(cache, std::vector<BatchToken>{{tokens[i], int32_t(i), 0, true}}, &one).ok());
    for (int32_t v = 0; v < nv; ++v) ASSERT_NEAR(one[v], got[i * nv + v], 1e-5);
  }
}

TEST(ReferenceTest, Llama) {
  test::SynthSpec s;
  s.arch = "llama";
  s.head_dim = 8;  // n_embd / n_head
  s.n_rot = 8;
  s.freq_base = 10000;
  s.tied = true;
  check_against_reference(s);
}

TEST(ReferenceTest, LlamaPartialRopeFreqFactorsLinearScaling) {
  test::SynthSpec s;
  s.arch = "llama";
  s.n_rot = 10;  // partial: 10 of 16 dims
  s.rope_freqs = true;
  s.linear_factor = 4;
  s.n_head_kv = 4;  // no GQA
  s.matrix_type = DType::BF16;
  check_against_reference(s);
}

TEST(ReferenceTest, Qwen2BiasesNeox) {
  test::SynthSpec s;
  s.arch = "qwen2";
  s.bias = true;
  s.head_dim = 8;
  s.n_rot = 8;
  s.n_head_kv = 1;  // multi-query
  check_against_reference(s);
}

TEST(ReferenceTest, Qwen3QkNormWideHeads) {
  test::SynthSpec s;
  s.arch = "qwen3";
  s.qk_norm = true;  // head_dim 16: q_dim 64 != n_embd 32
  s.tied = true;
  s.matrix_type = DType::F32;
  check_against_reference(s);
}

}  // namespace
}  // namespace lm::model
