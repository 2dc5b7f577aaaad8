// isclose (csrc/ops/table/compare.yaml): the tolerance test of its `scalar:` expressions, run by the
// binary elementwise driver.
#include "hyflow/ops/ops_common.h"
#include "hyflow/ops/scalar_ops_generated.h"
#include "kernels/cpu/binary_impl.h"

namespace hy::kernels::cpu {
namespace so = hy::scalar_ops;

Tensor isclose(const Tensor& self, const Tensor& other, double rtol, double atol, bool equal_nan) {
  hy::cpu::check_defined(self, "isclose", "self");
  hy::cpu::check_defined(other, "isclose", "other");
  // As in PyTorch: comparing a float32 result against a float64 reference usually means the test itself
  // is wrong, so mixed dtypes raise instead of promoting (a Python number is cast to self's dtype).
  HY_CHECK(self.dtype() == other.dtype() || other.impl()->is_wrapped_number(), RuntimeError,
           "isclose: expected self and other to have the same dtype, but got: ", dtype_name(self.dtype()), " != ",
           dtype_name(other.dtype()), "; convert one with .to(dtype)");
  HY_CHECK(rtol >= 0, ValueError, "isclose: rtol must be greater than or equal to zero, but got ", rtol);
  HY_CHECK(atol >= 0, ValueError, "isclose: atol must be greater than or equal to zero, but got ", atol);
  // Integers and bools compare in float64 so the tolerances are not truncated to integers (exact for
  // int32; PyTorch likewise computes the allowed error in floating point).
  const DType compute = dtype_is_floating(self.dtype()) ? self.dtype() : DType::Float64;
  Tensor a = hy::cpu::cast_keep_layout(self, compute);
  Tensor b = hy::cpu::cast_keep_layout(other, compute);
  constexpr auto kBool = hy::cpu::BinaryDTypes::BinaryDTypes_Bool;
  if (equal_nan) return hy::cpu::binary_kernel("isclose", a, b, std::nullopt, kBool, so::isclose_nan_equal(rtol, atol));
  return hy::cpu::binary_kernel("isclose", a, b, std::nullopt, kBool, so::isclose_nan_unequal(rtol, atol));
}

}  // namespace hy::kernels::cpu
