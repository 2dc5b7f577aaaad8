// The short path of the arithmetic kernels (add, sub, mul, div) for small work, where the general driver
// (binary_kernel: operand casts, an ElementwisePlan with per-dim strides, parallel_for's std::function)
// costs far more than the few elements it computes. It takes a call only when the result is exactly what
// binary_kernel computes, with one flat loop:
//  * no out=;
//  * the result dtype is one the functor computes in (bool, int32, int64, float32, float64), and a
//    tensor operand with the result's shape has that dtype;
//  * each operand is contiguous with the result's shape, or a single element (a Python number's 0-d
//    tensor, a 1-element tensor) read once in the result dtype, the value the general path's cast gives;
//  * at most one grain of elements (larger work goes to the pool through the general path).
//
//   Tensor r = small_binary("add", a, b, out, BinaryDTypes::BinaryDTypes_Promote, so::add(1.0));
//   if (r.defined()) return r;   // else: binary_kernel(...)
#pragma once
#include <optional>

#include "core/parallel.h"
#include "core/scalar_check.h"
#include "core/type_promotion.h"
#include "kernels/cpu/binary_impl.h"

namespace hy::cpu {

/// True for the dtypes small_binary reads a single-element operand from.
inline bool small_binary_readable(DType d) {
  return d == DType::Bool || d == DType::Int32 || d == DType::Int64 || d == DType::Float32 || d == DType::Float64;
}

/// The one element of `t` (a readable dtype) converted to T as the cast kernels convert it.
template <typename T>
T small_binary_element(const Tensor& t) {
  const void* p = t.raw_data();
  switch (t.dtype()) {
    case DType::Bool: return static_cast<T>(*static_cast<const bool*>(p));
    case DType::Int32: return static_cast<T>(*static_cast<const int32_t*>(p));
    case DType::Int64: return static_cast<T>(*static_cast<const int64_t*>(p));
    case DType::Float32: return static_cast<T>(*static_cast<const float*>(p));
    default: return static_cast<T>(*static_cast<const double*>(p));
  }
}

/// `a op b` by the short path, or an undefined Tensor when the call does not qualify (see the top).
template <typename F>
Tensor small_binary(const char* op, const Tensor& a, const Tensor& b, const std::optional<Tensor>& out,
                    BinaryDTypes rule, const F& f) {
  if ((out && out->defined()) || !a.defined() || !b.defined()) return Tensor();
  const bool a_single = a.numel() == 1, b_single = b.numel() == 1;
  // The operand that sets the result's shape: a dense one of any size, else (both single) the one with
  // more dims, which is the broadcast shape of two single elements.
  const bool a_sets_shape = !a_single || (b_single && a.dim() >= b.dim());
  const Tensor& big = a_sets_shape ? a : b;
  const Tensor& other = a_sets_shape ? b : a;
  if (!big.is_contiguous() || big.numel() > kGrainElementwise) return Tensor();
  const bool other_whole = other.shape() == big.shape() && other.is_contiguous();
  if (!other_whole && !(other.numel() == 1 && other.dim() <= big.dim())) return Tensor();
  const DType rt = result_type(a, b);
  if (rt != big.dtype() || compute_dtype(rt) != rt || !small_binary_readable(rt)) return Tensor();
  if (rule == BinaryDTypes::BinaryDTypes_PromoteFloat && !dtype_is_floating(rt)) return Tensor();
  if (rule != BinaryDTypes::BinaryDTypes_Promote && rule != BinaryDTypes::BinaryDTypes_PromoteFloat) return Tensor();
  if (other_whole ? other.dtype() != rt : !small_binary_readable(other.dtype())) return Tensor();
  check_wrapped_number_fits(a, rt, op);  // a Python int the dtype cannot hold raises, as on the general path
  check_wrapped_number_fits(b, rt, op);
  Tensor res = Tensor::empty(big.shape(), rt);
  const int64_t n = res.numel();
  visit_compute_type(rt, op, [&](auto tag) {
    using T = decltype(tag);
    T* r = res.data<T>();
    const T* x = big.data<T>();
    if (other_whole) {
      const T* y = other.data<T>();
      if (a_sets_shape) for (int64_t i = 0; i < n; ++i) r[i] = f(x[i], y[i]);
      else for (int64_t i = 0; i < n; ++i) r[i] = f(y[i], x[i]);
      return;
    }
    const T y = small_binary_element<T>(other);
    if (a_sets_shape) for (int64_t i = 0; i < n; ++i) r[i] = f(x[i], y);
    else for (int64_t i = 0; i < n; ++i) r[i] = f(y, x[i]);
  });
  return res;
}

}  // namespace hy::cpu
