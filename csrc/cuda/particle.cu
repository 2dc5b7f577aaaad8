// Cloud-in-cell particle-grid transfers (the glue is kernels_particle.cpp): one thread per particle,
// the CPU kernel's arithmetic (kernels/cpu/particle.cpp): a particle's node and fraction in double, its
// shares in the particle dtype, each product rounded on its own (__fmul_rn/__dmul_rn, no fused
// multiply-adds, as the baseline CPU build rounds them).
//
// The deposit adds with atomicAdd: the sum at each node is complete and exact per addition, but the
// order in which particles reach a node varies from run to run, so float results may differ in the
// last bits between runs (and from the CPU's fixed block order), like torch's index_add_ on CUDA.
#include <cmath>

#include "cuda/elementwise.cuh"
#include "cuda/launch_index_internal.h"

namespace hy::cuda {
namespace {

__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }

// The CPU's cic_locate: node i, its right neighbour j and the fraction f of a particle at x; false when
// the particle lies outside the grid (or x is not finite).
template <typename T>
__device__ __forceinline__ bool cic_locate(T x, const CicGrid& c, int64_t& i, int64_t& j, T& f) {
  const int64_t n = c.n;
  double g = __dmul_rn(static_cast<double>(x), c.inv_dx);
  if (c.periodic) {
    const double nd = static_cast<double>(n);
    g = g - __dmul_rn(floor(g / nd), nd);
    if (g >= nd) g = 0.0;  // -1e-17 wraps to n: the same node as 0
  }
  if (!(isfinite(g) && g >= 0.0 && g <= static_cast<double>(c.periodic ? n : n - 1))) return false;
  i = static_cast<int64_t>(floor(g));
  if (!c.periodic && i == n - 1) i = n - 2 >= 0 ? n - 2 : 0;  // the last node: f = 1 on it
  f = static_cast<T>(g - static_cast<double>(i));
  j = i + 1;
  if (j >= n) j = c.periodic ? j - n : n - 1;
  return true;
}

template <typename T>
__global__ void deposit_kernel(T* grid, const T* x, const T* w, int64_t np, CicGrid c, unsigned long long* first_bad) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; p < np; p += step) {
    int64_t i, j;
    T f;
    if (!cic_locate<T>(x[p], c, i, j, f)) {
      atomicMin(first_bad, static_cast<unsigned long long>(p));
      continue;
    }
    atomicAdd(grid + i, mul_rn(T(1) - f, w[p]));
    atomicAdd(grid + j, mul_rn(f, w[p]));
  }
}

template <typename T, bool kDerivative>
__global__ void per_particle_kernel(T* out, const T* grid, const T* x, const T* scale, int64_t np, CicGrid c,
                                    unsigned long long* first_bad) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; p < np; p += step) {
    int64_t i, j;
    T f;
    if (!cic_locate<T>(x[p], c, i, j, f)) {
      atomicMin(first_bad, static_cast<unsigned long long>(p));
      out[p] = T(0);
      continue;
    }
    if constexpr (kDerivative) {
      // The CPU's static_cast<T>(s * (g[j] - g[i]) * inv_dx): the product in T, the scaling in double.
      out[p] = static_cast<T>(__dmul_rn(static_cast<double>(mul_rn(scale[p], grid[j] - grid[i])), c.inv_dx));
    } else {
      out[p] = mul_rn(T(1) - f, grid[i]) + mul_rn(f, grid[j]);
    }
  }
}

}  // namespace

void launch_deposit_cic(DType dtype, void* grid, const void* positions, const void* weights, int64_t np,
                        const CicGrid& c, unsigned long long* first_bad, void* stream) {
  if (np == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  if (dtype == DType::Float32) {
    deposit_kernel<float><<<grid_for(np), kThreads, 0, s>>>(static_cast<float*>(grid),
                                                            static_cast<const float*>(positions),
                                                            static_cast<const float*>(weights), np, c, first_bad);
  } else if (dtype == DType::Float64) {
    deposit_kernel<double><<<grid_for(np), kThreads, 0, s>>>(static_cast<double*>(grid),
                                                             static_cast<const double*>(positions),
                                                             static_cast<const double*>(weights), np, c, first_bad);
  } else {
    throw NotImplementedError(str("op 'deposit_cic' has no CUDA kernel for dtype ", dtype_name(dtype)));
  }
  HY_CUDA_CHECK(cudaGetLastError());
}

void launch_cic_per_particle(DType dtype, void* out, const void* grid, const void* positions, const void* scale,
                             int64_t np, const CicGrid& c, unsigned long long* first_bad, void* stream) {
  if (np == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
#define HY_PER_PARTICLE(T, D)                                                                                   \
  per_particle_kernel<T, D><<<grid_for(np), kThreads, 0, s>>>(                                                  \
      static_cast<T*>(out), static_cast<const T*>(grid), static_cast<const T*>(positions),                      \
      static_cast<const T*>(scale), np, c, first_bad)
  if (dtype == DType::Float32) {
    if (scale) HY_PER_PARTICLE(float, true); else HY_PER_PARTICLE(float, false);
  } else if (dtype == DType::Float64) {
    if (scale) HY_PER_PARTICLE(double, true); else HY_PER_PARTICLE(double, false);
  } else {
    throw NotImplementedError(str("op 'interp_cic' has no CUDA kernel for dtype ", dtype_name(dtype)));
  }
#undef HY_PER_PARTICLE
  HY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace hy::cuda
