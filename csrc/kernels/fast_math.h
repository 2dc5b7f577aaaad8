// Vectorizable float/double exp, expm1, log, log1p, tanh and sigmoid for the graph compiler's generated
// loops (python/hyflow/compiler/codegen/). libm's versions are calls GCC cannot vectorize without
// -ffast-math (which generated code must not use: NaN, inf and signed zeros must be eager's), so a fused
// softmax or GELU chain would run one scalar call per element. These are branch-free inline functions
// (selects, bit casts, polynomials) that GCC turns into packet code.
//
//   hy::gen::exp(x)   // = hy::fast::exp for float/double, hy::scalar::exp otherwise
//   hy::gen::add(x, y) // every other primitive is scalar_math.h's (using-directive below)
//
// Generated code calls the hy::gen:: names; the eager functors keep calling hy::scalar:: (or Eigen).
//
// Accuracy (tests/python/compiler/test_fast_math.py checks it against libm over the whole range, with
// inf/nan/denormal/overflow edges): within a few ulp, far inside the tolerance by which eager's Eigen
// functors and libm already differ (docs/design.md, "Functions with two implementations": 2e-6 relative
// for float, 1e-13 for double). Overflow gives inf, underflow 0 or denormals as libm does, NaN stays NaN.
//
// Method: exp reduces x = n ln2 + r (Cody-Waite split of ln2, |r| <= ln2/2) and evaluates the Taylor
// polynomial of e^r (degree 7 for float, 13 for double: its truncation error is below half an ulp), then
// scales by 2^n in two normal factors so denormal results round once. log splits x = 2^e m with m in
// [sqrt(1/2), sqrt(2)) and sums the atanh series 2 s (1 + s^2/3 + ...), s = (m-1)/(m+1), |s| <= 0.172.
// Integer/float conversions use the 1.5 * 2^mantissa "magic number" so that no packed float<->int64
// instruction (AVX-512DQ only) is needed.
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "scalar_math.h"

