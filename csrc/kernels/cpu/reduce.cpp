// Accumulating reductions (the op table's reduce family, part 1): sum, mean, prod, var, std, norm,
// logsumexp, all, any — plus the dim handling and [P, R, Q] preparation every reduction shares.
// min/max/arg reductions live in reduce_minmax.cpp, softmax and scans in softmax.cpp.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/shape_util.h"
#include "hyflow/ops/ops_common.h"
#include "kernels/cpu/complex_internal.h"
#include "kernels/cpu/reduce_impl.h"

namespace hy::cpu {

int64_t reduce_wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  try {
    return wrap_dim(dim, ndim);
  } catch (const IndexError& e) {
    throw IndexError(str(op, ": ", e.what()));
  }
}

std::vector<bool> reduce_dim_mask(const Tensor& self, const std::optional<DimVector>& dim, const char* op) {
  const int64_t nd = self.dim();
  // dim=None and dim=[] both reduce every dim, as in torch.sum(x, dim=[]).
  if (!dim || dim->empty()) return std::vector<bool>(static_cast<size_t>(nd), true);
  std::vector<bool> mask(static_cast<size_t>(nd), false);
  for (int64_t d : *dim) {
    int64_t w = reduce_wrap_dim(d, nd, op);
    if (nd == 0) continue;  // a 0-d tensor accepts dim 0/-1 and has nothing to reduce
    HY_CHECK(!mask[w], ValueError, op, ": dim ", d, " appears more than once in dim=", *dim);
    mask[w] = true;
  }
  return mask;
}

namespace {

// The dims of `self` that are not size 1, outermost in memory first when self is a permutation of a
// dense layout (a transpose, a permute), else in logical order.
DimVector reduce_dim_order(const Tensor& self) {
  DimVector dims;
  for (int64_t d = 0; d < self.dim(); ++d)
    if (self.shape()[d] != 1) dims.push_back(d);
  if (self.is_contiguous()) return dims;
  DimVector sorted = dims;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [&](int64_t a, int64_t b) { return self.strides()[a] > self.strides()[b]; });
  int64_t expected = 1;
  for (size_t i = sorted.size(); i-- > 0;) {
    if (self.strides()[sorted[i]] != expected) return dims;  // gaps or broadcast: not dense
    expected *= self.shape()[sorted[i]];
  }
  return sorted;
}

// A view of `self` over `dims` (in that order).
Tensor reduce_view(const Tensor& self, const DimVector& dims) {
  Shape shape;
  Strides strides;
  for (int64_t d : dims) {
    shape.push_back(self.shape()[d]);
    strides.push_back(self.strides()[d]);
  }
  return Tensor::make_view(self, shape, strides, self.offset());
}

// `t` contiguous and, for the 16-bit buffers of reduce_lowp.h, 64-byte aligned at element 0 (a view
// with an offset is copied once, in 16 bits, so spans are widened at a float32 copy's phases).
Tensor contiguous_buffer(const Tensor& t, bool lowp) {
  Tensor c = contiguous(t);
  if (!lowp || reinterpret_cast<uintptr_t>(c.raw_data()) % 64 == 0) return c;
  Tensor aligned = Tensor::empty(c.shape(), c.dtype());
  copy_into(aligned, c);
  return aligned;
}

}  // namespace

