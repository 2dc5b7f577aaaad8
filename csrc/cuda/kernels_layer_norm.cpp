// The CUDA kernels of layer_norm and layer_norm_backward: operands made dense in the input's dtype
// (weight/bias and the statistics in the compute dtype), then layer_norm.cu runs one block per row.
// Argument rules and result dtypes follow the CPU kernels (csrc/kernels/cpu/layer_norm.cpp).
#include <cmath>
#include <optional>
#include <tuple>

#include "core/shape_util.h"
#include "cuda/glue_internal.h"

namespace hy::kernels::cuda {
namespace {

struct Rows {
  int64_t rows = 0, cols = 1;
  Shape stat_shape;
};

Rows rows_of(const Tensor& input, const DimVector& normalized_shape, const char* op) {
  HY_CHECK(dtype_is_floating(input.dtype()), TypeError, op, "(): expected a floating-point input, got ",
           input.describe());
  const int64_t k = static_cast<int64_t>(normalized_shape.size()), nd = input.dim();
  HY_CHECK(k > 0, ValueError, op, "(): normalized_shape must name at least one dim, got ()");
  bool ok = nd >= k;
  for (int64_t i = 0; ok && i < k; ++i) ok = input.shape()[nd - k + i] == normalized_shape[i];
  HY_CHECK(ok, ValueError, op, "(): input ", input.describe(), " does not end with normalized_shape");
  Rows r;
  r.stat_shape = input.shape();
  for (int64_t i = nd - k; i < nd; ++i) {
    r.cols *= input.shape()[i];
    r.stat_shape[i] = 1;
  }
  r.rows = r.cols == 0 ? shape_numel(r.stat_shape) : input.numel() / r.cols;
  return r;
}

DType stat_dtype(DType d) { return d == DType::Float64 ? DType::Float64 : DType::Float32; }

/// weight/bias dense in `acc` on the input's device, or undefined when absent.
Tensor affine(const std::optional<Tensor>& t, const char* name, const Tensor& input, const DimVector& ns, DType acc,
              const char* op) {
  if (!t) return Tensor();
  HY_CHECK(t->shape() == Shape(ns.begin(), ns.end()), ValueError, op, "(): ", name, " ", t->describe(),
           " does not match normalized_shape");
  HY_CHECK(t->device() == input.device(), RuntimeError, op, "(): ", name, " is on ", device_str(t->device()),
           " but input is on ", device_str(input.device()));
  Tensor dense = Tensor::empty(t->shape(), acc, input.device());
  hy::cuda::copy_into(dense, *t);
  return dense;
}

Tensor dense_copy(const Tensor& t, DType dtype) {
  Tensor d = Tensor::empty(t.shape(), dtype, t.device());
  hy::cuda::copy_into(d, t);
  return d;
}

const void* data_or_null(const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; }

}  // namespace

std::tuple<Tensor, Tensor, Tensor> layer_norm(const Tensor& input, const DimVector& normalized_shape,
                                              const std::optional<Tensor>& weight, const std::optional<Tensor>& bias,
                                              double eps) {
  const char* op = "layer_norm";
  const Rows r = rows_of(input, normalized_shape, op);
  const DType acc = stat_dtype(input.dtype());
  const Tensor w = affine(weight, "weight", input, normalized_shape, acc, op);
  const Tensor b = affine(bias, "bias", input, normalized_shape, acc, op);
  const Tensor x = dense_copy(input, input.dtype());
  Tensor out = Tensor::empty(input.shape(), input.dtype(), input.device());
  Tensor mean = Tensor::empty(r.stat_shape, acc, input.device());
  Tensor rstd = Tensor::empty(r.stat_shape, acc, input.device());
  void* stream = hy::cuda::launch_stream(input.device());
  if (r.cols == 0) {  // nothing to normalize: undefined statistics, as on the CPU
    hy::cuda::launch_fill(acc, mean.raw_data(), std::nan(""), r.rows, stream);
    hy::cuda::launch_fill(acc, rstd.raw_data(), std::nan(""), r.rows, stream);
    return {out, mean, rstd};
  }
  hy::cuda::launch_layer_norm_rows(input.dtype(), out.raw_data(), mean.raw_data(), rstd.raw_data(), x.raw_data(),
                                   data_or_null(w), data_or_null(b), r.rows, r.cols, eps, stream);
  return {out, mean, rstd};
}

std::tuple<Tensor, Tensor, Tensor> layer_norm_backward(const Tensor& grad_out, const Tensor& input, const Tensor& mean,
                                                       const Tensor& rstd, const DimVector& normalized_shape,
                                                       const std::optional<Tensor>& weight) {
  const char* op = "layer_norm_backward";
  const Rows r = rows_of(input, normalized_shape, op);
  HY_CHECK(grad_out.shape() == input.shape(), ValueError, op, "(): grad_out ", grad_out.describe(),
           " does not match input ", input.describe());
  HY_CHECK(mean.numel() == r.rows && rstd.numel() == r.rows, ValueError, op, "(): mean and rstd need ", r.rows,
           " elements (one per row), got ", mean.numel(), " and ", rstd.numel());
  const DType acc = stat_dtype(input.dtype());
  const Tensor w = affine(weight, "weight", input, normalized_shape, acc, op);
  const DType param_dtype = weight ? weight->dtype() : input.dtype();
  const Tensor x = dense_copy(input, input.dtype()), g = dense_copy(grad_out, input.dtype());
  const Tensor mu = dense_copy(mean, acc), rs = dense_copy(rstd, acc);
  const Shape ns(normalized_shape.begin(), normalized_shape.end());
  Tensor dx = Tensor::empty(input.shape(), input.dtype(), input.device());
  Tensor dw = Tensor::empty(ns, acc, input.device()), db = Tensor::empty(ns, acc, input.device());
  hy::cuda::launch_layer_norm_backward_rows(input.dtype(), dx.raw_data(), dw.raw_data(), db.raw_data(), g.raw_data(),
                                            x.raw_data(), mu.raw_data(), rs.raw_data(), data_or_null(w), r.rows,
                                            r.cols, hy::cuda::launch_stream(input.device()));
  return {dx, hy::cuda::cast(dw, param_dtype), hy::cuda::cast(db, param_dtype)};
}

}  // namespace hy::kernels::cuda
