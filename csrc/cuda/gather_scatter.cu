// Index-driven kernels: the index range check, gather (gather, index_select), the deterministic
// scatter-add (scatter_add, index_add and so the backward of gather/index_select/embedding) and
// masked_fill. Gathers and fills only move bytes, so they are instantiated per item size, not per dtype;
// only the scatter-add's accumulation needs the element type.
#include <cub/device/device_radix_sort.cuh>

#include <climits>

#include "cuda/elementwise.cuh"

namespace hy::cuda {
namespace {

// An element of W bytes, moved as one aligned load/store.
template <int W> struct alignas(W) Bytes { unsigned char b[W]; };

// The element offsets of position i in each of the geometry's N tensors.
template <int N>
__device__ __forceinline__ void offsets_of(const Geometry<N>& g, int64_t i, int64_t (&off)[N]) {
#pragma unroll
  for (int k = 0; k < N; ++k) off[k] = 0;
  for (int d = g.ndim - 1; d >= 0; --d) {
    const int64_t coord = i % g.sizes[d];
    i /= g.sizes[d];
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] += coord * g.strides[k][d];
  }
}

__global__ void index_check_kernel(const int64_t* index, Geometry<2> g, int64_t size, unsigned long long* first_bad) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < g.numel; i += stride) {
    int64_t off[2];
    offsets_of(g, i, off);
    const int64_t v = index[off[0]];
    if (v < 0 || v >= size) atomicMin(first_bad, static_cast<unsigned long long>(i));
  }
}

template <int W>
__global__ void gather_kernel(Bytes<W>* out, const Bytes<W>* base, const int64_t* index, int64_t dim_stride,
                              Geometry<3> g) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < g.numel; i += stride) {
    int64_t off[3];
    offsets_of(g, i, off);
    out[off[0]] = base[off[1] + index[off[2]] * dim_stride];
  }
}

// The CPU kernel's accumulate (kernels/cpu/shape_gather.cpp): bool ORs, integers wrap, 16-bit floats add
// in float and round after every addition.
template <typename S> __device__ __forceinline__ S accumulate(S a, S b) {
  if constexpr (std::is_same_v<S, bool>) {
    return a || b;
  } else if constexpr (std::is_integral_v<S>) {
    using U = std::make_unsigned_t<S>;
    return static_cast<S>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return from_compute<S>(to_compute<compute_t<S>>(a) + to_compute<compute_t<S>>(b));
  }
}

// keys[p]: the target element entry p writes; ord[p] = p (the sort's payload).
__global__ void scatter_keys_kernel(const int64_t* index, int64_t dim_stride, Geometry<3> g, int64_t* keys,
                                    int64_t* ord) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < g.numel; i += stride) {
    int64_t off[3];
    offsets_of(g, i, off);
    keys[i] = off[0] + index[off[1]] * dim_stride;
    ord[i] = i;
  }
}

// One thread per run of equal keys (its first entry): the run's sources are added in entry order.
template <typename S>
__global__ void segmented_add_kernel(S* target, const S* src, const int64_t* keys, const int64_t* ord, Geometry<3> g) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < g.numel; i += stride) {
    const int64_t key = keys[i];
    if (i > 0 && keys[i - 1] == key) continue;
    S acc = target[key];
    for (int64_t j = i; j < g.numel && keys[j] == key; ++j) {
      int64_t off[3];
      offsets_of(g, ord[j], off);
      acc = accumulate<S>(acc, src[off[2]]);
    }
    target[key] = acc;
  }
}

template <int W>
__global__ void masked_fill_kernel(Bytes<W>* out, const bool* mask, Bytes<W> value, Geometry<2> g) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < g.numel; i += stride) {
    int64_t off[2];
    offsets_of(g, i, off);
    if (mask[off[1]]) out[off[0]] = value;
  }
}

constexpr size_t kAlign = 256;
size_t aligned(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

size_t radix_temp_bytes(int64_t n, int key_bits) {
  size_t bytes = 0;
  HY_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const int64_t*>(nullptr),
                                                static_cast<int64_t*>(nullptr), static_cast<const int64_t*>(nullptr),
                                                static_cast<int64_t*>(nullptr), static_cast<int>(n), 0, key_bits));
  return bytes;
}

}  // namespace

void launch_index_check(const int64_t* index, const Geometry<2>& g, int64_t size, unsigned long long* first_bad,
                        void* stream) {
  if (g.numel == 0) return;
  index_check_kernel<<<grid_for(g.numel), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(index, g, size,
                                                                                            first_bad);
  HY_CUDA_CHECK(cudaGetLastError());
}

