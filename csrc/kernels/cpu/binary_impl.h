// The shared driver of binary elementwise kernels: broadcast, promote, cast, allocate or validate
// `out=`, then run a per-dtype functor over the ElementwisePlan. Half/BFloat16 compute in float32: read and
// written in place, widened a block at a time (lowp_rows.h), when both operands already have the result's dtype.
//
//   return binary_kernel("mul", a, b, out, BinaryDTypes::Promote, [](auto x, auto y) { return x * y; });
#pragma once
#include <optional>

#include "core/half.h"
#include "core/scalar_check.h"
#include "core/type_promotion.h"
#include "kernels/cpu/kernel_util.h"
#include "kernels/cpu/loops.h"
#include "kernels/cpu/lowp_rows.h"

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

/// binary_row for 16-bit float storage S (Half/BFloat16): blocks of the operands are widened to float,
/// `f` runs in float and the result is rounded once to Out (S, or bool for comparisons). One pass over
/// the operands instead of three float32 temporaries (a cast of each input and of the result).
/// An operand of another dtype (a Python number, an integer tensor) arrives as float32 (a_float32, b_float32).
template <typename Out, typename S, typename F>
inline void binary_row_widen(char** p, const int64_t* s, int64_t n, const F& f, bool a_float32, bool b_float32) {
  lowp_binary_row<Out, S>(p, s, n, [&](const float* x, const float* y, float* r, int64_t m) {
    for (int64_t i = 0; i < m; ++i) r[i] = static_cast<float>(f(x[i], y[i]));
  }, a_float32, b_float32);
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
  // float16/bfloat16 results: the operands are read in place (one of another dtype, such as a Python
  // number, as float32: the value the float32 path would compute with) and each block rounded once.
  if (compute != common && res.dtype() == result && rule != BinaryDTypes::BinaryDTypes_Logical) {
    const bool a_float32 = a.dtype() != common, b_float32 = b.dtype() != common;
    Tensor ra = a_float32 ? cast_keep_layout(a, DType::Float32) : a;
    Tensor rb = b_float32 ? cast_keep_layout(b, DType::Float32) : b;
    ElementwisePlan<3> plan(shape, {&res, &ra, &rb});
    visit_lowp_type(common, [&](auto tag) {
      using S = decltype(tag);
      if (result == DType::Bool) {
        plan.run([&](char** p, const int64_t* s, int64_t n) {
          binary_row_widen<bool, S>(p, s, n, f, a_float32, b_float32);
        });
      } else {
        plan.run([&](char** p, const int64_t* s, int64_t n) {
          binary_row_widen<S, S>(p, s, n, f, a_float32, b_float32);
        });
      }
    });
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
