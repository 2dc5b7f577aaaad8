// The primitives of the op table's scalar expression language (python/hyflow/ops/scalar_expr.py), defined
// once for one element: the generated eager functors (hyflow/ops/scalar_ops_generated.h) and the graph
// compiler's generated loops both call these, so integer wrap, NumPy's division rules and NaN propagation
// cannot drift apart. Light on purpose (no Eigen, only <cmath>): generated sources include it and must
// compile fast.
//
//   template <typename T> T add_alpha(T x, T y, double alpha) {
//     return hy::scalar::add(x, hy::scalar::mul(static_cast<T>(alpha), y));
//   }
//
// Every template compiles for bool, int32_t, int64_t, float and double (the kernels' compute types), even
// where the op rejects a dtype before running, because drivers instantiate a functor for all of them.
// Functions that the eager Eigen path computes differently (exp, tanh, erf, sigmoid ...: Eigen's packet
// math) are listed in docs/design.md ("The op table"); test_scalar_expr.py checks that both agree.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

// The CUDA backend (csrc/cuda) compiles the same functions into its elementwise kernels, so the CPU and
// the GPU share one definition of each op's element math.
#ifdef __CUDACC__
#define HY_HOST_DEVICE __host__ __device__
#else
#define HY_HOST_DEVICE
#endif

namespace hy::scalar {

template <typename T> constexpr bool is_int_v = std::is_integral_v<T> && !std::is_same_v<T, bool>;

// ---- arithmetic: integers wrap (two's complement) like NumPy; a signed overflow is UB in C++ ----

/// x + y; integers wrap on overflow, bools give x || y.
template <typename T> HY_HOST_DEVICE inline T add(T x, T y) {
  if constexpr (is_int_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(x) + static_cast<U>(y)));
  } else {
    return static_cast<T>(x + y);
  }
}

/// x - y; integers wrap on overflow.
template <typename T> HY_HOST_DEVICE inline T sub(T x, T y) {
  if constexpr (is_int_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(x) - static_cast<U>(y)));
  } else {
    return static_cast<T>(x - y);
  }
}

/// x * y; integers wrap on overflow, bools give x && y.
template <typename T> HY_HOST_DEVICE inline T mul(T x, T y) {
  if constexpr (std::is_same_v<T, bool>) {
    return x && y;
  } else if constexpr (is_int_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(x) * static_cast<U>(y)));
  } else {
    return static_cast<T>(x * y);
  }
}

/// -x; -INT_MIN == INT_MIN.
template <typename T> HY_HOST_DEVICE inline T neg(T x) {
  using U = std::make_unsigned_t<std::conditional_t<is_int_v<T>, T, int>>;
  if constexpr (is_int_v<T>) return static_cast<T>(U(0) - static_cast<U>(x));
  else return static_cast<T>(-x);
}

/// Integer quotient truncated toward zero, defined for every divisor but 0: C++'s INT_MIN / -1 overflows
/// (a SIGFPE on x86); NumPy wraps it: INT_MIN // -1 == INT_MIN. Callers refuse a zero divisor.
template <typename T> HY_HOST_DEVICE inline T int_trunc_div(T a, T b) {
  if (b == -1) return neg(a);
  return static_cast<T>(a / b);
}
/// The matching remainder: INT_MIN % -1 == 0.
template <typename T> HY_HOST_DEVICE inline T int_trunc_mod(T a, T b) { return b == -1 ? T(0) : static_cast<T>(a % b); }

/// x / y: true division for floats; integers truncate (int_trunc_div); bools keep x.
template <typename T> HY_HOST_DEVICE inline T div(T x, T y) {
  if constexpr (is_int_v<T>) return int_trunc_div(x, y);
  else if constexpr (std::is_same_v<T, bool>) return x;
  else return static_cast<T>(x / y);
}

/// Division rounded toward zero (div(rounding_mode='trunc')).
template <typename T> HY_HOST_DEVICE inline T trunc_divide(T x, T y) {
  if constexpr (std::is_floating_point_v<T>) return std::trunc(x / y);
  else return div(x, y);
}

/// Python's floor division (sign follows the divisor), on ints and floats. The float form follows NumPy's
/// divmod: the quotient is computed from fmod so that q * b + r == a holds as closely as rounding allows;
/// inf // finite is nan, x // 0 is x / 0 (+-inf, or nan for 0 // 0). Bools keep x.
template <typename T> HY_HOST_DEVICE inline T floor_divide(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (b == 0) return a / b;
    T mod = std::fmod(a, b);
    T q0 = (a - mod) / b;
    if (mod != 0 && ((b < 0) != (mod < 0))) q0 -= 1;
    if (q0 == 0) return std::copysign(T(0), a / b);
    T q = std::floor(q0);
    return q0 - q > T(0.5) ? q + 1 : q;  // q0 is a whole number up to rounding: take the nearest
  } else if constexpr (std::is_same_v<T, bool>) {
    return a;
  } else {
    T q = int_trunc_div(a, b);
    return (int_trunc_mod(a, b) != 0 && ((a < 0) != (b < 0))) ? static_cast<T>(q - 1) : q;
  }
}

