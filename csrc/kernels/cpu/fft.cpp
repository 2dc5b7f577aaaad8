// Discrete Fourier transforms: power-of-two lengths on our lane-blocked kernels (fft_lanes.h), other
// lengths on Eigen's FFT module (its kissfft backend: mixed radix 2/3/4/5 and a generic butterfly for
// other factors); docs/design.md, "Library choices", says why.
//
// A multi-dim transform is a sequence of 1-D transforms, in place on one contiguous copy of the input:
// along the last dim each row is a lane; along another dim, blocks of neighbouring columns are gathered
// into a scratch buffer, transformed and scattered back (no transposed copy). Lanes run in parallel
// (parallel_for, so hy.set_num_threads bounds it); each task owns its Eigen::FFT object (the plan cache
// is not thread-safe) and scratch, and the work of a lane never depends on the thread count, so neither
// does the result. Real<->complex transforms along a dim that is not last move it last first.
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
#include "kernels/cpu/fft_lane_io.h"
#include "kernels/cpu/fft_lanes.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::kernels::cpu {
namespace {

// The argument checks shared with the CUDA backend (defined at the end of this file).
using hy::cpu::fft_dims;
using hy::cpu::fft_norm_scale;

// A contiguous tensor seen as (outer, n, inner) around dim d: transforms run along the middle.
struct Lanes {
  int64_t outer = 1, n = 1, inner = 1;
  Lanes(const Tensor& t, int64_t d) {
    for (int64_t k = 0; k < t.dim(); ++k) {
      if (k < d) outer *= t.shape()[k];
      else if (k > d) inner *= t.shape()[k];
    }
    n = t.shape()[d];
  }
};

// Columns gathered per task when the transformed dim is not the last one: a block of kColumns
// neighbouring columns is copied into a scratch buffer (one cache line of each of n rows at a time),
// transformed there and written back, so no transposed copy of the whole tensor is made.
constexpr int64_t kColumns = 16;

// Tasks of about 16k elements each (a task transforms whole lanes).
int64_t lane_grain(int64_t elements_per_task) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(elements_per_task, 1)); }

// Power-of-two lengths: the lanes (rows, or columns when inner > 1) are taken kLanes at a time into a
// lane-interleaved block (fft_lanes.h), transformed there and written back times `scale`. Lane g is
// column g % inner of slab g / inner; a block's missing lanes past the last one are zeros, never
// written back.
template <typename T>
void c2c_along_lanes(std::complex<T>* data, const Lanes& L, bool forward, T scale) {
  using fft_lanes::kLanes;
  const int64_t n = L.n, lanes = L.outer * L.inner, blocks = (lanes + kLanes - 1) / kLanes;
  const fft_lanes::Roots<T>& roots = *fft_lanes::cached_roots<T>(n);
  const size_t block_size = static_cast<size_t>(n * kLanes);
  parallel_for(0, blocks, lane_grain(n * kLanes), [&](int64_t b, int64_t e) {
    fft_lanes::LaneArrays<T> arrays(block_size);
    T *re = arrays[0], *im = arrays[1], *scratch_re = arrays[2], *scratch_im = arrays[3];
    for (int64_t blk = b; blk < e; ++blk) {
      const int64_t g0 = blk * kLanes, w = std::min(kLanes, lanes - g0);
      fft_lanes::PairLanes<T> io;
      io.width = w;
      io.stride = 2 * L.inner;
      for (int64_t l = 0; l < w; ++l)
        io.base[l] = reinterpret_cast<T*>(data + ((g0 + l) / L.inner) * n * L.inner + (g0 + l) % L.inner);
      if (w < kLanes) {
        std::fill_n(re, block_size, T(0));
        std::fill_n(im, block_size, T(0));
      }
      fft_lanes::gather_pairs(io.reading(), n, re, im);
      const auto result = fft_lanes::c2c(roots, n, forward, re, im, scratch_re, scratch_im);
      fft_lanes::scatter_pairs(result.re, result.im, n, scale, io);
    }
  });
}

