// Discrete Fourier transforms on Eigen's FFT module (its kissfft backend: mixed radix 2/3/4/5 and a
// generic butterfly for other factors; docs/design.md, "Library choices", says why this library).
//
// A multi-dim transform is a sequence of 1-D transforms: for each transformed dim the tensor is copied
// with that dim last and contiguous, and the rows are transformed in parallel (parallel_for, so
// hy.set_num_threads bounds it). Each chunk of rows owns its Eigen::FFT object (its plan cache is not
// thread-safe) and its scratch row, so results do not depend on the thread count.
#include <cmath>
#include <complex>
#include <vector>

#include <unsupported/Eigen/FFT>

#include "core/parallel.h"
#include "core/shape_util.h"
#include "hyflow/ops/binary.h"
#include "hyflow/ops/complex.h"
#include "hyflow/ops/creation.h"
#include "hyflow/ops/fft.h"
#include "hyflow/ops/shape.h"
#include "hyflow/ops/tensor.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::kernels::cpu {
namespace {

// The dims to transform, wrapped and checked: at least one, each once, all in range.
DimVector fft_dims(const Tensor& t, const DimVector& dim, const char* op) {
  HY_CHECK(!dim.empty(), ValueError, op, ": dim must name at least one dim");
  DimVector out;
  for (int64_t d : dim) {
    HY_CHECK(d >= -t.dim() && d < t.dim(), IndexError, op, ": dim ", d, " is out of range for a tensor with ",
             t.dim(), " dims");
    const int64_t w = d < 0 ? d + t.dim() : d;
    for (int64_t seen : out) HY_CHECK(seen != w, ValueError, op, ": dim ", d, " appears more than once in ", dim);
    out.push_back(w);
  }
  return out;
}

double norm_scale(int64_t normalization, int64_t signal_numel, const char* op) {
  HY_CHECK(normalization >= 0 && normalization <= 2, ValueError, op, ": normalization must be 0 (none), 1 (1/sqrt(n)) "
           "or 2 (1/n), got ", normalization);
  if (normalization == 0 || signal_numel == 0) return 1.0;
  return normalization == 1 ? 1.0 / std::sqrt(static_cast<double>(signal_numel)) : 1.0 / static_cast<double>(signal_numel);
}

// Rows of `n` elements are independent transforms; aim for chunks of ~16k elements per task.
int64_t row_grain(int64_t n) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(n, 1)); }

// A contiguous copy of `t` with dim `d` moved last (always a fresh tensor: the caller writes into it).
Tensor with_dim_last(const Tensor& t, int64_t d) {
  Tensor moved = d == t.dim() - 1 ? t : ops::transpose(t, d, -1);
  return ops::clone(moved);
}

// Undo with_dim_last: a view with the last dim put back at `d`.
Tensor dim_last_back(const Tensor& t, int64_t d) { return d == t.dim() - 1 ? t : ops::transpose(t, d, -1); }

// In-place 1-D complex transforms of the contiguous rows of `t` (last dim), unscaled.
template <typename T>
void c2c_rows(const Tensor& t, bool forward) {
  const int64_t n = t.shape().back();
  if (t.numel() == 0 || n <= 1) return;  // a length-1 DFT is the identity
  const int64_t rows = t.numel() / n;
  auto* data = t.data<std::complex<T>>();
  parallel_for(0, rows, row_grain(n), [&](int64_t b, int64_t e) {
    Eigen::FFT<T> fft;
    fft.SetFlag(Eigen::FFT<T>::Unscaled);
    std::vector<std::complex<T>> buf(static_cast<size_t>(n));
    for (int64_t r = b; r < e; ++r) {
      std::complex<T>* row = data + r * n;
      if (forward) fft.fwd(buf.data(), row, n);
      else fft.inv(buf.data(), row, n);
      std::copy(buf.begin(), buf.end(), row);
    }
  });
}

// Unscaled c2c over `dims` of a complex tensor; the result is a fresh tensor (maybe a permuted view).
Tensor c2c_dims(Tensor x, const DimVector& dims, bool forward) {
  for (int64_t d : dims) {
    Tensor rows = with_dim_last(x, d);
    HY_DISPATCH_FLOAT(dtype_complex_part(x.dtype()), "fft", [&] { c2c_rows<scalar_t>(rows, forward); });
    x = dim_last_back(rows, d);
  }
  return x;
}

// t *= scale (fresh tensors only), through its real view so one real multiply does it.
Tensor scaled(const Tensor& t, double scale) {
  if (scale == 1.0) return t;
  Tensor real = dtype_is_complex(t.dtype()) ? ops::view_as_real(t) : t;
  Tensor s = Tensor::empty({}, real.dtype());
  HY_DISPATCH_FLOAT(real.dtype(), "fft", [&] { *s.data<scalar_t>() = static_cast<scalar_t>(scale); });
  return dtype_is_complex(t.dtype()) ? ops::view_as_complex(ops::contiguous(ops::mul(real, s))) : ops::mul(real, s);
}

