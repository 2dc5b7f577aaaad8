// The CUDA kernels of the reductions (sum, mean, prod, amax/amin, max/min, max_dim/min_dim, argmax/argmin,
// var/std, norm, all/any, logsumexp): the input is laid out as [kept, reduced] (a permuted view, made dense
// by the copy kernel when it is not already) and each row reduced by the row engine (reduce_rows.cuh).
// Argument checks, their order and wording, and the dtype rules follow the CPU kernels
// (kernels/cpu/reduce.cpp, reduce_minmax.cpp).
#include <cmath>
#include <limits>
#include <optional>
#include <tuple>
#include <vector>

#include "core/scalar.h"
#include "core/shape_util.h"
#include "cuda/complex_glue_internal.h"
#include "cuda/glue_internal.h"
#include "cuda/reduce_glue_internal.h"

namespace hy::cuda {

RowLayout row_layout(const Tensor& self, const std::vector<bool>& reduced, bool keepdim) {
  RowLayout l;
  Shape shape;
  Strides strides;
  for (int64_t d = 0; d < self.dim(); ++d) {
    if (reduced[d]) {
      if (keepdim) l.out_shape.push_back(1);
      continue;
    }
    l.out_shape.push_back(self.shape()[d]);
    shape.push_back(self.shape()[d]);
    strides.push_back(self.strides()[d]);
    l.rows *= self.shape()[d];
  }
  for (int64_t d = 0; d < self.dim(); ++d) {
    if (!reduced[d]) continue;
    shape.push_back(self.shape()[d]);
    strides.push_back(self.strides()[d]);
    l.cols *= self.shape()[d];
  }
  l.perm = Tensor::make_view(self, shape, strides, self.offset());
  return l;
}

Tensor dense_as(const Tensor& view, DType dtype) {
  if (view.is_contiguous() && view.dtype() == dtype) return view;
  // Merge neighbouring dims that the view already walks contiguously (the dense result walks every pair
  // so), and drop size-1 dims: fewer dims for the copy kernel, and no 8-dim limit for most layouts.
  Shape shape;
  Strides strides;
  for (int64_t d = 0; d < view.dim(); ++d) {
    const int64_t n = view.shape()[d], st = view.strides()[d];
    if (n == 1) continue;
    if (!shape.empty() && strides.back() == st * n) {
      shape.back() *= n;
      strides.back() = st;
    } else {
      shape.push_back(n);
      strides.push_back(st);
    }
  }
  Tensor dense = Tensor::empty(view.shape(), dtype, view.device());
  if (dense.numel() == 0) return dense;
  const Tensor src = Tensor::make_view(view, shape, strides, view.offset());
  copy_into(Tensor::make_view(dense, shape, contiguous_strides(shape), 0), src);
  return dense;
}

Tensor reduce_scratch(int64_t rows, int64_t cols, Device device) {
  const size_t bytes = reduce_scratch_bytes(rows, cols);
  if (bytes == 0) return Tensor();
  return Tensor::empty(Shape{static_cast<int64_t>((bytes + 7) / 8)}, DType::Int64, device);
}

}  // namespace hy::cuda