// In place: 1-D complex transforms along dim d of contiguous `t`, each result times `scale`.
template <typename T>
void c2c_along(const Tensor& t, int64_t d, bool forward, T scale) {
  const Lanes L(t, d);
  const int64_t n = L.n;
  if (t.numel() == 0) return;
  auto* data = t.data<std::complex<T>>();
  if (n >= 2 && fft_lanes::is_power_of_two(n)) return c2c_along_lanes<T>(data, L, forward, scale);
  auto transform = [&](Eigen::FFT<T>& fft, std::complex<T>* dst, const std::complex<T>* src) {
    if (n == 1) dst[0] = src[0];
    else if (forward) fft.fwd(dst, src, n);
    else fft.inv(dst, src, n);
  };
  if (L.inner == 1) {  // rows: each lane is contiguous
    parallel_for(0, L.outer, lane_grain(n), [&](int64_t b, int64_t e) {
      Eigen::FFT<T> fft;
      fft.SetFlag(Eigen::FFT<T>::Unscaled);
      std::vector<std::complex<T>> buf(static_cast<size_t>(n));
      for (int64_t r = b; r < e; ++r) {
        std::complex<T>* row = data + r * n;
        transform(fft, buf.data(), row);
        for (int64_t k = 0; k < n; ++k) row[k] = buf[static_cast<size_t>(k)] * scale;
      }
    });
    return;
  }
  const int64_t blocks = (L.inner + kColumns - 1) / kColumns;
  parallel_for(0, L.outer * blocks, lane_grain(n * kColumns), [&](int64_t b, int64_t e) {
    Eigen::FFT<T> fft;
    fft.SetFlag(Eigen::FFT<T>::Unscaled);
    std::vector<std::complex<T>> cols(static_cast<size_t>(n * kColumns)), buf(static_cast<size_t>(n));
    for (int64_t task = b; task < e; ++task) {
      const int64_t o = task / blocks, c0 = (task % blocks) * kColumns;
      const int64_t w = std::min(kColumns, L.inner - c0);
      std::complex<T>* base = data + o * n * L.inner + c0;
      for (int64_t k = 0; k < n; ++k)
        for (int64_t c = 0; c < w; ++c) cols[static_cast<size_t>(c * n + k)] = base[k * L.inner + c];
      for (int64_t c = 0; c < w; ++c) {
        transform(fft, buf.data(), cols.data() + c * n);
        std::copy(buf.begin(), buf.end(), cols.begin() + c * n);
      }
      for (int64_t k = 0; k < n; ++k)
        for (int64_t c = 0; c < w; ++c) base[k * L.inner + c] = cols[static_cast<size_t>(c * n + k)] * scale;
    }
  });
}

// Transforms over `dims` of contiguous complex `x`, in place; the last pass applies `scale`.
void c2c_dims_inplace(const Tensor& x, const DimVector& dims, bool forward, double scale) {
  HY_DISPATCH_FLOAT(dtype_complex_part(x.dtype()), "fft", [&] {
    for (size_t i = 0; i < dims.size(); ++i)
      c2c_along<scalar_t>(x, dims[i], forward, static_cast<scalar_t>(i + 1 == dims.size() ? scale : 1.0));
  });
}

// A fresh contiguous copy of `t` with dim `d` moved last (for real<->complex transforms along a dim
// that is not the last one), and the view that undoes it.
Tensor with_dim_last(const Tensor& t, int64_t d) {
  return ops::clone(d == t.dim() - 1 ? t : ops::transpose(t, d, -1));
}
Tensor dim_last_back(const Tensor& t, int64_t d) { return d == t.dim() - 1 ? t : ops::transpose(t, d, -1); }

int64_t signal_numel(const Tensor& t, const DimVector& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= t.shape()[d];
  return n;
}

