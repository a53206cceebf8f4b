#include "kernels/ref/float_ref.h"

#include <cstring>

#include "tensor/fp16.h"

namespace lm::kernels::ref {

void to_float_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}
void to_float_f16(const void* src, float* dst, int64_t n) {
  const auto* s = static_cast<const fp16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(s[i]);
}
void to_float_bf16(const void* src, float* dst, int64_t n) {
  const auto* s = static_cast<const bf16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(s[i]);
}
void from_float_f32(const float* src, void* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}
void from_float_f16(const float* src, void* dst, int64_t n) {
  auto* d = static_cast<fp16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_fp16(src[i]);
}
void from_float_bf16(const float* src, void* dst, int64_t n) {
  auto* d = static_cast<bf16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_bf16(src[i]);
}

// Float dot products accumulate in double: the reference must be more accurate than anything
// it is compared with.
float vec_dot_f32_f32(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const float*>(w);
  const auto* b = static_cast<const float*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(s);
}
float vec_dot_f16_f32(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const fp16_t*>(w);
  const auto* b = static_cast<const float*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(fp16_to_fp32(a[i])) * b[i];
  return static_cast<float>(s);
}
float vec_dot_bf16_f32(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const bf16_t*>(w);
  const auto* b = static_cast<const float*>(x);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(bf16_to_fp32(a[i])) * b[i];
  return static_cast<float>(s);
}

}  // namespace lm::kernels::ref
