// Spec checks of the quantized block layouts: hand-built blocks with known bytes must
// dequantize to values worked out by hand from the GGUF/ggml format description (not from our
// own decoder), so a layout mistake cannot hide behind a matching encoder.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kernels/ref/quant_ref.h"
#include "tensor/dtype.h"
#include "tensor/quants.h"

namespace lm {
namespace {

namespace r = lm::kernels::ref;

constexpr fp16_t kOne = 0x3C00;   // 1.0 in IEEE half
constexpr fp16_t kHalf = 0x3800;  // 0.5
constexpr fp16_t kQuarter = 0x3400;  // 0.25
constexpr fp16_t kMinusOne = 0xBC00;

TEST(QuantLayout, BlockSizesMatchDtypeTable) {
  EXPECT_EQ(sizeof(BlockQ4_0), dtype_info(DType::Q4_0).type_size);
  EXPECT_EQ(sizeof(BlockQ4_1), dtype_info(DType::Q4_1).type_size);
  EXPECT_EQ(sizeof(BlockQ5_0), dtype_info(DType::Q5_0).type_size);
  EXPECT_EQ(sizeof(BlockQ5_1), dtype_info(DType::Q5_1).type_size);
  EXPECT_EQ(sizeof(BlockQ8_0), dtype_info(DType::Q8_0).type_size);
  EXPECT_EQ(sizeof(BlockQ8_1), dtype_info(DType::Q8_1).type_size);
  EXPECT_EQ(sizeof(BlockQ2_K), dtype_info(DType::Q2_K).type_size);
  EXPECT_EQ(sizeof(BlockQ3_K), dtype_info(DType::Q3_K).type_size);
  EXPECT_EQ(sizeof(BlockQ4_K), dtype_info(DType::Q4_K).type_size);
  EXPECT_EQ(sizeof(BlockQ5_K), dtype_info(DType::Q5_K).type_size);
  EXPECT_EQ(sizeof(BlockQ6_K), dtype_info(DType::Q6_K).type_size);
  EXPECT_EQ(sizeof(BlockQ8_K), dtype_info(DType::Q8_K).type_size);
  EXPECT_EQ(dtype_info(DType::Q4_K).block_size, QK_K);
  EXPECT_EQ(dtype_info(DType::Q4_0).block_size, QK4_0);
}

TEST(QuantLayout, Q4_0NibblesSplitTheBlockInHalves) {
  BlockQ4_0 b{};
  b.d = kHalf;
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[32];
  r::dequantize_row_q4_0(&b, y, 32);
  EXPECT_EQ(y[0], -4.0f);     // (0 - 8) * 0.5
  EXPECT_EQ(y[15], 3.5f);     // (15 - 8) * 0.5
  EXPECT_EQ(y[16], 3.5f);     // high nibble of qs[0] = 15
  EXPECT_EQ(y[31], -4.0f);    // high nibble of qs[15] = 0
  EXPECT_EQ(y[9], 0.5f);
}

TEST(QuantLayout, Q4_1AddsTheMin) {
  BlockQ4_1 b{};
  b.d = kQuarter;
  b.m = kMinusOne;
  b.qs[3] = 0xA2;
  float y[32];
  r::dequantize_row_q4_1(&b, y, 32);
  EXPECT_EQ(y[3], 2 * 0.25f - 1.0f);
  EXPECT_EQ(y[19], 10 * 0.25f - 1.0f);
  EXPECT_EQ(y[0], -1.0f);
}

TEST(QuantLayout, Q5_0FifthBitIsLittleEndianQh) {
  BlockQ5_0 b{};
  b.d = kOne;
  b.qh[0] = 0x01;  // element 0
  b.qh[3] = 0x80;  // element 31
  b.qh[2] = 0x02;  // element 17
  b.qs[15] = 0xF0;
  b.qs[1] = 0x30;
  float y[32];
  r::dequantize_row_q5_0(&b, y, 32);
  EXPECT_EQ(y[0], 0.0f);     // 16 - 16
  EXPECT_EQ(y[1], -16.0f);   // 0 - 16
  EXPECT_EQ(y[31], 15.0f);   // (15 | 16) - 16
  EXPECT_EQ(y[17], 3.0f);    // (3 | 16) - 16
}

TEST(QuantLayout, Q5_1FifthBitAndMin) {
  BlockQ5_1 b{};
  b.d = kHalf;
  b.m = kOne;
  b.qh[1] = 0x04;  // element 10
  b.qs[10] = 0x01;
  float y[32];
  r::dequantize_row_q5_1(&b, y, 32);
  EXPECT_EQ(y[10], 17 * 0.5f + 1.0f);
  EXPECT_EQ(y[26], 1.0f);
}

TEST(QuantLayout, Q8_0AndQ8_K) {
  BlockQ8_0 b{};
  b.d = kHalf;
  b.qs[5] = -128;
  b.qs[6] = 127;
  float y[32];
  r::dequantize_row_q8_0(&b, y, 32);
  EXPECT_EQ(y[5], -64.0f);
  EXPECT_EQ(y[6], 63.5f);
  BlockQ8_K k{};
  k.d = 0.125f;
  k.qs[255] = -3;
  std::vector<float> z(256);
  r::dequantize_row_q8_k(&k, z.data(), 256);
  EXPECT_EQ(z[255], -0.375f);
}

// Q2_K: scales[j] = sc | m << 4; element 128 h + 32 g + l in bits 2g of qs[32 h + l].
TEST(QuantLayout, Q2_KScalesAndTwoBitGroups) {
  BlockQ2_K b{};
  b.d = kOne;
  b.dmin = kHalf;
  b.scales[2] = 0x35;   // sub-block 2: sc 5, m 3
  b.scales[8] = 0x0F;   // sub-block 8: sc 15, m 0
  b.qs[0] = 0xE4;       // g0 = 0, g1 = 1, g2 = 2, g3 = 3
  b.qs[36] = 0x03;      // h1, l 4, g0 = 3 -> element 132
  std::vector<float> y(256);
  r::dequantize_row_q2_k(&b, y.data(), 256);
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[32], 5 * 1 - 0.5f * 3);   // sub-block 2, q 1
  EXPECT_EQ(y[33], -1.5f);              // sub-block 2, q 0
  EXPECT_EQ(y[64], 0.0f);               // sub-block 4 has sc = m = 0
  EXPECT_EQ(y[132], 45.0f);             // sub-block 8, q 3
  EXPECT_EQ(y[133], 0.0f);
}

// Q3_K: 6-bit scales (low nibbles in bytes 0..7, high pairs in bytes 8..11), minus 32; level
// bit 2 from hmask bit (4 h + g) of hmask[l]; value (q - 4).
TEST(QuantLayout, Q3_KScalePackingAndHmask) {
  BlockQ3_K b{};
  b.d = kOne;
  b.scales[1] = 0x70;   // low nibble of scale 9 = 7
  b.scales[9] = 0x20;   // bits 4-5: high pair of scale 9 (8 + 9 % 4 = 9, shift 2 * (9 / 4) = 4)
  b.scales[5] = 0x0F;   // low nibble of scale 5 = 15
  b.scales[9] |= 0x08;  // bits 2-3: high pair of scale 5 = 2 -> 15 | 32 = 47 -> 15
  b.qs[48] = 0x02;      // element 144 = h1, g0, l16: low bits 2
  b.hmask[16] = 0x10;   // ... bit (4 * 1 + 0): high bit set -> q = 6 -> +2
  std::vector<float> y(256);
  r::dequantize_row_q3_k(&b, y.data(), 256);
  EXPECT_EQ(y[144], 7.0f * 2);     // scale 39 - 32 = 7, level 6 - 4
  EXPECT_EQ(y[145], 7.0f * -4);    // level 0 - 4
  EXPECT_EQ(y[0], -32.0f * -4);    // all-zero scale bytes mean scale -32
  EXPECT_EQ(y[80], 15.0f * -4);    // element 80 is in sub-block 5
  int8_t sc[16];
  unpack_q3_k_scales(b.scales, sc);
  EXPECT_EQ(sc[9], 7);
  EXPECT_EQ(sc[5], 15);
  EXPECT_EQ(sc[13], -32);
}

// Q4_K / Q5_K: scales j < 4 in the low 6 bits of bytes j (scale) and j + 4 (min); j >= 4 split
// between the nibbles of byte j + 4 and the top 2 bits of bytes j - 4 (scale) and j (min).
void fill_k4_block(uint8_t* scales, uint8_t* qs) {
  scales[1] = 0xC3;   // sc1 = 3; top bits 3 -> high bits of sc5
  scales[5] = 0x02;   // m1 = 2
  scales[2] = 0x80;   // top bits 2 -> high bits of sc6
  scales[10] = 0x51;  // sc6 low 1, m6 low 5
  scales[6] = 0x40;   // top bits 1 -> high bits of m6
  qs[0] = 0x70;       // element 32 (chunk 0, high nibble) = 7
  qs[96] = 0x0A;      // element 192 (chunk 3, low nibble) = 10
  qs[64] = 0x20;      // element 160 (chunk 2, high nibble) = 2
}

TEST(QuantLayout, Q4_KSixBitScalePacking) {
  BlockQ4_K b{};
  b.d = kOne;
  b.dmin = kOne;
  fill_k4_block(b.scales, b.qs);
  uint8_t sc, m;
  get_scale_min_k4(6, b.scales, &sc, &m);
  EXPECT_EQ(sc, 33);
  EXPECT_EQ(m, 21);
  std::vector<float> y(256);
  r::dequantize_row_q4_k(&b, y.data(), 256);
  EXPECT_EQ(y[0], 0.0f);              // sub-block 0: sc 0, m 0
  EXPECT_EQ(y[32], 3.0f * 7 - 2);     // sub-block 1
  EXPECT_EQ(y[33], -2.0f);
  EXPECT_EQ(y[192], 33.0f * 10 - 21);  // sub-block 6
  EXPECT_EQ(y[193], -21.0f);
  EXPECT_EQ(y[160], 48.0f * 2);       // sub-block 5: sc (0 | 3 << 4) = 48, m 0
}

TEST(QuantLayout, Q5_KHighBitsInQh) {
  BlockQ5_K b{};
  b.d = kOne;
  b.dmin = kOne;
  fill_k4_block(b.scales, b.qs);
  b.qh[0] = 0x60;  // bit 6: chunk 3 low nibble (element 192); bit 5: chunk 2 high (element 160)
  std::vector<float> y(256);
  r::dequantize_row_q5_k(&b, y.data(), 256);
  EXPECT_EQ(y[32], 3.0f * 7 - 2);
  EXPECT_EQ(y[192], 33.0f * 26 - 21);
  EXPECT_EQ(y[160], 48.0f * 18);
  EXPECT_EQ(y[224], 0.0f);    // sub-block 7 (sc 0, m 0)
}

// Q6_K: per half, ql[l] holds elements l (low) and l + 64 (high), ql[l + 32] elements l + 32
// and l + 96; qh[l] bit pairs 0, 2, 4, 6 for elements l, l + 32, l + 64, l + 96; value q - 32.
TEST(QuantLayout, Q6_KQlQhSplit) {
  BlockQ6_K b{};
  b.d = kOne;
  b.scales[0] = 2;
  b.scales[5] = -3;
  b.scales[15] = 1;
  b.ql[0] = 0x05;
  b.qh[0] = 0x02;      // element 0: 5 | 2 << 4 = 37 -> 5
  b.ql[16] = 0xF0;
  b.qh[16] = 0x30;     // element 80: 15 | 3 << 4 = 63 -> 31
  b.ql[64 + 48] = 0x10;
  b.qh[32 + 16] = 0x80;  // element 240: 1 | 2 << 4 = 33 -> 1
  std::vector<float> y(256);
  r::dequantize_row_q6_k(&b, y.data(), 256);
  EXPECT_EQ(y[0], 2.0f * 5);
  EXPECT_EQ(y[1], 2.0f * -32);
  EXPECT_EQ(y[80], -3.0f * 31);
  EXPECT_EQ(y[240], 1.0f);
  EXPECT_EQ(y[100], 0.0f);  // scale 0 sub-block
}

}  // namespace
}  // namespace lm