// Power-of-two rows of n >= 4 points, kLanes rows per block: each row is n/2 complex points
// (even + i*odd samples), transformed, split into the n/2+1 bins, scaled and written out; full
// spectra (out_n == n) add the upper half as conj(X[n-k]).
template <typename T>
void r2c_rows_lanes(const T* src, std::complex<T>* dst, int64_t rows, int64_t n, int64_t out_n, T scale) {
  using fft_lanes::kLanes;
  const int64_t h = n / 2, blocks = (rows + kLanes - 1) / kLanes;
  const fft_lanes::Roots<T>& roots = *fft_lanes::cached_roots<T>(n);
  parallel_for(0, blocks, lane_grain(n * kLanes), [&](int64_t b, int64_t e) {
    const size_t half_size = static_cast<size_t>(h * kLanes), bins_size = static_cast<size_t>((h + 1) * kLanes);
    fft_lanes::LaneArrays<T> arrays(bins_size);
    T *re = arrays[0], *im = arrays[1], *scratch_re = arrays[2], *scratch_im = arrays[3];
    for (int64_t blk = b; blk < e; ++blk) {
      const int64_t r0 = blk * kLanes, w = std::min(kLanes, rows - r0);
      if (w < kLanes) {  // the missing lanes of the last block: zeros
        std::fill_n(re, half_size, T(0));
        std::fill_n(im, half_size, T(0));
      }
      fft_lanes::PairLanes<const T> in;
      in.width = w;
      for (int64_t l = 0; l < w; ++l) in.base[l] = src + (r0 + l) * n;
      fft_lanes::gather_pairs(in, h, re, im);
      const auto z = fft_lanes::c2c(roots, h, true, re, im, scratch_re, scratch_im);
      fft_lanes::r2c_split(roots, n, z.re, z.im);
      fft_lanes::PairLanes<T> out;
      out.width = w;
      for (int64_t l = 0; l < w; ++l) out.base[l] = reinterpret_cast<T*>(dst + (r0 + l) * out_n);
      fft_lanes::scatter_pairs(z.re, z.im, h + 1, scale, out);
      for (int64_t l = 0; l < w; ++l) {
        std::complex<T>* o = dst + (r0 + l) * out_n;
        for (int64_t k = h + 1; k < out_n; ++k) o[k] = std::conj(o[n - k]);
      }
    }
  });
}

// Power-of-two rows of n >= 4 points, kLanes rows per block: the n/2+1 bins of each row are merged
// into an n/2-point spectrum whose inverse holds the even and odd samples (fft_lanes::c2r_merge).
template <typename T>
void c2r_rows_lanes(const std::complex<T>* src, T* dst, int64_t rows, int64_t n, T scale) {
  using fft_lanes::kLanes;
  const int64_t h = n / 2, blocks = (rows + kLanes - 1) / kLanes;
  const fft_lanes::Roots<T>& roots = *fft_lanes::cached_roots<T>(n);
  parallel_for(0, blocks, lane_grain(n * kLanes), [&](int64_t b, int64_t e) {
    const size_t bins_size = static_cast<size_t>((h + 1) * kLanes);
    fft_lanes::LaneArrays<T> arrays(bins_size);
    T *re = arrays[0], *im = arrays[1], *in_re = arrays[2], *in_im = arrays[3];
    for (int64_t blk = b; blk < e; ++blk) {
      const int64_t r0 = blk * kLanes, w = std::min(kLanes, rows - r0);
      if (w < kLanes) {
        std::fill_n(in_re, bins_size, T(0));
        std::fill_n(in_im, bins_size, T(0));
      }
      fft_lanes::PairLanes<const T> in;
      in.width = w;
      for (int64_t l = 0; l < w; ++l) in.base[l] = reinterpret_cast<const T*>(src + (r0 + l) * (h + 1));
      fft_lanes::gather_pairs(in, h + 1, in_re, in_im);
      fft_lanes::c2r_merge(roots, n, in_re, in_im, re, im);
      // in_re/in_im are free now: the scratch of the half-length inverse
      const auto x = fft_lanes::c2c(roots, h, false, re, im, in_re, in_im);
      fft_lanes::PairLanes<T> out;
      out.width = w;
      for (int64_t l = 0; l < w; ++l) out.base[l] = dst + (r0 + l) * n;
      fft_lanes::scatter_pairs(x.re, x.im, h, scale, out);
    }
  });
}