/// Python's modulo: the sign follows the divisor; a zero remainder takes the divisor's sign. Bools keep x.
template <typename T> HY_HOST_DEVICE inline T remainder(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    T r = std::fmod(a, b);
    if (b == 0) return r;  // nan
    if (r == 0) return std::copysign(T(0), b);
    return ((r < 0) != (b < 0)) ? r + b : r;
  } else if constexpr (std::is_same_v<T, bool>) {
    return a;
  } else {
    T r = int_trunc_mod(a, b);
    return (r != 0 && ((r < 0) != (b < 0))) ? static_cast<T>(r + b) : r;
  }
}

/// x ** y: floats std::pow; integers by squaring (exact, wrapping like NumPy; callers refuse y < 0);
/// bools x || !y.
template <typename T> HY_HOST_DEVICE inline T pow(T x, T y) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(std::pow(x, y));
  } else if constexpr (std::is_same_v<T, bool>) {
    return static_cast<bool>(x || !y);
  } else {
    T r = 1, b = x;
    for (T e = y; e > 0; e >>= 1) {
      if (e & 1) r = mul(r, b);
      b = mul(b, b);
    }
    return r;
  }
}

/// Integer x rounded to a multiple of p = 10^k, ties to even, exactly (round(x, decimals=-k)).
template <typename T> HY_HOST_DEVICE inline T round_int_to(T x, T p) {
  if constexpr (is_int_v<T>) {
    T q = x / p, r = x % p;  // truncating division: |r| < p, sign of x
    T twice = r < 0 ? mul<T>(neg<T>(r), 2) : mul<T>(r, 2);
    if (twice > p || (twice == p && q % 2 != 0)) q += x < 0 ? -1 : 1;
    return mul<T>(q, p);
  } else {
    return x;
  }
}

/// 10^x in double (round's scale factor; exact for the integer powers round uses).
HY_HOST_DEVICE inline double exp10(double x) { return std::pow(10.0, x); }

// ---- comparisons and selection ----
template <typename T> HY_HOST_DEVICE inline bool lt(T x, T y) { return x < y; }
template <typename T> HY_HOST_DEVICE inline bool le(T x, T y) { return x <= y; }
template <typename T> HY_HOST_DEVICE inline bool gt(T x, T y) { return x > y; }
template <typename T> HY_HOST_DEVICE inline bool ge(T x, T y) { return x >= y; }
template <typename T> HY_HOST_DEVICE inline bool eq(T x, T y) { return x == y; }
template <typename T> HY_HOST_DEVICE inline bool ne(T x, T y) { return x != y; }

/// c ? x : y. For unsigned integers (where's raw element bits) a mask, not a branch: with a random
/// condition the branch mispredicts half the time.
template <typename T> HY_HOST_DEVICE inline T where(bool c, T x, T y) {
  if constexpr (std::is_unsigned_v<T> && !std::is_same_v<T, bool>) {
    const T m = static_cast<T>(T(0) - T(c));
    return static_cast<T>((x & m) | (y & static_cast<T>(~m)));
  } else {
    return c ? x : y;
  }
}

/// Larger of x and y; NaN if either is NaN (NumPy's and PyTorch's maximum).
template <typename T> HY_HOST_DEVICE inline T maximum(T x, T y) {
  if constexpr (std::is_floating_point_v<T>) {
    if (x != x || y != y) return std::numeric_limits<T>::quiet_NaN();
  }
  return x > y ? x : y;
}
/// Smaller of x and y; NaN if either is NaN.
template <typename T> HY_HOST_DEVICE inline T minimum(T x, T y) {
  if constexpr (std::is_floating_point_v<T>) {
    if (x != x || y != y) return std::numeric_limits<T>::quiet_NaN();
  }
  return x < y ? x : y;
}

/// clamp's lower bound: lo when x < lo or lo is NaN, else x (a NaN x stays NaN; x == lo keeps x's zero sign).
template <typename T> HY_HOST_DEVICE inline T clamp_min(T x, T lo) {
  if constexpr (std::is_floating_point_v<T>) return (x < lo || lo != lo) ? lo : x;
  else return x < lo ? lo : x;
}
/// clamp's upper bound: hi when hi < x or hi is NaN, else x.
template <typename T> HY_HOST_DEVICE inline T clamp_max(T x, T hi) {
  if constexpr (std::is_floating_point_v<T>) return (hi < x || hi != hi) ? hi : x;
  else return hi < x ? hi : x;
}

// ---- logical and bitwise (bools are read as x != 0) ----
HY_HOST_DEVICE inline bool logical_and(bool x, bool y) { return x && y; }
HY_HOST_DEVICE inline bool logical_or(bool x, bool y) { return x || y; }
HY_HOST_DEVICE inline bool logical_xor(bool x, bool y) { return x != y; }
HY_HOST_DEVICE inline bool logical_not(bool x) { return !x; }

