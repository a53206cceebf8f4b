// Run-time detection of the x86-64 SIMD extensions the kernels use, and the ISA level chosen.
//
// Levels, each a superset of the one before:
//   Scalar  the ref:: kernels (any x86-64, and every other architecture);
//   Avx2    AVX2 + FMA + F16C, with OS support for the YMM state;
//   Avx512  Avx2 + AVX-512 F/BW/DQ/VL/VNNI, with OS support for the ZMM and opmask state.
// The selected level is the best the CPU has, unless the environment variable LM_ISA
// (scalar|avx2|avx512) asks for a lower one; asking for one the CPU lacks logs a warning and
// keeps the best available. Both are computed once (first call) and are then constant.
// Thread-safety: all functions are safe to call from any thread.
#pragma once

#include <string_view>
#include <vector>

namespace lm::kernels {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false;
  bool avx512vnni = false, avx512bf16 = false;
  bool os_ymm = false;  // XGETBV: the OS saves the YMM state
  bool os_zmm = false;  // XGETBV: the OS saves the opmask and ZMM state
};

// What CPUID / XGETBV report (all false off x86-64).
const CpuFeatures& cpu_features();

// The best level this machine supports, ignoring LM_ISA.
Isa best_isa();

// The level kernels run at: best_isa(), lowered by LM_ISA.
Isa selected_isa();

// Every level this machine can run, lowest first (always starts with Scalar): what the tests
// and benchmarks loop over.
std::vector<Isa> available_isas();

// "scalar", "avx2", "avx512".
std::string_view isa_name(Isa isa);
inline std::string_view isa_name() { return isa_name(selected_isa()); }

// Parses an LM_ISA value; false when it names no level.
bool parse_isa(std::string_view s, Isa* out);

}  // namespace lm::kernels
