// Cross-check of localmax's quant kernels against ggml (built from the ggml repo, outside the
// localmax repository). Not part of localmax.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ggml.h"
#include "gguf.h"

#include "gguf/gguf.h"
#include "kernels/type_kernels.h"
#include "kernels/ref/quant_ref.h"
#include "tensor/quants.h"

using lm::DType;

extern "C" {
void quantize_row_q8_K_ref(const float* x, void* y, int64_t k);
void dequantize_row_q8_K(const void* x, float* y, int64_t k);
}

// ggml's scalar Q8_1 decode is d * qs (its dequantizer is commented out in ggml-quants.h).
static void gg_deq_q8_1(const void* q, float* y, int64_t n) {
  const auto* b = static_cast<const lm::BlockQ8_1*>(q);
  for (int64_t i = 0; i < n / 32; ++i)
    for (int j = 0; j < 32; ++j) y[i * 32 + j] = lm::fp16_to_fp32(b[i].d) * b[i].qs[j];
}

static int failures = 0;

struct T { DType lm; ggml_type gg; };
static const T kTypes[] = {
  {DType::Q4_0, GGML_TYPE_Q4_0}, {DType::Q4_1, GGML_TYPE_Q4_1}, {DType::Q5_0, GGML_TYPE_Q5_0},
  {DType::Q5_1, GGML_TYPE_Q5_1}, {DType::Q8_0, GGML_TYPE_Q8_0}, {DType::Q2_K, GGML_TYPE_Q2_K},
  {DType::Q3_K, GGML_TYPE_Q3_K}, {DType::Q4_K, GGML_TYPE_Q4_K}, {DType::Q5_K, GGML_TYPE_Q5_K},
  {DType::Q6_K, GGML_TYPE_Q6_K}, {DType::Q8_1, GGML_TYPE_Q8_1}, {DType::Q8_K, GGML_TYPE_Q8_K},
};

static std::vector<float> data(int64_t n, int dist, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.f, 0.02f);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> x(n);
  for (auto& v : x) v = dist == 0 ? g(rng) : u(rng);
  if (dist == 2) { for (auto& v : x) v = g(rng) * (1.0f + 20.0f * (u(rng) > 0.99f)); }  // heavy tails
  return x;
}

static double rel_rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double e = 0, s = 0;
  for (size_t i = 0; i < a.size(); ++i) { e += (a[i] - b[i]) * (double)(a[i] - b[i]); s += a[i] * (double)a[i]; }
  return std::sqrt(e / s);
}

static bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

static void dequant_lm(DType t, const void* q, float* y, int64_t n) {
  switch (t) {
    case DType::Q8_1: lm::kernels::ref::dequantize_row_q8_1(q, y, n); return;
    case DType::Q8_K: lm::kernels::ref::dequantize_row_q8_k(q, y, n); return;
    default: lm::kernels::type_kernels(t)->to_float(q, y, n);
  }
}
static void quant_lm(DType t, const float* x, void* q, int64_t n) {
  switch (t) {
    case DType::Q8_1: lm::kernels::ref::quantize_row_q8_1(x, q, n); return;
    case DType::Q8_K: lm::kernels::ref::quantize_row_q8_k(x, q, n); return;
    default: lm::kernels::type_kernels(t)->from_float(x, q, n);
  }
}

static void kernel_check() {
  const int64_t n = 256 * 64;
  std::printf("%-5s %-28s %-24s %-26s %s\n", "type", "ggml deq == lm deq (lm q)", "(ggml q)", "same bytes as ggml ref q", "rel RMSE lm / ggml (gauss, unif, tails)");
  for (const auto& t : kTypes) {
    const auto* tr0 = ggml_get_type_traits(t.gg);
    ggml_type_traits trc = *tr0;
    if (t.gg == GGML_TYPE_Q8_1) trc.to_float = gg_deq_q8_1;
    if (t.gg == GGML_TYPE_Q8_K) { trc.to_float = (ggml_to_float_t)dequantize_row_q8_K; trc.from_float_ref = (ggml_from_float_t)quantize_row_q8_K_ref; }
    const auto* tr = &trc;
    size_t nb = ggml_row_size(t.gg, n);
    bool deq_ok_lm = true, deq_ok_gg = true, same_bytes = true, valid = true;
    char rm[256] = {0}; int off = 0;
    for (int dist = 0; dist < 3; ++dist) {
      auto x = data(n, dist, 42 + dist);
      std::vector<uint8_t> qa(nb), qb(nb);
      quant_lm(t.lm, x.data(), qa.data(), n);
      tr->from_float_ref(x.data(), qb.data(), n);
      if (t.gg != GGML_TYPE_Q8_1 && t.gg != GGML_TYPE_Q8_K) valid &= ggml_validate_row_data(t.gg, qa.data(), nb);
      std::vector<float> a1(n), a2(n), b1(n), b2(n);
      tr->to_float(qa.data(), a1.data(), n);
      dequant_lm(t.lm, qa.data(), a2.data(), n);
      tr->to_float(qb.data(), b1.data(), n);
      dequant_lm(t.lm, qb.data(), b2.data(), n);
      deq_ok_lm &= bit_equal(a1, a2);
      deq_ok_gg &= bit_equal(b1, b2);
      same_bytes &= qa == qb;
      off += std::snprintf(rm + off, sizeof(rm) - off, "%.4f/%.4f  ", rel_rmse(x, a2), rel_rmse(x, b1));
    }
    if (!deq_ok_lm || !deq_ok_gg || !valid) ++failures;
    std::printf("%-5s %-28s %-24s %-26s %s%s\n", lm::dtype_name(t.lm).data(), deq_ok_lm ? "identical" : "DIFFERENT",
                deq_ok_gg ? "identical" : "DIFFERENT", same_bytes ? "yes" : "no (own quantizer)", rm, valid ? "" : " INVALID");
  }
}

