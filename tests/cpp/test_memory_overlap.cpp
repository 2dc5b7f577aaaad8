// core/memory_overlap: the geometry behind the in-place / out= rules (docs/tensors.md). The layout test
// is checked against brute force over every small as_strided layout; the input tests pin the cases the
// front functions rely on (exact alias, broadcast, separate storages, lists walked in step).
#include <gtest/gtest.h>

#include <set>

#include "core/memory_overlap.h"
#include "core/tensor.h"

namespace hy {
namespace {

Tensor view(const Tensor& base, Shape shape, Strides strides, int64_t offset = 0) {
  return Tensor::make_view(base, std::move(shape), std::move(strides), offset);
}

// Ground truth: do two multi-indices of (shape, strides) land on one offset?
bool brute_force_overlap(const Shape& shape, const Strides& strides) {
  std::set<int64_t> seen;
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i, off = 0;
    for (size_t d = shape.size(); d-- > 0;) {
      off += (rem % shape[d]) * strides[d];
      rem /= shape[d];
    }
    if (!seen.insert(off).second) return true;
  }
  return false;
}

TEST(MemoryOverlap, InternalOverlapMatchesBruteForceOnSmallLayouts) {
  Tensor base = Tensor::empty({256}, DType::Float32);
  int checked = 0;
  for (int64_t n0 = 1; n0 <= 4; ++n0)
    for (int64_t n1 = 1; n1 <= 4; ++n1)
      for (int64_t n2 = 1; n2 <= 3; ++n2)
        for (int64_t s0 = 0; s0 <= 7; ++s0)
          for (int64_t s1 = 0; s1 <= 7; ++s1)
            for (int64_t s2 = 0; s2 <= 7; ++s2) {
              Shape shape{n0, n1, n2};
              Strides strides{s0, s1, s2};
              Tensor t = view(base, shape, strides);
              ASSERT_EQ(has_internal_overlap(t), brute_force_overlap(shape, strides))
                  << "shape " << shape << " strides " << strides;
              ++checked;
            }
  EXPECT_GT(checked, 20000);
}

TEST(MemoryOverlap, ExpandedOutputIsRefusedWithOpAndArgumentNamed) {
  Tensor base = Tensor::empty({4}, DType::Float32);
  Tensor expanded = view(base, {3, 4}, {0, 1});
  try {
    check_written_layout("add_", "self", expanded);
    FAIL() << "an expanded output must raise";
  } catch (const RuntimeError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("add_: self", 0), 0u) << e.what();
  }
  EXPECT_NO_THROW(check_written_layout("add_", "self", view(base, {4, 1}, {1, 0})));  // size-1 dim: no alias
  EXPECT_NO_THROW(check_written_layout("add_", "self", view(base, {0, 4}, {0, 1})));  // no elements at all
}

TEST(MemoryOverlap, ExactAliasNeedsNoCopyOnlyWhenTheOpAllowsIt) {
  Tensor x = Tensor::empty({3, 3}, DType::Float32);
  Tensor same = view(x, {3, 3}, {3, 1});  // another handle on exactly x's elements
  EXPECT_TRUE(same_elements(x, same));
  EXPECT_FALSE(input_needs_copy(x, same, /*exact_alias_ok=*/true));
  EXPECT_TRUE(input_needs_copy(x, same, /*exact_alias_ok=*/false));
  EXPECT_TRUE(input_needs_copy(x, x, false));
}

TEST(MemoryOverlap, PartialOverlapNeedsACopy) {
  Tensor x = Tensor::empty({4, 4}, DType::Float32);
  EXPECT_TRUE(input_needs_copy(x, view(x, {4, 4}, {1, 4}), true));          // x.T
  EXPECT_TRUE(input_needs_copy(view(x, {3, 4}, {4, 1}, 4), view(x, {3, 4}, {4, 1}), true));  // x[1:] vs x[:-1]
  EXPECT_TRUE(input_needs_copy(x, view(x, {4}, {1}), true));                 // x[0] broadcast over rows
  EXPECT_FALSE(input_needs_copy(view(x, {2, 4}, {4, 1}), view(x, {2, 4}, {4, 1}, 8), true));  // disjoint halves
  EXPECT_FALSE(input_needs_copy(x, Tensor::empty({4, 4}, DType::Float32), false));  // another allocation
}

TEST(MemoryOverlap, TwoStoragesOverOneBufferAreCompared) {
  // Two imports of one NumPy buffer: different StorageImpl objects, same bytes.
  Tensor owner = Tensor::empty({16}, DType::Float32);
  auto alias = std::make_shared<StorageImpl>(owner.raw_data(), owner.nbytes(), kCPU, owner.storage());
  Tensor a = view(owner, {4, 4}, {4, 1});
  Tensor b_t = Tensor(std::make_shared<TensorImpl>(alias, Shape{4, 4}, Strides{1, 4}, 0, DType::Float32));
  Tensor b = Tensor(std::make_shared<TensorImpl>(alias, Shape{4, 4}, Strides{4, 1}, 0, DType::Float32));
  EXPECT_TRUE(input_needs_copy(a, b_t, true));
  EXPECT_FALSE(input_needs_copy(a, b, true));  // the same elements, seen through the other storage
}

TEST(MemoryOverlap, ListsWalkedInStepAllowAnExactAliasOnlyAtTheSamePosition) {
  Tensor p = Tensor::empty({8}, DType::Float32), q = Tensor::empty({8}, DType::Float32);
  EXPECT_FALSE(input_needs_copy(std::vector<Tensor>{p, q}, std::vector<Tensor>{p, q}, true));
  EXPECT_TRUE(input_needs_copy(std::vector<Tensor>{p, q}, std::vector<Tensor>{q, p}, true));
  EXPECT_TRUE(input_needs_copy(std::vector<Tensor>{p, q}, std::vector<Tensor>{p, q}, false));
  Tensor flat = Tensor::empty({16}, DType::Float32);
  std::vector<Tensor> params{view(flat, {8}, {1}), view(flat, {8}, {1}, 8)};
  EXPECT_TRUE(input_needs_copy(params, std::vector<Tensor>{view(flat, {8}, {1}, 4)}, true));
  EXPECT_FALSE(input_needs_copy(params, std::vector<Tensor>{Tensor::empty({8}, DType::Float32)}, true));
}

}  // namespace
}  // namespace hy
