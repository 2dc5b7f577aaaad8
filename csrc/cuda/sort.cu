// Sorting along one dim (sort, argsort, topk; the glue is kernels_sort.cpp) with CUB's radix sort.
//
// Every element becomes an unsigned key whose unsigned order is the CPU kernel's order (kernels/cpu/
// sort.cpp): integers flip their sign bit; floats map to the usual radix-sortable bits after -0.0 is made
// +0.0 (the two compare equal) and every NaN the one largest key (NaN is larger than every number and
// equal to itself); float16/bfloat16 go through float (exact), bool is 0/1. A descending sort
// complements the keys within their width, so an ascending stable sort of them is a stable descending
// sort of the values: ties keep their input order either way, the CPU's total order (value, position).
//
// Rows are sorted all at once by two stable passes of CUB's device-wide radix sort (LSD order): every
// element by its key (over the key's bits only: 1 for bool, 32 for 32- and 16-bit types), then by its
// row (over the bits of the row count), which brings each row together in key order. The payload is the
// element's linear position, so the result is each row's sorted positions; the glue gathers the values
// through them. One instantiation (uint64 keys, int64 payload) serves every dtype and index_put_'s
// offset sort; the work is linear in the element count whatever the row length (a segmented sort
// with one block per row would starve on few long rows and pay a launch per row on many short ones).
#include <cub/device/device_radix_sort.cuh>

#include <algorithm>

#include "cuda/elementwise.cuh"
#include "cuda/launch_index_internal.h"

namespace hy::cuda {
namespace {

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

__device__ __forceinline__ uint32_t float_key(float x) {
  if (isnan(x)) return 0xFFFFFFFFu;  // every NaN: one key above +inf (0xFF800000)
  const uint32_t b = x == 0.0f ? 0u : __float_as_uint(x);  // -0.0 sorts as +0.0
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

__device__ __forceinline__ uint64_t double_key(double x) {
  if (isnan(x)) return ~uint64_t{0};
  const uint64_t b = x == 0.0 ? 0ull : static_cast<uint64_t>(__double_as_longlong(x));
  return (b & (uint64_t{1} << 63)) ? ~b : (b | (uint64_t{1} << 63));
}

// U: the key type; kBits: the bits a key uses (a descending sort complements those).
template <typename S> struct KeyOf;
template <> struct KeyOf<bool> {
  using U = uint32_t;
  static constexpr int kBits = 1;
  __device__ static U key(bool v) { return v ? 1u : 0u; }
};
template <> struct KeyOf<int32_t> {
  using U = uint32_t;
  static constexpr int kBits = 32;
  __device__ static U key(int32_t v) { return static_cast<uint32_t>(v) ^ 0x80000000u; }
};
template <> struct KeyOf<int64_t> {
  using U = uint64_t;
  static constexpr int kBits = 64;
  __device__ static U key(int64_t v) { return static_cast<uint64_t>(v) ^ (uint64_t{1} << 63); }
};
template <> struct KeyOf<__half> {
  using U = uint32_t;
  static constexpr int kBits = 32;
  __device__ static U key(__half v) { return float_key(__half2float(v)); }
};
template <> struct KeyOf<__nv_bfloat16> {
  using U = uint32_t;
  static constexpr int kBits = 32;
  __device__ static U key(__nv_bfloat16 v) { return float_key(__bfloat162float(v)); }
};
template <> struct KeyOf<float> {
  using U = uint32_t;
  static constexpr int kBits = 32;
  __device__ static U key(float v) { return float_key(v); }
};
template <> struct KeyOf<double> {
  using U = uint64_t;
  static constexpr int kBits = 64;
  __device__ static U key(double v) { return double_key(v); }
};

// The low B bits set: complementing a key within its width.
template <typename U, int B> constexpr U low_mask() {
  if constexpr (B == 8 * sizeof(U)) return ~U{0};
  else return static_cast<U>((U{1} << B) - 1);
}

template <typename S>
__global__ void sort_keys_kernel(uint64_t* keys, int64_t* linear, const S* in, Geometry<2> g, uint64_t flip) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < g.numel; i += stride) {
    int64_t off[2];
    offsets_of(g, i, off);
    keys[i] = static_cast<uint64_t>(KeyOf<S>::key(in[off[1]])) ^ flip;
    linear[i] = i;
  }
}

// The row of each element, from its linear position in the dense [rows, cols] layout.
__global__ void row_keys_kernel(uint64_t* keys, const int64_t* linear, int64_t n, int64_t cols) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    keys[i] = static_cast<uint64_t>(linear[i] / cols);
}

// Linear positions to positions within the row, in place.
__global__ void column_of_kernel(int64_t* positions, int64_t n, int64_t cols) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) positions[i] %= cols;
}

