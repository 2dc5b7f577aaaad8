// The reduction engine shared by every CPU reduction, normalization and scan kernel.
//
// reduce_prepare() turns (tensor, dims) into a contiguous buffer in the compute dtype seen as
// [P, R, Q]: R elements are combined into each of the P*Q outputs. Dims are taken in memory order (a
// transposed input is read as it lies). When the reduced dims are neighbours no copy is made (beyond a
// dtype cast); otherwise they are permuted to the end by one copy (Q = 1). A float16/bfloat16 input
// reduced in float32 can keep its 16-bit elements (no float32 copy of the tensor; `lowp_in_place`):
// reduce_run() then wraps the float reducer in LowpReducer, which widens what it reads in blocks
// (reduce_lowp.h). Two loop shapes cover all:
//   Q == 1  rows of R contiguous elements: each row is one vectorized Eigen redux (pairwise for sums);
//           few long rows are split into fixed chunks whose partial results combine in order.
//   Q > 1   an outer dim: whole rows of Q are accumulated into a block of Q accumulators, which
//           vectorizes across the columns; rows are combined in cascaded blocks to keep sums accurate,
//           and narrow rows are folded into wide ones.
// Chunking depends only on the shape, never on the thread count, so results are reproducible.
//
// A Reducer describes one reduction:
//   using In, Acc;  static constexpr bool kFoldable   // may rows be regrouped (no positions used)?
//   Acc identity();  Acc combine(Acc a, Acc b)           // a covers earlier elements
//   Acc reduce_span(const In* p, int64_t n, int64_t r0, int64_t o)       // elements r0.. of output o
//   Acc lift(In x, int64_t r, int64_t o)           // element r of output o as a partial result
//   void store(int64_t o, const Acc& a)
//
//   ReduceInput in = reduce_prepare(x, dim, keepdim, DType::Float32, "sum");
//   Tensor out = in.new_output(DType::Float32);
//   reduce_run(in, make_sum_reducer<float>(MapIdentity<float>{}, out.data<float>()));
//   return reduce_result(out, x.dtype());
#pragma once
// GCC 12 reports false (maybe-)uninitialized warnings inside the AVX-512 intrinsics that Eigen's
// maxCoeff/minCoeff/exp inline; diagnostics are keyed by source location, so silencing the include suffices.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu/packet_math.h"
#include "kernels/cpu/binary_impl.h"
#include "kernels/cpu/kernel_util.h"
#include "kernels/cpu/reduce_lowp.h"

