// Views share storage and only change geometry (shape, strides, offset). These tests pin down the
// geometry of each view op and that every view stays inside its storage.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/tensor.h"
#include "hyflow/ops/tensor.h"
#include "kernels/cpu/gemm.h"

namespace hy {
namespace {

// A float32 tensor of `shape` holding 0, 1, 2, ... in row-major order.
Tensor iota(const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::Float32);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(i);
  return t;
}

// Element at multi-index `idx`, read through the strides.
float at(const Tensor& t, std::initializer_list<int64_t> idx) {
  int64_t off = 0, d = 0;
  for (int64_t i : idx) off += i * t.strides()[static_cast<size_t>(d++)];
  return t.data<float>()[off];
}

TEST(Views, EmptyIsContiguousRowMajor) {
  Tensor t = Tensor::empty({2, 3, 4}, DType::Float64);
  EXPECT_EQ(t.strides(), (Strides{12, 4, 1}));
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.nbytes(), 24 * 8);
  EXPECT_EQ(t.offset(), 0);
}

TEST(Views, TransposeSwapsStridesAndSharesStorage) {
  Tensor t = iota({2, 3});
  Tensor tt = ops::transpose(t, 0, 1);
  EXPECT_EQ(tt.shape(), (Shape{3, 2}));
  EXPECT_EQ(tt.strides(), (Strides{1, 3}));
  EXPECT_FALSE(tt.is_contiguous());
  EXPECT_TRUE(tt.shares_storage(t));
  EXPECT_EQ(at(tt, {2, 1}), at(t, {1, 2}));
}

TEST(Views, PermuteReordersDims) {
  Tensor t = iota({2, 3, 4});
  Tensor p = ops::permute(t, {2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Strides{1, 12, 4}));
  EXPECT_EQ(at(p, {3, 1, 2}), at(t, {1, 2, 3}));
  EXPECT_THROW(ops::permute(t, {0, 0, 1}), ValueError);
  EXPECT_THROW(ops::permute(t, {0, 1}), ValueError);
}

TEST(Views, ViewOfContiguousAndInferredDim) {
  Tensor t = iota({2, 6});
  Tensor v = ops::view(t, {3, -1});
  EXPECT_EQ(v.shape(), (Shape{3, 4}));
  EXPECT_EQ(v.strides(), (Strides{4, 1}));
  EXPECT_TRUE(v.shares_storage(t));
  EXPECT_THROW(ops::view(t, {5, -1}), ValueError);
  EXPECT_THROW(ops::view(t, {-1, -1}), ValueError);
}

TEST(Views, ViewOfTransposedNeedsCopyReshapeDoesIt) {
  Tensor t = iota({2, 3});
  Tensor tt = ops::transpose(t, 0, 1);
  EXPECT_THROW(ops::view(tt, {6}), ValueError);
  Tensor r = ops::reshape(tt, {6});
  EXPECT_TRUE(r.is_contiguous());
  EXPECT_FALSE(r.shares_storage(t));
  const float expected[6] = {0, 3, 1, 4, 2, 5};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(r.data<float>()[i], expected[i]) << i;
}

TEST(Views, ReshapeOfContiguousIsAView) {
  Tensor t = iota({4, 3});
  Tensor r = ops::reshape(t, {2, 2, 3});
  EXPECT_TRUE(r.shares_storage(t));
  EXPECT_EQ(r.strides(), (Strides{6, 3, 1}));
}

TEST(Views, ExpandUsesZeroStrides) {
  Tensor t = iota({3, 1});
  Tensor e = ops::expand(t, {2, 3, 4});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(e.strides(), (Strides{0, 1, 0}));
  EXPECT_EQ(at(e, {1, 2, 3}), 2.0f);
  EXPECT_THROW(ops::expand(t, {3, 2, 4}), ValueError);
  EXPECT_THROW(ops::expand(t, {4}), ValueError);
}

TEST(Views, SelectDropsDimAndMovesOffset) {
  Tensor t = iota({3, 4});
  Tensor row = ops::select(t, 0, 2);
  EXPECT_EQ(row.shape(), (Shape{4}));
  EXPECT_EQ(row.offset(), 8);
  Tensor col = ops::select(t, 1, -1);
  EXPECT_EQ(col.shape(), (Shape{3}));
  EXPECT_EQ(col.strides(), (Strides{4}));
  EXPECT_EQ(col.offset(), 3);
  EXPECT_THROW(ops::select(t, 0, 3), IndexError);
  EXPECT_THROW(ops::select(t, 2, 0), IndexError);
}

