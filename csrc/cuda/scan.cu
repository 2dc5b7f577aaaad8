// cumsum and cumprod: one CUB inclusive scan-by-key over the whole dense [rows, cols] buffer, the key of
// element i being its row i / cols, so every row is scanned independently in a single launch that keeps
// the whole GPU busy whatever the shape. Accumulation is in float64 for float32/float64 (the CPU also
// scans float32 in double: a running float32 sum drifts) and in wrapping int64 for integers; each output
// is rounded once to the buffer's type. CUB's scan combines tiles by decoupled look-back, whose grouping
// of additions is not fixed from run to run: float64 results may differ in the last bit between runs
// (float32 and 16-bit outputs, accumulated in double and rounded once, practically never; integers are
// exact).
#include <cub/device/device_scan.cuh>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/iterator/transform_output_iterator.h>

#include <type_traits>

#include "cuda/cuda_check_internal.h"
#include "cuda/launch_internal.h"

namespace hy::cuda {
namespace {

template <typename T> using scan_acc_t = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

struct RowOf {
  int64_t cols;
  __host__ __device__ int64_t operator()(int64_t i) const { return i / cols; }
};
template <typename T> struct Widen {
  __host__ __device__ scan_acc_t<T> operator()(T x) const { return static_cast<scan_acc_t<T>>(x); }
};
template <typename T> struct Narrow {
  __host__ __device__ T operator()(scan_acc_t<T> x) const { return static_cast<T>(x); }
};
// cumsum or cumprod, chosen at run time: one scan instantiation per buffer type serves both.
struct ScanStep {
  bool prod;
  template <typename A> __host__ __device__ A operator()(A a, A b) const {
    if constexpr (std::is_integral_v<A>) {  // wrap modulo 2^64 like the CPU kernels, no signed overflow
      const auto x = static_cast<std::make_unsigned_t<A>>(a), y = static_cast<std::make_unsigned_t<A>>(b);
      return static_cast<A>(prod ? x * y : x + y);
    } else {
      return prod ? a * b : a + b;
    }
  }
};

// With temp == nullptr only sets `bytes` (CUB's size query; nothing runs).
template <typename T>
void scan_as(bool prod, void* temp, size_t& bytes, void* out, const void* in, int64_t rows, int64_t cols,
             cudaStream_t s) {
  const int64_t n = rows * cols;
  auto keys = thrust::make_transform_iterator(thrust::counting_iterator<int64_t>(0), RowOf{cols > 0 ? cols : 1});
  auto values = thrust::make_transform_iterator(static_cast<const T*>(in), Widen<T>{});
  auto result = thrust::make_transform_output_iterator(static_cast<T*>(out), Narrow<T>{});
  HY_CUDA_CHECK(cub::DeviceScan::InclusiveScanByKey(temp, bytes, keys, values, result, ScanStep{prod}, n,
                                                    ::cuda::std::equal_to<>{}, s));
}

void scan_dispatch(DType dtype, bool prod, void* temp, size_t& bytes, void* out, const void* in, int64_t rows,
                   int64_t cols, cudaStream_t s) {
  switch (dtype) {
    case DType::Int64: return scan_as<int64_t>(prod, temp, bytes, out, in, rows, cols, s);
    case DType::Float32: return scan_as<float>(prod, temp, bytes, out, in, rows, cols, s);
    case DType::Float64: return scan_as<double>(prod, temp, bytes, out, in, rows, cols, s);
    default:
      throw NotImplementedError(str("CUDA cumsum/cumprod: buffer dtype ", dtype_name(dtype), " is not supported"));
  }
}

}  // namespace

size_t scan_scratch_bytes(DType dtype, bool prod, int64_t n) {
  size_t bytes = 0;
  if (n > 0) scan_dispatch(dtype, prod, nullptr, bytes, nullptr, nullptr, 1, n, nullptr);
  return bytes;
}

void launch_scan_rows(DType dtype, bool prod, void* out, const void* in, int64_t rows, int64_t cols, void* scratch,
                      size_t scratch_bytes, void* stream) {
  if (rows * cols == 0) return;
  HY_CHECK(scratch != nullptr, RuntimeError, "CUDA cumsum/cumprod: launched without scratch memory");
  size_t bytes = scratch_bytes;
  scan_dispatch(dtype, prod, scratch, bytes, out, in, rows, cols, static_cast<cudaStream_t>(stream));
  HY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace hy::cuda
