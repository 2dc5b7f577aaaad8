// The shared drivers of unary elementwise kernels: pick the result dtype, allocate or validate `out=`,
// cast the input to the compute type, run over the ElementwisePlan, and copy into `out` when its dtype
// differs from the compute type. Half/BFloat16 tensors written to their own dtype are read and written in
// place instead, a block at a time widened to float32 and rounded once (lowp_rows.h).
//
// Two drivers, so each op is a line or two:
//   unary_kernel        a scalar functor over every compute type (neg, abs, relu ...), result keeps the
//                       dtype; unary_predicate_kernel the same returning bool (isnan, logical_not).
//                       The contiguous row is a plain loop the compiler vectorizes.
//   unary_float_kernel  an Eigen array expression over float/double spans (exp, tanh, erf, gelu ...);
//                       int/bool inputs promote to float32.
//
//   return unary_kernel("neg", a, out, [](auto x) { return -x; });
//   return unary_float_kernel("exp", a, out, [](const auto& x) { return x.exp(); });
//
// The op-table kernels pass the functors generated from their `scalar:` expressions instead of lambdas:
//   return unary_kernel("neg", a, out, hy::scalar_ops::neg{});
//   return unary_packet_kernel<hy::scalar_ops::exp_packet>("exp", a, out);
#pragma once
#include <Eigen/Core>
#include <algorithm>
#include <optional>
#include <type_traits>

#include "kernels/cpu/binary_impl.h"
#include "kernels/cpu/kernel_util.h"
#include "kernels/cpu/loops.h"
#include "kernels/cpu/lowp_rows.h"

