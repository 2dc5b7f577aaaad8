// The row-reduction engine of every CUDA reduction (sum, mean, prod, amax/amin, max/min, the arg
// reductions, var/std, norm, logsumexp, all/any) and of dot/mv. The glue lays the input out as a dense
// [rows, cols] buffer; a Reducer says how to read, combine and store:
//
//   struct Red {
//     using Acc = ...;                                     // trivially copyable, <= kReduceAccBytes
//     __device__ Acc identity() const;
//     __device__ Acc lift(int64_t row, int64_t col) const;  // element `col` of `row` as a partial result
//     __device__ Acc combine(Acc a, Acc b) const;          // associative and commutative (threads own
//                                                           // interleaved columns; arg reductions carry
//                                                           // the index, so ties resolve to the first)
//     __device__ void store(int64_t row, Acc a) const;
//   };
//
// Short rows take a warp each, long rows a block each (per-thread strided accumulation, warp shuffles, one
// shared-memory round), in one kernel per reducer. Rows that alone cannot fill the GPU are split into
// pieces (reduce_row_pieces in launch_internal.h) whose partial results go to caller scratch, and a second
// launch of the same kernel combines each row's pieces. The plan depends only on the shape, so results
// do not change from run to run or from GPU to GPU.
#pragma once
#include <cstring>
#include <limits>
#include <type_traits>

#include "cuda/elementwise.cuh"

namespace hy::cuda {

// Accumulation type: float for float16/bfloat16/float32, double for double, int64 for integers and bool.
template <typename S> struct AccOf { using type = int64_t; };
template <> struct AccOf<__half> { using type = float; };
template <> struct AccOf<__nv_bfloat16> { using type = float; };
template <> struct AccOf<float> { using type = float; };
template <> struct AccOf<double> { using type = double; };
template <typename S> using acc_t = typename AccOf<S>::type;
/// What an accumulating reduction (sum, prod) stores: the input's own type when floating, else int64.
template <typename S> using acc_out_t = std::conditional_t<std::is_same_v<acc_t<S>, int64_t>, int64_t, S>;

/// a + b and a * b, wrapping for integers (modulo 2^64, like the CPU kernels) instead of overflowing.
template <typename A> __device__ __forceinline__ A wrap_add(A a, A b) {
  if constexpr (std::is_integral_v<A>)
    return static_cast<A>(static_cast<std::make_unsigned_t<A>>(a) + static_cast<std::make_unsigned_t<A>>(b));
  else
    return a + b;
}
template <typename A> __device__ __forceinline__ A wrap_mul(A a, A b) {
  if constexpr (std::is_integral_v<A>)
    return static_cast<A>(static_cast<std::make_unsigned_t<A>>(a) * static_cast<std::make_unsigned_t<A>>(b));
  else
    return a * b;
}

/// NaN-propagating max/min (floating types); plain comparisons otherwise.
template <bool IsMax, typename A> __device__ __forceinline__ A extreme_of(A a, A b) {
  if constexpr (std::is_floating_point_v<A>) {
    if (isnan(a)) return a;
    if (isnan(b)) return b;
  }
  if constexpr (IsMax) return b > a ? b : a;
  else return b < a ? b : a;
}
/// The identity of extreme_of: -inf/+inf, or the type's lowest/highest value.
template <bool IsMax, typename A> __device__ __forceinline__ A extreme_identity() {
  if constexpr (std::is_floating_point_v<A>)
    return IsMax ? -std::numeric_limits<A>::infinity() : std::numeric_limits<A>::infinity();
  else
    return IsMax ? std::numeric_limits<A>::lowest() : std::numeric_limits<A>::max();
}

/// __shfl_down_sync of any trivially copyable value (word by word for structs and small types).
template <typename T> __device__ __forceinline__ T shfl_down(const T& v, int offset) {
  if constexpr (std::is_arithmetic_v<T> && sizeof(T) >= 4) {
    return __shfl_down_sync(0xffffffffu, v, offset);
  } else {
    constexpr int kWords = static_cast<int>((sizeof(T) + 3) / 4);
    unsigned w[kWords] = {};
    memcpy(w, &v, sizeof(T));
#pragma unroll
    for (int k = 0; k < kWords; ++k) w[k] = __shfl_down_sync(0xffffffffu, w[k], offset);
    T r;
    memcpy(&r, w, sizeof(T));
    return r;
  }
}

/// The warp's combined value, in lane 0 (every lane must take part).
template <typename Red, typename Acc> __device__ __forceinline__ Acc warp_combine(const Red& red, Acc acc) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) acc = red.combine(acc, shfl_down(acc, offset));
  return acc;
}

