// The CUDA kernels of the unary ops of unary_math.cu and unary_exact.cu: argument checks, dtype rules and
// out= handling of the CPU kernels (kernels/cpu/unary.cpp, unary_float.cpp, unary_impl.h), then one launch.
//
//   promote_float ops (expm1 ... reciprocal, gelu, silu, softplus): int/bool inputs compute in float32;
//     a float16/bfloat16 input written to its own dtype is computed in float32 and rounded once.
//   dtype-keeping ops (sign, floor, ceil, trunc, round, bitwise_not): integers are their own floor, ceil,
//     trunc and round (decimals >= 0): a copy, as the CPU's identity functor.
//   predicates (isnan, isinf, isfinite, logical_not): bool results; integers and bools are never NaN or
//     infinite (a fill).
#include <optional>
#include <string>

#include "cuda/elem_glue_internal.h"

namespace hy::kernels::cuda {
// kernels_elementwise.cpp
Tensor fill_(const Tensor& self, const Scalar& value);

namespace {
using hy::cuda::check_defined;
using hy::cuda::ExactUnaryOp;
using hy::cuda::FloatUnaryOp;
using hy::cuda::PredicateOp;
using std::optional;

Tensor float_unary(const char* op, FloatUnaryOp k, const Tensor& self, const optional<Tensor>& out, double p0 = 0,
                   double p1 = 0) {
  check_defined(self, op, "self");
  const DType result = to_floating(self.dtype());
  Tensor res = hy::cuda::out_or_new(op, out, self.shape(), result, self.device());
  hy::cuda::run_into(res, result, self.dtype() == result, [&](DType run, const Tensor& r) {
    const Tensor a = hy::cuda::cast(self, run);
    auto g = hy::cuda::make_geometry<2>(op, self.shape(), {&r, &a});
    hy::cuda::launch_float_unary(k, run, p0, p1, r.raw_data(), a.raw_data(), g, hy::cuda::launch_stream(self.device()));
  });
  return res;
}

Tensor keep_dtype(const char* op, ExactUnaryOp k, const Tensor& self, const optional<Tensor>& out,
                  int64_t decimals = 0) {
  const DType result = self.dtype();
  Tensor res = hy::cuda::out_or_new(op, out, self.shape(), result, self.device());
  hy::cuda::run_into(res, result, true, [&](DType run, const Tensor& r) {
    const Tensor a = hy::cuda::cast(self, run);
    auto g = hy::cuda::make_geometry<2>(op, self.shape(), {&r, &a});
    hy::cuda::launch_exact_unary(k, run, decimals, r.raw_data(), a.raw_data(), g,
                                 hy::cuda::launch_stream(self.device()));
  });
  return res;
}

// An op that is the identity on this dtype (floor of an integer, sign of a bool): self copied into the result.
Tensor identity(const char* op, const Tensor& self, const optional<Tensor>& out) {
  Tensor res = hy::cuda::out_or_new(op, out, self.shape(), self.dtype(), self.device());
  if (res.impl() != self.impl()) hy::cuda::copy_into(res, self);
  return res;
}

Tensor predicate(const char* op, PredicateOp k, const Tensor& self, const optional<Tensor>& out) {
  check_defined(self, op, "self");
  Tensor res = hy::cuda::out_or_new(op, out, self.shape(), DType::Bool, self.device());
  if (k != PredicateOp::PredicateOp_LogicalNot && !dtype_is_floating(self.dtype())) {
    // Integers and bools: never NaN or infinite.
    fill_(res, Scalar(k == PredicateOp::PredicateOp_IsFinite ? 1.0 : 0.0));
    return res;
  }
  hy::cuda::run_into_bool(res, [&](const Tensor& r) {
    auto g = hy::cuda::make_geometry<2>(op, self.shape(), {&r, &self});
    hy::cuda::launch_predicate(k, self.dtype(), static_cast<bool*>(r.raw_data()), self.raw_data(), g,
                               hy::cuda::launch_stream(self.device()));
  });
  return res;
}

void check_not_bool(const Tensor& t, const char* op) {
  check_defined(t, op, "self");
  HY_CHECK(t.dtype() != DType::Bool, TypeError, op, " is not supported for bool tensors, got ", t.describe());
}

// floor, ceil, trunc: floating inputs run the kernel, integers are returned unchanged (a copy).
Tensor rounding(const char* op, ExactUnaryOp k, const Tensor& self, const optional<Tensor>& out) {
  check_not_bool(self, op);
  if (!dtype_is_floating(self.dtype())) return identity(op, self, out);
  return keep_dtype(op, k, self, out);
}

}  // namespace

#define HY_FLOAT_UNARY(name, k)                                             \
  Tensor name(const Tensor& self, const optional<Tensor>& out) {           \
    return float_unary(#name, FloatUnaryOp::FloatUnaryOp_##k, self, out);  \
  }
HY_FLOAT_UNARY(expm1, Expm1)
HY_FLOAT_UNARY(log1p, Log1p)
HY_FLOAT_UNARY(rsqrt, Rsqrt)
HY_FLOAT_UNARY(tan, Tan)
HY_FLOAT_UNARY(silu, Silu)
HY_FLOAT_UNARY(erf, Erf)
HY_FLOAT_UNARY(reciprocal, Reciprocal)
#undef HY_FLOAT_UNARY

Tensor gelu(const Tensor& self, const std::string& approximate, const optional<Tensor>& out) {
  if (approximate == "none") return float_unary("gelu", FloatUnaryOp::FloatUnaryOp_GeluNone, self, out);
  HY_CHECK(approximate == "tanh", ValueError, "gelu: approximate must be 'none' or 'tanh', got '", approximate,
           "'");
  return float_unary("gelu", FloatUnaryOp::FloatUnaryOp_GeluTanh, self, out);
}

// Above the threshold softplus is x itself, as on the CPU.
Tensor softplus(const Tensor& self, double beta, double threshold, const optional<Tensor>& out) {
  return float_unary("softplus", FloatUnaryOp::FloatUnaryOp_Softplus, self, out, beta, threshold);
}

Tensor sign(const Tensor& self, const optional<Tensor>& out) {
  check_defined(self, "sign", "self");
  if (self.dtype() == DType::Bool) return identity("sign", self, out);  // sign(b) == b
  return keep_dtype("sign", ExactUnaryOp::ExactUnaryOp_Sign, self, out);
}

Tensor floor(const Tensor& self, const optional<Tensor>& out) {
  return rounding("floor", ExactUnaryOp::ExactUnaryOp_Floor, self, out);
}
Tensor ceil(const Tensor& self, const optional<Tensor>& out) {
  return rounding("ceil", ExactUnaryOp::ExactUnaryOp_Ceil, self, out);
}
Tensor trunc(const Tensor& self, const optional<Tensor>& out) {
  return rounding("trunc", ExactUnaryOp::ExactUnaryOp_Trunc, self, out);
}

// Ties to even. Floats scale by 10^|decimals| in their compute precision (float32 for the 16-bit types);
// integers round exactly to a multiple of 10^-decimals, and to 0 once that exceeds every value.
Tensor round(const Tensor& self, int64_t decimals, const optional<Tensor>& out) {
  check_not_bool(self, "round");
  HY_CHECK(decimals >= -308 && decimals <= 308, ValueError, "round: decimals must be in [-308, 308], got ",
           decimals);
  if (!dtype_is_floating(self.dtype())) {
    if (decimals >= 0) return identity("round", self, out);
    const int64_t max_digits = self.dtype() == DType::Int32 ? 9 : 18;  // 10^k must fit the type
    if (-decimals > max_digits) {
      Tensor res = hy::cuda::out_or_new("round", out, self.shape(), self.dtype(), self.device());
      fill_(res, Scalar(0.0));
      return res;
    }
    return keep_dtype("round", ExactUnaryOp::ExactUnaryOp_RoundIntDown, self, out, decimals);
  }
  if (decimals == 0) return keep_dtype("round", ExactUnaryOp::ExactUnaryOp_RoundWhole, self, out);
  if (decimals > 0) return keep_dtype("round", ExactUnaryOp::ExactUnaryOp_RoundUp, self, out, decimals);
  return keep_dtype("round", ExactUnaryOp::ExactUnaryOp_RoundDown, self, out, decimals);
}

Tensor bitwise_not(const Tensor& self, const optional<Tensor>& out) {
  check_defined(self, "bitwise_not", "self");
  HY_CHECK(!dtype_is_floating(self.dtype()), TypeError, "bitwise_not needs an integer or bool tensor, got ",
           self.describe());
  return keep_dtype("bitwise_not", ExactUnaryOp::ExactUnaryOp_BitwiseNot, self, out);
}

Tensor isnan(const Tensor& self, const optional<Tensor>& out) {
  return predicate("isnan", PredicateOp::PredicateOp_IsNan, self, out);
}
Tensor isinf(const Tensor& self, const optional<Tensor>& out) {
  return predicate("isinf", PredicateOp::PredicateOp_IsInf, self, out);
}
Tensor isfinite(const Tensor& self, const optional<Tensor>& out) {
  return predicate("isfinite", PredicateOp::PredicateOp_IsFinite, self, out);
}
Tensor logical_not(const Tensor& self, const optional<Tensor>& out) {
  return predicate("logical_not", PredicateOp::PredicateOp_LogicalNot, self, out);
}

}  // namespace hy::kernels::cuda
