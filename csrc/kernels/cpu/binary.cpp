// Binary elementwise kernels with broadcasting (the op table's binary family).
#include <string>

#include "core/scalar_check.h"
#include "hyflow/ops/binary.h"
#include "hyflow/ops/scalar_ops_generated.h"
#include "kernels/cpu/binary_impl.h"
#include "kernels/cpu/binary_small.h"
#include "kernels/cpu/complex_internal.h"

// The math of every kernel here is the op's `scalar:` expression in csrc/ops/table/binary.yaml, generated
// into hy::scalar_ops (integer wrap, NumPy's floor division and NaN rules live in kernels/scalar_math.h);
// these functions keep the argument checks and the dtype rule.
namespace hy::kernels::cpu {
using hy::cpu::binary_kernel;
using hy::cpu::small_binary;
using hy::cpu::BinaryDTypes;
using std::optional;
namespace so = hy::scalar_ops;

namespace {

constexpr auto kPromote = BinaryDTypes::BinaryDTypes_Promote;
constexpr auto kFloat = BinaryDTypes::BinaryDTypes_PromoteFloat;
constexpr auto kBool = BinaryDTypes::BinaryDTypes_Bool;
constexpr auto kLogical = BinaryDTypes::BinaryDTypes_Logical;

void check_alpha(const Tensor& a, const Tensor& b, const Scalar& alpha, const char* op) {
  DType rt = result_type(a, b);
  HY_CHECK(!(alpha.is_float() && !dtype_is_floating(rt)), TypeError, op,
           ": alpha must not be a float when the inputs are integral (", a.describe(), ", ", b.describe(), ")");
  check_scalar_fits(alpha, rt, op, "alpha");
}

void check_not_bool(const Tensor& a, const Tensor& b, const char* op) {
  HY_CHECK(result_type(a, b) != DType::Bool, TypeError, op, " is not defined for bool tensors; use ",
           "logical_xor / logical_not instead");
}

// True when any element of integral/bool tensor t satisfies pred (t read as int64).
template <typename Pred>
bool any_int(const Tensor& t, const Pred& pred) {
  Tensor c = hy::cpu::contiguous(hy::cpu::cast_to(t, DType::Int64));
  const int64_t* p = c.data<int64_t>();
  for (int64_t i = 0, n = c.numel(); i < n; ++i)
    if (pred(p[i])) return true;
  return false;
}

void check_int_divisor(const Tensor& b, const Tensor& a, const char* op) {
  // Integer division by zero is undefined behaviour in C++ (a SIGFPE on x86): refuse it. The divisor is
  // checked in the dtype the kernel divides in: int32_t // hy.tensor(2**32) divides by a wrapped 0.
  DType rt = result_type(a, b);
  if (!dtype_is_integral(rt) && rt != DType::Bool) return;
  check_wrapped_number_fits(a, rt, op);
  check_wrapped_number_fits(b, rt, op);
  HY_CHECK(!any_int(hy::cpu::cast_to(b, rt), [](int64_t v) { return v == 0; }), ValueError, op,
           ": integer division by zero");
}

}  // namespace

// Integers wrap on overflow as in NumPy; a signed overflow is UB in C++.
// The complex arithmetic (add, sub, mul, div, eq, ne) lives in complex.cpp; these kernels hand over.
inline bool any_complex(const Tensor& a, const Tensor& b) {
  return dtype_is_complex(a.dtype()) || dtype_is_complex(b.dtype());
}

Tensor add(const Tensor& self, const Tensor& other, const Scalar& alpha, const optional<Tensor>& out) {
  if (any_complex(self, other)) return hy::cpu::complex_add(self, other, alpha, out);
  check_alpha(self, other, alpha, "add");
  Tensor small = small_binary("add", self, other, out, kPromote, so::add(alpha.to_double()));
  if (small.defined()) return small;
  return binary_kernel("add", self, other, out, kPromote, so::add(alpha.to_double()));
}

Tensor sub(const Tensor& self, const Tensor& other, const Scalar& alpha, const optional<Tensor>& out) {
  if (any_complex(self, other)) return hy::cpu::complex_add(self, other, Scalar(-alpha.to_double()), out);
  check_alpha(self, other, alpha, "sub");
  check_not_bool(self, other, "sub");
  Tensor small = small_binary("sub", self, other, out, kPromote, so::sub(alpha.to_double()));
  if (small.defined()) return small;
  return binary_kernel("sub", self, other, out, kPromote, so::sub(alpha.to_double()));
}

Tensor mul(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  if (any_complex(self, other)) return hy::cpu::complex_mul(self, other, out);
  Tensor small = small_binary("mul", self, other, out, kPromote, so::mul{});
  if (small.defined()) return small;
  return binary_kernel("mul", self, other, out, kPromote, so::mul{});
}

Tensor div(const Tensor& self, const Tensor& other, const optional<std::string>& rounding_mode,
           const optional<Tensor>& out) {
  if (any_complex(self, other)) {
    HY_CHECK(!rounding_mode, TypeError, "div: rounding_mode='", *rounding_mode, "' is not defined for complex tensors");
    return hy::cpu::complex_div(self, other, out);
  }
  if (!rounding_mode) {
    Tensor small = small_binary("div", self, other, out, kFloat, so::div_none{});
    return small.defined() ? small : binary_kernel("div", self, other, out, kFloat, so::div_none{});
  }
  if (*rounding_mode == "floor") return ops::floor_divide(self, other, out);
  HY_CHECK(*rounding_mode == "trunc", ValueError, "div: rounding_mode must be None, 'trunc' or 'floor', got '",
           *rounding_mode, "'");
  check_int_divisor(other, self, "div");
  return binary_kernel("div", self, other, out, kPromote, so::div_trunc{});
}

Tensor floor_divide(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  check_not_bool(self, other, "floor_divide");
  check_int_divisor(other, self, "floor_divide");
  return binary_kernel("floor_divide", self, other, out, kPromote, so::floor_divide{});
}

Tensor remainder(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  check_not_bool(self, other, "remainder");
  check_int_divisor(other, self, "remainder");
  return binary_kernel("remainder", self, other, out, kPromote, so::remainder{});
}

Tensor pow(const Tensor& self, const Tensor& exponent, const optional<Tensor>& out) {
  DType rt = result_type(self, exponent);
  if (dtype_is_integral(rt)) {
    HY_CHECK(!any_int(exponent, [](int64_t v) { return v < 0; }), ValueError,
             "pow: integers to negative integer powers are not allowed");
  }
  return binary_kernel("pow", self, exponent, out, kPromote, so::pow{});
}

Tensor maximum(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  return binary_kernel("maximum", self, other, out, kPromote, so::maximum{});
}

Tensor minimum(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  return binary_kernel("minimum", self, other, out, kPromote, so::minimum{});
}

Tensor atan2(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  return binary_kernel("atan2", self, other, out, kFloat, so::atan2{});
}

#define HY_BINARY(name, rule)                                                                \
  Tensor name(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {       \
    return binary_kernel(#name, self, other, out, rule, so::name{});                         \
  }
Tensor eq(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  if (any_complex(self, other)) return hy::cpu::complex_equal(self, other, true, out);
  return binary_kernel("eq", self, other, out, kBool, so::eq{});
}
Tensor ne(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  if (any_complex(self, other)) return hy::cpu::complex_equal(self, other, false, out);
  return binary_kernel("ne", self, other, out, kBool, so::ne{});
}
HY_BINARY(lt, kBool)
HY_BINARY(le, kBool)
HY_BINARY(gt, kBool)
HY_BINARY(ge, kBool)
HY_BINARY(logical_and, kLogical)
HY_BINARY(logical_or, kLogical)
HY_BINARY(logical_xor, kLogical)
#undef HY_BINARY

#define HY_BITWISE(name)                                                                              \
  Tensor name(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {                \
    DType rt = result_type(self, other);                                                             \
    HY_CHECK(rt == DType::Bool || dtype_is_integral(rt), TypeError, #name,                            \
             " needs integer or bool tensors, got ", self.describe(), " and ", other.describe());     \
    return binary_kernel(#name, self, other, out, kPromote, so::name{});                             \
  }
HY_BITWISE(bitwise_and)
HY_BITWISE(bitwise_or)
HY_BITWISE(bitwise_xor)
#undef HY_BITWISE

}  // namespace hy::kernels::cpu
