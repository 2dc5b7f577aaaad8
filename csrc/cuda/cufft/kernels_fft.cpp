// The FFT ops on CUDA (csrc/ops/table/fft.yaml) through cuFFT, with the CPU kernels' checks, dtypes and
// results (kernels/cpu/fft.cpp; docs/fft.md):
//
// * The dims a cuFFT call transforms are the trailing dims of a dense buffer (at most three per call),
//   the others its batch. A group of dims that is not trailing is moved there by one permuted copy, and
//   the result permuted back; transforms over the last one to three dims of a contiguous tensor (fft,
//   fft2, rfftn of a 3-D field, ...) need no copy at all.
// * More than three dims are transformed three at a time (the separable DFT factors over dims).
// * c2r has the CPU's meaning for any input, Hermitian or not: the inverse along the other dims, then the
//   real inverse of the last dim ignoring the imaginary parts of its zero and (even sizes) Nyquist bins.
//   cuFFT's multi-dim C2R assumes an exactly Hermitian input (newer versions do not ignore those parts),
//   so the planes of those two bins are first made Hermitian over the call's other dims, (X[k] +
//   conj X[-k]) / 2, which is what the CPU's order of operations amounts to; the rest of the input is free.
// * The normalization is one scaling pass over the result in its part dtype, as the CPU scales.
#include <algorithm>
#include <cstdint>