namespace hy::cpu {

/// Elements per independently reduced chunk of a long row (fixed: results must not depend on threads).
constexpr int64_t kReduceChunk = 32768;
/// Columns accumulated together on the outer-dim path (fits L1 with the cascade buffers).
constexpr int64_t kReduceColumnBlock = 1024;
/// Rows summed into one cascade level before it is folded into the next.
constexpr int64_t kReduceCascade = 128;
/// Rows narrower than half this are folded into wide rows of about this many columns (see
/// reduce_column_block).
constexpr int64_t kReduceFoldWidth = 256;
/// Below this many independent outputs, long rows are split into chunks instead of running row-parallel.
constexpr int64_t kReduceFewOutputs = 16;

/// A reduction's input, as a contiguous [P, R, Q] buffer in the compute dtype, or in float16/bfloat16
/// when the compute dtype is float32 and the input has that dtype (then 64-byte aligned at element 0,
/// as a fresh float32 buffer is: see reduce_lowp.h for why that matters).
struct ReduceInput {
  Tensor data;
  int64_t P = 1, R = 1, Q = 1;
  Shape out_shape;      // the result's shape (keepdim applied)
  Strides out_strides;  // where output o lives in memory, per dim of out_shape (see new_output)
  int64_t outputs() const { return P * Q; }
  /// A tensor of out_shape whose element o (in the engine's output order) is at memory offset o: a
  /// plain contiguous tensor, or a permuted view when the input was read in its memory order (a
  /// transposed input). Pass results through reduce_result().
  Tensor new_output(DType dtype) const;
};

/// The [P, R, Q] view of `self` cast to `compute` for reducing the dims flagged in `mask`. A permuted
/// dense input (a transpose) is read in memory order, without a transposing copy. `lowp_in_place`: the
/// caller only hands `in` to reduce_run (never reads in.data itself), so a float16/bfloat16 `self` with
/// compute float32 stays 16-bit (ReduceInput) and is widened as it is read.
ReduceInput reduce_prepare(const Tensor& self, const std::vector<bool>& mask, bool keepdim, DType compute,
                           bool lowp_in_place = false);
/// reduce_dim_mask + reduce_prepare.
ReduceInput reduce_prepare(const Tensor& self, const std::optional<DimVector>& dim, bool keepdim, DType compute,
                           const char* op, bool lowp_in_place = false);
/// `out` (from new_output) converted to `dtype`, contiguous.
Tensor reduce_result(const Tensor& out, DType dtype);
/// The [P, R, Q] view of `self` (cast to `compute`) along one dim, for ops that keep the shape
/// (softmax, cumsum): out_shape is self's shape. `lowp_in_place`: the caller's kernel reads float16/
/// bfloat16 itself, so such a `self` with compute float32 is kept 16-bit (contiguous, not aligned).
ReduceInput reduce_prepare_along(const Tensor& self, int64_t dim, DType compute, const char* op,
                                 bool lowp_in_place = false);
/// Throws ValueError when an op without an identity (max, argmax ...) reduces zero elements.
void reduce_check_nonempty(const ReduceInput& in, const Tensor& self, const char* op);

// ---- element maps applied before accumulation (scalar form and Eigen-expression form) ----

template <typename T> using EigenSpan = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

// kPositional: the map reads the output index o (so elements of different outputs must not be mixed).
template <typename T> struct MapIdentity {
  static constexpr bool kPositional = false;
  T operator()(T x, int64_t) const { return x; }
  template <typename A> auto eigen(const A& a, int64_t) const { return a; }
};
template <typename T> struct MapAbs {
  static constexpr bool kPositional = false;
  T operator()(T x, int64_t) const { return std::abs(x); }
  template <typename A> auto eigen(const A& a, int64_t) const { return a.abs(); }
};
template <typename T> struct MapSquare {
  static constexpr bool kPositional = false;
  T operator()(T x, int64_t) const { return x * x; }
  template <typename A> auto eigen(const A& a, int64_t) const { return a.square(); }
};
template <typename T> struct MapNonZero {
  static constexpr bool kPositional = false;
  T operator()(T x, int64_t) const { return x != T(0) ? T(1) : T(0); }
  template <typename A> auto eigen(const A& a, int64_t) const { return (a != T(0)).template cast<T>(); }
};
template <typename T> struct MapAbsPow {
  static constexpr bool kPositional = false;
  T p;
  T operator()(T x, int64_t) const { return std::pow(std::abs(x), p); }
  template <typename A> auto eigen(const A& a, int64_t) const { return a.abs().pow(p); }
};
/// (x - shift[o])^2: the second pass of var/std (shift = the mean of each output).
template <typename T> struct MapCenteredSquare {
  static constexpr bool kPositional = true;
  const T* shift;
  T operator()(T x, int64_t o) const { T d = x - shift[o]; return d * d; }
  template <typename A> auto eigen(const A& a, int64_t o) const { return (a - shift[o]).square(); }
};
/// exp(x - shift[o]): the second pass of logsumexp (shift = the row max).
template <typename T> struct MapShiftedExp {
  static constexpr bool kPositional = true;
  const T* shift;
  T operator()(T x, int64_t o) const { return hy::eigen_packet::exp_op<T>()(x - shift[o]); }
  template <typename A> auto eigen(const A& a, int64_t o) const { return hy::eigen_packet::exp_of(a - shift[o]); }
};

// ---- reducers ----

/// Sum of map(x), handed to fin(sum, o) and stored to out[o]. Long spans sum pairwise over vectorized
/// leaves, so a float32 sum of a million elements stays within ~1e-6 of the exact value.
template <typename T, typename Map, typename Fin, typename Out>
struct SumReducer {
  using In = T;
  using Acc = T;
  static constexpr bool kFoldable = !Map::kPositional;
  Map map;
  Fin fin;
  Out* out;
  static constexpr int64_t kLeaf = 4096;