int64_t signal_numel(const Tensor& t, const DimVector& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= t.shape()[d];
  return n;
}

// Forward real-to-complex transform of the contiguous rows of `in` (last dim n) into `out` rows of
// `out_n` bins (n//2+1 one-sided, n full: the upper half mirrored as conj(X[n-k])).
template <typename T>
void r2c_rows(const Tensor& in, const Tensor& out) {
  const int64_t n = in.shape().back(), out_n = out.shape().back();
  if (in.numel() == 0) return;
  const int64_t rows = in.numel() / n;
  const T* src = in.data<T>();
  auto* dst = out.data<std::complex<T>>();
  parallel_for(0, rows, row_grain(n), [&](int64_t b, int64_t e) {
    Eigen::FFT<T> fft;
    fft.SetFlag(Eigen::FFT<T>::Unscaled);
    fft.SetFlag(Eigen::FFT<T>::HalfSpectrum);
    std::vector<std::complex<T>> buf(static_cast<size_t>(n));
    const int64_t half = n / 2 + 1;
    for (int64_t r = b; r < e; ++r) {
      std::complex<T>* o = dst + r * out_n;
      if (n == 1) {
        o[0] = std::complex<T>(src[r], 0);
        continue;
      }
      fft.fwd(buf.data(), src + r * n, n);
      for (int64_t k = 0; k < half; ++k) o[k] = buf[static_cast<size_t>(k)];
      for (int64_t k = half; k < out_n; ++k) o[k] = std::conj(buf[static_cast<size_t>(n - k)]);
    }
  });
}

// Inverse complex-to-real transform of contiguous half-spectrum rows `in` (n//2+1 bins) into real rows
// of n: the Hermitian extension is inverted and its real part kept, so the imaginary parts of the DC and
// (even n) Nyquist bins are ignored, as in NumPy and torch.
template <typename T>
void c2r_rows(const Tensor& in, const Tensor& out) {
  const int64_t n = out.shape().back(), half = in.shape().back();
  if (out.numel() == 0) return;
  const int64_t rows = out.numel() / n;
  const auto* src = in.data<std::complex<T>>();
  T* dst = out.data<T>();
  parallel_for(0, rows, row_grain(n), [&](int64_t b, int64_t e) {
    Eigen::FFT<T> fft;
    fft.SetFlag(Eigen::FFT<T>::Unscaled);
    std::vector<std::complex<T>> full(static_cast<size_t>(n)), buf(static_cast<size_t>(n));
    for (int64_t r = b; r < e; ++r) {
      const std::complex<T>* s = src + r * half;
      for (int64_t k = 0; k < n; ++k) full[static_cast<size_t>(k)] = k < half ? s[k] : std::conj(s[n - k]);
      if (n == 1) {
        dst[r] = full[0].real();
        continue;
      }
      fft.inv(buf.data(), full.data(), n);
      for (int64_t j = 0; j < n; ++j) dst[r * n + j] = buf[static_cast<size_t>(j)].real();
    }
  });
}

Tensor r2c_impl(const Tensor& self, const DimVector& dim, int64_t normalization, bool onesided, const char* op) {
  hy::cpu::check_defined(self, op, "self");
  HY_CHECK(self.dtype() == DType::Float32 || self.dtype() == DType::Float64, TypeError, op,
           ": expected a float32 or float64 tensor, got ", self.describe());
  const DimVector dims = fft_dims(self, dim, op);
  const double scale = norm_scale(normalization, signal_numel(self, dims), op);
  const int64_t last = dims.back();
  Tensor rows = ops::contiguous(last == self.dim() - 1 ? self : ops::transpose(self, last, -1));
  Shape out_shape = rows.shape();
  const int64_t n = out_shape.back();
  HY_CHECK(n >= 1, ValueError, op, ": the transformed dim ", last, " has size 0; a DFT needs at least one point");
  out_shape.back() = onesided ? n / 2 + 1 : n;
  Tensor out = Tensor::empty(out_shape, dtype_to_complex(self.dtype()));
  HY_DISPATCH_FLOAT(self.dtype(), op, [&] { r2c_rows<scalar_t>(rows, out); });
  Tensor x = dim_last_back(out, last);
  DimVector rest(dims.begin(), dims.end() - 1);
  return scaled(ops::contiguous(c2c_dims(x, rest, true)), scale);
}

