// Unary elementwise kernels that keep the input's dtype or test it (the op table's unary family, part 1):
// sign/magnitude ops, rounding, predicates and logical/bitwise negation. The transcendental ops that
// promote to floating point live in unary_float.cpp.
//
// GCC 12 reports false -Wmaybe-uninitialized inside its own AVX-512 intrinsics (_mm512_undefined_*)
// once Eigen's packet math is inlined; the pragmas must precede the includes to cover them.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <cmath>
#include <limits>
#include <type_traits>

#include "hyflow/ops/ops_common.h"
#include "hyflow/ops/scalar_ops_eigen_generated.h"
#include "kernels/cpu/complex_internal.h"
#include "kernels/cpu/unary_impl.h"

namespace hy::kernels::cpu {
using hy::cpu::check_defined;
using hy::cpu::unary_kernel;
using hy::cpu::unary_packet_kernel;
using hy::cpu::unary_predicate_kernel;
using std::optional;
namespace so = hy::scalar_ops;

namespace {

void check_not_bool(const Tensor& t, const char* op, const char* hint) {
  check_defined(t, op, "self");
  HY_CHECK(t.dtype() != DType::Bool, TypeError, op, " is not supported for bool tensors", hint, ", got ",
           t.describe());
}

// Rounding of floats vectorizes through Eigen (the generated packet functor); integers are already whole
// numbers, so the same expression's scalar functor copies them (into `out` when given).
template <template <typename> class PacketOp, typename ScalarOp>
Tensor rounding(const char* op, const Tensor& self, const optional<Tensor>& out) {
  check_not_bool(self, op, "");
  if (!dtype_is_floating(self.dtype())) return unary_kernel(op, self, out, ScalarOp{});
  return unary_packet_kernel<PacketOp>(op, self, out, kGrainElementwise);
}

}  // namespace

// The math of every kernel below is the op's `scalar:` expression in csrc/ops/table/unary.yaml, generated
// into hy::scalar_ops; these functions keep the argument checks and the choice of driver.

Tensor neg(const Tensor& self, const optional<Tensor>& out) {
  if (dtype_is_complex(self.dtype())) return hy::cpu::complex_neg(self, out);
  check_not_bool(self, "neg", "; use logical_not (~ on a bool tensor) instead");
  return unary_kernel("neg", self, out, so::neg{});
}

Tensor abs(const Tensor& self, const optional<Tensor>& out) { return unary_kernel("abs", self, out, so::abs{}); }

Tensor sign(const Tensor& self, const optional<Tensor>& out) { return unary_kernel("sign", self, out, so::sign{}); }

Tensor square(const Tensor& self, const optional<Tensor>& out) {
  return unary_kernel("square", self, out, so::square{});
}

Tensor relu(const Tensor& self, const optional<Tensor>& out) {
  check_not_bool(self, "relu", "");
  return unary_kernel("relu", self, out, so::relu{});
}

Tensor floor(const Tensor& self, const optional<Tensor>& out) {
  return rounding<so::floor_packet, so::floor>("floor", self, out);
}

Tensor ceil(const Tensor& self, const optional<Tensor>& out) {
  return rounding<so::ceil_packet, so::ceil>("ceil", self, out);
}

Tensor trunc(const Tensor& self, const optional<Tensor>& out) {
  return rounding<so::trunc_packet, so::trunc>("trunc", self, out);
}

// Ties round to even (rint), like NumPy and PyTorch. With decimals, floats scale by 10^|decimals| in
// their own precision first (so float32 results match NumPy's float32 arithmetic).
Tensor round(const Tensor& self, int64_t decimals, const optional<Tensor>& out) {
  check_not_bool(self, "round", "");
  HY_CHECK(decimals >= -308 && decimals <= 308, ValueError, "round: decimals must be in [-308, 308], got ",
           decimals);
  if (!dtype_is_floating(self.dtype())) {
    if (decimals >= 0) return unary_kernel("round", self, out, so::round_whole{});
    const int64_t max_digits = self.dtype() == DType::Int32 ? 9 : 18;  // 10^k must fit the type
    if (-decimals > max_digits)  // every representable value is nearer 0 than 10^-decimals
      return unary_kernel("round", self, out, so::round_zero{});
    return unary_kernel("round", self, out, so::round_int_down(decimals));
  }
  if (decimals == 0) return unary_packet_kernel<so::round_whole_packet>("round", self, out, kGrainElementwise);
  if (decimals > 0) return unary_packet_kernel<so::round_up_packet>("round", self, out, kGrainElementwise, decimals);
  return unary_packet_kernel<so::round_down_packet>("round", self, out, kGrainElementwise, decimals);
}

Tensor isnan(const Tensor& self, const optional<Tensor>& out) {
  return unary_predicate_kernel("isnan", self, out, so::isnan{});
}

Tensor isinf(const Tensor& self, const optional<Tensor>& out) {
  return unary_predicate_kernel("isinf", self, out, so::isinf{});
}

Tensor isfinite(const Tensor& self, const optional<Tensor>& out) {
  return unary_predicate_kernel("isfinite", self, out, so::isfinite{});
}

Tensor logical_not(const Tensor& self, const optional<Tensor>& out) {
  return unary_predicate_kernel("logical_not", self, out, so::logical_not{});
}

Tensor bitwise_not(const Tensor& self, const optional<Tensor>& out) {
  check_defined(self, "bitwise_not", "self");
  HY_CHECK(!dtype_is_floating(self.dtype()), TypeError, "bitwise_not needs an integer or bool tensor, got ",
           self.describe());
  return unary_kernel("bitwise_not", self, out, so::bitwise_not{});
}

}  // namespace hy::kernels::cpu