  Acc identity() const { return T(0); }
  Acc combine(Acc a, Acc b) const { return a + b; }
  /// Elements of type P: T, or a float16/bfloat16 S when T is float (LowpReducer): then each leaf is
  /// widened into a stack buffer at the 64-byte phase a float32 copy would have (lowp_phase), so the
  /// pairwise tree and Eigen's vector sums are those of the float32 path, bit for bit.
  static constexpr bool kReadsLowp = std::is_same_v<T, float>;
  template <typename P>
  Acc reduce_span(const P* p, int64_t n, int64_t, int64_t o) const {
    if (n <= kLeaf) {
      if constexpr (std::is_same_v<P, T>) return map.eigen(EigenSpan<T>(p, n), o).sum();
      else return widened_leaf(p, n, o);
    }
    int64_t half = (n / 2 + kLeaf - 1) / kLeaf * kLeaf;
    return reduce_span(p, half, 0, o) + reduce_span(p + half, n - half, 0, o);
  }
  // Its own frame (not inlined into the recursion): the 16 KiB buffer is on the stack once, not per level.
  template <typename S>
  __attribute__((noinline)) Acc widened_leaf(const S* p, int64_t n, int64_t o) const {
    alignas(64) float buf[kLeaf + kLowpPhases];
    float* f = buf + lowp_phase(p);
    lowp_widen(p, f, n);
    return map.eigen(EigenSpan<T>(f, n), o).sum();
  }
  Acc lift(T x, int64_t, int64_t o) const { return map(x, o); }
  void store(int64_t o, Acc a) const { out[o] = static_cast<Out>(fin(a, o)); }
};

/// Passes the accumulated value through unchanged.
struct FinIdentity {
  template <typename T> T operator()(T a, int64_t) const { return a; }
};

template <typename T, typename Out = T, typename Map, typename Fin = FinIdentity>
SumReducer<T, Map, Fin, Out> make_sum_reducer(Map map, Out* out, Fin fin = Fin{}) {
  return SumReducer<T, Map, Fin, Out>{map, fin, out};
}

/// Largest (IsMax) or smallest map(x); NaN propagates.
template <typename T, bool IsMax, typename Map = MapIdentity<T>>
struct ExtremeReducer {
  using In = T;
  using Acc = T;
  static constexpr bool kFoldable = !Map::kPositional;
  Map map;
  T* out;

  static T pick(T a, T x) {
    if constexpr (std::is_floating_point_v<T>) {
      if (x != x) return x;
    }
    return (IsMax ? x > a : x < a) ? x : a;
  }
  Acc identity() const {
    if constexpr (std::is_floating_point_v<T>)
      return IsMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    else
      return IsMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
  }
  Acc combine(Acc a, Acc b) const { return pick(a, b); }
  Acc reduce_span(const T* p, int64_t n, int64_t, int64_t o) const {
    if (n == 0) return identity();
    auto e = map.eigen(EigenSpan<T>(p, n), o);
    if constexpr (IsMax) return e.template maxCoeff<Eigen::PropagateNaN>();
    else return e.template minCoeff<Eigen::PropagateNaN>();
  }
  Acc lift(T x, int64_t, int64_t o) const { return map(x, o); }
  void store(int64_t o, Acc a) const { out[o] = a; }
};

/// Value and index of the first largest (IsMax) or smallest element; NaN counts as the extreme (the
/// first NaN wins), like NumPy's argmax/argmin and torch.max(dim).
template <typename T, bool IsMax>
struct ArgReducer {
  using In = T;
  static constexpr bool kFoldable = false;  // indices need each element's own position
  struct Acc {
    T v;
    int64_t i;  // -1: nothing seen yet
  };
  T* values;        // may be null (argmax)
  int64_t* indices;

  static bool better(T x, T cur) {
    if constexpr (std::is_floating_point_v<T>) {
      if (cur != cur) return false;
      if (x != x) return true;
    }
    return IsMax ? x > cur : x < cur;
  }
  Acc identity() const { return Acc{T(0), -1}; }
  Acc combine(const Acc& a, const Acc& b) const {
    if (b.i < 0) return a;
    return (a.i < 0 || better(b.v, a.v)) ? b : a;
  }
  Acc reduce_span(const T* p, int64_t n, int64_t r0, int64_t) const {
    if (n == 0) return identity();
    // A vectorized pass finds the extreme value, a plain scan its first position.
    EigenSpan<T> a(p, n);
    T best = IsMax ? a.template maxCoeff<Eigen::PropagateNaN>() : a.template minCoeff<Eigen::PropagateNaN>();
    int64_t k = 0;
    if (best != best) {
      while (p[k] == p[k]) ++k;
    } else {
      while (p[k] != best) ++k;
    }
    return Acc{best, r0 + k};
  }
  Acc lift(T x, int64_t r, int64_t) const { return Acc{x, r}; }
  void store(int64_t o, const Acc& a) const {
    if (values) values[o] = a.v;
    indices[o] = a.i;
  }
};

/// Product; integers wrap modulo 2^64 like NumPy and PyTorch instead of overflowing (UB) in C++.
template <typename T>
struct ProdReducer {
  using In = T;
  using Acc = T;
  static constexpr bool kFoldable = true;
  T* out;