// Forward real-to-complex transform of the contiguous rows of `in` (last dim n) into `out` rows of
// `out_n` bins (n//2+1 one-sided, n full: the upper half mirrored as conj(X[n-k])), times `scale`.
template <typename T>
void r2c_rows(const Tensor& in, const Tensor& out, T scale) {
  const int64_t n = in.shape().back(), out_n = out.shape().back();
  if (in.numel() == 0) return;
  const int64_t rows = in.numel() / n;
  const T* src = in.data<T>();
  auto* dst = out.data<std::complex<T>>();
  if (n >= 4 && fft_lanes::is_power_of_two(n)) return r2c_rows_lanes<T>(src, dst, rows, n, out_n, scale);
  parallel_for(0, rows, lane_grain(n), [&](int64_t b, int64_t e) {
    Eigen::FFT<T> fft;
    fft.SetFlag(Eigen::FFT<T>::Unscaled);
    fft.SetFlag(Eigen::FFT<T>::HalfSpectrum);
    std::vector<std::complex<T>> buf(static_cast<size_t>(n));
    const int64_t half = n / 2 + 1;
    for (int64_t r = b; r < e; ++r) {
      std::complex<T>* o = dst + r * out_n;
      if (n == 1) {
        o[0] = std::complex<T>(src[r] * scale, 0);
        continue;
      }
      fft.fwd(buf.data(), src + r * n, n);
      for (int64_t k = 0; k < half; ++k) o[k] = buf[static_cast<size_t>(k)] * scale;
      for (int64_t k = half; k < out_n; ++k) o[k] = std::conj(buf[static_cast<size_t>(n - k)]) * scale;
    }
  });
}

// Inverse complex-to-real transform of contiguous half-spectrum rows `in` (n//2+1 bins) into real rows
// of n, times `scale`: the Hermitian extension is inverted and its real part kept, so the imaginary
// parts of the DC and (even n) Nyquist bins are ignored, as in NumPy and torch.
template <typename T>
void c2r_rows(const Tensor& in, const Tensor& out, T scale) {
  const int64_t n = out.shape().back(), half = in.shape().back();
  if (out.numel() == 0) return;
  const int64_t rows = out.numel() / n;
  const auto* src = in.data<std::complex<T>>();
  T* dst = out.data<T>();
  if (n >= 4 && fft_lanes::is_power_of_two(n)) return c2r_rows_lanes<T>(src, dst, rows, n, scale);
  parallel_for(0, rows, lane_grain(n), [&](int64_t b, int64_t e) {
    Eigen::FFT<T> fft;
    fft.SetFlag(Eigen::FFT<T>::Unscaled);
    std::vector<std::complex<T>> full(static_cast<size_t>(n)), buf(static_cast<size_t>(n));
    for (int64_t r = b; r < e; ++r) {
      const std::complex<T>* s = src + r * half;
      if (n % 4 == 0) {  // Eigen's real inverse: a half-length complex transform (reads DC/Nyquist real parts)
        T* o = dst + r * n;
        fft.inv(o, s, n);
        if (scale != T(1))
          for (int64_t j = 0; j < n; ++j) o[j] *= scale;
        continue;
      }
      for (int64_t k = 0; k < n; ++k) full[static_cast<size_t>(k)] = k < half ? s[k] : std::conj(s[n - k]);
      if (n == 1) {
        dst[r] = full[0].real() * scale;
        continue;
      }
      fft.inv(buf.data(), full.data(), n);
      for (int64_t j = 0; j < n; ++j) dst[r * n + j] = buf[static_cast<size_t>(j)].real() * scale;
    }
  });
}

