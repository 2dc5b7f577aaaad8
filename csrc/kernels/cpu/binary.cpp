// Binary elementwise kernels with broadcasting (the op table's binary family).
#include <cmath>
#include <type_traits>

#include "core/scalar_check.h"
#include "hyflow/ops/binary.h"
#include "kernels/cpu/binary_impl.h"
#include "kernels/cpu/int_wrap_internal.h"

namespace hy::kernels::cpu {
using hy::cpu::binary_kernel;
using hy::cpu::BinaryDTypes;
using hy::cpu::wrap_add;
using hy::cpu::wrap_mul;
using hy::cpu::wrap_sub;
using std::optional;

namespace {

constexpr auto kPromote = BinaryDTypes::BinaryDTypes_Promote;
constexpr auto kFloat = BinaryDTypes::BinaryDTypes_PromoteFloat;
constexpr auto kBool = BinaryDTypes::BinaryDTypes_Bool;
constexpr auto kLogical = BinaryDTypes::BinaryDTypes_Logical;

template <typename T> constexpr bool is_int_v = std::is_integral_v<T> && !std::is_same_v<T, bool>;

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

// Integer quotient and remainder truncated toward zero, defined for every divisor but 0. C++'s
// INT_MIN / -1 overflows (a SIGFPE on x86); NumPy defines it as wrapping: INT_MIN // -1 == INT_MIN,
// INT_MIN % -1 == 0.
template <typename T> inline T int_trunc_div(T a, T b) {
  if (b == -1) return static_cast<T>(-static_cast<std::make_unsigned_t<T>>(a));
  return static_cast<T>(a / b);
}
template <typename T> inline T int_trunc_mod(T a, T b) { return b == -1 ? T(0) : static_cast<T>(a % b); }

// Python's floor division and modulo (sign follows the divisor), on ints and floats. The float forms
// follow NumPy's divmod: the quotient is computed from fmod so that q * b + r == a holds as closely as
// rounding allows; inf // finite is nan, x // 0 is x / 0 (+-inf, or nan for 0 // 0), and a zero
// remainder takes the divisor's sign.
template <typename T> inline T floor_div(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (b == 0) return a / b;
    T mod = std::fmod(a, b);
    T div = (a - mod) / b;
    if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1;
    if (div == 0) return std::copysign(T(0), a / b);
    T q = std::floor(div);
    return div - q > T(0.5) ? q + 1 : q;  // div is a whole number up to rounding: take the nearest
  } else {
    T q = int_trunc_div(a, b);
    return (int_trunc_mod(a, b) != 0 && ((a < 0) != (b < 0))) ? static_cast<T>(q - 1) : q;
  }
}
template <typename T> inline T py_mod(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    T r = std::fmod(a, b);
    if (b == 0) return r;  // nan
    if (r == 0) return std::copysign(T(0), b);
    return ((r < 0) != (b < 0)) ? r + b : r;
  } else {
    T r = int_trunc_mod(a, b);
    return (r != 0 && ((r < 0) != (b < 0))) ? static_cast<T>(r + b) : r;
  }
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

Tensor add(const Tensor& self, const Tensor& other, const Scalar& alpha, const optional<Tensor>& out) {
  check_alpha(self, other, alpha, "add");
  // Integers wrap on overflow as in NumPy (int_wrap_internal.h); a signed overflow is UB in C++.
  if (alpha.to_double() == 1.0)
    return binary_kernel("add", self, other, out, kPromote, [](auto x, auto y) {
      using T = decltype(x);
      if constexpr (is_int_v<T>) return wrap_add(x, y);
      else return static_cast<T>(x + y);
    });
  double al = alpha.to_double();
  return binary_kernel("add", self, other, out, kPromote, [al](auto x, auto y) {
    using T = decltype(x);
    if constexpr (is_int_v<T>) return wrap_add(x, wrap_mul(static_cast<T>(al), y));
    else return static_cast<T>(x + static_cast<T>(al) * y);
  });
}

Tensor sub(const Tensor& self, const Tensor& other, const Scalar& alpha, const optional<Tensor>& out) {
  check_alpha(self, other, alpha, "sub");
  check_not_bool(self, other, "sub");
  if (alpha.to_double() == 1.0)
    return binary_kernel("sub", self, other, out, kPromote, [](auto x, auto y) {
      using T = decltype(x);
      if constexpr (is_int_v<T>) return wrap_sub(x, y);
      else return static_cast<T>(x - y);
    });
  double al = alpha.to_double();
  return binary_kernel("sub", self, other, out, kPromote, [al](auto x, auto y) {
    using T = decltype(x);
    if constexpr (is_int_v<T>) return wrap_sub(x, wrap_mul(static_cast<T>(al), y));
    else return static_cast<T>(x - static_cast<T>(al) * y);
  });
}

Tensor mul(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  return binary_kernel("mul", self, other, out, kPromote, [](auto x, auto y) {
    using T = decltype(x);
    if constexpr (std::is_same_v<T, bool>) return static_cast<bool>(x && y);
    else if constexpr (is_int_v<T>) return wrap_mul(x, y);
    else return static_cast<T>(x * y);
  });
}

Tensor div(const Tensor& self, const Tensor& other, const optional<std::string>& rounding_mode,
           const optional<Tensor>& out) {
  if (!rounding_mode) {
    return binary_kernel("div", self, other, out, kFloat, [](auto x, auto y) { return static_cast<decltype(x)>(x / y); });
  }
  if (*rounding_mode == "floor") return ops::floor_divide(self, other, out);
  HY_CHECK(*rounding_mode == "trunc", ValueError, "div: rounding_mode must be None, 'trunc' or 'floor', got '",
           *rounding_mode, "'");
  check_int_divisor(other, self, "div");
  return binary_kernel("div", self, other, out, kPromote, [](auto x, auto y) {
    using T = decltype(x);
    if constexpr (std::is_floating_point_v<T>) return std::trunc(x / y);
    else if constexpr (std::is_same_v<T, bool>) return static_cast<bool>(x);
    else return int_trunc_div<T>(x, y);
  });
}

Tensor floor_divide(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  check_not_bool(self, other, "floor_divide");
  check_int_divisor(other, self, "floor_divide");
  return binary_kernel("floor_divide", self, other, out, kPromote, [](auto x, auto y) {
    using T = decltype(x);
    if constexpr (std::is_same_v<T, bool>) return x; else return floor_div<T>(x, y);
  });
}

Tensor remainder(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  check_not_bool(self, other, "remainder");
  check_int_divisor(other, self, "remainder");
  return binary_kernel("remainder", self, other, out, kPromote, [](auto x, auto y) {
    using T = decltype(x);
    if constexpr (std::is_same_v<T, bool>) return x; else return py_mod<T>(x, y);
  });
}

Tensor pow(const Tensor& self, const Tensor& exponent, const optional<Tensor>& out) {
  DType rt = result_type(self, exponent);
  if (dtype_is_integral(rt)) {
    HY_CHECK(!any_int(exponent, [](int64_t v) { return v < 0; }), ValueError,
             "pow: integers to negative integer powers are not allowed");
  }
  return binary_kernel("pow", self, exponent, out, kPromote, [](auto x, auto y) {
    using T = decltype(x);
    if constexpr (std::is_floating_point_v<T>) {
      return static_cast<T>(std::pow(x, y));
    } else if constexpr (std::is_same_v<T, bool>) {
      return static_cast<bool>(x || !y);
    } else {
      T r = 1, b = x;  // exponentiation by squaring: exact, wraps on overflow like NumPy
      for (T e = y; e > 0; e >>= 1) {
        if (e & 1) r = static_cast<T>(static_cast<std::make_unsigned_t<T>>(r) * static_cast<std::make_unsigned_t<T>>(b));
        b = static_cast<T>(static_cast<std::make_unsigned_t<T>>(b) * static_cast<std::make_unsigned_t<T>>(b));
      }
      return r;
    }
  });
}

// maximum/minimum propagate NaN like NumPy and PyTorch.
Tensor maximum(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  return binary_kernel("maximum", self, other, out, kPromote, [](auto x, auto y) {
    using T = decltype(x);
    if constexpr (std::is_floating_point_v<T>) { if (x != x || y != y) return static_cast<T>(NAN); }
    return x > y ? x : y;
  });
}

Tensor minimum(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  return binary_kernel("minimum", self, other, out, kPromote, [](auto x, auto y) {
    using T = decltype(x);
    if constexpr (std::is_floating_point_v<T>) { if (x != x || y != y) return static_cast<T>(NAN); }
    return x < y ? x : y;
  });
}

Tensor atan2(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  return binary_kernel("atan2", self, other, out, kFloat, [](auto x, auto y) {
    using T = decltype(x);
    if constexpr (std::is_floating_point_v<T>) return std::atan2(x, y); else return static_cast<T>(0);
  });
}

#define HY_COMPARE(name, expr)                                                               \
  Tensor name(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {       \
    return binary_kernel(#name, self, other, out, kBool, [](auto x, auto y) -> bool { return expr; }); \
  }
HY_COMPARE(eq, x == y)
HY_COMPARE(ne, x != y)
HY_COMPARE(lt, x < y)
HY_COMPARE(le, x <= y)
HY_COMPARE(gt, x > y)
HY_COMPARE(ge, x >= y)
#undef HY_COMPARE

Tensor logical_and(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  return binary_kernel("logical_and", self, other, out, kLogical, [](bool x, bool y) -> bool { return x && y; });
}
Tensor logical_or(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  return binary_kernel("logical_or", self, other, out, kLogical, [](bool x, bool y) -> bool { return x || y; });
}
Tensor logical_xor(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  return binary_kernel("logical_xor", self, other, out, kLogical, [](bool x, bool y) -> bool { return x != y; });
}

#define HY_BITWISE(name, op)                                                                          \
  Tensor name(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {                \
    DType rt = result_type(self, other);                                                             \
    HY_CHECK(rt == DType::Bool || dtype_is_integral(rt), TypeError, #name,                            \
             " needs integer or bool tensors, got ", self.describe(), " and ", other.describe());     \
    return binary_kernel(#name, self, other, out, kPromote, [](auto x, auto y) {                     \
      using T = decltype(x);                                                                         \
      if constexpr (std::is_floating_point_v<T>) return x; else return static_cast<T>(x op y);       \
    });                                                                                              \
  }
HY_BITWISE(bitwise_and, &)
HY_BITWISE(bitwise_or, |)
HY_BITWISE(bitwise_xor, ^)
#undef HY_BITWISE

}  // namespace hy::kernels::cpu