  static T mul(T a, T b) {
    if constexpr (std::is_integral_v<T>)
      return static_cast<T>(static_cast<std::make_unsigned_t<T>>(a) * static_cast<std::make_unsigned_t<T>>(b));
    else
      return a * b;
  }
  Acc identity() const { return T(1); }
  Acc combine(Acc a, Acc b) const { return mul(a, b); }
  Acc reduce_span(const T* p, int64_t n, int64_t, int64_t) const {
    if constexpr (std::is_floating_point_v<T>) {
      return EigenSpan<T>(p, n).prod();
    } else {
      T r = 1;
      for (int64_t k = 0; k < n; ++k) r = mul(r, p[k]);
      return r;
    }
  }
  Acc lift(T x, int64_t, int64_t) const { return x; }
  void store(int64_t o, Acc a) const { out[o] = a; }
};

/// all (IsAll) / any over bytes holding 0 or 1 (a bool tensor's memory).
template <bool IsAll>
struct BoolReducer {
  using In = uint8_t;
  using Acc = uint8_t;
  static constexpr bool kFoldable = true;
  bool* out;

  Acc identity() const { return IsAll ? 1 : 0; }
  Acc combine(Acc a, Acc b) const { return IsAll ? (a & b) : (a | b); }
  Acc reduce_span(const uint8_t* p, int64_t n, int64_t, int64_t) const {
    // Blocks of plain AND/OR loops vectorize; stop early once the answer is known.
    constexpr int64_t kBlock = 4096;
    for (int64_t b = 0; b < n; b += kBlock) {
      uint8_t r = identity();
      for (int64_t k = b, e = std::min(n, b + kBlock); k < e; ++k) r = combine(r, p[k]);
      if (r != identity()) return r;
    }
    return identity();
  }
  Acc lift(uint8_t x, int64_t, int64_t) const { return x; }
  void store(int64_t o, Acc a) const { out[o] = a != 0; }
};

// ---- the engine ----

namespace detail {

/// Q == 1: output p combines the R contiguous elements of row p.
template <typename Red>
void reduce_rows(const ReduceInput& in, const Red& red) {
  using In = typename Red::In;
  using Acc = typename Red::Acc;
  const In* base = in.data.template data<In>();
  const int64_t P = in.P, R = in.R;
  if (P < kReduceFewOutputs && R > kReduceChunk) {
    // Few long rows (a full reduction): split each row into fixed chunks reduced in parallel, then
    // combine the partial results in order (argmax relies on the order for first occurrences).
    const int64_t nchunks = (R + kReduceChunk - 1) / kReduceChunk;
    std::vector<Acc> part(static_cast<size_t>(nchunks));
    for (int64_t p = 0; p < P; ++p) {
      const In* row = base + p * R;
      parallel_for(0, nchunks, 1, [&](int64_t b, int64_t e) {
        for (int64_t c = b; c < e; ++c) {
          int64_t r0 = c * kReduceChunk;
          part[c] = red.reduce_span(row + r0, std::min(kReduceChunk, R - r0), r0, p);
        }
      });
      Acc acc = part[0];
      for (int64_t c = 1; c < nchunks; ++c) acc = red.combine(acc, part[c]);
      red.store(p, acc);
    }
    return;
  }
  const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(R, 1));
  parallel_for(0, P, grain, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) red.store(p, red.reduce_span(base + p * R, R, 0, p));
  });
}

