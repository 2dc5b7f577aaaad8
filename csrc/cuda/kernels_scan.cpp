// The CUDA kernels of cumsum and cumprod: the scanned dim is moved last (a permuted view, made dense in the
// accumulation's buffer dtype by the copy kernel), scan.cu scans every row at once, and the result is
// written back in the input's dim order and the result dtype. Dtype rules follow the CPU kernel
// (kernels/cpu/softmax.cpp, scan_common): bool and integers accumulate in int64 unless dtype= is given;
// float16/bfloat16/float32 go through a float32 buffer and accumulate in float64 like the CPU's float32
// scan, so each output is rounded as the CPU rounds it (to float32, then to the result dtype).
#include <optional>

#include "core/shape_util.h"
#include "cuda/glue_internal.h"
#include "cuda/reduce_glue_internal.h"

namespace hy::kernels::cuda {
namespace {

Tensor scan(const char* op, bool prod, const Tensor& self, int64_t dim, std::optional<DType> dtype) {
  hy::cuda::require_defined(self, op, "self");
  const DType result = dtype ? *dtype : (dtype_is_floating(self.dtype()) ? self.dtype() : DType::Int64);
  HY_CHECK(!dtype_is_complex(self.dtype()) && !dtype_is_complex(result), NotImplementedError, "op '", op,
           "' has no CUDA kernel for dtype ", dtype_name(dtype_is_complex(result) ? result : self.dtype()));
  const DType buffer = !dtype_is_floating(result) ? DType::Int64
                       : result == DType::Float64 ? DType::Float64
                                                  : DType::Float32;
  const int64_t nd = self.dim();
  const int64_t d = hy::cuda::reduce_wrap_dim(dim, nd, op);
  Tensor out = Tensor::empty(self.shape(), result, self.device());
  if (self.numel() == 0) return out;
  // The scanned dim last; a 0-d tensor is one row of one element.
  Shape shape;
  Strides strides;
  for (int64_t k = 0; k < nd; ++k) {
    if (k == d) continue;
    shape.push_back(self.shape()[k]);
    strides.push_back(self.strides()[k]);
  }
  if (nd > 0) {
    shape.push_back(self.shape()[d]);
    strides.push_back(self.strides()[d]);
  }
  const int64_t cols = nd == 0 ? 1 : self.shape()[d];
  const int64_t rows = self.numel() / cols;
  const Tensor dense = hy::cuda::dense_as(Tensor::make_view(self, shape, strides, self.offset()), buffer);
  const bool last = nd == 0 || d == nd - 1;
  // Written straight into `out` when nothing is left to convert or permute.
  Tensor y = last && buffer == result ? out : Tensor::empty(shape, buffer, self.device());
  const size_t bytes = hy::cuda::scan_scratch_bytes(buffer, prod, rows * cols);
  const Tensor scratch = Tensor::empty(Shape{static_cast<int64_t>(bytes / 8 + 1)}, DType::Int64, self.device());
  hy::cuda::launch_scan_rows(buffer, prod, y.raw_data(), dense.raw_data(), rows, cols, scratch.raw_data(), bytes,
                             hy::cuda::launch_stream(self.device()));
  if (y.impl() == out.impl()) return out;
  // Back to the input's dim order (and the result dtype): a view of y in self's shape.
  Strides back(static_cast<size_t>(nd));
  const Strides dense_strides = contiguous_strides(shape);
  for (int64_t k = 0, j = 0; k < nd; ++k) back[k] = k == d ? dense_strides[nd - 1] : dense_strides[j++];
  hy::cuda::copy_into(out, Tensor::make_view(y, self.shape(), back, 0));
  return out;
}

}  // namespace

Tensor cumsum(const Tensor& self, int64_t dim, std::optional<DType> dtype) {
  return scan("cumsum", false, self, dim, dtype);
}

Tensor cumprod(const Tensor& self, int64_t dim, std::optional<DType> dtype) {
  return scan("cumprod", true, self, dim, dtype);
}

}  // namespace hy::kernels::cuda