// One kernel per reducer serves every shape: a group of `group` threads (a warp, or the whole block)
// reduces one task at a time. Task t is piece (t % pieces) of row (t / pieces), the columns [lo, hi); with
// one piece the result is stored, otherwise it goes to partial[t]. The second launch of a split
// reduction runs the same kernel with `part` set: row r then combines part[r * cols, (r + 1) * cols).
template <typename Red>
__global__ void __launch_bounds__(kThreads) reduce_rows_kernel(Red red, int group, int64_t tasks, int64_t cols,
                                                               int64_t piece, int64_t pieces,
                                                               typename Red::Acc* partial,
                                                               const typename Red::Acc* part) {
  using Acc = typename Red::Acc;
  __shared__ Acc warp_part[kThreads / 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int groups = kThreads / group, member = threadIdx.x % group;
  // Uniform per group: every lane of a group reaches the shuffles, and with group == kThreads (the
  // whole block) every thread of the block reaches the barriers.
  for (int64_t t = int64_t(blockIdx.x) * groups + threadIdx.x / group; t < tasks; t += int64_t(gridDim.x) * groups) {
    const int64_t row = t / pieces, lo = (t % pieces) * piece, hi = lo + piece < cols ? lo + piece : cols;
    Acc acc = red.identity();
    if (part != nullptr) {
      for (int64_t c = lo + member; c < hi; c += group) acc = red.combine(acc, part[row * cols + c]);
    } else {
      for (int64_t c = lo + member; c < hi; c += group) acc = red.combine(acc, red.lift(row, c));
    }
    acc = warp_combine(red, acc);
    if (group == kThreads) {
      if (lane == 0) warp_part[warp] = acc;
      __syncthreads();
      if (warp == 0) acc = warp_combine(red, lane < kThreads / 32 ? warp_part[lane] : red.identity());
      __syncthreads();  // warp_part is reused by the next task
    }
    if (member == 0) {
      if (pieces == 1) red.store(row, acc);
      else partial[t] = acc;
    }
  }
}

inline unsigned reduce_grid(int64_t blocks) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(blocks, int64_t{1} << 20)));
}

/// Reduces every row of the [rows, cols] layout `red` reads; `scratch` holds reduce_scratch_bytes(rows,
/// cols) bytes (may be null when that is 0). An empty row stores the reducer's identity.
template <typename Red>
void run_reduce_rows(const Red& red, int64_t rows, int64_t cols, void* scratch, cudaStream_t s) {
  using Acc = typename Red::Acc;
  static_assert(sizeof(Acc) <= kReduceAccBytes && std::is_trivially_copyable_v<Acc>, "accumulator too large");
  if (rows == 0) return;
  const int64_t pieces = reduce_row_pieces(rows, cols);
  const int64_t piece = pieces == 1 ? cols : (cols + pieces - 1) / pieces;
  const int64_t tasks = rows * pieces;
  Acc* partial = pieces > 1 ? static_cast<Acc*>(scratch) : nullptr;
  if (pieces > 1 && partial == nullptr)
    throw RuntimeError("CUDA reduction: a split reduction was launched without scratch memory");
  // A block per task for long pieces, or when there are too few tasks to give each warp one; else a warp.
  const int group = piece > 4096 || (piece > 256 && tasks < 2048) ? kThreads : 32;
  reduce_rows_kernel<Red><<<reduce_grid((tasks * group + kThreads - 1) / kThreads), kThreads, 0, s>>>(
      red, group, tasks, cols, piece, pieces, partial, nullptr);
  HY_CUDA_CHECK(cudaGetLastError());
  if (pieces > 1) {
    // At most kReduceTargetTasks pieces per row: a warp per row.
    reduce_rows_kernel<Red><<<reduce_grid((rows * 32 + kThreads - 1) / kThreads), kThreads, 0, s>>>(
        red, 32, rows, pieces, pieces, 1, nullptr, partial);
    HY_CUDA_CHECK(cudaGetLastError());
  }
}

/// Calls MACRO(storage type) for the floating dtypes; others reach `on_error`.
#define HY_CUDA_FLOAT_SWITCH(dtype, MACRO, on_error)              \
  switch (dtype) {                                               \
    case ::hy::DType::Float16: { MACRO(__half); break; }         \
    case ::hy::DType::BFloat16: { MACRO(__nv_bfloat16); break; } \
    case ::hy::DType::Float32: { MACRO(float); break; }          \
    case ::hy::DType::Float64: { MACRO(double); break; }         \
    default: on_error;                                           \
  }

}  // namespace hy::cuda
