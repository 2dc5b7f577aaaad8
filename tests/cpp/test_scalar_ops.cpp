// The two implementations of the scalar expression language's vectorized functions agree: the eager
// kernels' Eigen functors (hyflow/ops/scalar_ops_eigen_generated.h: Eigen's packet math and ours,
// kernels/cpu/packet_math.h, run here through unaryExpr so both its packet path and its scalar tail run)
// and the plain functors over
// kernels/scalar_math.h that generated code calls (libm). Also the primitives' dtype rules.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "hyflow/ops/scalar_ops_eigen_generated.h"
#include "hyflow/ops/scalar_ops_generated.h"

namespace hy {
namespace {

template <typename T> std::vector<T> sample_inputs() {
  std::vector<T> xs;
  for (int i = -4000; i <= 4000; ++i) xs.push_back(static_cast<T>(i) / T(400));  // [-10, 10]
  for (T v : {T(0), T(-0.0), T(1e-30), T(-1e-30), T(30), T(-30), T(80), T(-80), T(1e6), T(-1e6),
              std::numeric_limits<T>::infinity(), -std::numeric_limits<T>::infinity(),
              std::numeric_limits<T>::quiet_NaN()})
    xs.push_back(v);
  return xs;
}

// |eigen - plain| <= atol + rtol * |plain|, NaN where the other is NaN, equal infinities.
template <typename T, template <typename> class PacketOp, typename PlainOp, typename... P>
void expect_agree(const char* name, T rtol, T atol, P... params) {
  using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
  std::vector<T> xs = sample_inputs<T>();
  Eigen::Map<const Array> in(xs.data(), static_cast<Eigen::Index>(xs.size()));
  Array eig = in.unaryExpr(PacketOp<T>(params...));
  PlainOp plain(params...);
  int bad = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const T want = plain(xs[i]), got = eig[static_cast<Eigen::Index>(i)];
    const bool ok = (std::isnan(want) && std::isnan(got)) || want == got ||
                    (std::isfinite(want) && std::abs(got - want) <= atol + rtol * std::abs(want));
    if (!ok && ++bad <= 3)
      ADD_FAILURE() << name << "(" << xs[i] << "): Eigen " << got << ", scalar_math.h " << want;
  }
}

namespace so = hy::scalar_ops;

template <typename T> void check_all(T rtol, T atol) {
  expect_agree<T, so::exp_packet, so::exp>("exp", rtol, atol);
  expect_agree<T, so::expm1_packet, so::expm1>("expm1", rtol, atol);
  expect_agree<T, so::log_packet, so::log>("log", rtol, atol);
  expect_agree<T, so::log1p_packet, so::log1p>("log1p", rtol, atol);
  expect_agree<T, so::sin_packet, so::sin>("sin", rtol, atol);
  expect_agree<T, so::cos_packet, so::cos>("cos", rtol, atol);
  expect_agree<T, so::tan_packet, so::tan>("tan", rtol * 10, atol);  // tan's poles magnify rounding
  expect_agree<T, so::tanh_packet, so::tanh>("tanh", rtol, atol);
  expect_agree<T, so::erf_packet, so::erf>("erf", rtol, atol);
  expect_agree<T, so::sigmoid_packet, so::sigmoid>("sigmoid", rtol, atol);
  expect_agree<T, so::silu_packet, so::silu>("silu", rtol, atol);
  expect_agree<T, so::gelu_none_packet, so::gelu_none>("gelu", rtol, atol);
  expect_agree<T, so::gelu_tanh_packet, so::gelu_tanh>("gelu tanh", rtol, atol);
  expect_agree<T, so::softplus_packet, so::softplus>("softplus", rtol, atol, 1.0, 20.0);
  expect_agree<T, so::softplus_packet, so::softplus>("softplus beta=2", rtol, atol, 2.0, 5.0);
  // Exact in both forms: correctly rounded or exact operations.
  expect_agree<T, so::sqrt_packet, so::sqrt>("sqrt", T(0), T(0));
  expect_agree<T, so::rsqrt_packet, so::rsqrt>("rsqrt", T(0), T(0));
  expect_agree<T, so::reciprocal_packet, so::reciprocal>("reciprocal", T(0), T(0));
  expect_agree<T, so::floor_packet, so::floor>("floor", T(0), T(0));
  expect_agree<T, so::ceil_packet, so::ceil>("ceil", T(0), T(0));
  expect_agree<T, so::trunc_packet, so::trunc>("trunc", T(0), T(0));
  expect_agree<T, so::round_whole_packet, so::round_whole>("round", T(0), T(0));
  expect_agree<T, so::round_up_packet, so::round_up>("round decimals=2", T(0), T(0), int64_t(2));
  expect_agree<T, so::round_down_packet, so::round_down>("round decimals=-1", T(0), T(0), int64_t(-1));
}

TEST(ScalarOps, EigenAndPlainAgreeFloat) { check_all<float>(2e-6f, 1e-6f); }
TEST(ScalarOps, EigenAndPlainAgreeDouble) { check_all<double>(1e-13, 1e-15); }

TEST(ScalarOps, IntegerArithmeticWraps) {
  const int32_t mn = std::numeric_limits<int32_t>::min(), mx = std::numeric_limits<int32_t>::max();
  EXPECT_EQ(so::add(1.0)(mx, int32_t(1)), mn);
  EXPECT_EQ(so::sub(1.0)(mn, int32_t(1)), mx);
  EXPECT_EQ(so::neg{}(mn), mn);
  EXPECT_EQ(so::abs{}(mn), mn);
  EXPECT_EQ(so::square{}(int32_t(1 << 16)), 0);
  EXPECT_EQ(so::div_trunc{}(mn, int32_t(-1)), mn);
  EXPECT_EQ(so::floor_divide{}(mn, int32_t(-1)), mn);
  EXPECT_EQ(so::remainder{}(mn, int32_t(-1)), 0);
  EXPECT_EQ(so::pow{}(int64_t(3), int64_t(41)), int64_t(-420491770248316829));  // 3^41 mod 2^64
}

TEST(ScalarOps, NumPyDivisionAndNaNRules) {
  EXPECT_EQ(so::floor_divide{}(int32_t(-7), int32_t(2)), -4);
  EXPECT_EQ(so::remainder{}(int32_t(-7), int32_t(2)), 1);
  EXPECT_EQ(so::remainder{}(7.0, -2.0), -1.0);
  EXPECT_TRUE(std::signbit(so::remainder{}(-4.0, 2.0)) == false);  // a zero remainder takes b's sign
  EXPECT_TRUE(std::isnan(so::maximum{}(1.0, std::nan(""))));
  EXPECT_TRUE(std::isnan(so::minimum{}(std::nan(""), 1.0)));
  EXPECT_TRUE(std::isnan(so::clamp_tensor_min{}(std::nan(""), 0.0)));
  EXPECT_TRUE(std::signbit(so::clamp_tensor_min{}(-0.0, 0.0)));  // x == lo keeps x
  EXPECT_EQ(so::sign{}(std::nan("")), 0.0);
  EXPECT_EQ(so::round_int_down(-1)(int64_t(25)), 20);  // ties to even
  EXPECT_EQ(so::round_int_down(-1)(int64_t(35)), 40);
  EXPECT_EQ(so::where{}(true, uint32_t(7), uint32_t(9)), 7u);
  EXPECT_EQ(so::where{}(false, uint32_t(7), uint32_t(9)), 9u);
}

}  // namespace
}  // namespace hy