Tensor r2c_impl(const Tensor& self, const DimVector& dim, int64_t normalization, bool onesided, const char* op) {
  hy::cpu::check_defined(self, op, "self");
  HY_CHECK(self.dtype() == DType::Float32 || self.dtype() == DType::Float64, TypeError, op,
           ": expected a float32 or float64 tensor, got ", self.describe());
  const DimVector dims = fft_dims(self, dim, op);
  const double scale = fft_norm_scale(normalization, signal_numel(self, dims), op);
  const int64_t last = dims.back();
  Tensor rows = ops::contiguous(last == self.dim() - 1 ? self : ops::transpose(self, last, -1));
  Shape out_shape = rows.shape();
  const int64_t n = out_shape.back();
  HY_CHECK(n >= 1, ValueError, op, ": the transformed dim ", last, " has size 0; a DFT needs at least one point");
  out_shape.back() = onesided ? n / 2 + 1 : n;
  Tensor out = Tensor::empty(out_shape, dtype_to_complex(self.dtype()));
  const DimVector rest(dims.begin(), dims.end() - 1);
  HY_DISPATCH_FLOAT(self.dtype(), op, [&] {
    r2c_rows<scalar_t>(rows, out, static_cast<scalar_t>(rest.empty() ? scale : 1.0));
  });
  Tensor x = ops::contiguous(dim_last_back(out, last));
  if (!rest.empty()) c2c_dims_inplace(x, rest, true, scale);
  return x;
}

Tensor c2r_impl(const Tensor& self, const DimVector& dim, int64_t normalization, int64_t last_dim_size, const char* op) {
  hy::cpu::check_defined(self, op, "self");
  const DimVector dims = fft_dims(self, dim, op);
  HY_CHECK(last_dim_size >= 1, ValueError, op, ": the output size of the last transformed dim must be >= 1, got ",
           last_dim_size);
  const int64_t last = dims.back();
  HY_CHECK(self.shape()[last] == last_dim_size / 2 + 1, ValueError, op, ": dim ", last, " must hold ",
           last_dim_size / 2 + 1, " bins for an output of size ", last_dim_size, ", got ", self.shape()[last]);
  const DimVector rest(dims.begin(), dims.end() - 1);
  Tensor x = ops::clone(self);  // the inner transforms run in place
  if (!rest.empty()) c2c_dims_inplace(x, rest, false, 1.0);
  Tensor rows = last == x.dim() - 1 ? x : with_dim_last(x, last);
  Shape out_shape = rows.shape();
  out_shape.back() = last_dim_size;
  Tensor out = Tensor::empty(out_shape, dtype_complex_part(self.dtype()));
  int64_t signal = last_dim_size;
  for (int64_t d : rest) signal *= self.shape()[d];
  const double scale = fft_norm_scale(normalization, signal, op);
  HY_DISPATCH_FLOAT(out.dtype(), op, [&] { c2r_rows<scalar_t>(rows, out, static_cast<scalar_t>(scale)); });
  return ops::contiguous(dim_last_back(out, last));
}

}  // namespace

Tensor fft_c2c(const Tensor& self, const DimVector& dim, int64_t normalization, bool forward) {
  hy::cpu::check_defined(self, "fft", "self");
  HY_CHECK(dtype_is_complex(self.dtype()), TypeError, "fft: expected a complex tensor, got ", self.describe());
  const DimVector dims = fft_dims(self, dim, "fft");
  const double scale = fft_norm_scale(normalization, signal_numel(self, dims), "fft");
  Tensor x = ops::clone(self);  // contiguous, and ours to transform in place
  c2c_dims_inplace(x, dims, forward, scale);
  return x;
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

// The device-independent checks (kernel_util.h), shared with the CUDA backend's cuFFT glue.
namespace hy::cpu {

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

double fft_norm_scale(int64_t normalization, int64_t signal_numel, const char* op) {
  HY_CHECK(normalization >= 0 && normalization <= 2, ValueError, op, ": normalization must be 0 (none), 1 (1/sqrt(n)) "
           "or 2 (1/n), got ", normalization);
  if (normalization == 0 || signal_numel == 0) return 1.0;
  return normalization == 1 ? 1.0 / std::sqrt(static_cast<double>(signal_numel)) : 1.0 / static_cast<double>(signal_numel);
}

}  // namespace hy::cpu