constexpr size_t kAlign = 256;
size_t aligned(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

int bits_for(int64_t max_value) {
  int bits = 1;
  while (bits < 63 && (max_value >> bits) != 0) ++bits;
  return bits;
}

// CUB's temporary storage for n pairs over `bits` key bits (nothing runs on the device).
size_t cub_sort_bytes(int64_t n, int bits) {
  size_t bytes = 0;
  HY_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const uint64_t*>(nullptr),
                                                static_cast<uint64_t*>(nullptr), static_cast<const int64_t*>(nullptr),
                                                static_cast<int64_t*>(nullptr), n, 0, bits));
  return bytes;
}

template <typename S>
void sort_rows(const S* in, const Geometry<2>& g, int64_t rows, int64_t cols, bool descending, int64_t* positions,
               void* scratch, size_t scratch_bytes, cudaStream_t s) {
  constexpr int bits = KeyOf<S>::kBits;
  const int64_t n = rows * cols;
  const size_t vec = aligned(static_cast<size_t>(n) * sizeof(uint64_t));
  char* base = static_cast<char*>(scratch);
  auto* keys_a = reinterpret_cast<uint64_t*>(base);
  auto* keys_b = reinterpret_cast<uint64_t*>(base + vec);
  auto* linear_a = reinterpret_cast<int64_t*>(base + 2 * vec);
  auto* linear_b = reinterpret_cast<int64_t*>(base + 3 * vec);
  void* temp = base + 4 * vec;
  const size_t temp_bytes = scratch_bytes - 4 * vec;
  const uint64_t flip = descending ? static_cast<uint64_t>(low_mask<typename KeyOf<S>::U, bits>()) : 0;
  sort_keys_kernel<S><<<grid_for(n), kThreads, 0, s>>>(keys_a, linear_a, in, g, flip);
  HY_CUDA_CHECK(cudaGetLastError());
  // Pass 1: every element by its key (stable: ties keep their linear, so in-row, order). One row: done.
  size_t t = temp_bytes;
  HY_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, t, keys_a, keys_b, linear_a, rows == 1 ? positions : linear_b,
                                                n, 0, bits, s));
  if (rows == 1) return;
  // Pass 2: stably by row, so each row's elements come together in their key order.
  row_keys_kernel<<<grid_for(n), kThreads, 0, s>>>(keys_a, linear_b, n, cols);
  HY_CUDA_CHECK(cudaGetLastError());
  t = temp_bytes;
  HY_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, t, keys_a, keys_b, linear_b, positions, n, 0,
                                                bits_for(rows - 1), s));
  column_of_kernel<<<grid_for(n), kThreads, 0, s>>>(positions, n, cols);
  HY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

size_t sort_scratch_bytes(DType dtype, int64_t rows, int64_t cols) {
  HY_CHECK(dtype != DType::Complex64 && dtype != DType::Complex128, NotImplementedError,
           "CUDA sort: no kernel for dtype ", dtype_name(dtype));
  // Scratch: keys and linear positions, twice each (n entries), then CUB's storage for the larger pass.
  const int64_t n = rows * cols;
  const int bits = dtype == DType::Bool ? KeyOf<bool>::kBits : dtype_itemsize(dtype) == 8 ? 64 : 32;
  const size_t temp = std::max(cub_sort_bytes(n, bits), rows > 1 ? cub_sort_bytes(n, bits_for(rows - 1)) : 0);
  return 4 * aligned(static_cast<size_t>(n) * sizeof(uint64_t)) + aligned(temp);
}

void launch_sort_positions(DType dtype, const void* in, const Geometry<2>& g, int64_t rows, int64_t cols,
                           bool descending, int64_t* positions, void* scratch, size_t scratch_bytes, void* stream) {
  if (rows == 0 || cols == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
#define HY_SORT_ROWS(S) \
  sort_rows<S>(static_cast<const S*>(in), g, rows, cols, descending, positions, scratch, scratch_bytes, s)
  HY_CUDA_DTYPE_SWITCH(dtype, HY_SORT_ROWS,
                       throw NotImplementedError(str("CUDA sort: no kernel for dtype ", dtype_name(dtype))))
#undef HY_SORT_ROWS
}

size_t radix_sort_pairs_scratch_bytes(int64_t n, int key_bits) { return cub_sort_bytes(n, key_bits); }

void launch_radix_sort_pairs(const uint64_t* keys_in, uint64_t* keys_out, const int64_t* values_in,
                             int64_t* values_out, int64_t n, int key_bits, void* scratch, size_t scratch_bytes,
                             void* stream) {
  if (n == 0) return;
  HY_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(scratch, scratch_bytes, keys_in, keys_out, values_in, values_out, n,
                                                0, key_bits, static_cast<cudaStream_t>(stream)));
}

}  // namespace hy::cuda
