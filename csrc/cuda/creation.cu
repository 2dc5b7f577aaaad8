// Index-pattern kernels: the factories arange, linspace and eye (one thread per element computes its value
// from its index, as the CPU's fill_by_index does) and tril/triu (copy or zero each element by its row and
// column). Floating values are computed in double with each product and sum rounded on its own
// (__dmul_rn/__dadd_rn: nvcc would otherwise fuse them into one multiply-add), then converted like the
// CPU converts (double -> float -> float16/bfloat16), so the results are the CPU's bit for bit.
#include "cuda/elementwise.cuh"
#include "cuda/launch_elem_internal.h"
#include "kernels/scalar_math.h"

namespace hy::cuda {
namespace {

template <typename S>
__global__ void arange_kernel(S* out, int64_t n, bool int_values, int64_t start_i, int64_t step_i, double start,
                              double step) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    if constexpr (std::is_same_v<S, int32_t> || std::is_same_v<S, int64_t>) {
      if (int_values) {  // wrapping int64 arithmetic, then the (range-checked) conversion
        out[i] = static_cast<S>(hy::scalar::add(start_i, hy::scalar::mul(i, step_i)));
        continue;
      }
    }
    out[i] = from_compute<S>(__dadd_rn(start, __dmul_rn(static_cast<double>(i), step)));
  }
}

template <typename S>
__global__ void linspace_kernel(S* out, int64_t steps, double start, double end, double step) {
  const int64_t half = steps == 1 ? 1 : steps / 2;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < steps; i += stride) {
    const double v = i < half ? __dadd_rn(start, __dmul_rn(step, static_cast<double>(i)))
                              : __dsub_rn(end, __dmul_rn(step, static_cast<double>(steps - 1 - i)));
    out[i] = from_compute<S>(v);
  }
}

template <typename S>
__global__ void eye_kernel(S* out, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = from_compute<S>(i / cols == i % cols ? 1.0f : 0.0f);
}

template <typename B>
__global__ void triangle_kernel(B* out, const B* in, Geometry<2> g, bool lower, int64_t diagonal) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < g.numel; i += stride) {
    int64_t rest = i, off_out = 0, off_in = 0, row = 0, col = 0;
    for (int d = g.ndim - 1; d >= 0; --d) {
      const int64_t coord = rest % g.sizes[d];
      rest /= g.sizes[d];
      off_out += coord * g.strides[0][d];
      off_in += coord * g.strides[1][d];
      if (d == g.ndim - 1) col = coord;
      if (d == g.ndim - 2) row = coord;
    }
    const bool keep = lower ? col - row <= diagonal : col - row >= diagonal;
    out[off_out] = keep ? in[off_in] : B{};  // all-zero bits are 0 in every dtype
  }
}

[[noreturn]] void unsupported(const char* what, DType dtype) {
  throw NotImplementedError(str("CUDA ", what, " kernel: dtype ", dtype_name(dtype), " is not supported"));
}

}  // namespace

void launch_arange(DType dtype, void* out, int64_t n, bool int_values, int64_t start_i, int64_t step_i,
                   double start, double step, void* stream) {
  if (n == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
#define HY_ARANGE(S)                                                                                   \
  arange_kernel<S><<<grid_for(n), kThreads, 0, s>>>(static_cast<S*>(out), n, int_values, start_i, step_i, \
                                                    start, step);                                      \
  HY_CUDA_CHECK(cudaGetLastError())
  HY_CUDA_DTYPE_SWITCH(dtype, HY_ARANGE, unsupported("arange", dtype))
#undef HY_ARANGE
}

void launch_linspace(DType dtype, void* out, int64_t steps, double start, double end, double step, void* stream) {
  if (steps == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
#define HY_LINSPACE(S)                                                                                          \
  linspace_kernel<S><<<grid_for(steps), kThreads, 0, s>>>(static_cast<S*>(out), steps, start, end, step); \
  HY_CUDA_CHECK(cudaGetLastError())
  HY_CUDA_DTYPE_SWITCH(dtype, HY_LINSPACE, unsupported("linspace", dtype))
#undef HY_LINSPACE
}

void launch_eye(DType dtype, void* out, int64_t rows, int64_t cols, void* stream) {
  if (rows == 0 || cols == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
#define HY_EYE(S)                                                                                  \
  eye_kernel<S><<<grid_for(rows * cols), kThreads, 0, s>>>(static_cast<S*>(out), rows, cols); \
  HY_CUDA_CHECK(cudaGetLastError())
  HY_CUDA_DTYPE_SWITCH(dtype, HY_EYE, unsupported("eye", dtype))
#undef HY_EYE
}

void launch_triangle(bool lower, int itemsize, void* out, const void* in, const Geometry<2>& g, int64_t diagonal,
                     void* stream) {
  if (g.numel == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
#define HY_TRIANGLE(B)                                                                                       \
  triangle_kernel<B><<<grid_for(g.numel), kThreads, 0, s>>>(static_cast<B*>(out), static_cast<const B*>(in), g, \
                                                            lower, diagonal);                                \
  HY_CUDA_CHECK(cudaGetLastError());                                                                         \
  return
  switch (itemsize) {
    case 1: HY_TRIANGLE(uint8_t);
    case 2: HY_TRIANGLE(uint16_t);
    case 4: HY_TRIANGLE(uint32_t);
    case 8: HY_TRIANGLE(uint64_t);
    default: break;
  }
#undef HY_TRIANGLE
  throw NotImplementedError(str("CUDA tril/triu kernel: ", itemsize, "-byte elements are not supported"));
}

}  // namespace hy::cuda
