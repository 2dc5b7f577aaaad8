// layer_norm forward and backward over a dense [rows, cols] input (cols = prod(normalized_shape)): one
// block per row, two passes for the statistics (mean, then the centred variance: no cancellation), one
// to write; 16-bit inputs are read and written in their dtype with float32 statistics. The weight and
// bias gradients are column sums: one thread per column adds the rows in order, so the result does not
// depend on the launch shape. The glue (kernels_layer_norm.cpp) makes the operands dense.
#include <cmath>

#include "cuda/elementwise.cuh"

namespace hy::cuda {
namespace {

template <typename A> __device__ A block_sum(A v, A* shared) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
  __syncthreads();  // `shared` may still be read from the previous sum
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = shared[0];
  for (int w = 1; w < warps; ++w) v += shared[w];  // in warp order: every block adds alike
  return v;
}

template <typename S, typename A>
__global__ void layer_norm_rows_kernel(S* out, A* mean, A* rstd, const S* in, const A* w, const A* b, int64_t rows,
                                       int64_t cols, A eps) {
  __shared__ A shared[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const S* x = in + row * cols;
    S* y = out + row * cols;
    A s = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += to_compute<A>(x[c]);
    const A mu = block_sum(s, shared) / static_cast<A>(cols);
    A q = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const A d = to_compute<A>(x[c]) - mu;
      q += d * d;
    }
    const A rs = A(1) / sqrt(block_sum(q, shared) / static_cast<A>(cols) + eps);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      A v = (to_compute<A>(x[c]) - mu) * rs;
      if (w) v *= w[c];
      if (b) v += b[c];
      y[c] = from_compute<S>(v);
    }
    if (threadIdx.x == 0) {
      mean[row] = mu;
      rstd[row] = rs;
    }
    __syncthreads();
  }
}

template <typename S, typename A>
__global__ void layer_norm_backward_rows_kernel(S* dx, const S* grad, const S* in, const A* mean, const A* rstd,
                                                const A* w, int64_t rows, int64_t cols) {
  __shared__ A shared[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const S* g = grad + row * cols;
    const S* x = in + row * cols;
    const A mu = mean[row], rs = rstd[row];
    A sa = 0, sc = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const A gw = to_compute<A>(g[c]) * (w ? w[c] : A(1));
      sa += gw;
      sc += gw * (to_compute<A>(x[c]) - mu) * rs;
    }
    const A a = block_sum(sa, shared) / static_cast<A>(cols);
    const A cc = block_sum(sc, shared) / static_cast<A>(cols);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const A gw = to_compute<A>(g[c]) * (w ? w[c] : A(1));
      const A xhat = (to_compute<A>(x[c]) - mu) * rs;
      dx[row * cols + c] = from_compute<S>(rs * (gw - a - xhat * cc));
    }
    __syncthreads();
  }
}

template <typename S, typename A>
__global__ void layer_norm_param_grads_kernel(A* dw, A* db, const S* grad, const S* in, const A* mean,
                                              const A* rstd, int64_t rows, int64_t cols) {
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= cols) return;
  A sw = 0, sb = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const A g = to_compute<A>(grad[r * cols + c]);
    sw += g * (to_compute<A>(in[r * cols + c]) - mean[r]) * rstd[r];
    sb += g;
  }
  dw[c] = sw;
  db[c] = sb;
}

template <typename F>
void visit_layer_norm_types(DType dtype, const F& f) {
  switch (dtype) {
    case DType::Float16: return f(__half{}, float{});
    case DType::BFloat16: return f(__nv_bfloat16{}, float{});
    case DType::Float32: return f(float{}, float{});
    case DType::Float64: return f(double{}, double{});
    default: throw NotImplementedError(str("CUDA layer_norm: dtype ", dtype_name(dtype), " is not supported"));
  }
}

}  // namespace

void launch_layer_norm_rows(DType dtype, void* out, void* mean, void* rstd, const void* in, const void* weight,
                            const void* bias, int64_t rows, int64_t cols, double eps, void* stream) {
  if (rows == 0 || cols == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(rows, 65535 * 4));
  visit_layer_norm_types(dtype, [&](auto st, auto at) {
    using S = decltype(st);
    using A = decltype(at);
    layer_norm_rows_kernel<S, A><<<grid, kThreads, 0, s>>>(
        static_cast<S*>(out), static_cast<A*>(mean), static_cast<A*>(rstd), static_cast<const S*>(in),
        static_cast<const A*>(weight), static_cast<const A*>(bias), rows, cols, static_cast<A>(eps));
  });
  HY_CUDA_CHECK(cudaGetLastError());
}

void launch_layer_norm_backward_rows(DType dtype, void* dx, void* dw, void* db, const void* grad, const void* in,
                                     const void* mean, const void* rstd, const void* weight, int64_t rows,
                                     int64_t cols, void* stream) {
  if (cols == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  visit_layer_norm_types(dtype, [&](auto st, auto at) {
    using S = decltype(st);
    using A = decltype(at);
    if (rows > 0) {
      const unsigned grid = static_cast<unsigned>(std::min<int64_t>(rows, 65535 * 4));
      layer_norm_backward_rows_kernel<S, A><<<grid, kThreads, 0, s>>>(
          static_cast<S*>(dx), static_cast<const S*>(grad), static_cast<const S*>(in), static_cast<const A*>(mean),
          static_cast<const A*>(rstd), static_cast<const A*>(weight), rows, cols);
    }
    const unsigned col_grid = static_cast<unsigned>((cols + kThreads - 1) / kThreads);
    layer_norm_param_grads_kernel<S, A><<<col_grid, kThreads, 0, s>>>(
        static_cast<A*>(dw), static_cast<A*>(db), static_cast<const S*>(grad), static_cast<const S*>(in),
        static_cast<const A*>(mean), static_cast<const A*>(rstd), rows, cols);
  });
  HY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace hy::cuda
