// Choice of the activation kernels (activation.h). No ISA flags here.
#include "kernels/cpu/activation.h"

#include "kernels/ref/ops.h"

namespace lm::kernels {

SwigluFn swiglu_kernel(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return avx512::swiglu;
    case Isa::Avx2: return avx2::swiglu;
    default: return ref::swiglu;
  }
}

SwigluFn swiglu_kernel() { return swiglu_kernel(selected_isa()); }

ExpFn exp_kernel(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return avx512::vec_exp;
    case Isa::Avx2: return avx2::vec_exp;
    default: return nullptr;
  }
}

}  // namespace lm::kernels
