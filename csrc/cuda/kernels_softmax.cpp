// The CUDA kernels of softmax and log_softmax: the op's dim is moved last (a permuted view made dense by
// the copy kernel, converted to the result dtype), softmax.cu runs one block per row, and the result is
// written back in the input's shape. Dtype rules follow the CPU kernels.
#include <optional>

#include "core/shape_util.h"
#include "cuda/glue_internal.h"

namespace hy::kernels::cuda {
namespace {

Tensor softmax_common(const char* op, bool log, const Tensor& self, int64_t dim, std::optional<DType> dtype) {
  const DType result = dtype.value_or(self.dtype());
  HY_CHECK(dtype_is_floating(result), TypeError, op, " needs a floating-point dtype, got a ", self.describe(),
           dtype ? str(" with dtype=", dtype_name(*dtype)) : std::string(), "; pass dtype=hy.float32");
  const int64_t ndim = self.dim();
  const int64_t d = wrap_dim(dim, std::max<int64_t>(ndim, 1));
  if (ndim == 0) {  // one element: softmax 1, log_softmax 0
    Tensor out = Tensor::empty({}, result, self.device());
    hy::cuda::launch_fill(result, out.raw_data(), log ? 0.0 : 1.0, 1, hy::cuda::launch_stream(self.device()));
    return out;
  }
  Shape perm_shape;
  Strides perm_strides;
  for (int64_t i = 0; i < ndim; ++i) {
    if (i == d) continue;
    perm_shape.push_back(self.shape()[i]);
    perm_strides.push_back(self.strides()[i]);
  }
  perm_shape.push_back(self.shape()[d]);
  perm_strides.push_back(self.strides()[d]);
  const Tensor perm = Tensor::make_view(self, perm_shape, perm_strides, self.offset());
  Tensor dense = Tensor::empty(perm_shape, result, self.device());
  hy::cuda::copy_into(dense, perm);
  const int64_t cols = self.shape()[d];
  const int64_t rows = cols == 0 ? 0 : self.numel() / cols;
  hy::cuda::launch_softmax_rows(log, result, dense.raw_data(), dense.raw_data(), rows, cols,
                                hy::cuda::launch_stream(self.device()));
  if (d == ndim - 1) return dense;
  // Back to the input's dim order: a view of `dense`, made contiguous like the CPU result.
  Strides back(static_cast<size_t>(ndim));
  const Strides dense_strides = contiguous_strides(perm_shape);
  for (int64_t i = 0, k = 0; i < ndim; ++i) back[i] = i == d ? dense_strides[ndim - 1] : dense_strides[k++];
  Tensor out = Tensor::empty(self.shape(), result, self.device());
  hy::cuda::copy_into(out, Tensor::make_view(dense, self.shape(), back, 0));
  return out;
}

}  // namespace

Tensor softmax(const Tensor& self, int64_t dim, std::optional<DType> dtype) {
  return softmax_common("softmax", false, self, dim, dtype);
}

Tensor log_softmax(const Tensor& self, int64_t dim, std::optional<DType> dtype) {
  return softmax_common("log_softmax", true, self, dim, dtype);
}

}  // namespace hy::kernels::cuda
