// DimVector stores up to kInline entries without touching the heap and behaves like std::vector
// beyond; the move/copy paths differ between the two cases, so both are covered.
#include <gtest/gtest.h>

#include <sstream>
#include <utility>

#include "core/dim_vector.h"

namespace hy {
namespace {

DimVector range(size_t n) {
  DimVector v;
  for (size_t i = 0; i < n; ++i) v.push_back(static_cast<int64_t>(i * 10));
  return v;
}

std::string printed(const DimVector& v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

TEST(DimVector, ConstructorsAndAccess) {
  DimVector a{1, 2, 3};
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a.front(), 1);
  EXPECT_EQ(a.back(), 3);
  EXPECT_EQ(DimVector(4, 7), (DimVector{7, 7, 7, 7}));
  std::vector<int64_t> sv{5, 6};
  EXPECT_EQ(DimVector(sv), (DimVector{5, 6}));
  EXPECT_EQ(DimVector(sv.begin(), sv.end()).vec(), sv);
  EXPECT_TRUE(DimVector().empty());
}

TEST(DimVector, GrowsPastInlineCapacity) {
  for (size_t n : {size_t{0}, DimVector::kInline - 1, DimVector::kInline, DimVector::kInline + 1, size_t{40}}) {
    DimVector v = range(n);
    ASSERT_EQ(v.size(), n);
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(v[i], static_cast<int64_t>(i * 10)) << "n=" << n;
  }
}

TEST(DimVector, CopyIsDeepForInlineAndHeap) {
  for (size_t n : {size_t{3}, size_t{12}}) {
    DimVector a = range(n);
    DimVector b = a;
    b[0] = -1;
    EXPECT_EQ(a[0], 0) << n;
    DimVector c;
    c = a;
    EXPECT_EQ(c, a);
    c = c;  // self-assignment keeps the contents
    EXPECT_EQ(c, a);
  }
}

TEST(DimVector, MoveLeavesSourceEmpty) {
  for (size_t n : {size_t{3}, size_t{12}}) {
    DimVector a = range(n);
    DimVector b = std::move(a);
    EXPECT_EQ(b, range(n));
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): documented state
    DimVector c{9};
    c = std::move(b);
    EXPECT_EQ(c, range(n));
    c.push_back(1);  // still usable after moves
    EXPECT_EQ(c.back(), 1);
  }
}

TEST(DimVector, MoveFromInlineIntoHeapVector) {
  DimVector big = range(20);
  DimVector small{1, 2};
  big = std::move(small);
  EXPECT_EQ(big, (DimVector{1, 2}));
  big.push_back(3);
  EXPECT_EQ(big, (DimVector{1, 2, 3}));
}

TEST(DimVector, InsertAndErase) {
  DimVector v{1, 2, 4};
  v.insert(v.begin() + 2, 3);
  EXPECT_EQ(v, (DimVector{1, 2, 3, 4}));
  v.insert(v.begin(), 0);
  v.insert(v.end(), 5);
  v.insert(v.end(), 6);  // crosses into the heap
  EXPECT_EQ(v, (DimVector{0, 1, 2, 3, 4, 5, 6}));
  v.erase(v.begin());
  v.erase(v.begin() + 2);
  EXPECT_EQ(v, (DimVector{1, 2, 4, 5, 6}));
  v.pop_back();
  EXPECT_EQ(v.size(), 4u);
}

TEST(DimVector, ResizeAndClear) {
  DimVector v{1};
  v.resize(3, 9);
  EXPECT_EQ(v, (DimVector{1, 9, 9}));
  v.resize(10);
  EXPECT_EQ(v[9], 0);
  v.resize(2);
  EXPECT_EQ(v, (DimVector{1, 9}));
  v.clear();
  EXPECT_TRUE(v.empty());
}

TEST(DimVector, EqualityComparesSizeAndValues) {
  EXPECT_EQ((DimVector{1, 2}), (DimVector{1, 2}));
  EXPECT_NE((DimVector{1, 2}), (DimVector{1, 2, 3}));
  EXPECT_NE((DimVector{1, 2}), (DimVector{2, 1}));
  EXPECT_EQ(range(12), range(12));
}

TEST(DimVector, PrintsLikeAPythonTuple) {
  EXPECT_EQ(printed({}), "()");
  EXPECT_EQ(printed({5}), "(5,)");
  EXPECT_EQ(printed({2, 3}), "(2, 3)");
  EXPECT_EQ(printed({-1, 0, 7}), "(-1, 0, 7)");
}

}  // namespace
}  // namespace hy
