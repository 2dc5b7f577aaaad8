// Complex products and quotients (the elementwise launcher over (re, im) pairs), and the in-place real
// scaling the FFT normalizations use. Compiled with --fmad=false (cmake/cuda_backend.cmake), so each
// product is rounded on its own, as the CPU's std::complex arithmetic rounds it.
#include "cuda/elementwise.cuh"

namespace hy::cuda {
namespace {

// One complex element, laid out as std::complex<T> (and cuFFT's cufftComplex): real part first.
template <typename T>
struct alignas(2 * sizeof(T)) Pair {
  T re, im;
};

struct ComplexMul {
  template <typename T>
  __device__ Pair<T> operator()(Pair<T> a, Pair<T> b) const {
    return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
  }
};

// Smith's algorithm (divide by the larger part of the divisor first, so |c|^2 + |d|^2 cannot overflow
// where the quotient does not); a zero divisor gives infinities scaled by the dividend's parts, as C's
// complex division (Annex G) does on the CPU.
struct ComplexDiv {
  template <typename T>
  __device__ Pair<T> operator()(Pair<T> a, Pair<T> b) const {
    const T c = b.re, d = b.im;
    if (c == T(0) && d == T(0)) {
      const T inf = copysign(T(INFINITY), c);
      return {inf * a.re, inf * a.im};
    }
    if (fabs(c) >= fabs(d)) {
      const T r = d / c, den = c + d * r;
      return {(a.re + a.im * r) / den, (a.im - a.re * r) / den};
    }
    const T r = c / d, den = c * r + d;
    return {(a.re * r + a.im) / den, (a.im * r - a.re) / den};
  }
};

template <typename T, typename F>
void complex_as(F f, void* out, const void* a, const void* b, const Geometry<3>& g, void* stream) {
  using P = Pair<T>;
  launch_elementwise<P, P, 2>(static_cast<P*>(out), InPtrs<P, 2>{{static_cast<const P*>(a), static_cast<const P*>(b)}},
                              g, f, stream);
}

template <typename T>
__global__ void scale_kernel(T* data, T scale, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) data[i] *= scale;
}

}  // namespace

void launch_complex_binary(ComplexOp op, DType dtype, void* out, const void* a, const void* b, const Geometry<3>& g,
                           void* stream) {
  const bool mul = op == ComplexOp::ComplexOp_Mul;
  switch (dtype) {
    case DType::Complex64: return mul ? complex_as<float>(ComplexMul{}, out, a, b, g, stream)
                                      : complex_as<float>(ComplexDiv{}, out, a, b, g, stream);
    case DType::Complex128: return mul ? complex_as<double>(ComplexMul{}, out, a, b, g, stream)
                                       : complex_as<double>(ComplexDiv{}, out, a, b, g, stream);
    default: throw NotImplementedError(str("CUDA complex kernel: dtype ", dtype_name(dtype), " is not complex"));
  }
}

void launch_scale(DType dtype, void* data, int64_t n, double scale, void* stream) {
  if (n == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  if (dtype == DType::Float32) {
    scale_kernel<float><<<grid_for(n), kThreads, 0, s>>>(static_cast<float*>(data), static_cast<float>(scale), n);
  } else if (dtype == DType::Float64) {
    scale_kernel<double><<<grid_for(n), kThreads, 0, s>>>(static_cast<double*>(data), scale, n);
  } else {
    throw NotImplementedError(str("CUDA scale kernel: dtype ", dtype_name(dtype), " is not float32/float64"));
  }
  HY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace hy::cuda
