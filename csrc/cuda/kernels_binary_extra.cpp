// The CUDA kernels of binary_extra.cu's ops: floor_divide, remainder, div(rounding_mode=...), atan2,
// gelu_backward, relu_backward, the logical and bitwise ops, isclose. Argument checks, dtype rules and
// out= handling are the CPU kernels' (kernels/cpu/binary.cpp, binary_impl.h, compare.cpp, unary_float.cpp).
//
// Integer division by zero raises ValueError on the CPU before anything is written, so it does here: a
// divisor that is a Python number (a 0-d CPU tensor) is checked on the host for free; a divisor on the GPU
// is scanned by a small kernel and one int32 flag is read back. That read is a host synchronization,
// paid only by integer floor_divide/remainder/div(rounding_mode='trunc') with a tensor divisor; it is what
// the CPU's semantics (an exception, never garbage or a device fault) require. Floating division by zero
// gives inf/nan as on the CPU, no check.
#include <cstring>
#include <optional>
#include <string>

#include "core/scalar_check.h"
#include "core/shape_util.h"
#include "cuda/elem_glue_internal.h"
#include "kernels/device_copy.h"

namespace hy::kernels::cuda {
namespace {
using hy::cuda::BinaryExtraOp;
using hy::cuda::check_defined;
using hy::cuda::LogicalOp;
using std::optional;

Device device_of(const Tensor& a, const Tensor& b) { return a.device().is_cpu() ? b.device() : a.device(); }

Shape broadcast_checked(const char* op, const Tensor& a, const Tensor& b) {
  check_defined(a, op, "self");
  check_defined(b, op, "other");
  return broadcast_shapes(a.shape(), b.shape());
}

// out = op(self, other) with result dtype `common` (the CPU's binary_kernel: a Python number the dtype
// cannot hold raises; float16/bfloat16 compute in float32; an operand of another dtype is read as float32).
Tensor binary_value(const char* op, BinaryExtraOp k, const Tensor& self, const Tensor& other,
                    const optional<Tensor>& out, DType common) {
  const Device device = device_of(self, other);
  const Shape shape = broadcast_checked(op, self, other);
  check_wrapped_number_fits(self, common, op);
  check_wrapped_number_fits(other, common, op);
  Tensor res = hy::cuda::out_or_new(op, out, shape, common, device);
  const bool lowp_direct = self.dtype() == common && other.dtype() == common;
  hy::cuda::run_into(res, common, lowp_direct, [&](DType run, const Tensor& r) {
    const Tensor a = hy::cuda::cast(hy::cuda::on_device(self, device), run);
    const Tensor b = hy::cuda::cast(hy::cuda::on_device(other, device), run);
    auto g = hy::cuda::make_geometry<3>(op, shape, {&r, &a, &b});
    hy::cuda::launch_binary_extra(k, run, r.raw_data(), a.raw_data(), b.raw_data(), g,
                                  hy::cuda::launch_stream(device));
  });
  return res;
}

// True when `t` (integer or bool), converted to `rt` as the kernel will divide by it, holds a zero.
bool has_zero(const char* op, const Tensor& t, DType rt, Device device) {
  if (t.numel() == 0) return false;
  if (t.device().is_cpu()) {  // a 0-d CPU operand: read on the host
    int64_t v = 0;
    switch (t.dtype()) {
      case DType::Bool: v = *t.data<bool>(); break;
      case DType::Int32: v = *t.data<int32_t>(); break;
      case DType::Int64: v = *t.data<int64_t>(); break;
      default: return false;  // floating operands make the division floating (unreachable here)
    }
    if (rt == DType::Int32) return static_cast<int32_t>(v) == 0;  // a wrapped 0 divides by 0 too
    return v == 0;
  }
  const Tensor c = hy::cuda::cast(t, rt);
  void* stream = hy::cuda::launch_stream(device);
  Tensor found = Tensor::empty(Shape{}, DType::Int32, device);
  hy::cuda::launch_fill(DType::Int32, found.raw_data(), 0.0, 1, stream);
  auto g = hy::cuda::make_geometry<2>(op, c.shape(), {&c, &c});
  hy::cuda::launch_any_zero(rt, c.raw_data(), g, static_cast<int32_t*>(found.raw_data()), stream);
  int32_t flag = 0;  // the one synchronizing read (see the top of this file)
  std::memcpy(&flag, tensor_to_device(found, kCPU, false).raw_data(), sizeof flag);
  return flag != 0;
}

// The CPU's check_int_divisor: integer (or bool) division refuses a zero divisor before computing.
void check_int_divisor(const Tensor& divisor, const Tensor& dividend, const char* op) {
  const DType rt = result_type(dividend, divisor);
  if (!dtype_is_integral(rt) && rt != DType::Bool) return;
  check_wrapped_number_fits(dividend, rt, op);
  check_wrapped_number_fits(divisor, rt, op);
  HY_CHECK(!has_zero(op, divisor, rt, device_of(dividend, divisor)), ValueError, op, ": integer division by zero");
}

void check_not_bool(const Tensor& a, const Tensor& b, const char* op) {
  HY_CHECK(result_type(a, b) != DType::Bool, TypeError, op, " is not defined for bool tensors; use ",
           "logical_xor / logical_not instead");
}

Tensor logical(const char* op, LogicalOp k, const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  const Device device = device_of(self, other);
  const Shape shape = broadcast_checked(op, self, other);
  Tensor res = hy::cuda::out_or_new(op, out, shape, DType::Bool, device);
  hy::cuda::run_into_bool(res, [&](const Tensor& r) {
    // Inputs read as bool (nonzero, NaN included, is true), as the CPU converts them.
    const Tensor a = hy::cuda::cast(hy::cuda::on_device(self, device), DType::Bool);
    const Tensor b = hy::cuda::cast(hy::cuda::on_device(other, device), DType::Bool);
    auto g = hy::cuda::make_geometry<3>(op, shape, {&r, &a, &b});
    hy::cuda::launch_logical(k, static_cast<bool*>(r.raw_data()), static_cast<const bool*>(a.raw_data()),
                             static_cast<const bool*>(b.raw_data()), g, hy::cuda::launch_stream(device));
  });
  return res;
}

Tensor bitwise(const char* op, BinaryExtraOp k, const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  check_defined(self, op, "self");
  check_defined(other, op, "other");
  const DType rt = result_type(self, other);
  HY_CHECK(rt == DType::Bool || dtype_is_integral(rt), TypeError, op, " needs integer or bool tensors, got ",
           self.describe(), " and ", other.describe());
  return binary_value(op, k, self, other, out, rt);
}

}  // namespace

Tensor floor_divide(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  check_defined(self, "floor_divide", "self");
  check_defined(other, "floor_divide", "other");
  check_not_bool(self, other, "floor_divide");
  check_int_divisor(other, self, "floor_divide");
  return binary_value("floor_divide", BinaryExtraOp::BinaryExtraOp_FloorDivide, self, other, out,
                      result_type(self, other));
}

Tensor remainder(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  check_defined(self, "remainder", "self");
  check_defined(other, "remainder", "other");
  check_not_bool(self, other, "remainder");
  check_int_divisor(other, self, "remainder");
  return binary_value("remainder", BinaryExtraOp::BinaryExtraOp_Remainder, self, other, out,
                      result_type(self, other));
}

Tensor div_rounding(const Tensor& self, const Tensor& other, const std::string& rounding_mode,
                    const optional<Tensor>& out) {
  if (rounding_mode == "floor") return floor_divide(self, other, out);
  HY_CHECK(rounding_mode == "trunc", ValueError, "div: rounding_mode must be None, 'trunc' or 'floor', got '",
           rounding_mode, "'");
  check_defined(self, "div", "self");
  check_defined(other, "div", "other");
  check_int_divisor(other, self, "div");
  const DType rt = result_type(self, other);
  if (rt == DType::Bool) {  // a bool quotient is the dividend (the divisor was checked to be all true)
    const Device device = device_of(self, other);
    Tensor res = hy::cuda::out_or_new("div", out, broadcast_checked("div", self, other), DType::Bool, device);
    hy::cuda::copy_into(res, hy::cuda::on_device(self, device));
    return res;
  }
  return binary_value("div", BinaryExtraOp::BinaryExtraOp_DivTrunc, self, other, out, rt);
}

Tensor atan2(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  check_defined(self, "atan2", "self");
  check_defined(other, "atan2", "other");
  return binary_value("atan2", BinaryExtraOp::BinaryExtraOp_Atan2, self, other, out,
                      to_floating(result_type(self, other)));
}

// The fused gradients (no out=): result dtype to_floating(result_type), as the CPU's binary_float_kernel.
Tensor gelu_backward(const Tensor& grad_output, const Tensor& self) {
  check_defined(grad_output, "gelu_backward", "self");
  check_defined(self, "gelu_backward", "other");
  return binary_value("gelu_backward", BinaryExtraOp::BinaryExtraOp_GeluBackward, grad_output, self, std::nullopt,
                      to_floating(result_type(grad_output, self)));
}

Tensor relu_backward(const Tensor& grad_output, const Tensor& relu_result) {
  check_defined(grad_output, "relu_backward", "self");
  check_defined(relu_result, "relu_backward", "other");
  return binary_value("relu_backward", BinaryExtraOp::BinaryExtraOp_ReluBackward, grad_output, relu_result,
                      std::nullopt, to_floating(result_type(grad_output, relu_result)));
}

Tensor logical_and(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  return logical("logical_and", LogicalOp::LogicalOp_And, self, other, out);
}
Tensor logical_or(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  return logical("logical_or", LogicalOp::LogicalOp_Or, self, other, out);
}
Tensor logical_xor(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  return logical("logical_xor", LogicalOp::LogicalOp_Xor, self, other, out);
}

Tensor bitwise_and(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  return bitwise("bitwise_and", BinaryExtraOp::BinaryExtraOp_BitwiseAnd, self, other, out);
}
Tensor bitwise_or(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  return bitwise("bitwise_or", BinaryExtraOp::BinaryExtraOp_BitwiseOr, self, other, out);
}
Tensor bitwise_xor(const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  return bitwise("bitwise_xor", BinaryExtraOp::BinaryExtraOp_BitwiseXor, self, other, out);
}

Tensor isclose(const Tensor& self, const Tensor& other, double rtol, double atol, bool equal_nan) {
  check_defined(self, "isclose", "self");
  check_defined(other, "isclose", "other");
  // As on the CPU (and in PyTorch): mixed dtypes raise; a Python number is cast to self's dtype.
  HY_CHECK(self.dtype() == other.dtype() || other.impl()->is_wrapped_number(), RuntimeError,
           "isclose: expected self and other to have the same dtype, but got: ", dtype_name(self.dtype()), " != ",
           dtype_name(other.dtype()), "; convert one with .to(dtype)");
  HY_CHECK(rtol >= 0, ValueError, "isclose: rtol must be greater than or equal to zero, but got ", rtol);
  HY_CHECK(atol >= 0, ValueError, "isclose: atol must be greater than or equal to zero, but got ", atol);
  // Integers and bools compare in float64, so the tolerances are not truncated to integers.
  const DType compute = dtype_is_floating(self.dtype()) ? self.dtype() : DType::Float64;
  const Device device = device_of(self, other);
  const Shape shape = broadcast_checked("isclose", self, other);
  const Tensor a = hy::cuda::cast(hy::cuda::on_device(self, device), compute);
  const Tensor b = hy::cuda::cast(hy::cuda::on_device(other, device), compute);
  Tensor res = Tensor::empty(shape, DType::Bool, device);
  auto g = hy::cuda::make_geometry<3>("isclose", shape, {&res, &a, &b});
  hy::cuda::launch_isclose(compute, rtol, atol, equal_nan, static_cast<bool*>(res.raw_data()), a.raw_data(),
                           b.raw_data(), g, hy::cuda::launch_stream(device));
  return res;
}

}  // namespace hy::kernels::cuda