namespace hy::cpu {

/// Transcendental functions cost tens of cycles an element: split the work across threads earlier.
constexpr int64_t kGrainTranscendental = kGrainElementwise / 4;

/// The tensor a unary kernel writes into: `res` itself when it has the compute dtype, else a temporary.
inline Tensor unary_destination(const Tensor& res, DType compute) {
  return res.dtype() == compute ? res : empty_like_layout(res.shape(), compute, res);
}

namespace detail {
// ToBool: f maps the input's compute type to bool (isnan, logical_not); else f keeps the type.
template <bool ToBool, typename F>
Tensor unary_scalar_kernel(const char* op, const Tensor& a, const std::optional<Tensor>& out, const F& f,
                           int64_t grain) {
  check_defined(a, op, "self");
  DType compute = compute_dtype(a.dtype());
  Tensor res = prepare_out(out, a.shape(), ToBool ? DType::Bool : a.dtype(), op, a);
  if (!ToBool && dtype_is_lowp_float(a.dtype()) && res.dtype() == a.dtype()) {
    ElementwisePlan<2> plan(a.shape(), {&res, &a});
    visit_lowp_type(a.dtype(), [&](auto tag) {
      using S = decltype(tag);
      plan.run([&](char** p, const int64_t* s, int64_t n) {
        lowp_unary_row<S>(p, s, n, [&](const float* x, float* y, int64_t m) {
          for (int64_t i = 0; i < m; ++i) y[i] = static_cast<float>(f(x[i]));
        });
      }, grain);
    });
    return res;
  }
  Tensor dst = unary_destination(res, ToBool ? DType::Bool : compute);
  Tensor ca = cast_keep_layout(a, compute);
  ElementwisePlan<2> plan(a.shape(), {&dst, &ca});
  auto run = [&](auto tag) {
    using T = decltype(tag);
    using Out = std::conditional_t<ToBool, bool, T>;
    plan.run([&](char** p, const int64_t* s, int64_t n) { unary_row<Out, T>(p, s, n, f); }, grain);
  };
  visit_compute_type(compute, op, run);
  if (dst.impl() != res.impl()) copy_into(res, dst);
  return res;
}
}  // namespace detail

/// Run scalar functor `f` (instantiated for bool, int32, int64, float, double); the result keeps a's dtype.
template <typename F>
Tensor unary_kernel(const char* op, const Tensor& a, const std::optional<Tensor>& out, const F& f,
                    int64_t grain = kGrainElementwise) {
  return detail::unary_scalar_kernel<false>(op, a, out, f, grain);
}

/// Run predicate `f` (reads a's compute type, returns bool); the result is a bool tensor.
template <typename F>
Tensor unary_predicate_kernel(const char* op, const Tensor& a, const std::optional<Tensor>& out, const F& f) {
  return detail::unary_scalar_kernel<true>(op, a, out, f, kGrainElementwise);
}

/// out = g(a) over one row, where g maps an Eigen array of T to an array expression. Dense rows map the
/// memory directly; strided rows go through small stack buffers so g still runs vectorized.
template <typename T, typename G>
inline void eigen_row(char** p, const int64_t* s, int64_t n, const G& g) {
  using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
  if (s[0] == sizeof(T) && s[1] == sizeof(T)) {
    Eigen::Map<Array> o(reinterpret_cast<T*>(p[0]), n);
    o = g(Eigen::Map<const Array>(reinterpret_cast<const T*>(p[1]), n));
    return;
  }
  constexpr int64_t kBuf = 256;
  alignas(64) T in[kBuf];
  alignas(64) T res[kBuf];
  for (int64_t start = 0; start < n; start += kBuf) {
    const int64_t m = std::min(kBuf, n - start);
    const char* a = p[1] + start * s[1];
    for (int64_t i = 0; i < m; ++i) in[i] = *reinterpret_cast<const T*>(a + i * s[1]);
    Eigen::Map<Array>(res, m) = g(Eigen::Map<const Array>(in, m));
    char* o = p[0] + start * s[0];
    for (int64_t i = 0; i < m; ++i) *reinterpret_cast<T*>(o + i * s[0]) = res[i];
  }
}

/// eigen_row for two inputs: g(x, y) on Eigen arrays (fused backward kernels such as gelu_backward).
template <typename T, typename G>
inline void eigen_row2(char** p, const int64_t* s, int64_t n, const G& g) {
  using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
  if (s[0] == sizeof(T) && s[1] == sizeof(T) && s[2] == sizeof(T)) {
    Eigen::Map<Array>(reinterpret_cast<T*>(p[0]), n) =
        g(Eigen::Map<const Array>(reinterpret_cast<const T*>(p[1]), n),
          Eigen::Map<const Array>(reinterpret_cast<const T*>(p[2]), n));
    return;
  }
  constexpr int64_t kBuf = 256;
  alignas(64) T x[kBuf];
  alignas(64) T y[kBuf];
  alignas(64) T res[kBuf];
  for (int64_t start = 0; start < n; start += kBuf) {
    const int64_t m = std::min(kBuf, n - start);
    const char* a = p[1] + start * s[1];
    const char* b = p[2] + start * s[2];
    for (int64_t i = 0; i < m; ++i) {
      x[i] = *reinterpret_cast<const T*>(a + i * s[1]);
      y[i] = *reinterpret_cast<const T*>(b + i * s[2]);
    }
    Eigen::Map<Array>(res, m) = g(Eigen::Map<const Array>(x, m), Eigen::Map<const Array>(y, m));
    char* o = p[0] + start * s[0];
    for (int64_t i = 0; i < m; ++i) *reinterpret_cast<T*>(o + i * s[0]) = res[i];
  }
}

/// Run the two-input Eigen expression `g` over broadcast `a`, `b` in float or double (the promoted
/// floating dtype; float16/bfloat16 compute in float32).
template <typename G>
Tensor binary_float_kernel(const char* op, const Tensor& a, const Tensor& b, const G& g,
                           int64_t grain = kGrainTranscendental) {
  check_defined(a, op, "self");
  check_defined(b, op, "other");
  Shape shape = broadcast_shapes(a.shape(), b.shape());
  DType result = to_floating(result_type(a, b));
  DType compute = compute_dtype(result);
  Tensor res = prepare_out(std::nullopt, shape, result, op, a.shape() == shape ? a : b);
  if (dtype_is_lowp_float(result) && a.dtype() == result && b.dtype() == result) {
    ElementwisePlan<3> plan(shape, {&res, &a, &b});
    visit_lowp_type(result, [&](auto tag) {
      using S = decltype(tag);
      plan.run([&](char** p, const int64_t* s, int64_t n) {
        lowp_binary_row<S, S>(p, s, n, [&](const float* x, const float* y, float* r, int64_t m) {
          using Array = Eigen::Array<float, Eigen::Dynamic, 1>;
          Eigen::Map<Array>(r, m) = g(Eigen::Map<const Array>(x, m), Eigen::Map<const Array>(y, m));
        });
      }, grain);
    });
    return res;
  }
  Tensor dst = res.dtype() == compute ? res : empty_like_layout(shape, compute, res);
  Tensor ca = cast_keep_layout(a, compute), cb = cast_keep_layout(b, compute);
  ElementwisePlan<3> plan(shape, {&dst, &ca, &cb});
  if (compute == DType::Float64) {
    plan.run([&](char** p, const int64_t* s, int64_t n) { eigen_row2<double>(p, s, n, g); }, grain);
  } else {
    plan.run([&](char** p, const int64_t* s, int64_t n) { eigen_row2<float>(p, s, n, g); }, grain);
  }
  if (dst.impl() != res.impl()) copy_into(res, dst);
  return res;
}

/// Run Eigen expression `g` over `a` in float or double; int/bool inputs compute (and return) float32.
template <typename G>
Tensor unary_float_kernel(const char* op, const Tensor& a, const std::optional<Tensor>& out, const G& g,
                          int64_t grain = kGrainTranscendental) {
  check_defined(a, op, "self");
  DType result = to_floating(a.dtype());
  DType compute = compute_dtype(result);
  Tensor res = prepare_out(out, a.shape(), result, op, a);
  if (dtype_is_lowp_float(a.dtype()) && res.dtype() == a.dtype()) {
    ElementwisePlan<2> plan(a.shape(), {&res, &a});
    visit_lowp_type(a.dtype(), [&](auto tag) {
      using S = decltype(tag);
      plan.run([&](char** p, const int64_t* s, int64_t n) {
        lowp_unary_row<S>(p, s, n, [&](const float* x, float* y, int64_t m) {
          using Array = Eigen::Array<float, Eigen::Dynamic, 1>;
          Eigen::Map<Array>(y, m) = g(Eigen::Map<const Array>(x, m));
        });
      }, grain);
    });
    return res;
  }
  Tensor dst = unary_destination(res, compute);
  Tensor ca = cast_keep_layout(a, compute);
  ElementwisePlan<2> plan(a.shape(), {&dst, &ca});
  if (compute == DType::Float64) {
    plan.run([&](char** p, const int64_t* s, int64_t n) { eigen_row<double>(p, s, n, g); }, grain);
  } else {
    plan.run([&](char** p, const int64_t* s, int64_t n) { eigen_row<float>(p, s, n, g); }, grain);
  }
  if (dst.impl() != res.impl()) copy_into(res, dst);
  return res;
}

/// unary_float_kernel over the generated Eigen functor PacketOp<T> (hyflow/ops/scalar_ops_eigen_generated.h),
/// constructed from the op's parameters: its packet path where every function it calls has one.
template <template <typename> class PacketOp, typename... Params>
Tensor unary_packet_kernel(const char* op, const Tensor& a, const std::optional<Tensor>& out,
                           int64_t grain = kGrainTranscendental, Params... params) {
  return unary_float_kernel(op, a, out, [=](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::Scalar;
    return x.unaryExpr(PacketOp<T>(params...));
  }, grain);
}

/// binary_float_kernel over the generated two-input Eigen functor PacketOp<T> (gelu_backward).
template <template <typename> class PacketOp>
Tensor binary_packet_kernel(const char* op, const Tensor& a, const Tensor& b) {
  return binary_float_kernel(op, a, b, [](const auto& x, const auto& y) {
    using T = typename std::decay_t<decltype(x)>::Scalar;
    return x.binaryExpr(y, PacketOp<T>());
  });
}

}  // namespace hy::cpu
