// Advanced indexing (the glue is kernels_advanced_index.cpp): the per-index offset kernel of index and
// index_put_ (with its bounds check), index_put_'s write, and the compactions of nonzero and
// masked_select (a count, then CUB's DeviceSelect). index's gather and index_put_'s accumulation reuse
// gather_scatter.cu (launch_gather, the deterministic scatter-add). Everything that only moves elements
// is instantiated per item size, not per dtype.
#include <cub/device/device_select.cuh>
#include <thrust/iterator/counting_iterator.h>

#include "cuda/elementwise.cuh"
#include "cuda/launch_index_internal.h"

namespace hy::cuda {
namespace {

// An element of W bytes, moved as one aligned load/store.
template <int W> struct alignas(W) Bytes { unsigned char b[W]; };

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

__global__ void index_offsets_kernel(int64_t* off, const int64_t* index, Geometry<2> g, int64_t size, int64_t stride,
                                     bool first, unsigned long long* first_bad) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < g.numel; i += step) {
    int64_t o[2];
    offsets_of(g, i, o);
    int64_t v = index[o[1]];
    if (v < -size || v >= size) {
      atomicMin(first_bad, static_cast<unsigned long long>(i));
      continue;
    }
    if (v < 0) v += size;
    off[o[0]] = (first ? 0 : off[o[0]]) + v * stride;
  }
}

__global__ void iota_kernel(int64_t* out, int64_t n) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) out[i] = i;
}

// Entry entries_sorted[i] wins when no later entry (in entry order) has its key: it is the last of its run.
__global__ void mark_last_kernel(const uint64_t* keys_sorted, const int64_t* entries_sorted, int64_t n, bool* winner) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    winner[entries_sorted[i]] = i + 1 == n || keys_sorted[i + 1] != keys_sorted[i];
}

template <int W>
__global__ void index_put_kernel(Bytes<W>* self, const Bytes<W>* values, const int64_t* off, const bool* winner,
                                 Geometry<3> g) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < g.numel; i += step) {
    int64_t o[3];
    offsets_of(g, i, o);
    if (winner == nullptr || winner[o[2]]) self[o[0] + off[o[2]]] = values[o[1]];
  }
}

// Per-thread counts, summed over the warp, one atomic per warp.
__global__ void count_true_kernel(const bool* mask, int64_t n, unsigned long long* count) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  unsigned c = 0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) c += mask[i] ? 1u : 0u;
  c = __reduce_add_sync(0xffffffffu, c);  // the grid's threads are whole warps (kThreads is a multiple of 32)
  if (threadIdx.x % 32 == 0 && c != 0) atomicAdd(count, static_cast<unsigned long long>(c));
}

__global__ void unravel_kernel(const int64_t* linear, int64_t count, NdSizes shape, int64_t* out) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < count; r += step) {
    int64_t rest = linear[r];
    int64_t* o = out + r * shape.ndim;
    for (int d = shape.ndim - 1; d >= 0; --d) {
      o[d] = rest % shape.sizes[d];
      rest /= shape.sizes[d];
    }
  }
}

using Counting = thrust::counting_iterator<int64_t>;

template <typename In, typename Out>
size_t flagged_bytes(In in, const bool* mask, Out out, int64_t n) {
  size_t bytes = 0;
  HY_CUDA_CHECK(cub::DeviceSelect::Flagged(nullptr, bytes, in, mask, out, static_cast<int64_t*>(nullptr), n));
  return bytes;
}

}  // namespace

void launch_index_offsets(int64_t* off, const int64_t* index, const Geometry<2>& g, int64_t size, int64_t stride,
                          bool first, unsigned long long* first_bad, void* stream) {
  if (g.numel == 0) return;
  index_offsets_kernel<<<grid_for(g.numel), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      off, index, g, size, stride, first, first_bad);
  HY_CUDA_CHECK(cudaGetLastError());
}

void launch_iota(int64_t* out, int64_t n, void* stream) {
  if (n == 0) return;
  iota_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(out, n);
  HY_CUDA_CHECK(cudaGetLastError());
}

