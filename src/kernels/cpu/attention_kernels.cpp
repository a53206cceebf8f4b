// Choice of the attention row kernel (attention_kernels.h). No ISA flags here.
#include "kernels/cpu/attention_kernels.h"

#include "kernels/cpu/cpu_features.h"

namespace lm::kernels {

AttnRowFn attn_row_kernel(int32_t head_dim) {
  switch (selected_isa()) {
    case Isa::Avx512: return head_dim % 16 == 0 ? avx512::attn_row : nullptr;
    case Isa::Avx2: return head_dim % 8 == 0 ? avx2::attn_row : nullptr;
    default: return nullptr;
  }
}

}  // namespace lm::kernels