void launch_gather(int itemsize, void* out, const void* base, const int64_t* index, int64_t dim_stride,
                   const Geometry<3>& g, void* stream) {
  if (g.numel == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
#define HY_GATHER(W)                                                                                 \
  gather_kernel<W><<<grid_for(g.numel), kThreads, 0, s>>>(static_cast<Bytes<W>*>(out),              \
                                                          static_cast<const Bytes<W>*>(base), index, \
                                                          dim_stride, g)
  switch (itemsize) {
    case 1: HY_GATHER(1); break;
    case 2: HY_GATHER(2); break;
    case 4: HY_GATHER(4); break;
    case 8: HY_GATHER(8); break;
    case 16: HY_GATHER(16); break;
    default: throw ValueError(str("gather: unsupported element size ", itemsize));
  }
#undef HY_GATHER
  HY_CUDA_CHECK(cudaGetLastError());
}

size_t scatter_add_scratch_bytes(int64_t n, int key_bits) {
  return 4 * aligned(static_cast<size_t>(n) * sizeof(int64_t)) + aligned(radix_temp_bytes(n, key_bits));
}

void launch_scatter_add(DType dtype, void* target, const int64_t* index, const void* src, int64_t dim_stride,
                        const Geometry<3>& g, int key_bits, void* scratch, size_t scratch_bytes, void* stream) {
  if (g.numel == 0) return;
  HY_CHECK(g.numel <= INT_MAX, ValueError, "scatter_add: the CUDA kernel takes at most ", INT_MAX,
           " index entries, got ", g.numel);
  auto s = static_cast<cudaStream_t>(stream);
  const size_t vec = aligned(static_cast<size_t>(g.numel) * sizeof(int64_t));
  char* base = static_cast<char*>(scratch);
  auto* keys = reinterpret_cast<int64_t*>(base);
  auto* keys_sorted = reinterpret_cast<int64_t*>(base + vec);
  auto* ord = reinterpret_cast<int64_t*>(base + 2 * vec);
  auto* ord_sorted = reinterpret_cast<int64_t*>(base + 3 * vec);
  size_t temp_bytes = scratch_bytes - 4 * vec;
  scatter_keys_kernel<<<grid_for(g.numel), kThreads, 0, s>>>(index, dim_stride, g, keys, ord);
  HY_CUDA_CHECK(cudaGetLastError());
  // Radix sort is stable: entries of one key keep their row-major order, the order the CPU adds them in.
  HY_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(base + 4 * vec, temp_bytes, keys, keys_sorted, ord, ord_sorted,
                                                static_cast<int>(g.numel), 0, key_bits, s));
#define HY_SEGMENTED_ADD(S)                                                                              \
  segmented_add_kernel<S><<<grid_for(g.numel), kThreads, 0, s>>>(static_cast<S*>(target),               \
                                                                 static_cast<const S*>(src), keys_sorted, \
                                                                 ord_sorted, g)
  HY_CUDA_DTYPE_SWITCH(dtype, HY_SEGMENTED_ADD,
                       throw NotImplementedError(str("op 'scatter_add' has no CUDA kernel for dtype ",
                                                     dtype_name(dtype))))
#undef HY_SEGMENTED_ADD
  HY_CUDA_CHECK(cudaGetLastError());
}

void launch_masked_fill(int itemsize, void* out, const bool* mask, uint64_t value_bits, const Geometry<2>& g,
                        void* stream) {
  if (g.numel == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
#define HY_MASKED_FILL(W)                                                                                       \
  {                                                                                                             \
    Bytes<W> v;                                                                                                 \
    memcpy(v.b, &value_bits, W);                                                                                \
    masked_fill_kernel<W><<<grid_for(g.numel), kThreads, 0, s>>>(static_cast<Bytes<W>*>(out), mask, v, g);      \
  }
  switch (itemsize) {
    case 1: HY_MASKED_FILL(1); break;
    case 2: HY_MASKED_FILL(2); break;
    case 4: HY_MASKED_FILL(4); break;
    case 8: HY_MASKED_FILL(8); break;
    default: throw NotImplementedError(str("op 'masked_fill' has no CUDA kernel for ", itemsize, "-byte elements"));
  }
#undef HY_MASKED_FILL
  HY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace hy::cuda