Tensor c2r_impl(const Tensor& self, const DimVector& dim, int64_t normalization, int64_t last_dim_size, const char* op) {
  hy::cpu::check_defined(self, op, "self");
  const DimVector dims = fft_dims(self, dim, op);
  HY_CHECK(last_dim_size >= 1, ValueError, op, ": the output size of the last transformed dim must be >= 1, got ",
           last_dim_size);
  const int64_t last = dims.back();
  HY_CHECK(self.shape()[last] == last_dim_size / 2 + 1, ValueError, op, ": dim ", last, " must hold ",
           last_dim_size / 2 + 1, " bins for an output of size ", last_dim_size, ", got ", self.shape()[last]);
  DimVector rest(dims.begin(), dims.end() - 1);
  Tensor x = c2c_dims(self, rest, false);
  Tensor rows = with_dim_last(x, last);
  Shape out_shape = rows.shape();
  out_shape.back() = last_dim_size;
  Tensor out = Tensor::empty(out_shape, dtype_complex_part(self.dtype()));
  HY_DISPATCH_FLOAT(out.dtype(), op, [&] { c2r_rows<scalar_t>(rows, out); });
  Tensor y = ops::contiguous(dim_last_back(out, last));
  return scaled(y, norm_scale(normalization, signal_numel(y, dims), op));
}

}  // namespace

Tensor fft_c2c(const Tensor& self, const DimVector& dim, int64_t normalization, bool forward) {
  hy::cpu::check_defined(self, "fft", "self");
  HY_CHECK(dtype_is_complex(self.dtype()), TypeError, "fft: expected a complex tensor, got ", self.describe());
  const DimVector dims = fft_dims(self, dim, "fft");
  const double scale = norm_scale(normalization, signal_numel(self, dims), "fft");
  return scaled(ops::contiguous(c2c_dims(self, dims, forward)), scale);
}

Tensor fft_c2c_backward(const Tensor& grad, const DimVector& dim, int64_t normalization, bool forward) {
  return fft_c2c(grad, dim, normalization, !forward);
}

Tensor fft_r2c(const Tensor& self, const DimVector& dim, int64_t normalization, bool onesided) {
  return r2c_impl(self, dim, normalization, onesided, "rfft");
}

Tensor fft_r2c_backward(const Tensor& grad, const DimVector& dim, int64_t normalization, bool onesided,
                        const DimVector& input_shape) {
  // d(real x -> X)/dx, torch's convention: the real part of the unnormalized-direction inverse of the
  // gradient, whose missing (redundant) upper bins are zero.
  const DimVector dims = fft_dims(grad, dim, "rfft backward");
  Tensor g = grad;
  const int64_t last = dims.back(), n = input_shape[static_cast<size_t>(last)];
  if (onesided && g.shape()[last] < n) {
    Shape pad_shape = g.shape();
    pad_shape[last] = n - g.shape()[last];
    Tensor zeros = ops::zeros(pad_shape, g.dtype(), std::nullopt);
    g = ops::cat({g, zeros}, last);
  }
  Tensor full = fft_c2c(g, dims, normalization, false);
  return ops::contiguous(ops::select(ops::view_as_real(full), -1, 0));
}

Tensor fft_c2r(const Tensor& self, const DimVector& dim, int64_t normalization, int64_t last_dim_size) {
  HY_CHECK(dtype_is_complex(self.dtype()), TypeError, "irfft: expected a complex tensor, got ", self.describe());
  return c2r_impl(self, dim, normalization, last_dim_size, "irfft");
}

Tensor fft_c2r_backward(const Tensor& grad, const DimVector& dim, int64_t normalization, int64_t last_dim_size) {
  // torch's convention: the one-sided forward transform of the gradient, with each bin that stands for
  // two bins of the full spectrum (all but DC and, for even n, Nyquist) doubled.
  const DimVector dims = fft_dims(grad, dim, "irfft backward");
  Tensor g = fft_r2c(grad, dims, normalization, true);
  const int64_t last = dims.back(), n = grad.shape()[last], half = g.shape()[last];
  HY_CHECK(n == last_dim_size, ValueError, "irfft backward: the gradient has ", n, " points in dim ", last,
           " but the transform produced ", last_dim_size);
  const int64_t doubled = n - half;
  if (doubled > 0) {
    Tensor inner = ops::view_as_real(ops::slice(g, last, 1, 1 + doubled, 1));
    Tensor two = Tensor::empty({}, inner.dtype());
    HY_DISPATCH_FLOAT(inner.dtype(), "irfft backward", [&] { *two.data<scalar_t>() = scalar_t(2); });
    ops::copy_(inner, ops::mul(inner, two));
  }
  return g;
}

}  // namespace hy::kernels::cpu