void launch_mark_last(const uint64_t* keys_sorted, const int64_t* entries_sorted, int64_t n, bool* winner,
                      void* stream) {
  if (n == 0) return;
  mark_last_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(keys_sorted, entries_sorted, n,
                                                                                    winner);
  HY_CUDA_CHECK(cudaGetLastError());
}

void launch_index_put(int itemsize, void* self, const void* values, const int64_t* off, const bool* winner,
                      const Geometry<3>& g, void* stream) {
  if (g.numel == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
#define HY_INDEX_PUT(W)                                                                                        \
  index_put_kernel<W><<<grid_for(g.numel), kThreads, 0, s>>>(static_cast<Bytes<W>*>(self),                    \
                                                             static_cast<const Bytes<W>*>(values), off, winner, g)
  switch (itemsize) {
    case 1: HY_INDEX_PUT(1); break;
    case 2: HY_INDEX_PUT(2); break;
    case 4: HY_INDEX_PUT(4); break;
    case 8: HY_INDEX_PUT(8); break;
    default: throw NotImplementedError(str("op 'index_put_' has no CUDA kernel for ", itemsize, "-byte elements"));
  }
#undef HY_INDEX_PUT
  HY_CUDA_CHECK(cudaGetLastError());
}

void launch_count_true(const bool* mask, int64_t n, unsigned long long* count, void* stream) {
  if (n == 0) return;
  count_true_kernel<<<grid_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(mask, n, count);
  HY_CUDA_CHECK(cudaGetLastError());
}

size_t select_scratch_bytes(int itemsize, int64_t n) {
  switch (itemsize) {
    case 0: return flagged_bytes(Counting(0), nullptr, static_cast<int64_t*>(nullptr), n);
    case 1: return flagged_bytes(static_cast<const Bytes<1>*>(nullptr), nullptr, static_cast<Bytes<1>*>(nullptr), n);
    case 2: return flagged_bytes(static_cast<const Bytes<2>*>(nullptr), nullptr, static_cast<Bytes<2>*>(nullptr), n);
    case 4: return flagged_bytes(static_cast<const Bytes<4>*>(nullptr), nullptr, static_cast<Bytes<4>*>(nullptr), n);
    case 8: return flagged_bytes(static_cast<const Bytes<8>*>(nullptr), nullptr, static_cast<Bytes<8>*>(nullptr), n);
    default: throw NotImplementedError(str("op 'masked_select' has no CUDA kernel for ", itemsize, "-byte elements"));
  }
}

void launch_select_positions(const bool* mask, int64_t n, int64_t* out, int64_t* num_selected, void* scratch,
                             size_t scratch_bytes, void* stream) {
  if (n == 0) return;
  HY_CUDA_CHECK(cub::DeviceSelect::Flagged(scratch, scratch_bytes, Counting(0), mask, out, num_selected, n,
                                           static_cast<cudaStream_t>(stream)));
}

void launch_masked_select(int itemsize, const void* in, const bool* mask, int64_t n, void* out,
                          int64_t* num_selected, void* scratch, size_t scratch_bytes, void* stream) {
  if (n == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
#define HY_MASKED_SELECT(W)                                                                                      \
  HY_CUDA_CHECK(cub::DeviceSelect::Flagged(scratch, scratch_bytes, static_cast<const Bytes<W>*>(in), mask,      \
                                           static_cast<Bytes<W>*>(out), num_selected, n, s))
  switch (itemsize) {
    case 1: HY_MASKED_SELECT(1); break;
    case 2: HY_MASKED_SELECT(2); break;
    case 4: HY_MASKED_SELECT(4); break;
    case 8: HY_MASKED_SELECT(8); break;
    default: throw NotImplementedError(str("op 'masked_select' has no CUDA kernel for ", itemsize, "-byte elements"));
  }
#undef HY_MASKED_SELECT
}

void launch_unravel(const int64_t* linear, int64_t count, const NdSizes& shape, int64_t* out, void* stream) {
  if (count == 0 || shape.ndim == 0) return;
  unravel_kernel<<<grid_for(count), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(linear, count, shape, out);
  HY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace hy::cuda