/// acc[0..n) ⊕= rows first + k * stride for k in [0, count) (row k holds element r_first + k of outputs
/// o..o+n). When the rows are segments of wider rows (stride > n), four rows combine before touching
/// acc, which then bounds the loop; rows that follow each other in memory are read strictly in order,
/// as several interleaved streams within one page defeat the hardware prefetcher.
template <typename Red>
void accumulate_rows_flat(const Red& red, typename Red::Acc* acc, const typename Red::In* first, int64_t stride,
                          int64_t count, int64_t n, int64_t r_first, int64_t o) {
  using Acc = typename Red::Acc;
  int64_t k = 0;
  for (; stride > n && k + 4 <= count; k += 4) {
    const auto* a = first + k * stride;
    const int64_t r = r_first + k;
    for (int64_t j = 0; j < n; ++j) {
      Acc x01 = red.combine(red.lift(a[j], r, o + j), red.lift(a[stride + j], r + 1, o + j));
      Acc x23 = red.combine(red.lift(a[2 * stride + j], r + 2, o + j), red.lift(a[3 * stride + j], r + 3, o + j));
      acc[j] = red.combine(acc[j], red.combine(x01, x23));
    }
  }
  for (; k < count; ++k) {
    const auto* a = first + k * stride;
    for (int64_t j = 0; j < n; ++j) acc[j] = red.combine(acc[j], red.lift(a[j], r_first + k, o + j));
  }
}

/// accumulate_rows_flat in cascaded blocks (128 rows, then 128 blocks, ...) so long float sums stay
/// accurate.
template <typename Red>
void accumulate_rows(const Red& red, typename Red::Acc* acc, const typename Red::In* first, int64_t stride,
                     int64_t count, int64_t n, int64_t r_first, int64_t o) {
  using Acc = typename Red::Acc;
  if (count <= kReduceCascade) {
    accumulate_rows_flat(red, acc, first, stride, count, n, r_first, o);
    return;
  }
  std::vector<Acc> level0(static_cast<size_t>(n)), level1(static_cast<size_t>(n), red.identity());
  int64_t blocks = 0;
  for (int64_t kb = 0; kb < count; kb += kReduceCascade) {
    std::fill(level0.begin(), level0.end(), red.identity());
    accumulate_rows_flat(red, level0.data(), first + kb * stride, stride, std::min(kReduceCascade, count - kb), n,
                         r_first + kb, o);
    for (int64_t j = 0; j < n; ++j) level1[j] = red.combine(level1[j], level0[j]);
    if (++blocks == kReduceCascade) {
      for (int64_t j = 0; j < n; ++j) acc[j] = red.combine(acc[j], level1[j]);
      std::fill(level1.begin(), level1.end(), red.identity());
      blocks = 0;
    }
  }
  for (int64_t j = 0; j < n; ++j) acc[j] = red.combine(acc[j], level1[j]);
}

/// acc[0..n) = combination of rows r0..r1 of the block of columns starting at `col` of slab p.
template <typename Red>
void reduce_column_block(const Red& red, typename Red::Acc* acc, const typename Red::In* slab, int64_t Q,
                         int64_t col, int64_t n, int64_t r0, int64_t r1, int64_t o) {
  using Acc = typename Red::Acc;
  std::fill(acc, acc + n, red.identity());
  // Narrow rows (a tall [N, 3] matrix) would spend the loop on overhead: when the reducer ignores
  // positions, treat k consecutive rows as one wide row of k * Q columns, then fold the k groups.
  const int64_t k = kReduceFoldWidth / Q;
  if constexpr (Red::kFoldable) {
    if (n == Q && k >= 2 && r1 - r0 >= 2 * k) {
      const int64_t wide_rows = (r1 - r0) / k, width = k * Q;
      std::vector<Acc> wide(static_cast<size_t>(width), red.identity());
      accumulate_rows(red, wide.data(), slab + r0 * Q, width, wide_rows, width, r0, o);
      for (int64_t g = 0; g < k; ++g)
        for (int64_t j = 0; j < Q; ++j) acc[j] = red.combine(acc[j], wide[g * Q + j]);
      r0 += wide_rows * k;
    }
  }
  accumulate_rows(red, acc, slab + r0 * Q + col, Q, r1 - r0, n, r0, o);
}

