// Unary elementwise kernels that keep the input's dtype or test it (the op table's unary family, part 1):
// sign/magnitude ops, rounding, predicates and logical/bitwise negation. The transcendental ops that
// promote to floating point live in unary_float.cpp.
//
// GCC 12 reports false -Wmaybe-uninitialized inside its own AVX-512 intrinsics (_mm512_undefined_*)
// once Eigen's packet math is inlined; the pragma must precede the includes to cover them.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <cmath>
#include <limits>
#include <type_traits>

#include "hyflow/ops/ops_common.h"
#include "kernels/cpu/unary_impl.h"

namespace hy::kernels::cpu {
using hy::cpu::check_defined;
using hy::cpu::unary_float_kernel;
using hy::cpu::unary_kernel;
using hy::cpu::unary_predicate_kernel;
using std::optional;

namespace {

template <typename T> constexpr bool is_int_v = std::is_integral_v<T> && !std::is_same_v<T, bool>;
template <typename T> using unsigned_t = std::make_unsigned_t<T>;

// Integer negation and products wrap like NumPy and PyTorch (-INT_MIN == INT_MIN) instead of being UB.
template <typename T> inline T wrap_neg(T x) {
  return static_cast<T>(unsigned_t<T>(0) - static_cast<unsigned_t<T>>(x));
}
template <typename T> inline T wrap_mul(T x, T y) {
  return static_cast<T>(static_cast<unsigned_t<T>>(x) * static_cast<unsigned_t<T>>(y));
}

void check_not_bool(const Tensor& t, const char* op, const char* hint) {
  check_defined(t, op, "self");
  HY_CHECK(t.dtype() != DType::Bool, TypeError, op, " is not supported for bool tensors", hint, ", got ",
           t.describe());
}

// Integers are already whole numbers: floor/ceil/round/trunc copy them (into `out` when given).
Tensor identity(const char* op, const Tensor& self, const optional<Tensor>& out) {
  return unary_kernel(op, self, out, [](auto x) { return x; });
}

// Round an integer to a multiple of p = 10^k, ties to even, exactly (round(x, decimals=-k)).
template <typename T> inline T round_int_to(T x, T p) {
  T q = x / p, r = x % p;  // truncating division: |r| < p, sign of x
  T twice = r < 0 ? wrap_neg<T>(r) * 2 : r * 2;
  if (twice > p || (twice == p && q % 2 != 0)) q += x < 0 ? -1 : 1;
  return wrap_mul<T>(q, p);
}

// Round toward zero as one vectorized op (Eigen 3.4 has no trunc, and its select() has no packet path).
template <typename T>
struct TruncOp {
  T operator()(const T& x) const { return std::trunc(x); }
  template <typename Packet>
  Packet packetOp(const Packet& x) const {
    using namespace Eigen::internal;  // NOLINT: Eigen's packet primitives
    return pselect(pcmp_lt(x, pzero(x)), pceil(x), pfloor(x));
  }
};

}  // namespace
}  // namespace hy::kernels::cpu

namespace Eigen::internal {
template <typename T> struct functor_traits<hy::kernels::cpu::TruncOp<T>> {
  enum {
    Cost = 4,
    PacketAccess = packet_traits<T>::HasFloor && packet_traits<T>::HasCeil && packet_traits<T>::HasCmp
  };
};
}  // namespace Eigen::internal

