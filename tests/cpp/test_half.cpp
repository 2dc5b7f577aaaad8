// float16 / bfloat16 conversions: exhaustive round trips over every 16-bit pattern, IEEE rounding to
// nearest even, overflow to infinity, subnormals and NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/half.h"

namespace hy {
namespace {

float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(Half, ExactValues) {
  EXPECT_EQ(Half(1.0f).bits, 0x3c00);
  EXPECT_EQ(Half(-2.0f).bits, 0xc000);
  EXPECT_EQ(Half(0.5f).bits, 0x3800);
  EXPECT_EQ(Half(65504.0f).bits, 0x7bff);  // largest finite
  EXPECT_EQ(Half(0.0f).bits, 0x0000);
  EXPECT_EQ(Half(-0.0f).bits, 0x8000);
  EXPECT_EQ(static_cast<float>(Half(3.140625f)), 3.140625f);
}

TEST(Half, EveryPatternRoundTrips) {
  for (uint32_t b = 0; b <= 0xffff; ++b) {
    Half h;
    h.bits = static_cast<uint16_t>(b);
    float f = h;
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(static_cast<float>(Half(f)))) << std::hex << b;
      continue;
    }
    ASSERT_EQ(Half(f).bits, b) << std::hex << b << " -> " << f;
  }
}

TEST(Half, RoundsToNearestEven) {
  // 1 + 2^-11 lies halfway between 1 and the next half (1 + 2^-10): ties go to the even mantissa.
  EXPECT_EQ(Half(1.0f + std::ldexp(1.0f, -11)).bits, 0x3c00);
  EXPECT_EQ(Half(1.0f + 3 * std::ldexp(1.0f, -11)).bits, 0x3c02);
  EXPECT_EQ(Half(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)).bits, 0x3c01);  // above the tie
}

TEST(Half, OverflowGoesToInfinity) {
  EXPECT_EQ(Half(65520.0f).bits, 0x7c00);  // rounds up past the largest finite
  EXPECT_EQ(Half(65519.0f).bits, 0x7bff);
  EXPECT_EQ(Half(1e10f).bits, 0x7c00);
  EXPECT_EQ(Half(-1e10f).bits, 0xfc00);
  EXPECT_EQ(Half(std::numeric_limits<float>::infinity()).bits, 0x7c00);
}

TEST(Half, Subnormals) {
  const float smallest = std::ldexp(1.0f, -24);
  EXPECT_EQ(Half(smallest).bits, 0x0001);
  EXPECT_EQ(static_cast<float>(Half(smallest)), smallest);
  EXPECT_EQ(Half(smallest * 0.5f).bits, 0x0000);      // tie: to even (zero)
  EXPECT_EQ(Half(smallest * 0.75f).bits, 0x0001);
  EXPECT_EQ(Half(std::ldexp(1.0f, -14)).bits, 0x0400);  // smallest normal
  EXPECT_EQ(Half(-smallest).bits, 0x8001);
}

TEST(Half, NaNStaysNaN) {
  Half h(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(h.bits & 0x7c00, 0x7c00);
  EXPECT_NE(h.bits & 0x03ff, 0);
  EXPECT_TRUE(std::isnan(static_cast<float>(h)));
}

TEST(BFloat16, EveryPatternRoundTrips) {
  for (uint32_t b = 0; b <= 0xffff; ++b) {
    BFloat16 h;
    h.bits = static_cast<uint16_t>(b);
    float f = h;
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(static_cast<float>(BFloat16(f)))) << std::hex << b;
      continue;
    }
    ASSERT_EQ(f, bits_to_float(b << 16)) << std::hex << b;
    ASSERT_EQ(BFloat16(f).bits, b) << std::hex << b;
  }
}

TEST(BFloat16, RoundsToNearestEven) {
  EXPECT_EQ(BFloat16(1.0f).bits, 0x3f80);
  // 1 + 2^-8 is the tie between 1 and 1 + 2^-7: to even.
  EXPECT_EQ(BFloat16(1.0f + std::ldexp(1.0f, -8)).bits, 0x3f80);
  EXPECT_EQ(BFloat16(1.0f + 3 * std::ldexp(1.0f, -8)).bits, 0x3f82);
  EXPECT_EQ(BFloat16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -16)).bits, 0x3f81);
  EXPECT_EQ(BFloat16(3.4e38f).bits, 0x7f80);  // rounds past the largest finite to infinity
}

TEST(BFloat16, NaNStaysQuietNaN) {
  uint32_t snan = 0x7f800001u;  // a signalling NaN whose payload lives only in the dropped bits
  BFloat16 h(bits_to_float(snan));
  EXPECT_TRUE(std::isnan(static_cast<float>(h)));
}

}  // namespace
}  // namespace hy