/// Q > 1: output (p, q) combines element (p, r, q) over r; whole rows accumulate at once.
template <typename Red>
void reduce_columns(const ReduceInput& in, const Red& red) {
  using In = typename Red::In;
  using Acc = typename Red::Acc;
  const In* base = in.data.template data<In>();
  const int64_t P = in.P, R = in.R, Q = in.Q;
  const int64_t qblock = std::min(Q, kReduceColumnBlock);
  const int64_t nqb = (Q + qblock - 1) / qblock;
  const int64_t tasks = P * nqb;
  // Few column blocks but many rows (e.g. summing a tall [N, 4] matrix over N): split the rows too.
  int64_t nr = 1;
  if (tasks < kReduceFewOutputs && R * qblock > 2 * kReduceChunk)
    nr = std::min<int64_t>({(R * qblock) / kReduceChunk, R, 256});
  const int64_t rows_per = (R + nr - 1) / nr;
  auto block_of = [&](int64_t t, int64_t* p, int64_t* q0, int64_t* n) {
    *p = t / nqb;
    *q0 = (t % nqb) * qblock;
    *n = std::min(qblock, Q - *q0);
  };
  if (nr == 1) {
    const int64_t grain = std::max<int64_t>(1, kGrainElementwise / std::max<int64_t>(R * qblock, 1));
    parallel_for(0, tasks, grain, [&](int64_t b, int64_t e) {
      std::vector<Acc> acc(static_cast<size_t>(qblock));
      for (int64_t t = b; t < e; ++t) {
        int64_t p, q0, n;
        block_of(t, &p, &q0, &n);
        reduce_column_block(red, acc.data(), base + p * R * Q, Q, q0, n, 0, R, p * Q + q0);
        for (int64_t j = 0; j < n; ++j) red.store(p * Q + q0 + j, acc[j]);
      }
    });
    return;
  }
  std::vector<Acc> part(static_cast<size_t>(tasks * nr * qblock));
  parallel_for(0, tasks * nr, 1, [&](int64_t b, int64_t e) {
    for (int64_t w = b; w < e; ++w) {
      int64_t t = w / nr, c = w % nr, p, q0, n;
      block_of(t, &p, &q0, &n);
      int64_t r0 = std::min(R, c * rows_per), r1 = std::min(R, r0 + rows_per);
      reduce_column_block(red, part.data() + w * qblock, base + p * R * Q, Q, q0, n, r0, r1, p * Q + q0);
    }
  });
  for (int64_t t = 0; t < tasks; ++t) {
    int64_t p, q0, n;
    block_of(t, &p, &q0, &n);
    Acc* acc = part.data() + t * nr * qblock;
    for (int64_t c = 1; c < nr; ++c)
      for (int64_t j = 0; j < n; ++j) acc[j] = red.combine(acc[j], acc[c * qblock + j]);
    for (int64_t j = 0; j < n; ++j) red.store(p * Q + q0 + j, acc[j]);
  }
}

}  // namespace detail

/// Run `red` over every output of `in`. A float reducer over 16-bit data (reduce_prepare kept a
/// float16/bfloat16 input) runs wrapped in LowpReducer, which widens as it reads.
template <typename Red>
void reduce_run(const ReduceInput& in, const Red& red) {
  if (in.outputs() == 0) return;
  if (in.R == 0) {
    for (int64_t o = 0; o < in.outputs(); ++o) red.store(o, red.identity());
    return;
  }
  if constexpr (std::is_same_v<typename Red::In, float>) {
    if (dtype_is_lowp_float(in.data.dtype())) {
      visit_lowp_type(in.data.dtype(), [&](auto tag) {
        const LowpReducer<decltype(tag), Red> wrapped{red};
        if (in.Q == 1) detail::reduce_rows(in, wrapped);
        else detail::reduce_columns(in, wrapped);
      });
      return;
    }
  }
  if (in.Q == 1) detail::reduce_rows(in, red);
  else detail::reduce_columns(in, red);
}

/// Call f(T{}) with T the C++ type of a reduction compute dtype (int32, int64, float32, float64).
template <typename F>
void reduce_dispatch(DType dt, const char* op, const F& f) {
  switch (dt) {
    case DType::Int32: f(int32_t{}); break;
    case DType::Int64: f(int64_t{}); break;
    case DType::Float32: f(float{}); break;
    case DType::Float64: f(double{}); break;
    default: throw NotImplementedError(str("op '", op, "' has no CPU kernel for dtype ", dtype_name(dt)));
  }
}

/// Call f(T{}) with T = float or double.
template <typename F>
void reduce_dispatch_float(DType dt, const char* op, const F& f) {
  switch (dt) {
    case DType::Float32: f(float{}); break;
    case DType::Float64: f(double{}); break;
    default: throw NotImplementedError(str("op '", op, "' has no CPU kernel for dtype ", dtype_name(dt)));
  }
}

}  // namespace hy::cpu
