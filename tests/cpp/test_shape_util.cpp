// Shape arithmetic: every allocation size passes through these, so overflow and negative sizes must
// surface as ValueError, and dims out of range as IndexError.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "core/error.h"
#include "core/shape_util.h"

namespace hy {
namespace {

TEST(ShapeNumel, ProductOfDims) {
  EXPECT_EQ(shape_numel({}), 1);
  EXPECT_EQ(shape_numel({0}), 0);
  EXPECT_EQ(shape_numel({2, 3, 4}), 24);
  EXPECT_EQ(shape_numel({5, 0, 7}), 0);
}

TEST(ShapeNumel, NegativeDimIsValueError) {
  EXPECT_THROW(shape_numel({2, -1}), ValueError);
  try {
    shape_numel({3, -4});
    FAIL() << "no exception";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("-4"), std::string::npos) << e.what();
  }
}

TEST(ShapeNumel, OverflowIsValueError) {
  const int64_t big = int64_t{1} << 40;
  EXPECT_THROW(shape_numel({big, big}), ValueError);
  EXPECT_EQ(shape_numel({big, 2}), big * 2);
}

TEST(CheckedMul, DetectsOverflowAndNamesWhat) {
  EXPECT_EQ(checked_mul(6, 7, "x"), 42);
  EXPECT_EQ(checked_mul(-3, 5, "x"), -15);
  try {
    checked_mul(std::numeric_limits<int64_t>::max(), 2, "tensor size in bytes");
    FAIL() << "no exception";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor size in bytes"), std::string::npos) << e.what();
  }
}

TEST(ContiguousStrides, RowMajor) {
  EXPECT_EQ(contiguous_strides({2, 3, 4}), (Strides{12, 4, 1}));
  EXPECT_EQ(contiguous_strides({5}), (Strides{1}));
  EXPECT_EQ(contiguous_strides({}), (Strides{}));
  // Size-0 and size-1 dims never make strides 0: they count as 1.
  EXPECT_EQ(contiguous_strides({2, 0, 3}), (Strides{3, 3, 1}));
}

TEST(WrapDim, PositiveAndNegative) {
  EXPECT_EQ(wrap_dim(0, 3), 0);
  EXPECT_EQ(wrap_dim(2, 3), 2);
  EXPECT_EQ(wrap_dim(-1, 3), 2);
  EXPECT_EQ(wrap_dim(-3, 3), 0);
}

TEST(WrapDim, ScalarAcceptsZeroAndMinusOne) {
  EXPECT_EQ(wrap_dim(0, 0), 0);
  EXPECT_EQ(wrap_dim(-1, 0), 0);
  EXPECT_THROW(wrap_dim(1, 0), IndexError);
}

TEST(WrapDim, OutOfRangeIsIndexErrorNamingRange) {
  EXPECT_THROW(wrap_dim(3, 3), IndexError);
  EXPECT_THROW(wrap_dim(-4, 3), IndexError);
  try {
    wrap_dim(5, 2);
    FAIL() << "no exception";
  } catch (const IndexError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("-2 to 1"), std::string::npos) << msg;
  }
}

TEST(BroadcastShapes, NumPyRules) {
  EXPECT_EQ(broadcast_shapes({2, 3}, {2, 3}), (Shape{2, 3}));
  EXPECT_EQ(broadcast_shapes({2, 1}, {1, 3}), (Shape{2, 3}));
  EXPECT_EQ(broadcast_shapes({4, 2, 3}, {3}), (Shape{4, 2, 3}));
  EXPECT_EQ(broadcast_shapes({}, {5}), (Shape{5}));
  EXPECT_EQ(broadcast_shapes({0, 1}, {1, 4}), (Shape{0, 4}));
}

TEST(BroadcastShapes, MismatchNamesBothShapes) {
  try {
    broadcast_shapes({2, 3}, {4});
    FAIL() << "no exception";
  } catch (const ValueError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("(2, 3)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(4,)"), std::string::npos) << msg;
  }
}

TEST(StridesAreContiguous, Layouts) {
  EXPECT_TRUE(strides_are_contiguous({2, 3}, {3, 1}));
  EXPECT_FALSE(strides_are_contiguous({2, 3}, {1, 2}));  // transposed
  EXPECT_TRUE(strides_are_contiguous({2, 1, 3}, {3, 99, 1}));  // size-1 dims are ignored
  EXPECT_TRUE(strides_are_contiguous({2, 0}, {7, 5}));  // empty tensors are contiguous
  EXPECT_FALSE(strides_are_contiguous({4}, {2}));
  EXPECT_TRUE(strides_are_contiguous({}, {}));
}

}  // namespace
}  // namespace hy