namespace hy::kernels::cpu {

Tensor neg(const Tensor& self, const optional<Tensor>& out) {
  check_not_bool(self, "neg", "; use logical_not (~ on a bool tensor) instead");
  return unary_kernel("neg", self, out, [](auto x) {
    using T = decltype(x);
    if constexpr (is_int_v<T>) return wrap_neg<T>(x); else return static_cast<T>(-x);
  });
}

Tensor abs(const Tensor& self, const optional<Tensor>& out) {
  return unary_kernel("abs", self, out, [](auto x) {
    using T = decltype(x);
    if constexpr (std::is_floating_point_v<T>) return std::abs(x);
    else if constexpr (is_int_v<T>) return x < 0 ? wrap_neg<T>(x) : x;
    else return x;
  });
}

// sign(NaN) is 0, as in PyTorch ((0 < x) - (x < 0)).
Tensor sign(const Tensor& self, const optional<Tensor>& out) {
  return unary_kernel("sign", self, out, [](auto x) {
    using T = decltype(x);
    if constexpr (std::is_same_v<T, bool>) return x;
    else return static_cast<T>((T(0) < x) - (x < T(0)));
  });
}

Tensor square(const Tensor& self, const optional<Tensor>& out) {
  return unary_kernel("square", self, out, [](auto x) {
    using T = decltype(x);
    if constexpr (is_int_v<T>) return wrap_mul<T>(x, x); else return static_cast<T>(x * x);
  });
}

// relu keeps NaN (NaN < 0 is false).
Tensor relu(const Tensor& self, const optional<Tensor>& out) {
  check_not_bool(self, "relu", "");
  return unary_kernel("relu", self, out, [](auto x) {
    using T = decltype(x);
    return x < T(0) ? T(0) : x;
  });
}

Tensor floor(const Tensor& self, const optional<Tensor>& out) {
  check_not_bool(self, "floor", "");
  if (!dtype_is_floating(self.dtype())) return identity("floor", self, out);
  return unary_float_kernel("floor", self, out, [](const auto& x) { return x.floor(); }, kGrainElementwise);
}

Tensor ceil(const Tensor& self, const optional<Tensor>& out) {
  check_not_bool(self, "ceil", "");
  if (!dtype_is_floating(self.dtype())) return identity("ceil", self, out);
  return unary_float_kernel("ceil", self, out, [](const auto& x) { return x.ceil(); }, kGrainElementwise);
}

Tensor trunc(const Tensor& self, const optional<Tensor>& out) {
  check_not_bool(self, "trunc", "");
  if (!dtype_is_floating(self.dtype())) return identity("trunc", self, out);
  auto trunc_expr = [](const auto& x) { return x.unaryExpr(TruncOp<typename std::decay_t<decltype(x)>::Scalar>()); };
  return unary_float_kernel("trunc", self, out, trunc_expr, kGrainElementwise);
}

// Ties round to even (rint), like NumPy and PyTorch. With decimals, floats scale by 10^|decimals| in
// their own precision first (so float32 results match NumPy's float32 arithmetic).
Tensor round(const Tensor& self, int64_t decimals, const optional<Tensor>& out) {
  check_not_bool(self, "round", "");
  HY_CHECK(decimals >= -308 && decimals <= 308, ValueError, "round: decimals must be in [-308, 308], got ",
           decimals);
  if (!dtype_is_floating(self.dtype())) {
    if (decimals >= 0) return identity("round", self, out);
    const int64_t max_digits = self.dtype() == DType::Int32 ? 9 : 18;  // 10^k must fit the type
    if (-decimals > max_digits)  // every representable value is nearer 0 than 10^-decimals
      return unary_kernel("round", self, out, [](auto x) { return decltype(x)(0); });
    int64_t p = 1;
    for (int64_t i = 0; i < -decimals; ++i) p *= 10;
    return unary_kernel("round", self, out, [p](auto x) {
      using T = decltype(x);
      if constexpr (is_int_v<T>) return round_int_to<T>(x, static_cast<T>(p)); else return x;
    });
  }
  if (decimals == 0)
    return unary_float_kernel("round", self, out, [](const auto& x) { return x.rint(); }, kGrainElementwise);
  const double p = std::pow(10.0, static_cast<double>(decimals < 0 ? -decimals : decimals));
  if (decimals > 0) {
    return unary_float_kernel("round", self, out, [p](const auto& x) {
      using T = typename std::decay_t<decltype(x)>::Scalar;
      return (x * T(p)).rint() / T(p);
    }, kGrainElementwise);
  }
  return unary_float_kernel("round", self, out, [p](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::Scalar;
    return (x / T(p)).rint() * T(p);
  }, kGrainElementwise);
}

Tensor isnan(const Tensor& self, const optional<Tensor>& out) {
  return unary_predicate_kernel("isnan", self, out, [](auto x) -> bool {
    if constexpr (std::is_floating_point_v<decltype(x)>) return x != x; else return false;
  });
}

// |x| compared with infinity vectorizes, where std::isinf/std::isfinite often do not.
Tensor isinf(const Tensor& self, const optional<Tensor>& out) {
  return unary_predicate_kernel("isinf", self, out, [](auto x) -> bool {
    using T = decltype(x);
    if constexpr (std::is_floating_point_v<T>) return std::abs(x) == std::numeric_limits<T>::infinity();
    else return false;
  });
}

Tensor isfinite(const Tensor& self, const optional<Tensor>& out) {
  return unary_predicate_kernel("isfinite", self, out, [](auto x) -> bool {
    using T = decltype(x);
    if constexpr (std::is_floating_point_v<T>) return std::abs(x) < std::numeric_limits<T>::infinity();
    else return true;
  });
}

Tensor logical_not(const Tensor& self, const optional<Tensor>& out) {
  return unary_predicate_kernel("logical_not", self, out, [](auto x) -> bool { return x == decltype(x)(0); });
}

Tensor bitwise_not(const Tensor& self, const optional<Tensor>& out) {
  check_defined(self, "bitwise_not", "self");
  HY_CHECK(!dtype_is_floating(self.dtype()), TypeError, "bitwise_not needs an integer or bool tensor, got ",
           self.describe());
  return unary_kernel("bitwise_not", self, out, [](auto x) {
    using T = decltype(x);
    if constexpr (std::is_same_v<T, bool>) return !x;
    else if constexpr (is_int_v<T>) return static_cast<T>(~x);
    else return x;
  });
}

}  // namespace hy::kernels::cpu