namespace hy::kernels::cuda {
namespace {

using hy::cuda::data_or_null;
using hy::cuda::ReduceOp;
using hy::cuda::require_defined;
using hy::cuda::RowLayout;

void refuse_complex(const Tensor& self, const char* op) {
  HY_CHECK(!dtype_is_complex(self.dtype()), NotImplementedError, "op '", op, "' has no CUDA kernel for dtype ",
           dtype_name(self.dtype()));
}

void check_nonempty(const RowLayout& l, const Tensor& self, const char* op) {
  HY_CHECK(l.cols != 0, ValueError, op, ": cannot reduce zero elements (input is a ", self.describe(),
           "); the operation has no identity, so reduce over non-empty dims only");
}

void check_float_input(const Tensor& self, const char* op) {
  require_defined(self, op, "self");
  HY_CHECK(dtype_is_floating(self.dtype()), TypeError, op, " expects a floating-point input, got a ",
           self.describe(), "; convert it first, e.g. x.to(hy.float32)");
}

// Float16/BFloat16 compute in float32, as on the CPU.
DType compute_dtype(DType t) { return (t == DType::Float16 || t == DType::BFloat16) ? DType::Float32 : t; }

// What the engine accumulates a dtype's elements in (acc_t of reduce_rows.cuh), and what sum/prod store.
DType natural_acc(DType t) { return dtype_is_floating(t) ? compute_dtype(t) : DType::Int64; }
DType natural_out(DType t) { return dtype_is_floating(t) ? t : DType::Int64; }

// sum, mean, prod: the CPU converts the input to the accumulation dtype `acc`, accumulates, and converts
// the result. The engine reads the input as it is when that accumulates the same way and stores either
// the result dtype or `acc` (converted afterwards, as the CPU converts); otherwise the input is converted
// to `acc` first, in the copy that lays it out.
Tensor accumulate(ReduceOp kind, const Tensor& self, const std::vector<bool>& mask, bool keepdim,
                  DType result, bool mean) {
  const DType acc = natural_acc(result);
  const DType in = self.dtype();
  const bool direct = natural_acc(in) == acc && (natural_out(in) == result || natural_out(in) == acc);
  const DType buffer = direct ? in : acc;
  RowLayout l = hy::cuda::row_layout(self, mask, keepdim);
  Tensor out = Tensor::empty(l.out_shape, result, self.device());
  if (l.rows == 0) return out;
  const Tensor dense = l.cols == 0 ? Tensor() : hy::cuda::dense_as(l.perm, buffer);
  const DType stored = natural_out(buffer);
  Tensor r = stored == result ? out : Tensor::empty(l.out_shape, stored, self.device());
  const Tensor scratch = hy::cuda::reduce_scratch(l.rows, l.cols, self.device());
  void* stream = hy::cuda::launch_stream(self.device());
  if (kind == ReduceOp::ReduceOp_Prod) {
    hy::cuda::launch_prod_rows(buffer, r.raw_data(), data_or_null(dense), l.rows, l.cols, data_or_null(scratch), stream);
  } else {
    // mean divides by the element count (of nothing: 0 / 0 = NaN, like the CPU)
    const double divisor = mean ? static_cast<double>(l.cols) : 1.0;
    hy::cuda::launch_reduce_rows(ReduceOp::ReduceOp_Sum, buffer, r.raw_data(), data_or_null(dense), l.rows, l.cols,
                                 divisor, data_or_null(scratch), stream);
  }
  if (r.impl() != out.impl()) hy::cuda::copy_into(out, r);
  return out;
}

// amax/amin/max/min: values compared in the input's own dtype (exactly, as the CPU's widened compare).
Tensor extreme(const char* op, bool is_max, const Tensor& self, const std::optional<DimVector>& dim, bool keepdim) {
  require_defined(self, op, "self");
  refuse_complex(self, op);
  RowLayout l = hy::cuda::row_layout(self, hy::cuda::reduce_dim_mask(self, dim, op), keepdim);
  check_nonempty(l, self, op);
  Tensor out = Tensor::empty(l.out_shape, self.dtype(), self.device());
  if (l.rows == 0) return out;
  const Tensor dense = hy::cuda::dense_as(l.perm, self.dtype());
  const Tensor scratch = hy::cuda::reduce_scratch(l.rows, l.cols, self.device());
  hy::cuda::launch_reduce_rows(is_max ? ReduceOp::ReduceOp_Max : ReduceOp::ReduceOp_Min, self.dtype(), out.raw_data(),
                               dense.raw_data(), l.rows, l.cols, 1.0, data_or_null(scratch),
                               hy::cuda::launch_stream(self.device()));
  return out;
}

// Values (when wanted) and first indices of the extremes over the flagged dims. The reduced dims are
// laid out last in row-major order, so an index counts them as the CPU does (logical order).
std::tuple<Tensor, Tensor> extreme_with_index(const char* op, bool is_max, const Tensor& self,
                                              const std::vector<bool>& mask, bool keepdim, bool want_values) {
  refuse_complex(self, op);
  RowLayout l = hy::cuda::row_layout(self, mask, keepdim);
  check_nonempty(l, self, op);
  Tensor values = want_values ? Tensor::empty(l.out_shape, self.dtype(), self.device()) : Tensor();
  Tensor indices = Tensor::empty(l.out_shape, DType::Int64, self.device());
  if (l.rows == 0) return {values, indices};
  const Tensor dense = hy::cuda::dense_as(l.perm, self.dtype());
  const Tensor scratch = hy::cuda::reduce_scratch(l.rows, l.cols, self.device());
  hy::cuda::launch_arg_rows(is_max, self.dtype(), data_or_null(values), indices.data<int64_t>(), dense.raw_data(),
                            l.rows, l.cols, data_or_null(scratch), hy::cuda::launch_stream(self.device()));
  return {values, indices};
}

std::tuple<Tensor, Tensor> extreme_dim(const char* op, bool is_max, const Tensor& self, int64_t dim, bool keepdim) {
  require_defined(self, op, "self");
  return extreme_with_index(op, is_max, self, hy::cuda::reduce_dim_mask(self, DimVector{dim}, op), keepdim, true);
}

Tensor arg_extreme(const char* op, bool is_max, const Tensor& self, std::optional<int64_t> dim, bool keepdim) {
  require_defined(self, op, "self");
  // dim=None indexes the flattened tensor; keepdim then keeps every dim as size 1, like torch.
  std::optional<DimVector> dims;
  if (dim) dims = DimVector{*dim};
  return std::get<1>(extreme_with_index(op, is_max, self, hy::cuda::reduce_dim_mask(self, dims, op), keepdim, false));
}

Tensor var_std(const char* op, const Tensor& self, const std::optional<DimVector>& dim, double correction,
               bool keepdim, bool take_sqrt) {
  check_float_input(self, op);
  RowLayout l = hy::cuda::row_layout(self, hy::cuda::reduce_dim_mask(self, dim, op), keepdim);
  Tensor out = Tensor::empty(l.out_shape, self.dtype(), self.device());
  if (l.rows == 0) return out;
  const Tensor dense = l.cols == 0 ? Tensor() : hy::cuda::dense_as(l.perm, self.dtype());
  const Tensor means = Tensor::empty(Shape{l.rows}, compute_dtype(self.dtype()), self.device());
  const Tensor scratch = hy::cuda::reduce_scratch(l.rows, l.cols, self.device());
  hy::cuda::launch_var_rows(self.dtype(), out.raw_data(), means.raw_data(), data_or_null(dense), l.rows, l.cols,
                            correction, take_sqrt, data_or_null(scratch), hy::cuda::launch_stream(self.device()));
  return out;
}

}  // namespace

Tensor sum(const Tensor& self, const std::optional<DimVector>& dim, bool keepdim, std::optional<DType> dtype) {
  require_defined(self, "sum", "self");
  if (dtype_is_complex(self.dtype()) || (dtype && dtype_is_complex(*dtype)))
    return complex_sum(self, dim, keepdim, dtype, false);  // kernels_complex.cpp
  // Integers and bool sum into int64, as on the CPU (and in torch).
  const DType result = dtype.value_or(dtype_is_floating(self.dtype()) ? self.dtype() : DType::Int64);
  return accumulate(ReduceOp::ReduceOp_Sum, self, hy::cuda::reduce_dim_mask(self, dim, "sum"), keepdim, result,
                    false);
}

Tensor mean(const Tensor& self, const std::optional<DimVector>& dim, bool keepdim, std::optional<DType> dtype) {
  require_defined(self, "mean", "self");
  if (dtype_is_complex(self.dtype()) || (dtype && dtype_is_complex(*dtype)))
    return complex_sum(self, dim, keepdim, dtype, true);
  const DType result = dtype.value_or(self.dtype());
  HY_CHECK(dtype_is_floating(result), TypeError, "mean: needs a floating-point dtype, got a ", self.describe(),
           dtype ? str(" with dtype=", dtype_name(*dtype)) : std::string(),
           "; pass dtype=hy.float32 (or another floating dtype)");
  return accumulate(ReduceOp::ReduceOp_Sum, self, hy::cuda::reduce_dim_mask(self, dim, "mean"), keepdim,
                    result, true);
}

Tensor prod(const Tensor& self, const std::optional<DimVector>& dim, bool keepdim, std::optional<DType> dtype) {
  require_defined(self, "prod", "self");
  const DType result = dtype.value_or(dtype_is_floating(self.dtype()) ? self.dtype() : DType::Int64);
  HY_CHECK(!dtype_is_complex(result), NotImplementedError, "op 'prod' has no CUDA kernel for dtype ",
           dtype_name(result));
  return accumulate(ReduceOp::ReduceOp_Prod, self, hy::cuda::reduce_dim_mask(self, dim, "prod"), keepdim,
                    result, false);
}

Tensor amax(const Tensor& self, const std::optional<DimVector>& dim, bool keepdim) {
  return extreme("amax", true, self, dim, keepdim);
}

Tensor amin(const Tensor& self, const std::optional<DimVector>& dim, bool keepdim) {
  return extreme("amin", false, self, dim, keepdim);
}

Tensor max(const Tensor& self) { return extreme("max", true, self, std::nullopt, false); }

Tensor min(const Tensor& self) { return extreme("min", false, self, std::nullopt, false); }

std::tuple<Tensor, Tensor> max_dim(const Tensor& self, int64_t dim, bool keepdim) {
  return extreme_dim("max", true, self, dim, keepdim);
}

std::tuple<Tensor, Tensor> min_dim(const Tensor& self, int64_t dim, bool keepdim) {
  return extreme_dim("min", false, self, dim, keepdim);
}

Tensor argmax(const Tensor& self, std::optional<int64_t> dim, bool keepdim) {
  return arg_extreme("argmax", true, self, dim, keepdim);
}

Tensor argmin(const Tensor& self, std::optional<int64_t> dim, bool keepdim) {
  return arg_extreme("argmin", false, self, dim, keepdim);
}

Tensor var(const Tensor& self, const std::optional<DimVector>& dim, double correction, bool keepdim) {
  return var_std("var", self, dim, correction, keepdim, false);
}

Tensor std(const Tensor& self, const std::optional<DimVector>& dim, double correction, bool keepdim) {
  return var_std("std", self, dim, correction, keepdim, true);
}

Tensor norm(const Tensor& self, const Scalar& p, const std::optional<DimVector>& dim, bool keepdim) {
  check_float_input(self, "norm");
  const double pv = p.to_double();
  HY_CHECK(!std::isnan(pv), ValueError, "norm: p must be a number, got nan");
  RowLayout l = hy::cuda::row_layout(self, hy::cuda::reduce_dim_mask(self, dim, "norm"), keepdim);
  if (std::isinf(pv)) {
    HY_CHECK(l.cols != 0, ValueError, "norm: the p=", pv, " norm of zero elements is undefined (input is a ",
             self.describe(), ")");
  }
  using hy::cuda::NormKind;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const NormKind kind = pv == kInf    ? NormKind::NormKind_MaxAbs
                        : pv == -kInf ? NormKind::NormKind_MinAbs
                        : pv == 0     ? NormKind::NormKind_NonZero
                        : pv == 1     ? NormKind::NormKind_AbsSum
                        : pv == 2     ? NormKind::NormKind_Euclid
                                      : NormKind::NormKind_Pow;
  Tensor out = Tensor::empty(l.out_shape, self.dtype(), self.device());
  if (l.rows == 0) return out;
  const Tensor dense = l.cols == 0 ? Tensor() : hy::cuda::dense_as(l.perm, self.dtype());
  const Tensor scratch = hy::cuda::reduce_scratch(l.rows, l.cols, self.device());
  hy::cuda::launch_norm_rows(self.dtype(), kind, pv, out.raw_data(), data_or_null(dense), l.rows, l.cols,
                             data_or_null(scratch), hy::cuda::launch_stream(self.device()));
  return out;
}

namespace {

Tensor all_any(const char* op, bool all, const Tensor& self, const std::optional<DimVector>& dim, bool keepdim) {
  require_defined(self, op, "self");
  refuse_complex(self, op);
  RowLayout l = hy::cuda::row_layout(self, hy::cuda::reduce_dim_mask(self, dim, op), keepdim);
  Tensor out = Tensor::empty(l.out_shape, DType::Bool, self.device());
  if (l.rows == 0) return out;
  // Elements become bool (nonzero, NaN included) in the layout copy, as the CPU casts them.
  const Tensor dense = l.cols == 0 ? Tensor() : hy::cuda::dense_as(l.perm, DType::Bool);
  const Tensor scratch = hy::cuda::reduce_scratch(l.rows, l.cols, self.device());
  hy::cuda::launch_all_any_rows(all, out.data<bool>(), dense.defined() ? dense.data<bool>() : nullptr, l.rows,
                                l.cols, data_or_null(scratch), hy::cuda::launch_stream(self.device()));
  return out;
}

}  // namespace

Tensor all(const Tensor& self, const std::optional<DimVector>& dim, bool keepdim) {
  return all_any("all", true, self, dim, keepdim);
}

Tensor any(const Tensor& self, const std::optional<DimVector>& dim, bool keepdim) {
  return all_any("any", false, self, dim, keepdim);
}

Tensor logsumexp(const Tensor& self, const DimVector& dim, bool keepdim) {
  require_defined(self, "logsumexp", "self");
  refuse_complex(self, "logsumexp");
  // Integers and bool give float32 (converted in the layout copy), as on the CPU.
  const DType result = dtype_is_floating(self.dtype()) ? self.dtype() : to_floating(self.dtype());
  RowLayout l = hy::cuda::row_layout(self, hy::cuda::reduce_dim_mask(self, dim, "logsumexp"), keepdim);
  Tensor out = Tensor::empty(l.out_shape, result, self.device());
  if (l.rows == 0) return out;
  const Tensor dense = l.cols == 0 ? Tensor() : hy::cuda::dense_as(l.perm, result);
  const Tensor shift = Tensor::empty(Shape{l.rows}, compute_dtype(result), self.device());
  const Tensor scratch = hy::cuda::reduce_scratch(l.rows, l.cols, self.device());
  hy::cuda::launch_logsumexp_rows(result, out.raw_data(), shift.raw_data(), data_or_null(dense), l.rows, l.cols,
                                  data_or_null(scratch), hy::cuda::launch_stream(self.device()));
  return out;
}

}  // namespace hy::kernels::cuda
