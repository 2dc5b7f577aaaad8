// The CUDA kernels of im2col, col2im, max_pool2d_with_indices and max_pool2d_backward (conv.cu), which
// conv1d/conv2d, their backward and max_pool2d are made of (nn/functional.py multiplies im2col's
// patch rows with cuBLAS). Checks, messages and layouts are the CPU kernels' (kernels/cpu/conv.cpp);
// float16/bfloat16 compute in float32 as there.
#include <tuple>

#include "cuda/glue_internal.h"
#include "cuda/indexing_internal.h"
#include "hyflow/ops/ops_generated.h"

namespace hy::kernels::cuda {
namespace {

using hy::cuda::ConvGeometry;

ConvGeometry geometry(const char* op, const Shape& in, const DimVector& k, const DimVector& d, const DimVector& p,
                      const DimVector& s) {
  HY_CHECK(in.size() == 4, ValueError, op, ": input must be 4-D (N, C, H, W), got shape ", in);
  HY_CHECK(k.size() == 2 && d.size() == 2 && p.size() == 2 && s.size() == 2, ValueError, op,
           ": kernel_size, dilation, padding and stride must have 2 entries each, got ", k, ", ", d, ", ", p,
           ", ", s);
  HY_CHECK(k[0] > 0 && k[1] > 0 && d[0] > 0 && d[1] > 0 && s[0] > 0 && s[1] > 0 && p[0] >= 0 && p[1] >= 0,
           ValueError, op, ": kernel_size, dilation and stride must be positive and padding >= 0, got kernel_size=",
           k, " dilation=", d, " padding=", p, " stride=", s);
  ConvGeometry g{in[0], in[1], in[2], in[3], k[0], k[1], d[0], d[1], p[0], p[1], s[0], s[1], 0, 0};
  g.ho = (g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  g.wo = (g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  HY_CHECK(g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1 >= 0 && g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1 >= 0, ValueError,
           op, ": input of shape ", in, " with padding ", p, " is smaller than the kernel ", k, " with dilation ", d);
  return g;
}

bool low_precision(DType t) { return t == DType::Float16 || t == DType::BFloat16; }

void check_input(const Tensor& t, const char* op) {
  HY_CHECK(t.defined(), ValueError, op, ": self is undefined (None)");
  HY_CHECK(dtype_is_floating(t.dtype()), TypeError, op, ": self must be a floating-point tensor, got ", t.describe());
}

// `t` dense (itself when it already is).
Tensor dense(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor d = Tensor::empty(t.shape(), t.dtype(), t.device());
  hy::cuda::copy_into(d, t);
  return d;
}

}  // namespace

Tensor im2col(const Tensor& self, const DimVector& kernel_size, const DimVector& dilation, const DimVector& padding,
              const DimVector& stride) {
  check_input(self, "im2col");
  if (low_precision(self.dtype()))
    return hy::cuda::cast(im2col(hy::cuda::cast(self, DType::Float32), kernel_size, dilation, padding, stride),
                          self.dtype());
  const ConvGeometry g = geometry("im2col", self.shape(), kernel_size, dilation, padding, stride);
  const Tensor x = dense(self);
  // The CPU's layout: a dense (K, N, L) block returned as its (N, L, K) view, which one GEMM reads in place.
  Tensor block = Tensor::empty(Shape{g.c * g.kh * g.kw, g.n, g.ho * g.wo}, self.dtype(), self.device());
  hy::cuda::launch_im2col(self.dtype(), block.raw_data(), x.raw_data(), g, hy::cuda::launch_stream(self.device()));
  return ops::permute(block, DimVector{1, 2, 0});
}

Tensor col2im(const Tensor& self, const DimVector& input_size, const DimVector& kernel_size, const DimVector& dilation,
              const DimVector& padding, const DimVector& stride) {
  check_input(self, "col2im");
  if (low_precision(self.dtype()))
    return hy::cuda::cast(
        col2im(hy::cuda::cast(self, DType::Float32), input_size, kernel_size, dilation, padding, stride),
        self.dtype());
  const ConvGeometry g = geometry("col2im", input_size, kernel_size, dilation, padding, stride);
  const int64_t K = g.c * g.kh * g.kw;
  HY_CHECK(self.dim() == 3 && self.shape()[0] == g.n && self.shape()[1] == g.ho * g.wo && self.shape()[2] == K,
           ValueError, "col2im: self must have shape (", g.n, ", ", g.ho * g.wo, ", ", K, ") for input_size ",
           input_size, ", got ", self.shape());
  Tensor out = Tensor::empty(input_size, self.dtype(), self.device());
  const int64_t strides[3] = {self.strides()[0], self.strides()[1], self.strides()[2]};  // read in place
  hy::cuda::launch_col2im(self.dtype(), out.raw_data(), self.raw_data(), strides, g,
                          hy::cuda::launch_stream(self.device()));
  return out;
}

std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& self, const DimVector& kernel_size,
                                                   const DimVector& stride, const DimVector& padding,
                                                   const DimVector& dilation) {
  const char* op = "max_pool2d_with_indices";
  check_input(self, op);
  if (low_precision(self.dtype())) {
    auto [v, i] = max_pool2d_with_indices(hy::cuda::cast(self, DType::Float32), kernel_size, stride, padding, dilation);
    return {hy::cuda::cast(v, self.dtype()), i};
  }
  const ConvGeometry g = geometry(op, self.shape(), kernel_size, dilation, padding, stride);
  HY_CHECK(2 * g.ph <= g.kh && 2 * g.pw <= g.kw, ValueError, op, ": padding ", padding,
           " must be at most half the kernel size ", kernel_size);
  const Tensor x = dense(self);
  Tensor out = Tensor::empty(Shape{g.n, g.c, g.ho, g.wo}, self.dtype(), self.device());
  Tensor idx = Tensor::empty(Shape{g.n, g.c, g.ho, g.wo}, DType::Int64, self.device());
  hy::cuda::launch_max_pool2d(self.dtype(), out.raw_data(), static_cast<int64_t*>(idx.raw_data()), x.raw_data(), g,
                              hy::cuda::launch_stream(self.device()));
  return {out, idx};
}

// Each plane's gradients are scatter-added at their indices, in the CPU's order (the deterministic
// scatter-add of kernels_indexing.cpp): overlapping windows sum the same way on both devices.
Tensor max_pool2d_backward(const Tensor& self, const Tensor& indices, const DimVector& input_size) {
  const char* op = "max_pool2d_backward";
  HY_CHECK(self.defined(), ValueError, op, ": self is undefined (None)");
  HY_CHECK(indices.dtype() == DType::Int64 && indices.shape() == self.shape() && self.dim() == 4, ValueError, op,
           ": self must be 4-D and indices an int64 tensor of the same shape, got ", self.describe(), " and ",
           indices.describe());
  HY_CHECK(input_size.size() == 4 && input_size[0] == self.shape()[0] && input_size[1] == self.shape()[1], ValueError,
           op, ": input_size ", input_size, " does not fit gradient shape ", self.shape());
  if (low_precision(self.dtype()))
    return hy::cuda::cast(max_pool2d_backward(hy::cuda::cast(self, DType::Float32), indices, input_size),
                          self.dtype());
  const int64_t nc = input_size[0] * input_size[1], hw = input_size[2] * input_size[3];
  const int64_t l = self.shape()[2] * self.shape()[3];
  const Tensor ind = ops::reshape(dense(indices), DimVector{nc, l});
  hy::kernels::cuda::check_index_range(ind, hw, 1, op, IndexWording::IndexWording_Plane);
  Tensor out = Tensor::empty(Shape{nc, hw}, self.dtype(), self.device());
  hy::cuda::launch_fill(self.dtype(), out.raw_data(), 0.0, out.numel(), hy::cuda::launch_stream(self.device()));
  scatter_add_into(out, ind, ops::reshape(dense(self), DimVector{nc, l}), 1);
  return ops::reshape(out, input_size);
}

}  // namespace hy::kernels::cuda