namespace hy::fast {
namespace detail {

template <typename T> struct Bits;
template <> struct Bits<float> {
  using I = int32_t;
  static constexpr int kMant = 23, kBias = 127;
  static constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23: x + kMagic holds round(x) in its low bits
  static constexpr I kOne = 0x3f800000;
};
template <> struct Bits<double> {
  using I = int64_t;
  static constexpr int kMant = 52, kBias = 1023;
  static constexpr double kMagic = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr I kOne = 0x3ff0000000000000LL;
};

template <typename T> inline typename Bits<T>::I to_bits(T x) {
  typename Bits<T>::I i;
  std::memcpy(&i, &x, sizeof x);
  return i;
}
template <typename T> inline T from_bits(typename Bits<T>::I i) {
  T x;
  std::memcpy(&x, &i, sizeof x);
  return x;
}

/// round(n) as an integer, for a whole-valued n with |n| < 2^22 (float) / 2^51 (double).
template <typename T> inline typename Bits<T>::I round_to_int(T n) {
  return to_bits<T>(n + Bits<T>::kMagic) - to_bits<T>(Bits<T>::kMagic);
}
/// The float of a small integer i (|i| < 2^22 / 2^51).
template <typename T> inline T int_to_float(typename Bits<T>::I i) {
  return from_bits<T>(to_bits<T>(Bits<T>::kMagic) + i) - Bits<T>::kMagic;
}
/// 2^i for i in the normal exponent range.
template <typename T> inline T pow2(typename Bits<T>::I i) {
  return from_bits<T>(static_cast<typename Bits<T>::I>(i + Bits<T>::kBias) << Bits<T>::kMant);
}

// Cody-Waite splits of ln 2: n * kLn2Hi is exact for the n that occur, kLn2Lo carries the rest.
template <typename T> struct Ln2;
template <> struct Ln2<float> {
  static constexpr float kHi = 0.693359375f, kLo = -2.12194440e-4f;
};
template <> struct Ln2<double> {
  static constexpr double kHi = 6.93147180369123816490e-01, kLo = 1.90821492927058770002e-10;
};

/// a * b + c: one fused instruction where the target has FMA (more accurate too), else two. Only the
/// internals of these approximations use it; generated code's own arithmetic is never contracted.
template <typename T> inline T madd(T a, T b, T c) {
#if defined(__FMA__)
  if constexpr (std::is_same_v<T, float>) return __builtin_fmaf(a, b, c);
  else return __builtin_fma(a, b, c);
#else
  return a * b + c;
#endif
}

/// 1/k! for k = 0..14.
constexpr double kInvFactorial[15] = {
    1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320, 1.0 / 362880,
    1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0, 1.0 / 87178291200.0};

/// sum_{k=K..N} r^(k-K) / k! by Horner, unrolled at compile time (a runtime loop here can keep GCC from
/// vectorizing the caller's loop).
template <typename T, int K, int N> inline T taylor_tail(T r) {
  if constexpr (K == N) return T(kInvFactorial[N]);
  else return madd(taylor_tail<T, K + 1, N>(r), r, T(kInvFactorial[K]));
}

/// e^r - 1 for |r| <= ln2/2, without the cancellation of e^r - 1: Taylor to r^8 (float) / r^14 (double).
template <typename T> inline T expm1_poly(T r) {
  return r * taylor_tail<T, 1, std::is_same_v<T, float> ? 8 : 14>(r);
}

}  // namespace detail

/// e^x.
template <typename T> inline T exp(T x) {
  using B = detail::Bits<T>;
  using I = typename B::I;
  constexpr T kLog2e = T(1.44269504088896340736);
  // Beyond these exp over/underflows for certain; clamping keeps n's exponent arithmetic in range.
  // Written so that a NaN passes both (x86 max/min keep the second operand): it then flows through the
  // arithmetic and the result is NaN without a final select.
  constexpr T kHi = std::is_same_v<T, float> ? T(89) : T(710);
  constexpr T kLo = std::is_same_v<T, float> ? T(-104) : T(-746);
  T xc = x < kLo ? kLo : x;
  xc = xc > kHi ? kHi : xc;
  const T t = detail::madd(xc, kLog2e, B::kMagic);  // round(x log2 e) in the low bits
  const T n = t - B::kMagic;
  const T r = detail::madd(-n, detail::Ln2<T>::kLo, detail::madd(-n, detail::Ln2<T>::kHi, xc));
  const T p = detail::taylor_tail<T, 0, std::is_same_v<T, float> ? 7 : 13>(r);  // e^r
  // 2^n as two normal factors (2^n itself may be denormal or overflow where e^x does not).
  if constexpr (std::is_same_v<T, float>) {
    const I ni = detail::to_bits(t) - detail::to_bits(B::kMagic);
    const I n1 = ni >> 1;  // packed 32-bit arithmetic shifts exist on every x86-64 level
    return p * detail::pow2<T>(n1) * detail::pow2<T>(ni - n1);
  } else {
    // Packed 64-bit arithmetic shifts need AVX-512: split n in floating point.
    const T n1 = (n * T(0.5) + B::kMagic) - B::kMagic;
    return p * detail::pow2<T>(detail::round_to_int(n1)) * detail::pow2<T>(detail::round_to_int(n - n1));
  }
}

/// e^x - 1, accurate near 0.
template <typename T> inline T expm1(T x) {
  constexpr T kHalfLn2 = T(0.34657359027997264);
  const T small = detail::expm1_poly(x);
  const T big = exp(x) - T(1);
  const T ax = x < T(0) ? -x : x;
  return ax <= kHalfLn2 ? small : big;  // NaN: big is NaN
}

/// Natural logarithm; log(0) = -inf, log(x < 0) = NaN.
template <typename T> inline T log(T x) {
  using B = detail::Bits<T>;
  using I = typename B::I;
  constexpr T kMinNormal = std::numeric_limits<T>::min();
  constexpr T kScale = std::is_same_v<T, float> ? T(8388608.0) : T(4503599627370496.0);  // 2^mant
  const bool sub = x < kMinNormal;
  const T xs = sub ? x * kScale : x;
  const I bits = detail::to_bits(xs);
  using U = std::make_unsigned_t<I>;  // a logical shift (packed 64-bit arithmetic shifts need AVX-512)
  I e = static_cast<I>(static_cast<U>(bits) >> B::kMant) - B::kBias;  // x > 0 here, so the sign bit is 0
  e = sub ? e - B::kMant : e;
  T m = detail::from_bits<T>((bits & ((I(1) << B::kMant) - 1)) | B::kOne);  // [1, 2)
  const bool big = m > T(1.41421356237309504880);
  m = big ? m * T(0.5) : m;
  e = big ? e + 1 : e;
  const T s = (m - T(1)) / (m + T(1));
  const T s2 = s * s;
  constexpr int kTerms = std::is_same_v<T, float> ? 6 : 11;  // s^(2k+1)/(2k+1), k < kTerms
  T p = T(1) / T(2 * kTerms - 1);
  for (int k = kTerms - 2; k >= 0; --k) p = detail::madd(s2, p, T(1) / T(2 * k + 1));
  const T logm = T(2) * s * p;
  const T ef = detail::int_to_float<T>(e);
  T y = detail::madd(ef, detail::Ln2<T>::kHi, detail::madd(ef, detail::Ln2<T>::kLo, logm));
  constexpr T kInf = std::numeric_limits<T>::infinity();
  y = x == T(0) ? -kInf : y;
  y = x < T(0) ? std::numeric_limits<T>::quiet_NaN() : y;
  y = x == kInf ? kInf : y;
  return x == x ? y : x;
}

/// log(1 + x), accurate near 0 (Goldberg: log(u) * x / (u - 1) corrects u = 1 + x's rounding).
template <typename T> inline T log1p(T x) {
  const T u = T(1) + x;
  const T d = u - T(1);
  const T y = log(u) * (x / (d == T(0) ? T(1) : d));
  constexpr T kInf = std::numeric_limits<T>::infinity();
  const T r = d == T(0) ? x : y;
  return x == kInf ? kInf : r;
}

/// tanh(x) = expm1(2|x|) / (expm1(2|x|) + 2) with x's sign; |x| >= 20 is +-1 in both precisions.
template <typename T> inline T tanh(T x) {
  T ax = x < T(0) ? -x : x;
  ax = ax > T(20) ? T(20) : ax;  // NaN stays NaN (the comparison is false)
  const T em = expm1(T(2) * ax);
  const T t = em / (em + T(2));
  return x < T(0) ? -t : (x > T(0) ? t : x);  // +-0 and NaN pass through
}

/// 1 / (1 + e^-x), as e^x / (1 + e^x) for x < 0 so that e^-x cannot overflow where the result is a
/// (denormal) number.
template <typename T> inline T sigmoid(T x) {
  const T e = exp(x < T(0) ? x : -x);  // e^-|x|
  const T d = T(1) + e;
  return x < T(0) ? e / d : T(1) / d;
}

}  // namespace hy::fast

// The names generated code calls: the fast forms for float/double, scalar_math.h for everything else.
// A qualified hy::gen::f finds these declarations first; the using-directive supplies every other
// primitive unchanged.
namespace hy::gen {
using namespace hy::scalar;

#define HY_FAST_MATH_FORWARD(name)                                                    \
  template <typename T> inline T name(T x) {                                          \
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) return hy::fast::name(x); \
    else return hy::scalar::name(x);                                                  \
  }
HY_FAST_MATH_FORWARD(exp)
HY_FAST_MATH_FORWARD(expm1)
HY_FAST_MATH_FORWARD(log)
HY_FAST_MATH_FORWARD(log1p)
HY_FAST_MATH_FORWARD(tanh)
HY_FAST_MATH_FORWARD(sigmoid)
#undef HY_FAST_MATH_FORWARD

}  // namespace hy::gen