// ggml's GGUF reader opens a file written by `localmax quantize`, and dequantizes every tensor
// exactly as localmax does.
static void file_check(const char* path) {
  ggml_context* ctx = nullptr;
  gguf_init_params p{false, &ctx};
  gguf_context* g = gguf_init_from_file(path, p);
  if (!g) { std::printf("ggml could not open %s\n", path); ++failures; return; }
  auto f = lm::gguf::File::open(path);
  if (!f.ok()) { std::printf("localmax could not open %s\n", path); ++failures; return; }
  int n_ok = 0, n_bad = 0;
  int64_t ft_id = gguf_find_key(g, "general.file_type");
  for (int64_t i = 0; i < gguf_get_n_tensors(g); ++i) {
    const char* name = gguf_get_tensor_name(g, i);
    ggml_tensor* gt = ggml_get_tensor(ctx, name);
    const lm::gguf::TensorInfo* lt = (*f)->find_tensor(name);
    int64_t n = ggml_nelements(gt);
    std::vector<float> a(n), b(n);
    if (gt->type == GGML_TYPE_F32) std::memcpy(a.data(), gt->data, n * 4);
    else ggml_get_type_traits(gt->type)->to_float(gt->data, a.data(), n);
    lm::kernels::type_kernels(lt->type)->to_float(lt->data, b.data(), n);
    bool ok = (int)lt->type == (int)gt->type && bit_equal(a, b) && ggml_validate_row_data(gt->type, gt->data, ggml_nbytes(gt));
    ok ? ++n_ok : ++n_bad;
  }
  std::printf("%s: ggml opened it (file_type %u); %d tensors dequantize identically in ggml and localmax, %d differ\n",
              path, ft_id >= 0 ? gguf_get_val_u32(g, ft_id) : 9999u, n_ok, n_bad);
  failures += n_bad;
  gguf_free(g);
  ggml_free(ctx);
}

// ggml writes a GGUF with ggml-quantized tensors; localmax reads it and dequantizes identically.
static void reverse_file_check(const char* path) {
  ggml_init_params ip{64 << 20, nullptr, false};
  ggml_context* ctx = ggml_init(ip);
  gguf_context* g = gguf_init_empty();
  gguf_set_val_str(g, "general.architecture", "llama");
  std::vector<std::vector<float>> src;
  for (const auto& t : kTypes) {
    if (t.gg == GGML_TYPE_Q8_1 || t.gg == GGML_TYPE_Q8_K) continue;
    ggml_tensor* tt = ggml_new_tensor_2d(ctx, t.gg, 512, 3);
    ggml_set_name(tt, lm::dtype_name(t.lm).data());
    auto x = data(512 * 3, 1, 7);
    ggml_quantize_chunk(t.gg, x.data(), tt->data, 0, 3, 512, nullptr);
    gguf_add_tensor(g, tt);
  }
  gguf_write_to_file(g, path, false);
  auto f = lm::gguf::File::open(path);
  if (!f.ok()) { std::printf("localmax could not open ggml's file: %s\n", f.error().message().c_str()); ++failures; return; }
  int n_ok = 0, n_bad = 0;
  for (const auto& lt : (*f)->tensors()) {
    ggml_tensor* gt = ggml_get_tensor(ctx, std::string(lt.name).c_str());
    int64_t n = lt.n_elements();
    std::vector<float> a(n), b(n);
    ggml_get_type_traits(gt->type)->to_float(gt->data, a.data(), n);
    lm::kernels::type_kernels(lt.type)->to_float(lt.data, b.data(), n);
    (bit_equal(a, b) && (int)lt.type == (int)gt->type) ? ++n_ok : ++n_bad;
  }
  std::printf("%s (written by ggml): localmax read %zu tensors; %d dequantize identically, %d differ\n",
              path, (*f)->tensors().size(), n_ok, n_bad);
  failures += n_bad;
  gguf_free(g);
  ggml_free(ctx);
}

// A random F32 model whose rows fit every block size, quantized by `localmax quantize`.
static void quantize_random_model(const char* localmax) {
  lm::gguf::Writer w;
  w.set_string("general.architecture", "llama");
  const char* names[] = {"token_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_v.weight", "blk.0.ffn_down.weight", "blk.1.attn_v.weight", "output.weight"};
  std::vector<std::vector<uint8_t>> keep;
  uint64_t seed = 1;
  for (const char* n : names) {
    auto x = data(512 * 8, 2, seed++);
    std::vector<uint8_t> b(x.size() * 4);
    std::memcpy(b.data(), x.data(), b.size());
    (void)w.add_tensor(n, DType::F32, {512, 8}, std::move(b));
  }
  (void)w.write("/tmp/wtq/rand_f32.gguf");
  for (const char* t : {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q4_K_M"}) {
    std::string out = std::string("/tmp/wtq/rand_") + t + ".gguf";
    std::string cmd = std::string(localmax) + " quantize /tmp/wtq/rand_f32.gguf " + out + " " + t + " > /dev/null";
    if (std::system(cmd.c_str()) != 0) { std::printf("localmax quantize %s failed\n", t); ++failures; continue; }
    file_check(out.c_str());
  }
}

int main(int argc, char** argv) {
  kernel_check();
  quantize_random_model(argv[1]);
  for (int i = 2; i < argc; ++i) file_check(argv[i]);
  reverse_file_check("/tmp/wtq/ggml_written.gguf");
  std::printf("%s\n", failures ? "CROSS-CHECK FAILED" : "cross-check passed");
  return failures ? 1 : 0;
}
