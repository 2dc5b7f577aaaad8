// The CUDA kernels of sum, mean, amax and amin: the input is laid out as [kept, reduced] (a permuted view
// made dense by the copy kernel) and reduced row by row (reduce.cu). Dtype rules follow the CPU kernels.
#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "core/shape_util.h"
#include "cuda/glue_internal.h"

namespace hy::kernels::cuda {
namespace {

using hy::cuda::ReduceOp;

Tensor reduce(const char* name, ReduceOp op, const Tensor& self, const std::optional<DimVector>& dim, bool keepdim,
              DType out_dtype, bool mean) {
  const int64_t ndim = self.dim();
  std::vector<bool> reduced(static_cast<size_t>(ndim), !dim || dim->empty());
  if (dim) {
    for (int64_t d : *dim) {
      const int64_t w = wrap_dim(d, std::max<int64_t>(ndim, 1));
      if (ndim == 0) continue;  // a 0-d tensor reduces over its one element
      HY_CHECK(!reduced[w] || dim->empty(), ValueError, name, ": dim ", d, " appears more than once in dim=", *dim);
      reduced[w] = true;
    }
  }
  Shape kept_shape, out_shape, perm_shape;
  Strides perm_strides;
  int64_t rows = 1, cols = 1;
  for (int64_t d = 0; d < ndim; ++d) {
    if (reduced[d]) {
      if (keepdim) out_shape.push_back(1);
      continue;
    }
    out_shape.push_back(self.shape()[d]);
    perm_shape.push_back(self.shape()[d]);
    perm_strides.push_back(self.strides()[d]);
    rows *= self.shape()[d];
  }
  for (int64_t d = 0; d < ndim; ++d) {
    if (!reduced[d]) continue;
    perm_shape.push_back(self.shape()[d]);
    perm_strides.push_back(self.strides()[d]);
    cols *= self.shape()[d];
  }
  HY_CHECK(cols > 0 || op == ReduceOp::ReduceOp_Sum, ValueError, name, ": cannot reduce zero elements (input is a ",
           self.describe(), "); the operation has no identity, so reduce over non-empty dims only");
  Tensor out = Tensor::empty(out_shape, out_dtype, self.device());
  if (rows == 0) return out;
  Tensor perm = Tensor::make_view(self, perm_shape, perm_strides, self.offset());
  Tensor dense = perm.is_contiguous() ? perm : Tensor::empty(perm_shape, self.dtype(), self.device());
  if (dense.impl() != perm.impl()) hy::cuda::copy_into(dense, perm);
  const double scale = mean ? 1.0 / static_cast<double>(cols) : 1.0;  // mean of nothing: 0 * inf = NaN
  if (cols == 0) {
    hy::cuda::launch_fill(out_dtype, out.raw_data(), mean ? std::nan("") : 0.0, rows, hy::cuda::launch_stream(self.device()));
    return out;
  }
  hy::cuda::launch_reduce_rows(op, self.dtype(), out_dtype, out.raw_data(), dense.raw_data(), rows, cols, scale,
                               hy::cuda::launch_stream(self.device()));
  return out;
}

}  // namespace

Tensor sum(const Tensor& self, const std::optional<DimVector>& dim, bool keepdim, std::optional<DType> dtype) {
  // Integers and bool sum into int64, as on the CPU (and in torch).
  const DType result = dtype.value_or(dtype_is_floating(self.dtype()) ? self.dtype() : DType::Int64);
  const Tensor in = dtype && dtype_is_floating(*dtype) ? hy::cuda::cast(self, *dtype) : self;
  return reduce("sum", ReduceOp::ReduceOp_Sum, in, dim, keepdim, result, false);
}

Tensor mean(const Tensor& self, const std::optional<DimVector>& dim, bool keepdim, std::optional<DType> dtype) {
  const DType result = dtype.value_or(self.dtype());
  HY_CHECK(dtype_is_floating(result), TypeError, "mean: needs a floating-point dtype, got a ", self.describe(),
           dtype ? str(" with dtype=", dtype_name(*dtype)) : std::string(),
           "; pass dtype=hy.float32 (or another floating dtype)");
  return reduce("mean", ReduceOp::ReduceOp_Sum, hy::cuda::cast(self, result), dim, keepdim, result, true);
}

Tensor amax(const Tensor& self, const std::optional<DimVector>& dim, bool keepdim) {
  return reduce("amax", ReduceOp::ReduceOp_Max, self, dim, keepdim, self.dtype(), false);
}

Tensor amin(const Tensor& self, const std::optional<DimVector>& dim, bool keepdim) {
  return reduce("amin", ReduceOp::ReduceOp_Min, self, dim, keepdim, self.dtype(), false);
}

}  // namespace hy::kernels::cuda
