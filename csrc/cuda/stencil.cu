// laplacian, gradient and divergence on CUDA: one thread per grid point reads its neighbours along each
// grid axis through the boundary rule (wrap, `value`, or the point itself) and evaluates the CPU
// kernels' expressions (kernels/cpu/stencil.cpp) in the same order. Products are rounded on their own
// (__fmul_rn/__dmul_rn), as the baseline CPU build rounds them; the CPU's AVX2 variant may fuse
// multiply-adds, so the two devices agree to rounding, not always bit for bit.
#include "cuda/elementwise.cuh"

namespace hy::cuda {
namespace {

__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }

// The value beside point p (grid coordinate i along axis k) in direction dir (+1/-1) of the array a.
template <typename T>
__device__ __forceinline__ T neighbour(const T* a, int64_t p, int64_t i, int k, int dir, const StencilGeometry& g,
                                       T value) {
  const int64_t j = i + dir;
  if (j >= 0 && j < g.n[k]) return a[p + dir * g.stride[k]];
  if (g.boundary == 0) return a[p + (j < 0 ? (g.n[k] - 1) : -(g.n[k] - 1)) * g.stride[k]];
  return g.boundary == 2 ? a[p] : value;
}

template <typename T, StencilOp OP>
__global__ void stencil_kernel(T* out, const T* in, StencilGeometry g, T value) {
  const int64_t total = g.batch * g.points;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int last = g.nd - 1;
  for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    const int64_t b = t / g.points, p = t % g.points;
    int64_t coord[3];
    for (int k = 0; k < g.nd; ++k) coord[k] = (p / g.stride[k]) % g.n[k];
    if constexpr (OP == StencilOp::StencilOp_Laplacian) {
      const T* u = in + b * g.points;
      const T c = u[p], two_c = mul_rn(T(2), c);
      T s = T(0);
      for (int k = 0; k < last; ++k)
        s = s + mul_rn(neighbour(u, p, coord[k], k, -1, g, value) + neighbour(u, p, coord[k], k, 1, g, value) - two_c,
                       static_cast<T>(g.w[k]));
      out[t] = s + mul_rn(neighbour(u, p, coord[last], last, -1, g, value) +
                              neighbour(u, p, coord[last], last, 1, g, value) - two_c,
                          static_cast<T>(g.w[last]));
    } else if constexpr (OP == StencilOp::StencilOp_Gradient) {
      const T* u = in + b * g.points;
      T* o = out + b * g.nd * g.points + p;
      for (int k = 0; k < g.nd; ++k)
        o[k * g.points] = mul_rn(neighbour(u, p, coord[k], k, 1, g, value) - neighbour(u, p, coord[k], k, -1, g, value),
                                 static_cast<T>(g.w[k]));
    } else {
      const T* v = in + b * g.nd * g.points;
      T s = T(0);
      for (int k = 0; k < last; ++k) {
        const T* comp = v + k * g.points;
        s = s + mul_rn(neighbour(comp, p, coord[k], k, 1, g, value) - neighbour(comp, p, coord[k], k, -1, g, value),
                       static_cast<T>(g.w[k]));
      }
      const T* comp = v + last * g.points;
      out[t] = s + mul_rn(neighbour(comp, p, coord[last], last, 1, g, value) -
                              neighbour(comp, p, coord[last], last, -1, g, value),
                          static_cast<T>(g.w[last]));
    }
  }
}

template <typename T>
void launch_as(StencilOp op, void* out, const void* in, const StencilGeometry& g, double value, cudaStream_t s) {
  const int64_t total = g.batch * g.points;
  auto o = static_cast<T*>(out);
  auto i = static_cast<const T*>(in);
  const T v = static_cast<T>(value);
  switch (op) {
    case StencilOp::StencilOp_Laplacian:
      stencil_kernel<T, StencilOp::StencilOp_Laplacian><<<grid_for(total), kThreads, 0, s>>>(o, i, g, v);
      break;
    case StencilOp::StencilOp_Gradient:
      stencil_kernel<T, StencilOp::StencilOp_Gradient><<<grid_for(total), kThreads, 0, s>>>(o, i, g, v);
      break;
    case StencilOp::StencilOp_Divergence:
      stencil_kernel<T, StencilOp::StencilOp_Divergence><<<grid_for(total), kThreads, 0, s>>>(o, i, g, v);
      break;
  }
}

}  // namespace

void launch_stencil(StencilOp op, DType dtype, void* out, const void* in, const StencilGeometry& g, double value,
                    void* stream) {
  if (g.batch * g.points == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  if (dtype == DType::Float64) launch_as<double>(op, out, in, g, value, s);
  else if (dtype == DType::Float32) launch_as<float>(op, out, in, g, value, s);
  else throw TypeError(str("stencil: compute dtype ", dtype_name(dtype), " is not float32 or float64"));
  HY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace hy::cuda
