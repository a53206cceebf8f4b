#include "kernels/cpu/cpu_features.h"

#include <cstdint>
#include <cstdlib>

#include "core/log.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define LM_X86 1
#else
#define LM_X86 0
#endif

namespace lm::kernels {
namespace {

#if LM_X86
struct CpuidRegs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};

CpuidRegs cpuid(unsigned leaf, unsigned sub) {
  CpuidRegs r;
  __cpuid_count(leaf, sub, r.a, r.b, r.c, r.d);
  return r;
}

// XGETBV(0) without needing -mxsave on this file.
uint64_t xgetbv0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

bool bit(unsigned reg, int n) { return (reg >> n) & 1u; }

CpuFeatures detect() {
  CpuFeatures f;
  const unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 1) return f;
  const CpuidRegs l1 = cpuid(1, 0);
  f.fma = bit(l1.c, 12);
  f.f16c = bit(l1.c, 29);
  const bool osxsave = bit(l1.c, 27), avx = bit(l1.c, 28);
  if (osxsave && avx) {
    const uint64_t xcr0 = xgetbv0();
    f.os_ymm = (xcr0 & 0x6) == 0x6;     // SSE + AVX state
    f.os_zmm = (xcr0 & 0xe6) == 0xe6;   // + opmask, ZMM_Hi256, Hi16_ZMM
  }
  if (max_leaf >= 7) {
    const CpuidRegs l7 = cpuid(7, 0);
    f.avx2 = bit(l7.b, 5);
    f.avx512f = bit(l7.b, 16);
    f.avx512dq = bit(l7.b, 17);
    f.avx512bw = bit(l7.b, 30);
    f.avx512vl = bit(l7.b, 31);
    f.avx512vnni = bit(l7.c, 11);
    if (l7.a >= 1) f.avx512bf16 = bit(cpuid(7, 1).a, 5);
  }
  return f;
}
#else
CpuFeatures detect() { return {}; }
#endif

Isa compute_best() {
  const CpuFeatures& f = cpu_features();
  const bool avx2 = f.os_ymm && f.avx2 && f.fma && f.f16c;
  if (!avx2) return Isa::Scalar;
  const bool avx512 = f.os_zmm && f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl &&
                      f.avx512vnni;
  return avx512 ? Isa::Avx512 : Isa::Avx2;
}

Isa compute_selected() {
  const Isa best = best_isa();
  const char* env = std::getenv("LM_ISA");
  if (!env || !*env) return best;
  Isa want;
  if (!parse_isa(env, &want)) {
    log::warn("LM_ISA={}: unknown ISA (expected scalar, avx2 or avx512); using {}", env,
              isa_name(best));
    return best;
  }
  if (static_cast<int>(want) > static_cast<int>(best)) {
    log::warn("LM_ISA={}: this CPU lacks it; using {}", env, isa_name(best));
    return best;
  }
  return want;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

Isa best_isa() {
  static const Isa best = compute_best();
  return best;
}

Isa selected_isa() {
  static const Isa sel = compute_selected();
  return sel;
}

std::vector<Isa> available_isas() {
  std::vector<Isa> out;
  for (int i = 0; i <= static_cast<int>(best_isa()); ++i) out.push_back(static_cast<Isa>(i));
  return out;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

bool parse_isa(std::string_view s, Isa* out) {
  for (Isa i : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (s == isa_name(i)) {
      *out = i;
      return true;
    }
  }
  return false;
}

}  // namespace lm::kernels
