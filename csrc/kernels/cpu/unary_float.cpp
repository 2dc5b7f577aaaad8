// Transcendental unary kernels (the op table's unary family, part 2). Each is one Eigen array expression
// run by unary_float_kernel over float/double spans, so contiguous inputs use Eigen's vectorized
// exp/log/tanh/erf...; integer and bool inputs compute in float32, Half/BFloat16 in float32 then round.
// Eigen 3.4 has packet (SIMD) versions of float exp/log/log1p/expm1/sin/cos/tanh/erf/logistic but, for
// double, only of exp and log (so logistic too): the other double functions run libm per element.
//
// GCC 12 reports false (maybe-)uninitialized warnings inside its own AVX-512 intrinsics
// (_mm512_undefined_*) once Eigen's packet math is inlined; the pragmas must precede the includes.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <unsupported/Eigen/SpecialFunctions>

#include <cmath>
#include <string>
#include <type_traits>

#include "hyflow/ops/ops_common.h"
#include "kernels/cpu/unary_impl.h"

namespace hy::kernels::cpu {
using hy::cpu::binary_float_kernel;
using hy::cpu::unary_float_kernel;
using std::optional;

namespace {
// The element type of an Eigen array expression `x` inside a generic lambda.
#define HY_SCALAR_OF(x) typename std::decay_t<decltype(x)>::Scalar

// Correctly rounded sqrt that still vectorizes. Eigen 3.4's packet sqrt under EIGEN_FAST_MATH (its
// default) is an rsqrt estimate plus a Newton step: it loses bits and turns +inf into NaN; and GCC keeps
// std::sqrt scalar because of errno. So the packet op calls the hardware instruction directly.
struct ExactSqrt {
  template <typename T> T operator()(const T& x) const { return std::sqrt(x); }
#ifdef EIGEN_VECTORIZE_SSE2
  __m128 packetOp(const __m128& x) const { return _mm_sqrt_ps(x); }
  __m128d packetOp(const __m128d& x) const { return _mm_sqrt_pd(x); }
#endif
#ifdef EIGEN_VECTORIZE_AVX
  __m256 packetOp(const __m256& x) const { return _mm256_sqrt_ps(x); }
  __m256d packetOp(const __m256d& x) const { return _mm256_sqrt_pd(x); }
#endif
#ifdef EIGEN_VECTORIZE_AVX512
  __m512 packetOp(const __m512& x) const { return _mm512_sqrt_ps(x); }
  __m512d packetOp(const __m512d& x) const { return _mm512_sqrt_pd(x); }
#endif
};

// softplus with its threshold switch as one vectorized op: Eigen 3.4's select() has no packet path.
template <typename T>
struct SoftplusOp {
  T beta, threshold;
  T operator()(const T& x) const {
    return x * beta > threshold ? x : std::log1p(std::exp(x * beta)) / beta;
  }
  template <typename Packet>
  Packet packetOp(const Packet& x) const {
    using namespace Eigen::internal;  // NOLINT: Eigen's packet primitives
    const Packet b = pset1<Packet>(beta);
    const Packet bx = pmul(x, b);
    return pselect(pcmp_lt(pset1<Packet>(threshold), bx), x, pdiv(plog1p(pexp(bx)), b));
  }
};

constexpr double kSqrtHalf = 0.70710678118654752440;      // 1 / sqrt(2)
constexpr double kSqrtTwoOverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kGeluTanhCoeff = 0.044715;
}  // namespace
}  // namespace hy::kernels::cpu

namespace Eigen::internal {
template <> struct functor_traits<hy::kernels::cpu::ExactSqrt> {
#ifdef EIGEN_VECTORIZE_SSE2
  enum { Cost = 20, PacketAccess = 1 };
#else
  enum { Cost = 20, PacketAccess = 0 };
#endif
};
template <typename T> struct functor_traits<hy::kernels::cpu::SoftplusOp<T>> {
  enum {
    Cost = 50,
    PacketAccess = packet_traits<T>::HasExp && packet_traits<T>::HasLog1p && packet_traits<T>::HasCmp
  };
};
}  // namespace Eigen::internal

namespace hy::kernels::cpu {

#define HY_UNARY_FLOAT(name, expr)                                                                     \
  Tensor name(const Tensor& self, const optional<Tensor>& out) {                                      \
    return unary_float_kernel(#name, self, out, [](const auto& x) { return expr; });                  \
  }
HY_UNARY_FLOAT(exp, x.exp())
HY_UNARY_FLOAT(expm1, x.expm1())
HY_UNARY_FLOAT(log, x.log())
HY_UNARY_FLOAT(log1p, x.log1p())
HY_UNARY_FLOAT(sqrt, x.unaryExpr(ExactSqrt()))
HY_UNARY_FLOAT(rsqrt, x.unaryExpr(ExactSqrt()).inverse())
HY_UNARY_FLOAT(sin, x.sin())
HY_UNARY_FLOAT(cos, x.cos())
HY_UNARY_FLOAT(tan, x.tan())
HY_UNARY_FLOAT(tanh, x.tanh())
HY_UNARY_FLOAT(sigmoid, x.logistic())
// x / (1 + e^-x), as PyTorch computes it, not x * logistic(x): Eigen's SSE/AVX2 logistic returns a
// denormal instead of 0 at -inf, which made silu(-inf) -inf there but nan (PyTorch's answer) with AVX-512.
HY_UNARY_FLOAT(silu, x / (HY_SCALAR_OF(x)(1) + (-x).exp()))
HY_UNARY_FLOAT(erf, x.erf())
HY_UNARY_FLOAT(reciprocal, x.inverse())
#undef HY_UNARY_FLOAT

Tensor gelu(const Tensor& self, const std::string& approximate, const optional<Tensor>& out) {
  if (approximate == "none") {
    return unary_float_kernel("gelu", self, out, [](const auto& x) {
      using T = HY_SCALAR_OF(x);
      return x * T(0.5) * (T(1) + (x * T(kSqrtHalf)).erf());
    });
  }
  HY_CHECK(approximate == "tanh", ValueError, "gelu: approximate must be 'none' or 'tanh', got '", approximate,
           "'");
  return unary_float_kernel("gelu", self, out, [](const auto& x) {
    using T = HY_SCALAR_OF(x);
    return x * T(0.5) * (T(1) + (T(kSqrtTwoOverPi) * (x + T(kGeluTanhCoeff) * x.cube())).tanh());
  });
}

// gelu's exact gradient in one vectorized pass: the composite formula took ~10 elementwise ops and as
// many temporaries.
Tensor gelu_backward(const Tensor& grad_output, const Tensor& self) {
  return binary_float_kernel("gelu_backward", grad_output, self, [](const auto& g, const auto& x) {
    using T = HY_SCALAR_OF(x);
    return g * (T(0.5) * (T(1) + (x * T(kSqrtHalf)).erf()) + x * T(0.3989422804014327) * (T(-0.5) * x.square()).exp());
  });
}

// Above the threshold softplus is x itself, as in PyTorch (lanes where exp overflowed to inf are the
// ones the threshold replaces).
Tensor softplus(const Tensor& self, double beta, double threshold, const optional<Tensor>& out) {
  return unary_float_kernel("softplus", self, out, [beta, threshold](const auto& x) {
    using T = HY_SCALAR_OF(x);
    return x.unaryExpr(SoftplusOp<T>{T(beta), T(threshold)});
  });
}

#undef HY_SCALAR_OF

}  // namespace hy::kernels::cpu