/// ~x for integers, !x for bools; floats (rejected by the kernels) pass through.
template <typename T> HY_HOST_DEVICE inline T bitwise_not(T x) {
  if constexpr (std::is_same_v<T, bool>) return !x;
  else if constexpr (is_int_v<T>) return static_cast<T>(~x);
  else return x;
}
template <typename T> HY_HOST_DEVICE inline T bitwise_and(T x, T y) {
  if constexpr (std::is_floating_point_v<T>) return x; else return static_cast<T>(x & y);
}
template <typename T> HY_HOST_DEVICE inline T bitwise_or(T x, T y) {
  if constexpr (std::is_floating_point_v<T>) return x; else return static_cast<T>(x | y);
}
template <typename T> HY_HOST_DEVICE inline T bitwise_xor(T x, T y) {
  if constexpr (std::is_floating_point_v<T>) return x; else return static_cast<T>(x ^ y);
}

// ---- sign, magnitude, rounding, predicates ----

/// |x|; integers wrap (|INT_MIN| == INT_MIN); bools keep x.
template <typename T> HY_HOST_DEVICE inline T abs(T x) {
  if constexpr (std::is_floating_point_v<T>) return std::abs(x);
  else if constexpr (is_int_v<T>) return x < 0 ? neg(x) : x;
  else return x;
}

/// -1, 0 or 1; sign(NaN) is 0, as in PyTorch. One primitive, not (0 < x) - (x < 0) in the table: the
/// difference is taken in int before the one conversion, which GCC vectorizes (4x faster than two).
template <typename T> HY_HOST_DEVICE inline T sign(T x) {
  if constexpr (std::is_same_v<T, bool>) return x;
  else return static_cast<T>((T(0) < x) - (x < T(0)));
}

// Rounding: integers are already whole numbers.
template <typename T> HY_HOST_DEVICE inline T floor(T x) {
  if constexpr (std::is_floating_point_v<T>) return std::floor(x); else return x;
}
template <typename T> HY_HOST_DEVICE inline T ceil(T x) {
  if constexpr (std::is_floating_point_v<T>) return std::ceil(x); else return x;
}
template <typename T> HY_HOST_DEVICE inline T trunc(T x) {
  if constexpr (std::is_floating_point_v<T>) return std::trunc(x); else return x;
}
/// Round half to even (the current rounding mode, round-to-nearest-even by default), like NumPy.
template <typename T> HY_HOST_DEVICE inline T rint(T x) {
  if constexpr (std::is_floating_point_v<T>) return std::rint(x); else return x;
}

template <typename T> HY_HOST_DEVICE inline bool isnan(T x) {
  if constexpr (std::is_floating_point_v<T>) return x != x; else return false;
}
// |x| compared with infinity vectorizes, where std::isinf/std::isfinite often do not.
template <typename T> HY_HOST_DEVICE inline bool isinf(T x) {
  if constexpr (std::is_floating_point_v<T>) return std::abs(x) == std::numeric_limits<T>::infinity();
  else return false;
}
template <typename T> HY_HOST_DEVICE inline bool isfinite(T x) {
  if constexpr (std::is_floating_point_v<T>) return std::abs(x) < std::numeric_limits<T>::infinity();
  else return true;
}

// ---- transcendentals (libm). The eager kernels vectorize these through Eigen instead. ----
template <typename T> HY_HOST_DEVICE inline T exp(T x) { return static_cast<T>(std::exp(x)); }
template <typename T> HY_HOST_DEVICE inline T expm1(T x) { return static_cast<T>(std::expm1(x)); }
template <typename T> HY_HOST_DEVICE inline T log(T x) { return static_cast<T>(std::log(x)); }
template <typename T> HY_HOST_DEVICE inline T log1p(T x) { return static_cast<T>(std::log1p(x)); }
template <typename T> HY_HOST_DEVICE inline T sqrt(T x) { return static_cast<T>(std::sqrt(x)); }
template <typename T> HY_HOST_DEVICE inline T sin(T x) { return static_cast<T>(std::sin(x)); }
template <typename T> HY_HOST_DEVICE inline T cos(T x) { return static_cast<T>(std::cos(x)); }
template <typename T> HY_HOST_DEVICE inline T tan(T x) { return static_cast<T>(std::tan(x)); }
template <typename T> HY_HOST_DEVICE inline T tanh(T x) { return static_cast<T>(std::tanh(x)); }
template <typename T> HY_HOST_DEVICE inline T erf(T x) { return static_cast<T>(std::erf(x)); }
/// 1 / (1 + e^-x).
template <typename T> HY_HOST_DEVICE inline T sigmoid(T x) { return static_cast<T>(T(1) / (T(1) + std::exp(-x))); }
/// atan2 for floats; integers (promoted to float before they get here) give 0.
template <typename T> HY_HOST_DEVICE inline T atan2(T y, T x) {
  if constexpr (std::is_floating_point_v<T>) return std::atan2(y, x); else return T(0);
}

}  // namespace hy::scalar
