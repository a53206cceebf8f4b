// Choice of the attention tile kernel (attention_kernels.h). No ISA flags here.
#include "kernels/cpu/attention_kernels.h"

#include "kernels/cpu/cpu_features.h"

namespace lm::kernels {

AttnTileFn attn_tile_kernel(int32_t head_dim) {
  switch (selected_isa()) {
    case Isa::Avx512:
      if (head_dim % 16 == 0) return avx512::attn_tile;
      return head_dim % 8 == 0 ? avx2::attn_tile : nullptr;
    case Isa::Avx2: return head_dim % 8 == 0 ? avx2::attn_tile : nullptr;
    default: return nullptr;
  }
}

}  // namespace lm::kernels
