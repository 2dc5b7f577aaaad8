// The elementwise loop engine shared by every CPU kernel that maps over elements (unary, binary,
// ternary, copy/cast, fills). It broadcasts operands to the output shape, merges dims that are
// contiguous in every operand (so a contiguous tensor of any rank becomes one flat loop), splits the
// flat index range across the thread pool, and hands each chunk to a row function
//   row(char* ptrs[N], const int64_t byte_strides[N], int64_t n)
// that the kernel writes once with a vectorizable contiguous path and a strided fallback.
//
//   ElementwisePlan<3> plan(out.shape(), {&out, &a, &b});
//   plan.run([&](char** p, const int64_t* s, int64_t n) { binary_row<float>(p, s, n, add_fn); });
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>

#include "core/parallel.h"
#include "core/tensor.h"

namespace hy::cpu {

/// Strides (in bytes) of `t` broadcast to `shape`; 0 for broadcast dims. Throws on incompatibility.
DimVector broadcast_byte_strides(const Tensor& t, const Shape& shape);

/// Iteration plan over N operands (operand 0 is usually the output) that share one shape.
template <int N>
class ElementwisePlan {
 public:
  ElementwisePlan(const Shape& shape, std::array<const Tensor*, N> operands) {
    std::array<DimVector, N> st;
    for (int k = 0; k < N; ++k) {
      st[k] = broadcast_byte_strides(*operands[k], shape);
      base_[k] = static_cast<char*>(operands[k]->raw_data());
    }
    numel_ = 1;
    for (int64_t d : shape) numel_ *= d;
    // Visit dims in the output's memory order (largest stride outermost; ties broken by the inputs),
    // so a transposed output and its transposed inputs are streamed, not strided through.
    DimVector order(shape.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      for (int k = 0; k < N; ++k) {
        int64_t sa = st[k][a] < 0 ? -st[k][a] : st[k][a], sb = st[k][b] < 0 ? -st[k][b] : st[k][b];
        if (sa != sb) return sa > sb;
      }
      return false;
    });
    // Drop size-1 dims, then merge neighbours whose strides chain (outer stride = inner stride * size).
    for (int64_t i : order) {
      if (shape[i] == 1) continue;
      bool merge = !shape_.empty();
      for (int k = 0; k < N && merge; ++k) merge = strides_[k].back() == st[k][i] * shape[i];
      if (merge) {
        shape_.back() *= shape[i];
        for (int k = 0; k < N; ++k) strides_[k].back() = st[k][i];
      } else {
        shape_.push_back(shape[i]);
        for (int k = 0; k < N; ++k) strides_[k].push_back(st[k][i]);
      }
    }
    if (shape_.empty()) {  // 0-d or all-ones: one element
      shape_.push_back(1);
      for (int k = 0; k < N; ++k) strides_[k].push_back(0);
    }
  }

  int64_t numel() const { return numel_; }

  /// Call row() over every element, in parallel chunks when the work is large.
  template <typename Row>
  void run(const Row& row, int64_t grain = kGrainElementwise) const {
    if (numel_ == 0) return;
    parallel_for(0, numel_, grain, [&](int64_t begin, int64_t end) { run_range(row, begin, end); });
  }

 private:
  template <typename Row>
  void run_range(const Row& row, int64_t begin, int64_t end) const {
    const int nd = static_cast<int>(shape_.size());
    const int64_t inner = shape_[nd - 1];
    // Multi-index of `begin` over the outer dims, and the pointers it maps to.
    DimVector idx(nd, 0);
    int64_t rem = begin / inner;
    for (int d = nd - 2; d >= 0; --d) {
      idx[d] = rem % shape_[d];
      rem /= shape_[d];
    }
    int64_t col = begin % inner;
    std::array<char*, N> ptr;
    std::array<int64_t, N> inner_stride;
    for (int k = 0; k < N; ++k) {
      int64_t off = col * strides_[k][nd - 1];
      for (int d = 0; d < nd - 1; ++d) off += idx[d] * strides_[k][d];
      ptr[k] = base_[k] + off;
      inner_stride[k] = strides_[k][nd - 1];
    }
    int64_t pos = begin;
    while (pos < end) {
      int64_t n = std::min(inner - col, end - pos);
      row(ptr.data(), inner_stride.data(), n);
      pos += n;
      if (pos >= end) break;
      // Advance to the start of the next row: odometer over the outer dims.
      col = 0;
      int d = nd - 2;
      for (; d >= 0; --d) {
        if (++idx[d] < shape_[d]) break;
        idx[d] = 0;
      }
      for (int k = 0; k < N; ++k) {
        int64_t off = 0;
        for (int dd = 0; dd < nd - 1; ++dd) off += idx[dd] * strides_[k][dd];
        ptr[k] = base_[k] + off;
      }
    }
  }

  DimVector shape_;
  std::array<DimVector, N> strides_;
  std::array<char*, N> base_{};
  int64_t numel_ = 0;
};

/// True when every operand of a row is dense (byte stride == element size).
template <int N>
inline bool row_is_contiguous(const int64_t* s, const std::array<int64_t, N>& itemsizes) {
  for (int k = 0; k < N; ++k)
    if (s[k] != itemsizes[k]) return false;
  return true;
}

/// out[i] = f(a[i]) over one row; the contiguous branch is a plain loop the compiler vectorizes.
template <typename Out, typename In, typename F>
inline void unary_row(char** p, const int64_t* s, int64_t n, const F& f) {
  if (s[0] == sizeof(Out) && s[1] == sizeof(In)) {
    Out* o = reinterpret_cast<Out*>(p[0]);
    const In* a = reinterpret_cast<const In*>(p[1]);
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i]);
    return;
  }
  char *o = p[0], *a = p[1];
  for (int64_t i = 0; i < n; ++i, o += s[0], a += s[1])
    *reinterpret_cast<Out*>(o) = f(*reinterpret_cast<const In*>(a));
}

/// out[i] = f(a[i], b[i]) over one row, with fast paths for dense operands and a broadcast scalar.
template <typename Out, typename In, typename F>
inline void binary_row(char** p, const int64_t* s, int64_t n, const F& f) {
  Out* o = reinterpret_cast<Out*>(p[0]);
  const In* a = reinterpret_cast<const In*>(p[1]);
  const In* b = reinterpret_cast<const In*>(p[2]);
  if (s[0] == sizeof(Out)) {
    if (s[1] == sizeof(In) && s[2] == sizeof(In)) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
      return;
    }
    if (s[1] == sizeof(In) && s[2] == 0) {
      const In bv = *b;
      for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], bv);
      return;
    }
    if (s[1] == 0 && s[2] == sizeof(In)) {
      const In av = *a;
      for (int64_t i = 0; i < n; ++i) o[i] = f(av, b[i]);
      return;
    }
  }
  char *po = p[0], *pa = p[1], *pb = p[2];
  for (int64_t i = 0; i < n; ++i, po += s[0], pa += s[1], pb += s[2])
    *reinterpret_cast<Out*>(po) = f(*reinterpret_cast<const In*>(pa), *reinterpret_cast<const In*>(pb));
}

}  // namespace hy::cpu