#include "core/shape_util.h"
#include "cuda/cufft/fft_exec_internal.h"
#include "cuda/glue_internal.h"
#include "hyflow/ops/ops_generated.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::kernels::cuda {
namespace {

using hy::cuda::FftKind;
using hy::cuda::FftPlanKey;

// The permutation that moves `group` (in that order) after every other dim (in theirs), and its inverse.
DimVector group_last(int64_t ndim, const DimVector& group) {
  DimVector perm;
  for (int64_t d = 0; d < ndim; ++d)
    if (std::find(group.begin(), group.end(), d) == group.end()) perm.push_back(d);
  for (int64_t d : group) perm.push_back(d);
  return perm;
}
DimVector inverse(const DimVector& perm) {
  DimVector inv(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inv[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
  return inv;
}

// The plan key of a transform over the last `rank` dims of a dense buffer whose real-side shape is `shape`.
FftPlanKey plan_key(FftKind kind, DType part, const Shape& shape, int rank, Device device) {
  FftPlanKey key;
  key.device = device.index;
  key.kind = kind;
  key.double_precision = part == DType::Float64;
  key.rank = rank;
  int64_t signal = 1;
  for (int i = 0; i < rank; ++i) {
    key.n[i] = shape[shape.size() - static_cast<size_t>(rank) + static_cast<size_t>(i)];
    signal *= key.n[i];
  }
  key.batch = signal == 0 ? 0 : shape_numel(shape) / signal;
  return key;
}

void scale_in_place(const Tensor& dense, double scale) {
  if (scale == 1.0 || dense.numel() == 0) return;
  const bool complex = dtype_is_complex(dense.dtype());
  hy::cuda::launch_scale(dtype_complex_part(dense.dtype()), dense.raw_data(), dense.numel() * (complex ? 2 : 1),
                         scale, hy::cuda::launch_stream(dense.device()));
}

// Complex transforms of `x` over `dims` (any order, each once), unscaled; a new tensor unless `x` is
// scratch the caller no longer needs, in which case it may be transformed in place. Returns a view in
// x's dim order (possibly permuted memory).
Tensor c2c_dims(const Tensor& x, DimVector dims, bool forward, bool x_is_scratch) {
  std::sort(dims.begin(), dims.end());
  Tensor cur = x;
  bool cur_is_scratch = x_is_scratch;
  while (!dims.empty()) {
    const size_t take = std::min<size_t>(3, dims.size());
    const DimVector group(dims.end() - static_cast<std::ptrdiff_t>(take), dims.end());
    dims.resize(dims.size() - take);
    const DimVector perm = group_last(cur.dim(), group);
    const Tensor moved = ops::permute(cur, perm);
    Tensor src = ops::contiguous(moved);
    const bool fresh = !src.shares_storage(cur);  // contiguous() made a copy: ours to overwrite
    Tensor dst = fresh || cur_is_scratch ? src : Tensor::empty(src.shape(), src.dtype(), src.device());
    if (dst.numel() > 0) {
      const FftPlanKey key = plan_key(FftKind::FftKind_C2C, dtype_complex_part(src.dtype()), src.shape(),
                                      static_cast<int>(take), src.device());
      hy::cuda::fft_execute(key, src.raw_data(), dst.raw_data(), forward);
    }
    cur = ops::permute(dst, inverse(perm));
    cur_is_scratch = true;
  }
  return cur;
}

// The planes of bins 0 and (even n) n/2 of the last dim of dense complex `x` made Hermitian over the
// `over` dims just before it: P <- (P + conj P[-k]) / 2, with -k taken modulo each size (flip, then roll
// by one). With no such dims that is the real part.
void hermitian_edge_planes(const Tensor& x, int64_t over, int64_t last_dim_size) {
  const int64_t last = x.dim() - 1;
  DimVector bins{0};
  if (last_dim_size % 2 == 0 && last_dim_size / 2 != 0) bins.push_back(last_dim_size / 2);
  for (int64_t bin : bins) {
    const Tensor plane = ops::select(x, last, bin);
    const Tensor pairs = ops::view_as_real(plane);
    if (over == 0) {
      hy::cuda::fill_view(ops::select(pairs, -1, 1), 0.0);
      continue;
    }
    DimVector dims, ones;
    for (int64_t d = plane.dim() - over; d < plane.dim(); ++d) {
      dims.push_back(d);
      ones.push_back(1);
    }
    const Tensor mirrored = ops::view_as_real(ops::roll(ops::flip(plane, dims), ones, dims));
    const Tensor re = ops::add(ops::select(pairs, -1, 0), ops::select(mirrored, -1, 0));
    const Tensor im = ops::sub(ops::select(pairs, -1, 1), ops::select(mirrored, -1, 1));
    scale_in_place(re, 0.5);
    scale_in_place(im, 0.5);
    hy::cuda::copy_into(ops::select(pairs, -1, 0), re);
    hy::cuda::copy_into(ops::select(pairs, -1, 1), im);
  }
}

// The group of a real transform: the last transformed dim and up to two of the others (the highest), so
// that the rest, if any, are complex transforms done apart.
void split_real_group(const DimVector& dims, DimVector& group, DimVector& rest) {
  DimVector others(dims.begin(), dims.end() - 1);
  std::sort(others.begin(), others.end());
  const size_t take = std::min<size_t>(2, others.size());
  rest.assign(others.begin(), others.end() - static_cast<std::ptrdiff_t>(take));
  group.assign(others.end() - static_cast<std::ptrdiff_t>(take), others.end());
  group.push_back(dims.back());
}

}  // namespace

Tensor fft_c2c(const Tensor& self, const DimVector& dim, int64_t normalization, bool forward) {
  hy::cpu::check_defined(self, "fft", "self");
  HY_CHECK(dtype_is_complex(self.dtype()), TypeError, "fft: expected a complex tensor, got ", self.describe());
  const DimVector dims = hy::cpu::fft_dims(self, dim, "fft");
  int64_t signal = 1;
  for (int64_t d : dims) signal *= self.shape()[d];
  const double scale = hy::cpu::fft_norm_scale(normalization, signal, "fft");
  Tensor out = ops::contiguous(c2c_dims(self, dims, forward, false));  // never self's storage
  scale_in_place(out, scale);
  return out;
}

Tensor fft_c2c_backward(const Tensor& grad, const DimVector& dim, int64_t normalization, bool forward) {
  return fft_c2c(grad, dim, normalization, !forward);
}

Tensor fft_r2c(const Tensor& self, const DimVector& dim, int64_t normalization, bool onesided) {
  const char* op = "rfft";
  hy::cpu::check_defined(self, op, "self");
  HY_CHECK(self.dtype() == DType::Float32 || self.dtype() == DType::Float64, TypeError, op,
           ": expected a float32 or float64 tensor, got ", self.describe());
  const DimVector dims = hy::cpu::fft_dims(self, dim, op);
  int64_t signal = 1;
  for (int64_t d : dims) signal *= self.shape()[d];
  const double scale = hy::cpu::fft_norm_scale(normalization, signal, op);
  const int64_t last = dims.back(), n = self.shape()[last];
  HY_CHECK(n >= 1, ValueError, op, ": the transformed dim ", last, " has size 0; a DFT needs at least one point");
  const DType complex = dtype_to_complex(self.dtype());
  if (!onesided) {  // the full spectrum: the complex transform of (x, 0)
    Tensor out = ops::contiguous(c2c_dims(hy::cuda::cast(self, complex), dims, true, true));
    scale_in_place(out, scale);
    return out;
  }
  DimVector group, rest;
  split_real_group(dims, group, rest);
  const DimVector perm = group_last(self.dim(), group);
  Tensor src = ops::contiguous(ops::permute(self, perm));
  // cuFFT reads a real input as if it were complex: its start must be aligned like a complex element (a
  // view starting at an odd float, x[..., 1:], is not).
  if (reinterpret_cast<uintptr_t>(src.raw_data()) % (2 * dtype_itemsize(src.dtype())) != 0) src = ops::clone(src);
  Shape out_shape = src.shape();
  out_shape.back() = n / 2 + 1;
  Tensor half = Tensor::empty(out_shape, complex, self.device());
  if (half.numel() > 0) {
    const FftPlanKey key = plan_key(FftKind::FftKind_R2C, self.dtype(), src.shape(), static_cast<int>(group.size()),
                                    self.device());
    hy::cuda::fft_execute(key, src.raw_data(), half.raw_data(), true);
  }
  Tensor out = ops::contiguous(c2c_dims(ops::permute(half, inverse(perm)), rest, true, true));
  scale_in_place(out, scale);
  return out;
}

Tensor fft_r2c_backward(const Tensor& grad, const DimVector& dim, int64_t normalization, bool onesided,
                        const DimVector& input_shape) {
  // As on the CPU: the real part of the inverse transform of the gradient, its missing upper bins zero.
  const DimVector dims = hy::cpu::fft_dims(grad, dim, "rfft backward");
  Tensor g = grad;
  const int64_t last = dims.back(), n = input_shape[static_cast<size_t>(last)];
  if (onesided && g.shape()[last] < n) {
    Shape full_shape = g.shape();
    full_shape[last] = n;
    Tensor padded = Tensor::empty(full_shape, g.dtype(), g.device());
    hy::cuda::fill_view(ops::slice(padded, last, g.shape()[last], n, 1), 0.0);
    hy::cuda::copy_into(ops::slice(padded, last, 0, g.shape()[last], 1), g);
    g = padded;
  }
  Tensor full = fft_c2c(g, dims, normalization, false);
  return ops::contiguous(ops::select(ops::view_as_real(full), -1, 0));
}

Tensor fft_c2r(const Tensor& self, const DimVector& dim, int64_t normalization, int64_t last_dim_size) {
  const char* op = "irfft";
  hy::cpu::check_defined(self, op, "self");
  HY_CHECK(dtype_is_complex(self.dtype()), TypeError, op, ": expected a complex tensor, got ", self.describe());
  const DimVector dims = hy::cpu::fft_dims(self, dim, op);
  HY_CHECK(last_dim_size >= 1, ValueError, op, ": the output size of the last transformed dim must be >= 1, got ",
           last_dim_size);
  const int64_t last = dims.back();
  HY_CHECK(self.shape()[last] == last_dim_size / 2 + 1, ValueError, op, ": dim ", last, " must hold ",
           last_dim_size / 2 + 1, " bins for an output of size ", last_dim_size, ", got ", self.shape()[last]);
  int64_t signal = last_dim_size;
  for (size_t i = 0; i + 1 < dims.size(); ++i) signal *= self.shape()[dims[i]];
  const double scale = hy::cpu::fft_norm_scale(normalization, signal, op);
  DimVector group, rest;
  split_real_group(dims, group, rest);
  // The dims beyond the C2R call's three first (inverse complex transforms), as the CPU orders them.
  const Tensor x = rest.empty() ? self : c2c_dims(self, rest, false, false);
  const DimVector perm = group_last(x.dim(), group);
  Tensor src = ops::contiguous(ops::permute(x, perm));
  if (src.shares_storage(self)) src = ops::clone(src);  // C2R overwrites its input, and so do the edge planes
  Shape out_shape = src.shape();
  out_shape.back() = last_dim_size;
  Tensor real = Tensor::empty(out_shape, dtype_complex_part(self.dtype()), self.device());
  if (real.numel() > 0) {
    hermitian_edge_planes(src, static_cast<int64_t>(group.size()) - 1, last_dim_size);
    const FftPlanKey key = plan_key(FftKind::FftKind_C2R, real.dtype(), out_shape, static_cast<int>(group.size()),
                                    self.device());
    hy::cuda::fft_execute(key, src.raw_data(), real.raw_data(), false);
  }
  Tensor out = ops::contiguous(ops::permute(real, inverse(perm)));
  scale_in_place(out, scale);
  return out;
}

Tensor fft_c2r_backward(const Tensor& grad, const DimVector& dim, int64_t normalization, int64_t last_dim_size) {
  // As on the CPU: the one-sided forward transform of the gradient, each bin standing for two doubled.
  const DimVector dims = hy::cpu::fft_dims(grad, dim, "irfft backward");
  Tensor g = fft_r2c(grad, dims, normalization, true);
  const int64_t last = dims.back(), n = grad.shape()[last], half = g.shape()[last];
  HY_CHECK(n == last_dim_size, ValueError, "irfft backward: the gradient has ", n, " points in dim ", last,
           " but the transform produced ", last_dim_size);
  const int64_t doubled = n - half;
  if (doubled > 0) {
    const Tensor inner = ops::view_as_real(ops::slice(g, last, 1, 1 + doubled, 1));
    hy::cuda::copy_into(inner, ops::add(inner, inner));  // x + x: exactly 2x
  }
  return g;
}

}  // namespace hy::kernels::cuda
