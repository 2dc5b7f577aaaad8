// The shared driver of binary elementwise kernels: broadcast, promote, cast, allocate or validate
// `out=`, then run a per-dtype functor over the ElementwisePlan. Half/BFloat16 compute in float32: read and
// written in place, widened per element, when both operands already have the result's dtype.
//
//   return binary_kernel("mul", a, b, out, BinaryDTypes::Promote, [](auto x, auto y) { return x * y; });
#pragma once
#include <optional>

#include "core/half.h"
#include "core/scalar_check.h"
#include "core/type_promotion.h"
#include "kernels/cpu/kernel_util.h"
#include "kernels/cpu/loops.h"

namespace hy::cpu {

/// How a binary op's result dtype follows its inputs.
enum class BinaryDTypes {
  BinaryDTypes_Promote,       // result_type(a, b)
  BinaryDTypes_PromoteFloat,  // result_type, then int/bool -> float32 (true division, atan2)
  BinaryDTypes_Bool,          // compute in result_type, return bool (comparisons)
  BinaryDTypes_Logical        // inputs read as bool, return bool
};

/// Dtype the functor runs in for `dt`: Half/BFloat16 widen to float.
inline DType compute_dtype(DType dt) {
  return (dt == DType::Float16 || dt == DType::BFloat16) ? DType::Float32 : dt;
}

/// Call run(T{}) with T the C++ type a kernel computes in for `compute` (bool, int32, int64, float or
/// double); other dtypes (Half/BFloat16 are widened before this) raise NotImplementedError.
template <typename Run>
void visit_compute_type(DType compute, const char* op, const Run& run) {
  switch (compute) {
    case DType::Bool: return run(bool{});
    case DType::Int32: return run(int32_t{});
    case DType::Int64: return run(int64_t{});
    case DType::Float32: return run(float{});
    case DType::Float64: return run(double{});
    default: throw NotImplementedError(str("op '", op, "' has no CPU kernel for dtype ", dtype_name(compute)));
  }
}

/// binary_row for 16-bit float storage S (Half/BFloat16): each element is widened to float, `f` runs in
/// float and the result is rounded once to Out (S, or bool for comparisons). One pass over the operands
/// instead of three float32 temporaries (a cast of each input and of the result).
template <typename Out, typename S, typename F>
inline void binary_row_widen(char** p, const int64_t* s, int64_t n, const F& f) {
  if (s[0] == sizeof(Out) && s[1] == sizeof(S) && s[2] == sizeof(S)) {
    Out* o = reinterpret_cast<Out*>(p[0]);
    const S* a = reinterpret_cast<const S*>(p[1]);
    const S* b = reinterpret_cast<const S*>(p[2]);
    for (int64_t i = 0; i < n; ++i) o[i] = Out(f(static_cast<float>(a[i]), static_cast<float>(b[i])));
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    const float x = *reinterpret_cast<const S*>(p[1] + i * s[1]);
    const float y = *reinterpret_cast<const S*>(p[2] + i * s[2]);
    *reinterpret_cast<Out*>(p[0] + i * s[0]) = Out(f(x, y));
  }
}

/// Run `f` elementwise over broadcast a, b. `Dispatch` picks which C++ types f is instantiated for.
template <typename F>
Tensor binary_kernel(const char* op, const Tensor& a, const Tensor& b, const std::optional<Tensor>& out,
                     BinaryDTypes rule, const F& f) {
  check_defined(a, op, "self");
  check_defined(b, op, "other");
  Shape shape = broadcast_shapes(a.shape(), b.shape());
  DType common = rule == BinaryDTypes::BinaryDTypes_Logical ? DType::Bool : result_type(a, b);
  if (rule == BinaryDTypes::BinaryDTypes_PromoteFloat) common = to_floating(common);
  // A Python int the integer dtype cannot hold (int32_t + 2**40): comparisons compare exactly, in int64,
  // and every other op raises, as NumPy 2 does (NEP 50); a silent wrap would divide by a wrapped 0.
  if (rule == BinaryDTypes::BinaryDTypes_Bool && dtype_is_integral(common) &&
      (wrapped_number_overflows(a, common) || wrapped_number_overflows(b, common)))
    common = DType::Int64;
  check_wrapped_number_fits(a, common, op);
  check_wrapped_number_fits(b, common, op);
  DType result = (rule == BinaryDTypes::BinaryDTypes_Bool || rule == BinaryDTypes::BinaryDTypes_Logical)
                     ? DType::Bool : common;
  DType compute = compute_dtype(common);
  DType result_compute = result == DType::Bool ? DType::Bool : compute;
  const Tensor& like = a.shape() == shape ? a : b;  // an operand that is not broadcast sets the layout
  Tensor res = prepare_out(out, shape, result, op, like);
  if (compute != common && a.dtype() == common && b.dtype() == common && res.dtype() == result &&
      rule != BinaryDTypes::BinaryDTypes_Logical) {
    ElementwisePlan<3> plan(shape, {&res, &a, &b});
    auto run_widen = [&](auto tag) {
      using S = decltype(tag);
      if (result == DType::Bool) {
        plan.run([&](char** p, const int64_t* s, int64_t n) { binary_row_widen<bool, S>(p, s, n, f); });
      } else {
        plan.run([&](char** p, const int64_t* s, int64_t n) { binary_row_widen<S, S>(p, s, n, f); });
      }
    };
    if (common == DType::BFloat16) run_widen(BFloat16{});
    else run_widen(Half{});
    return res;
  }
  // Write straight into the result when it has the compute type; else go through a temporary.
  Tensor dst = res.dtype() == result_compute ? res : empty_like_layout(shape, result_compute, res);
  Tensor ca = cast_keep_layout(a, compute), cb = cast_keep_layout(b, compute);
  ElementwisePlan<3> plan(shape, {&dst, &ca, &cb});
  auto run = [&](auto tag) {
    using T = decltype(tag);
    if (result_compute == DType::Bool) {
      plan.run([&](char** p, const int64_t* s, int64_t n) { binary_row<bool, T>(p, s, n, f); });
    } else {
      plan.run([&](char** p, const int64_t* s, int64_t n) { binary_row<T, T>(p, s, n, f); });
    }
  };
  visit_compute_type(compute, op, run);
  if (dst.impl() != res.impl()) copy_into(res, dst);
  return res;
}

}  // namespace hy::cpu
