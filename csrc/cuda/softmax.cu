// softmax / log_softmax along the last dim of a dense [rows, cols] input: one block per row, three
// passes over the row (max, sum of exp(x - max), write), each combined across the block with warp
// shuffles and one shared-memory round. The glue (kernels_softmax.cpp) moves the op's dim last.
#include <cmath>

#include "cuda/elementwise.cuh"

namespace hy::cuda {
namespace {

template <bool MAX, typename A> __device__ A block_combine(A v, A* shared) {
  for (int offset = 16; offset > 0; offset /= 2) {
    const A o = __shfl_down_sync(0xffffffffu, v, offset);
    v = MAX ? (o > v ? o : v) : v + o;
  }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
  __syncthreads();  // `shared` may still be read from the previous combine
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = shared[0];
  for (int w = 1; w < warps; ++w) v = MAX ? (shared[w] > v ? shared[w] : v) : v + shared[w];
  return v;  // every thread gets the row's value
}

template <bool LOG, typename S>
__global__ void softmax_rows_kernel(S* out, const S* in, int64_t rows, int64_t cols) {
  using A = std::conditional_t<std::is_same_v<S, double>, double, float>;
  __shared__ A shared[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const S* x = in + row * cols;
    S* y = out + row * cols;
    A m = -INFINITY;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) m = fmax(m, to_compute<A>(x[c]));
    m = block_combine<true>(m, shared);
    if (isinf(m) && m < 0) m = 0;  // an all -inf row: exp(x - 0) = 0 everywhere, as on the CPU
    A sum = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) sum += exp(to_compute<A>(x[c]) - m);
    sum = block_combine<false>(sum, shared);
    const A log_sum = log(sum);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const A v = to_compute<A>(x[c]) - m;
      y[c] = from_compute<S>(LOG ? v - log_sum : exp(v) / sum);
    }
    __syncthreads();
  }
}

}  // namespace

void launch_softmax_rows(bool log, DType dtype, void* out, const void* in, int64_t rows, int64_t cols, void* stream) {
  if (rows == 0 || cols == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(rows, 65535 * 4));
#define HY_SOFTMAX(S)                                                                                       \
  if (log) softmax_rows_kernel<true, S><<<grid, kThreads, 0, s>>>(static_cast<S*>(out), static_cast<const S*>(in), rows, cols); \
  else softmax_rows_kernel<false, S><<<grid, kThreads, 0, s>>>(static_cast<S*>(out), static_cast<const S*>(in), rows, cols)
  switch (dtype) {
    case DType::Float16: { HY_SOFTMAX(__half); break; }
    case DType::BFloat16: { HY_SOFTMAX(__nv_bfloat16); break; }
    case DType::Float32: { HY_SOFTMAX(float); break; }
    case DType::Float64: { HY_SOFTMAX(double); break; }
    default: throw NotImplementedError(str("CUDA softmax: dtype ", dtype_name(dtype), " is not supported"));
  }
#undef HY_SOFTMAX
  HY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace hy::cuda