ReduceInput reduce_prepare(const Tensor& self, const std::vector<bool>& mask, bool keepdim, DType compute,
                           bool lowp_in_place) {
  const Shape& shape = self.shape();
  ReduceInput in;
  const DimVector order = reduce_dim_order(self);
  // Are the reduced dims one run of neighbours in `order`? Then the input read in that order is
  // already [P, R, Q]; otherwise the reduced dims are permuted to the end by a copy (Q = 1).
  enum { kBefore, kInside, kAfter } state = kBefore;
  bool adjacent = true;
  DimVector kept, reduced;
  for (int64_t d : order) {
    if (mask[d]) {
      if (state == kAfter) adjacent = false;
      state = kInside;
      reduced.push_back(d);
      in.R *= shape[d];
    } else {
      if (state == kInside) state = kAfter;
      kept.push_back(d);
      (state == kBefore ? in.P : in.Q) *= shape[d];
    }
  }
  // float16/bfloat16 reduced in float32 stay 16-bit: the reducers widen blocks as they read them.
  const bool lowp = lowp_in_place && compute == DType::Float32 && dtype_is_lowp_float(self.dtype());
  const DType buffer = lowp ? self.dtype() : compute;
  if (adjacent) {
    in.data = contiguous_buffer(cast_to(reduce_view(self, order), buffer), lowp);
  } else {
    DimVector perm = kept;
    for (int64_t d : reduced) perm.push_back(d);
    Tensor permuted = reduce_view(self, perm);
    in.data = Tensor::empty(permuted.shape(), buffer);
    copy_into(in.data, permuted);  // one pass: layout change and dtype conversion together
    in.P *= in.Q;
    in.Q = 1;
  }
  // Outputs are numbered over the kept dims in `kept` order; give each logical dim its stride there.
  DimVector stride_of(shape.size(), 0);
  int64_t step = 1;
  for (size_t i = kept.size(); i-- > 0;) {
    stride_of[kept[i]] = step;
    step *= shape[kept[i]];
  }
  for (int64_t d = 0; d < self.dim(); ++d) {
    if (!mask[d] || keepdim) {
      in.out_shape.push_back(mask[d] ? 1 : shape[d]);
      in.out_strides.push_back(mask[d] ? 0 : stride_of[d]);
    }
  }
  return in;
}

Tensor ReduceInput::new_output(DType dtype) const {
  if (strides_are_contiguous(out_shape, out_strides)) return Tensor::empty(out_shape, dtype);
  Tensor flat = Tensor::empty({outputs()}, dtype);
  return Tensor::make_view(flat, out_shape, out_strides, 0);
}

Tensor reduce_result(const Tensor& out, DType dtype) { return contiguous(cast_to(out, dtype)); }

ReduceInput reduce_prepare(const Tensor& self, const std::optional<DimVector>& dim, bool keepdim, DType compute,
                           const char* op, bool lowp_in_place) {
  check_defined(self, op, "self");
  return reduce_prepare(self, reduce_dim_mask(self, dim, op), keepdim, compute, lowp_in_place);
}

ReduceInput reduce_prepare_along(const Tensor& self, int64_t dim, DType compute, const char* op,
                                 bool lowp_in_place) {
  check_defined(self, op, "self");
  const int64_t nd = self.dim();
  const int64_t d = reduce_wrap_dim(dim, nd, op);
  ReduceInput in;
  in.out_shape = self.shape();
  for (int64_t k = 0; k < nd; ++k) (k < d ? in.P : k == d ? in.R : in.Q) *= self.shape()[k];
  const bool lowp = lowp_in_place && compute == DType::Float32 && dtype_is_lowp_float(self.dtype());
  in.data = contiguous(cast_to(self, lowp ? self.dtype() : compute));
  return in;
}

void reduce_check_nonempty(const ReduceInput& in, const Tensor& self, const char* op) {
  HY_CHECK(in.R != 0, ValueError, op, ": cannot reduce zero elements (input is a ", self.describe(),
           "); the operation has no identity, so reduce over non-empty dims only");
}

}  // namespace hy::cpu

