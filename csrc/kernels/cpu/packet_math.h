// exp, log, expm1 and sigmoid for Eigen packets, correct over the whole floating-point range, and the
// rule that makes an element's value independent of where it sits in an array.
//
//   Eigen::Map<Eigen::ArrayXf> y(...);
//   y = x.unaryExpr(hy::eigen_packet::exp_op<float>());   // vectorized, every lane as exact as libm's
//
// Why not Eigen 3.4's own: its float exp clamps the argument to +-88.72 (AVX-512: +-88.38 and a 2^m that
// overflows) before scaling, so exp(-inf) was 2.9e-39, exp(x) in (88.38, 88.72] was inf on AVX-512 and
// every denormal result (x < -87.3, or x < -708 in double) came out 0 or clamped; its log raises denormal
// arguments to FLT_MIN first (log(1e-40) was -87.3); its float sigmoid is a rational fit of sigmoid - 0.5
// that loses the relative accuracy of small results (7e-5 relative at x = -9.5) and returns exp(x) below
// -9. These forms only reduce the argument with an exact split of ln 2 and scale by 2^m with Eigen's
// pldexp, which never overflows before the last multiplication and rounds a denormal result once.
// Accuracy, measured against libm in double over 2M random arguments of each (denormals included, counted
// in their own spacing): exp within 1 ulp (float and double), log 2, sigmoid and expm1 3. No flush to zero
// (the kernels never set FTZ/DAZ): denormal arguments and results are handled as libm handles them.
#pragma once
#include <Eigen/Core>
#include <limits>
#include <type_traits>

namespace hy::eigen_packet {

/// True when T has SIMD packets in this build (then packet_traits<T>::type is not T itself).
template <typename T>
constexpr bool kVectorized = !std::is_same_v<typename Eigen::internal::packet_traits<T>::type, T>;

/// f applied to x through the packet path: the first lane of f(broadcast x). Eigen runs the scalar form
/// of a functor at array ends and where it peels to reach an aligned address, so a scalar form that
/// differs from the packet one makes an element's last bit depend on its position, the buffer's address
/// and the thread chunking; routing the scalar form through the packet code removes that.
template <typename T, typename F>
inline T via_packet(const F& f, const T& x) {
  using Packet = typename Eigen::internal::packet_traits<T>::type;
  return Eigen::internal::pfirst(f(Eigen::internal::pset1<Packet>(x)));
}

namespace detail {
template <typename Packet> using scalar_of = typename Eigen::internal::unpacket_traits<Packet>::type;

// ln 2 split so that m * kLn2Hi is exact for every exponent m the reductions meet (|m| < 2^11).
template <typename T> struct ln2_split;
template <> struct ln2_split<float> {
  static constexpr float hi = 0.693145751953125f;  // 15 significant bits
  static constexpr float lo = 1.428606765330187e-06f;
};
template <> struct ln2_split<double> {
  static constexpr double hi = 6.93147180369123816490e-01;  // 32 significant bits
  static constexpr double lo = 1.90821492927058770002e-10;
};

// e^r for |r| <= ln2 / 2 by its Taylor polynomial: degree 7 leaves 7e-9 relative (float), degree 13
// 4e-18 (double), both well under half an ulp.
template <typename Packet>
inline Packet exp_reduced(const Packet& r) {
  using namespace Eigen::internal;
  using T = scalar_of<Packet>;
  constexpr int kDegree = std::is_same_v<T, float> ? 7 : 13;
  T coef[kDegree + 1];
  coef[0] = T(1);
  for (int k = 1; k <= kDegree; ++k) coef[k] = coef[k - 1] / T(k);  // 1/k!, constant-folded
  Packet p = pset1<Packet>(coef[kDegree]);
  for (int k = kDegree - 1; k >= 0; --k) p = pmadd(p, r, pset1<Packet>(coef[k]));
  return p;
}
}  // namespace detail

/// e^x for float or double packets: inf above log(max), denormal results down to the smallest denormal,
/// 0 below, exp(-inf) = 0, NaN stays NaN.
template <typename Packet>
inline Packet exp(const Packet& x) {
  using namespace Eigen::internal;
  using T = detail::scalar_of<Packet>;
  constexpr bool kFloat = std::is_same_v<T, float>;
  // Just outside the range where exp(x) rounds to neither 0 nor inf: clamping there keeps m small while
  // the scaling below still rounds to 0 or overflows to inf exactly as the true value would.
  const Packet lo = pset1<Packet>(kFloat ? T(-104) : T(-746));
  const Packet hi = pset1<Packet>(kFloat ? T(89) : T(710));
  const Packet xc = pmin(pmax(x, lo), hi);
  // x = m ln2 + r, m = round(x / ln2).
  const Packet m = pfloor(pmadd(xc, pset1<Packet>(T(1.4426950408889634)), pset1<Packet>(T(0.5))));
  Packet r = pmadd(m, pset1<Packet>(-detail::ln2_split<T>::hi), xc);
  r = pmadd(m, pset1<Packet>(-detail::ln2_split<T>::lo), r);
  const Packet p = detail::exp_reduced(r);
  if constexpr (kFloat) {
    // Common case: every lane's 2^m is a normal float, built directly from its exponent bits, which
    // gives the same bits as pldexp (both are exact there) for far fewer instructions.
    const Packet outside = por(pcmp_lt_or_nan(x, pset1<Packet>(-87.0f)), pcmp_lt(pset1<Packet>(88.0f), x));
    if (!predux_any(outside)) {
      using PacketI = typename unpacket_traits<Packet>::integer_packet;
      const PacketI biased = padd(pcast<Packet, PacketI>(m), pset1<PacketI>(127));
      return pmul(p, preinterpret<Packet>(plogical_shift_left<23>(biased)));
    }
  }
  const Packet y = pldexp(p, m);
  return pselect(pcmp_eq(x, x), y, x);  // NaN lanes: the clamp made them a number
}

/// Natural log for float or double packets, denormal arguments included (Eigen's plog, applied after
/// scaling a denormal argument into the normal range).
template <typename Packet>
inline Packet log(const Packet& x) {
  using namespace Eigen::internal;
  using T = detail::scalar_of<Packet>;
  constexpr int kShift = std::is_same_v<T, float> ? 24 : 54;  // 2^kShift lifts any denormal to a normal
  const Packet denormal = pand(pcmp_lt(x, pset1<Packet>(std::numeric_limits<T>::min())), pcmp_lt(pzero(x), x));
  if (!predux_any(denormal)) return plog(x);  // the common case costs one test
  const Packet scaled = pselect(denormal, pmul(x, pset1<Packet>(T(1ull << kShift))), x);
  const Packet y = plog(scaled);
  return pselect(denormal, psub(y, pset1<Packet>(T(kShift * 0.69314718055994530942))), y);
}

/// e^x - 1 by Kahan's formula (u - 1) * x / log(u), u = e^x, which cancels the rounding error of u.
template <typename Packet>
inline Packet expm1(const Packet& x) {
  using namespace Eigen::internal;
  using T = detail::scalar_of<Packet>;
  const Packet one = pset1<Packet>(T(1));
  const Packet u = exp(x);
  const Packet um1 = psub(u, one);
  const Packet log_u = log(u);
  const Packet general = pmul(um1, pdiv(x, log_u));
  const Packet u_is_inf = pcmp_eq(u, pset1<Packet>(std::numeric_limits<T>::infinity()));
  Packet y = pselect(u_is_inf, u, general);
  y = pselect(pcmp_eq(um1, pset1<Packet>(T(-1))), um1, y);  // e^x below half an ulp of 1
  return pselect(pcmp_eq(u, one), x, y);                     // |x| below half an ulp: e^x - 1 = x
}

/// 1 / (1 + e^-x) computed from e = e^-|x| (never overflows): 1 / (1 + e) for x >= 0, e / (1 + e) for
/// x < 0, so small results keep their relative accuracy (denormals included) and sigmoid(-inf) = 0.
template <typename Packet>
inline Packet sigmoid(const Packet& x) {
  using namespace Eigen::internal;
  using T = detail::scalar_of<Packet>;
  const Packet one = pset1<Packet>(T(1));
  const Packet e = exp(pnegate(pabs(x)));
  const Packet q = pdiv(one, padd(one, e));
  return pselect(pcmp_lt(x, pzero(x)), pmul(e, q), q);
}

// Eigen-style functors over the forms above (scalar operator() through the packet path, so both agree to
// the bit). Where T has no packets (or Eigen none of the primitives), libm runs instead.
#define HY_PACKET_FUNCTOR(name, scalar_fallback)                                        \
  template <typename T> struct name##_op {                                              \
    T operator()(const T& x) const {                                                    \
      if constexpr (Eigen::internal::functor_traits<name##_op<T>>::PacketAccess) {      \
        return via_packet([](const auto& p) { return hy::eigen_packet::name(p); }, x);    \
      } else {                                                                          \
        return scalar_fallback;                                                         \
      }                                                                                 \
    }                                                                                   \
    template <typename Packet> Packet packetOp(const Packet& x) const {                \
      return hy::eigen_packet::name(x);                                                 \
    }                                                                                   \
  };
