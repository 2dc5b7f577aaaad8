// Row reductions (sum, mean, amax, amin): one block per row; each thread folds a strided slice of the
// row, then warp shuffles and one shared-memory round combine the partials. The glue (kernels_reduce.cpp)
// first lays the input out as [rows, cols] with the reduced dims last.
#include <cmath>
#include <limits>

#include "cuda/elementwise.cuh"

namespace hy::cuda {
namespace {

// Accumulate in float for the float types and float16/bfloat16 (as the CPU does), in double for double,
// in int64 for integers and bool.
template <typename S> struct AccOf { using type = int64_t; };
template <> struct AccOf<__half> { using type = float; };
template <> struct AccOf<__nv_bfloat16> { using type = float; };
template <> struct AccOf<float> { using type = float; };
template <> struct AccOf<double> { using type = double; };

template <ReduceOp OP, typename A> __device__ __forceinline__ A combine(A x, A y) {
  if constexpr (OP == ReduceOp::ReduceOp_Sum) {
    return x + y;
  } else {
    if constexpr (std::is_floating_point_v<A>) {  // NaN wins, as in torch.amax
      if (isnan(x)) return x;
      if (isnan(y)) return y;
    }
    if constexpr (OP == ReduceOp::ReduceOp_Max) return x > y ? x : y;
    else return x < y ? x : y;
  }
}

template <ReduceOp OP, typename A> __host__ __device__ A identity() {
  if constexpr (OP == ReduceOp::ReduceOp_Sum) return A(0);
  else if constexpr (OP == ReduceOp::ReduceOp_Max)
    return std::is_floating_point_v<A> ? -std::numeric_limits<A>::infinity() : std::numeric_limits<A>::lowest();
  else
    return std::is_floating_point_v<A> ? std::numeric_limits<A>::infinity() : std::numeric_limits<A>::max();
}

template <ReduceOp OP, typename S, typename SO>
__global__ void reduce_rows_kernel(SO* out, const S* in, int64_t rows, int64_t cols, double scale) {
  using A = typename AccOf<S>::type;
  __shared__ A partial[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const S* p = in + row * cols;
    A acc = identity<OP, A>();
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) acc = combine<OP, A>(acc, to_compute<A>(p[c]));
    for (int offset = 16; offset > 0; offset /= 2) acc = combine<OP, A>(acc, __shfl_down_sync(0xffffffffu, acc, offset));
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0) partial[warp] = acc;
    __syncthreads();
    if (warp == 0) {
      const int warps = (blockDim.x + 31) / 32;
      acc = lane < warps ? partial[lane] : identity<OP, A>();
      for (int offset = 16; offset > 0; offset /= 2)
        acc = combine<OP, A>(acc, __shfl_down_sync(0xffffffffu, acc, offset));
      if (lane == 0) {
        if constexpr (OP == ReduceOp::ReduceOp_Sum) {
          out[row] = from_compute<SO>(scale == 1.0 ? acc : static_cast<A>(acc * scale));
        } else {
          out[row] = from_compute<SO>(acc);
        }
      }
    }
    __syncthreads();  // `partial` is reused by the next row
  }
}

template <ReduceOp OP, typename S>
void reduce_into(DType out_dtype, void* out, const S* in, int64_t rows, int64_t cols, double scale, cudaStream_t s) {
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(rows, 65535 * 4));
#define HY_REDUCE_OUT(SO) \
  reduce_rows_kernel<OP, S, SO><<<grid, kThreads, 0, s>>>(static_cast<SO*>(out), in, rows, cols, scale)
  HY_CUDA_DTYPE_SWITCH(out_dtype, HY_REDUCE_OUT,
                       throw NotImplementedError(str("CUDA reduction: output dtype ", dtype_name(out_dtype),
                                                     " is not supported yet")))
#undef HY_REDUCE_OUT
  HY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void launch_reduce_rows(ReduceOp op, DType in_dtype, DType out_dtype, void* out, const void* in, int64_t rows,
                        int64_t cols, double scale, void* stream) {
  if (rows == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
#define HY_REDUCE_IN(S)                                                                                  \
  switch (op) {                                                                                          \
    case ReduceOp::ReduceOp_Sum:                                                                         \
      return reduce_into<ReduceOp::ReduceOp_Sum, S>(out_dtype, out, static_cast<const S*>(in), rows, cols, scale, s); \
    case ReduceOp::ReduceOp_Max:                                                                         \
      return reduce_into<ReduceOp::ReduceOp_Max, S>(out_dtype, out, static_cast<const S*>(in), rows, cols, scale, s); \
    case ReduceOp::ReduceOp_Min:                                                                         \
      return reduce_into<ReduceOp::ReduceOp_Min, S>(out_dtype, out, static_cast<const S*>(in), rows, cols, scale, s); \
  }
  HY_CUDA_DTYPE_SWITCH(in_dtype, HY_REDUCE_IN,
                       throw NotImplementedError(str("CUDA reduction: dtype ", dtype_name(in_dtype),
                                                     " is not supported yet")))
#undef HY_REDUCE_IN
}

}  // namespace hy::cuda