namespace hy::kernels::cpu {
using namespace hy::cpu;  // NOLINT: the reduction engine's vocabulary
using std::optional;

namespace {

// bool and integers accumulate in int64, float16/bfloat16 in float32.
DType accumulate_dtype(DType t) {
  if (!dtype_is_floating(t)) return DType::Int64;
  return compute_dtype(t);
}

// sum/prod/cumsum: an explicit dtype wins; bool and integers give int64 like torch.
DType integral_upcast_dtype(const Tensor& self, optional<DType> dtype) {
  if (dtype) return *dtype;
  return dtype_is_floating(self.dtype()) ? self.dtype() : DType::Int64;
}

template <typename F>
void dispatch_accumulate(DType dt, const char* op, const F& f) {
  switch (dt) {
    case DType::Int64: f(int64_t{}); break;
    case DType::Float32: f(float{}); break;
    case DType::Float64: f(double{}); break;
    default: throw NotImplementedError(str("op '", op, "' has no CPU kernel for dtype ", dtype_name(dt)));
  }
}

void check_float_input(const Tensor& self, const char* op) {
  check_defined(self, op, "self");
  HY_CHECK(dtype_is_floating(self.dtype()), TypeError, op, " expects a floating-point input, got a ",
           self.describe(), "; convert it first, e.g. x.to(hy.float32)");
}

Tensor var_std(const char* op, const Tensor& self, const optional<DimVector>& dim, double correction,
               bool keepdim, bool take_sqrt) {
  check_float_input(self, op);
  const DType acc = compute_dtype(self.dtype());
  ReduceInput in = reduce_prepare(self, dim, keepdim, acc, op, /*lowp_in_place=*/true);
  Tensor means = Tensor::empty({in.outputs()}, acc);
  Tensor out = in.new_output(acc);
  reduce_dispatch_float(acc, op, [&](auto tag) {
    using T = decltype(tag);
    // Two passes (mean, then squared deviations from it): no cancellation, unlike E[x^2] - E[x]^2.
    const T n = static_cast<T>(in.R);
    T* m = means.data<T>();
    reduce_run(in, make_sum_reducer<T>(MapIdentity<T>{}, m, [n](T s, int64_t) { return s / n; }));
    const T denom = std::max(T(0), n - static_cast<T>(correction));
    reduce_run(in, make_sum_reducer<T>(MapCenteredSquare<T>{m}, out.data<T>(), [denom, take_sqrt](T s, int64_t) {
      T v = s / denom;
      return take_sqrt ? std::sqrt(v) : v;
    }));
  });
  return reduce_result(out, self.dtype());
}

}  // namespace

Tensor sum(const Tensor& self, const optional<DimVector>& dim, bool keepdim, optional<DType> dtype) {
  check_defined(self, "sum", "self");
  if (dtype_is_complex(self.dtype()) || (dtype && dtype_is_complex(*dtype)))
    return hy::cpu::complex_sum(self, dim, keepdim, dtype, false);
  const DType result = integral_upcast_dtype(self, dtype);
  const DType acc = accumulate_dtype(result);
  ReduceInput in = reduce_prepare(self, dim, keepdim, acc, "sum", /*lowp_in_place=*/true);
  Tensor out = in.new_output(acc);
  dispatch_accumulate(acc, "sum", [&](auto tag) {
    using T = decltype(tag);
    reduce_run(in, make_sum_reducer<T>(MapIdentity<T>{}, out.data<T>()));
  });
  return reduce_result(out, result);
}

Tensor mean(const Tensor& self, const optional<DimVector>& dim, bool keepdim, optional<DType> dtype) {
  check_defined(self, "mean", "self");
  if (dtype_is_complex(self.dtype()) || (dtype && dtype_is_complex(*dtype)))
    return hy::cpu::complex_sum(self, dim, keepdim, dtype, true);
  const DType result = dtype.value_or(self.dtype());
  HY_CHECK(dtype_is_floating(result), TypeError, "mean: needs a floating-point dtype, got a ", self.describe(),
           dtype ? str(" with dtype=", dtype_name(*dtype)) : std::string(),
           "; pass dtype=hy.float32 (or another floating dtype)");
  const DType acc = compute_dtype(result);
  ReduceInput in = reduce_prepare(self, dim, keepdim, acc, "mean", /*lowp_in_place=*/true);
  Tensor out = in.new_output(acc);
  reduce_dispatch_float(acc, "mean", [&](auto tag) {
    using T = decltype(tag);
    const T n = static_cast<T>(in.R);  // an empty reduction gives 0 / 0 = NaN, like torch
    reduce_run(in, make_sum_reducer<T>(MapIdentity<T>{}, out.data<T>(), [n](T s, int64_t) { return s / n; }));
  });
  return reduce_result(out, result);
}

Tensor prod(const Tensor& self, const optional<DimVector>& dim, bool keepdim, optional<DType> dtype) {
  check_defined(self, "prod", "self");
  const DType result = integral_upcast_dtype(self, dtype);
  const DType acc = accumulate_dtype(result);
  ReduceInput in = reduce_prepare(self, dim, keepdim, acc, "prod", /*lowp_in_place=*/true);
  Tensor out = in.new_output(acc);
  dispatch_accumulate(acc, "prod", [&](auto tag) {
    using T = decltype(tag);
    reduce_run(in, ProdReducer<T>{out.data<T>()});
  });
  return reduce_result(out, result);
}

Tensor var(const Tensor& self, const optional<DimVector>& dim, double correction, bool keepdim) {
  return var_std("var", self, dim, correction, keepdim, false);
}

Tensor std(const Tensor& self, const optional<DimVector>& dim, double correction, bool keepdim) {
  return var_std("std", self, dim, correction, keepdim, true);
}

Tensor norm(const Tensor& self, const Scalar& p, const optional<DimVector>& dim, bool keepdim) {
  check_float_input(self, "norm");
  const double pv = p.to_double();
  HY_CHECK(!std::isnan(pv), ValueError, "norm: p must be a number, got nan");
  const DType acc = compute_dtype(self.dtype());
  ReduceInput in = reduce_prepare(self, dim, keepdim, acc, "norm", /*lowp_in_place=*/true);
  Tensor out = in.new_output(acc);
  if (std::isinf(pv)) {
    HY_CHECK(in.R != 0, ValueError, "norm: the p=", pv, " norm of zero elements is undefined (input is a ",
             self.describe(), ")");
  }
  reduce_dispatch_float(acc, "norm", [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    if (pv == std::numeric_limits<double>::infinity()) {
      reduce_run(in, ExtremeReducer<T, true, MapAbs<T>>{MapAbs<T>{}, o});
    } else if (pv == -std::numeric_limits<double>::infinity()) {
      reduce_run(in, ExtremeReducer<T, false, MapAbs<T>>{MapAbs<T>{}, o});
    } else if (pv == 0) {
      reduce_run(in, make_sum_reducer<T>(MapNonZero<T>{}, o));
    } else if (pv == 1) {
      reduce_run(in, make_sum_reducer<T>(MapAbs<T>{}, o));
    } else if (pv == 2) {
      reduce_run(in, make_sum_reducer<T>(MapSquare<T>{}, o, [](T s, int64_t) { return std::sqrt(s); }));
    } else {
      const T pt = static_cast<T>(pv), inv = static_cast<T>(1.0 / pv);
      reduce_run(in, make_sum_reducer<T>(MapAbsPow<T>{pt}, o, [inv](T s, int64_t) { return std::pow(s, inv); }));
    }
  });
  return reduce_result(out, self.dtype());
}

Tensor logsumexp(const Tensor& self, const DimVector& dim, bool keepdim) {
  check_defined(self, "logsumexp", "self");
  const DType result = dtype_is_floating(self.dtype()) ? self.dtype() : to_floating(self.dtype());
  const DType acc = compute_dtype(result);
  ReduceInput in = reduce_prepare(self, dim, keepdim, acc, "logsumexp", /*lowp_in_place=*/true);
  Tensor out = in.new_output(acc);
  reduce_dispatch_float(acc, "logsumexp", [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    if (in.R == 0) {  // log(sum of nothing) = log(0)
      std::fill(o, o + in.outputs(), -std::numeric_limits<T>::infinity());
      return;
    }
    // Shift by the max so exp never overflows; an infinite max shifts by 0 instead, so rows of -inf
    // give -inf and rows holding +inf give +inf rather than NaN.
    std::vector<T> shift(static_cast<size_t>(in.outputs()));
    T* m = shift.data();
    reduce_run(in, ExtremeReducer<T, true>{MapIdentity<T>{}, m});
    for (T& v : shift)
      if (std::isinf(v)) v = 0;
    reduce_run(in, make_sum_reducer<T>(MapShiftedExp<T>{m}, o, [m](T s, int64_t k) { return std::log(s) + m[k]; }));
  });
  return reduce_result(out, result);
}

Tensor all(const Tensor& self, const optional<DimVector>& dim, bool keepdim) {
  ReduceInput in = reduce_prepare(self, dim, keepdim, DType::Bool, "all");
  Tensor out = in.new_output(DType::Bool);
  reduce_run(in, BoolReducer<true>{out.data<bool>()});
  return out;
}

Tensor any(const Tensor& self, const optional<DimVector>& dim, bool keepdim) {
  ReduceInput in = reduce_prepare(self, dim, keepdim, DType::Bool, "any");
  Tensor out = in.new_output(DType::Bool);
  reduce_run(in, BoolReducer<false>{out.data<bool>()});
  return out;
}

}  // namespace hy::kernels::cpu
