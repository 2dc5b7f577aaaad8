// The one generic elementwise launcher: any functor of one or two inputs (the op table's generated
// hy::scalar_ops functors), over dense tensors with vectorized 16-byte loads, or over broadcast/strided
// geometries with a per-element offset computation. Included by the .cu files of each family only.
#pragma once
#include <algorithm>
#include <type_traits>

#include "cuda/cuda_check_internal.h"
#include "cuda/device_types_internal.cuh"
#include "cuda/launch_internal.h"

namespace hy::cuda {

constexpr int kThreads = 256;

template <typename S, int NIN>
struct InPtrs {
  const S* p[NIN];
};

template <typename F, typename C, int NIN>
__device__ __forceinline__ auto invoke(const F& f, const C (&v)[NIN]) {
  if constexpr (NIN == 1) return f(v[0]); else return f(v[0], v[1]);
}

// Dense inputs and output: each thread handles VEC consecutive elements with one aligned vector load per
// input and one store (the launcher checks the alignment); the tail runs element by element.
template <typename S, typename SO, int NIN, int VEC, typename F>
__global__ void elementwise_dense_kernel(SO* out, InPtrs<S, NIN> in, int64_t n, F f) {
  using C = compute_t<S>;
  struct alignas(sizeof(S) * VEC) VecIn { S v[VEC]; };
  struct alignas(sizeof(SO) * VEC) VecOut { SO v[VEC]; };
  const int64_t stride = int64_t(gridDim.x) * blockDim.x * VEC;
  for (int64_t base = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) * VEC; base < n; base += stride) {
    if (base + VEC <= n) {
      VecIn loaded[NIN];
#pragma unroll
      for (int k = 0; k < NIN; ++k) loaded[k] = *reinterpret_cast<const VecIn*>(in.p[k] + base);
      VecOut result;
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        C v[NIN];
#pragma unroll
        for (int k = 0; k < NIN; ++k) v[k] = to_compute<C>(loaded[k].v[j]);
        result.v[j] = from_compute<SO>(invoke(f, v));
      }
      *reinterpret_cast<VecOut*>(out + base) = result;
    } else {
      for (int64_t i = base; i < n; ++i) {
        C v[NIN];
#pragma unroll
        for (int k = 0; k < NIN; ++k) v[k] = to_compute<C>(in.p[k][i]);
        out[i] = from_compute<SO>(invoke(f, v));
      }
    }
  }
}

// Any geometry: the linear index is split into coordinates once and each tensor's offset follows from
// its strides (a broadcast dim has stride 0).
template <typename S, typename SO, int NIN, typename F>
__global__ void elementwise_strided_kernel(SO* out, InPtrs<S, NIN> in, Geometry<NIN + 1> g, F f) {
  using C = compute_t<S>;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < g.numel; i += stride) {
    int64_t rest = i, offsets[NIN + 1] = {};
    for (int d = g.ndim - 1; d >= 0; --d) {
      const int64_t coord = rest % g.sizes[d];
      rest /= g.sizes[d];
#pragma unroll
      for (int k = 0; k < NIN + 1; ++k) offsets[k] += coord * g.strides[k][d];
    }
    C v[NIN];
#pragma unroll
    for (int k = 0; k < NIN; ++k) v[k] = to_compute<C>(in.p[k][offsets[k + 1]]);
    out[offsets[0]] = from_compute<SO>(invoke(f, v));
  }
}

inline unsigned grid_for(int64_t work) {
  // Enough blocks to fill any current GPU several times over; the kernels loop (grid stride) beyond it.
  const int64_t blocks = (work + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(blocks, 65535 * 4)));
}

/// Runs `f` over the geometry: out (storage type SO) = f(inputs of storage type S, in compute type).
template <typename S, typename SO, int NIN, typename F>
void launch_elementwise(SO* out, InPtrs<S, NIN> in, const Geometry<NIN + 1>& g, F f, void* stream) {
  if (g.numel == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  constexpr int kVec = std::max<int>(1, std::min<int>(16 / std::max(sizeof(S), sizeof(SO)), 8));
  bool aligned = reinterpret_cast<uintptr_t>(out) % (sizeof(SO) * kVec) == 0;
  for (int k = 0; k < NIN; ++k) aligned = aligned && reinterpret_cast<uintptr_t>(in.p[k]) % (sizeof(S) * kVec) == 0;
  if (g.contiguous && aligned) {
    elementwise_dense_kernel<S, SO, NIN, kVec><<<grid_for((g.numel + kVec - 1) / kVec), kThreads, 0, s>>>(
        out, in, g.numel, f);
  } else if (g.contiguous) {
    elementwise_dense_kernel<S, SO, NIN, 1><<<grid_for(g.numel), kThreads, 0, s>>>(out, in, g.numel, f);
  } else {
    elementwise_strided_kernel<S, SO, NIN><<<grid_for(g.numel), kThreads, 0, s>>>(out, in, g, f);
  }
  HY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace hy::cuda