TEST(Views, SliceWithStepAndClamping) {
  Tensor t = iota({10});
  Tensor s = ops::slice(t, 0, 1, 8, 3);  // 1, 4, 7
  EXPECT_EQ(s.shape(), (Shape{3}));
  EXPECT_EQ(s.strides(), (Strides{3}));
  EXPECT_EQ(s.offset(), 1);
  EXPECT_EQ(at(s, {2}), 7.0f);
  Tensor all = ops::slice(t, 0, -100, 100, 1);
  EXPECT_EQ(all.shape(), (Shape{10}));
  Tensor none = ops::slice(t, 0, 7, 2, 1);
  EXPECT_EQ(none.numel(), 0);
  EXPECT_THROW(ops::slice(t, 0, 0, 5, 0), ValueError);
}

TEST(Views, SqueezeUnsqueezeFlatten) {
  Tensor t = iota({2, 1, 3});
  EXPECT_EQ(ops::squeeze(t).shape(), (Shape{2, 3}));
  EXPECT_EQ(ops::squeeze(t, DimVector{0}).shape(), (Shape{2, 1, 3}));  // size 2: kept
  Tensor u = ops::unsqueeze(t, -1);
  EXPECT_EQ(u.shape(), (Shape{2, 1, 3, 1}));
  EXPECT_TRUE(u.is_contiguous());
  EXPECT_EQ(ops::flatten(t).shape(), (Shape{6}));
  EXPECT_EQ(ops::flatten(iota({2, 3, 4}), 1, 2).shape(), (Shape{2, 12}));
}

TEST(Views, AsStridedBoundsAreChecked) {
  Tensor t = iota({6});
  Tensor w = ops::as_strided(t, {3, 2}, {1, 1}, 0);  // sliding windows
  EXPECT_EQ(at(w, {2, 1}), 3.0f);
  EXPECT_THROW(ops::as_strided(t, {3, 3}, {2, 1}, 0), ValueError);  // reaches element 6
  EXPECT_THROW(ops::as_strided(t, {2}, {1}, 5), ValueError);
  EXPECT_THROW(ops::as_strided(t, {-1}, {1}, 0), ValueError);
}

TEST(Views, MakeViewRejectsOutOfStorage) {
  Tensor t = iota({4});
  EXPECT_NO_THROW(Tensor::make_view(t, {2, 2}, {2, 1}, 0));
  EXPECT_THROW(Tensor::make_view(t, {2, 2}, {2, 1}, 1), ValueError);
  EXPECT_THROW(Tensor::make_view(t, {2}, {1, 1}, 0), ValueError);
  EXPECT_THROW(Tensor::make_view(t, {1}, {1}, -1), ValueError);
  EXPECT_NO_THROW(Tensor::make_view(t, {0, 100}, {100, 1}, 0));  // empty views address nothing
}

TEST(Views, ContiguousCopiesOnlyWhenNeeded) {
  Tensor t = iota({3, 2});
  Tensor tt = ops::transpose(t, 0, 1);
  Tensor c = ops::contiguous(tt);
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_FALSE(c.shares_storage(t));
  EXPECT_EQ(c.data<float>()[1], 2.0f);
  EXPECT_TRUE(ops::contiguous(t).shares_storage(t));
}

TEST(Views, WritesThroughAViewBumpSharedVersion) {
  Tensor t = iota({2, 2});
  Tensor v = ops::select(t, 0, 1);
  uint64_t before = t.storage()->version();
  ops::fill_(v, Scalar(7.0));
  EXPECT_GT(t.storage()->version(), before);
  EXPECT_EQ(at(t, {1, 0}), 7.0f);
  EXPECT_EQ(at(t, {0, 0}), 0.0f);
}

// The GEMM reads its operands through (ld, trans) derived from the strides; an empty operand whose strides
// fit no layout (NumPy's (3, 0) arrays have strides (0, 0)) left them unset, an uninitialized read that
// UBSan reports (found by scripts/sanitize.sh in matmul's "empty k" case).
TEST(Views, GemmLayoutOfEmptyMatrixIsAlwaysSet) {
  int64_t ld = -7;
  bool trans = true;
  EXPECT_TRUE(cpu::gemm_layout(3, 0, 0, 0, &ld, &trans));
  EXPECT_FALSE(trans);
  EXPECT_EQ(ld, 1);
  EXPECT_TRUE(cpu::gemm_layout(0, 5, 0, 0, &ld, &trans));
  EXPECT_EQ(ld, 5);
  EXPECT_FALSE(cpu::gemm_layout(3, 4, 1, 1, &ld, &trans));  // overlapping rows: needs a copy
}

}  // namespace
}  // namespace hy