HY_PACKET_FUNCTOR(exp, static_cast<T>(std::exp(x)))
HY_PACKET_FUNCTOR(log, static_cast<T>(std::log(x)))
HY_PACKET_FUNCTOR(expm1, static_cast<T>(std::expm1(x)))
HY_PACKET_FUNCTOR(sigmoid, static_cast<T>(T(1) / (T(1) + std::exp(-x))))
#undef HY_PACKET_FUNCTOR

/// exp of an Eigen array expression through exp_op (vectorized, position-independent).
template <typename Derived>
inline auto exp_of(const Eigen::ArrayBase<Derived>& a) {
  return a.unaryExpr(exp_op<typename Derived::Scalar>());
}
/// log of an Eigen array expression through log_op.
template <typename Derived>
inline auto log_of(const Eigen::ArrayBase<Derived>& a) {
  return a.unaryExpr(log_op<typename Derived::Scalar>());
}

}  // namespace hy::eigen_packet

namespace Eigen::internal {
// Packet paths need Eigen's exp-level primitives (pfloor, pldexp: HasExp) and plog (HasLog); expm1 is
// vectorized where Eigen vectorizes its own (float), as before.
template <typename T> struct functor_traits<hy::eigen_packet::exp_op<T>> {
  enum { Cost = 20, PacketAccess = hy::eigen_packet::kVectorized<T> && packet_traits<T>::HasExp };
};
template <typename T> struct functor_traits<hy::eigen_packet::log_op<T>> {
  enum { Cost = 25, PacketAccess = hy::eigen_packet::kVectorized<T> && packet_traits<T>::HasLog };
};
template <typename T> struct functor_traits<hy::eigen_packet::expm1_op<T>> {
  enum {
    Cost = 50,
    PacketAccess = hy::eigen_packet::kVectorized<T> && packet_traits<T>::HasExpm1 && packet_traits<T>::HasExp &&
                   packet_traits<T>::HasLog && packet_traits<T>::HasDiv
  };
};
template <typename T> struct functor_traits<hy::eigen_packet::sigmoid_op<T>> {
  enum {
    Cost = 30,
    PacketAccess = hy::eigen_packet::kVectorized<T> && packet_traits<T>::HasExp && packet_traits<T>::HasDiv
  };
};
}  // namespace Eigen::internal
