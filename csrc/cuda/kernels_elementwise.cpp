// The CUDA kernels of the elementwise ops (the `cuda:` keys of binary.yaml, unary.yaml, tensor.yaml and
// creation.yaml): dtype promotion and out= handling as on the CPU, then one launch of the generic
// elementwise launcher (elementwise.cuh).
#include <optional>
#include <string>

#include "core/current_device.h"
#include "core/scalar_check.h"
#include "core/shape_util.h"
#include "core/type_promotion.h"
#include "cuda/complex_glue_internal.h"
#include "cuda/elem_glue_internal.h"
#include "cuda/glue_internal.h"

namespace hy::kernels::cuda {
namespace {

using hy::cuda::BinaryOp;
using hy::cuda::UnaryOp;

// Runs `op` into `out` (or a fresh tensor) with inputs converted to the dtype it runs in; the result has
// the promoted dtype unless `out` asks for another, which then receives a converted copy.
Tensor binary(const char* name, BinaryOp op, const Tensor& self, const Tensor& other, double alpha,
              const std::optional<Tensor>& out, bool float_result) {
  const Device device = self.device().is_cpu() ? other.device() : self.device();
  DType compute = result_type(self, other);
  if (float_result && !dtype_is_floating(compute)) compute = DType::Float32;
  HY_CHECK(compute != DType::Bool, NotImplementedError, "op '", name, "' has no CUDA kernel for bool yet");
  const Shape shape = broadcast_shapes(self.shape(), other.shape());
  // A float16/bfloat16 result with an operand of another dtype (a Python number, a float32 0-d tensor):
  // the CPU reads that operand as float32, so the kernel runs in float32 and rounds once into the result
  // (converting the number to the 16-bit type first changed x_half * 0.1 in the last bit).
  const bool lowp = compute == DType::Float16 || compute == DType::BFloat16;
  const DType run = lowp && (self.dtype() != compute || other.dtype() != compute) ? DType::Float32 : compute;
  const Tensor a = hy::cuda::cast(hy::cuda::on_device(self, device), run);
  const Tensor b = hy::cuda::cast(hy::cuda::on_device(other, device), run);
  Tensor dst = hy::cuda::result_tensor(name, out, shape, compute, device);
  Tensor r = dst.dtype() == run ? dst : Tensor::empty(shape, run, device);
  auto g = hy::cuda::make_geometry<3>(name, shape, {&r, &a, &b});
  hy::cuda::launch_binary(op, run, alpha, r.raw_data(), a.raw_data(), b.raw_data(), g,
                          hy::cuda::launch_stream(device));
  if (r.impl() != dst.impl()) hy::cuda::copy_into(dst, r);
  return dst;
}

// Comparisons run in the inputs' promoted dtype and write bool, as on the CPU.
Tensor compare(const char* name, hy::cuda::CompareOp op, const Tensor& self, const Tensor& other,
               const std::optional<Tensor>& out) {
  const Device device = self.device().is_cpu() ? other.device() : self.device();
  const DType compute = result_type(self, other);
  const Shape shape = broadcast_shapes(self.shape(), other.shape());
  const Tensor a = hy::cuda::cast(hy::cuda::on_device(self, device), compute);
  const Tensor b = hy::cuda::cast(hy::cuda::on_device(other, device), compute);
  Tensor dst = hy::cuda::result_tensor(name, out, shape, DType::Bool, device);
  Tensor r = dst.dtype() == DType::Bool ? dst : Tensor::empty(shape, DType::Bool, device);
  auto g = hy::cuda::make_geometry<3>(name, shape, {&r, &a, &b});
  hy::cuda::launch_compare(op, compute, r.raw_data(), a.raw_data(), b.raw_data(), g, hy::cuda::launch_stream(device));
  if (r.impl() != dst.impl()) hy::cuda::copy_into(dst, r);
  return dst;
}

Tensor unary(const char* name, UnaryOp op, const Tensor& self, const std::optional<Tensor>& out, bool float_result) {
  DType compute = self.dtype();
  if (float_result && !dtype_is_floating(compute)) compute = DType::Float32;
  HY_CHECK(compute != DType::Bool, TypeError, name, ": bool tensors are not supported (got ", self.describe(), ")");
  const Tensor a = hy::cuda::cast(self, compute);
  Tensor dst = hy::cuda::result_tensor(name, out, self.shape(), compute, self.device());
  Tensor r = dst.dtype() == compute ? dst : Tensor::empty(self.shape(), compute, self.device());
  auto g = hy::cuda::make_geometry<2>(name, self.shape(), {&r, &a});
  hy::cuda::launch_unary(op, compute, r.raw_data(), a.raw_data(), g, hy::cuda::launch_stream(self.device()));
  if (r.impl() != dst.impl()) hy::cuda::copy_into(dst, r);
  return dst;
}

Device creation_device(std::optional<Device> device) {
  const Device d = device.value_or(current_cuda_device());
  HY_CHECK(d.type == DeviceType::DeviceType_CUDA, ValueError, "CUDA kernel called for device ", device_str(d));
  return d;
}

}  // namespace

Tensor add(const Tensor& self, const Tensor& other, const Scalar& alpha, const std::optional<Tensor>& out) {
  if (any_complex(self, other)) return complex_add(self, other, alpha.to_double(), out, "add");
  return binary("add", BinaryOp::BinaryOp_Add, self, other, alpha.to_double(), out, false);
}
Tensor sub(const Tensor& self, const Tensor& other, const Scalar& alpha, const std::optional<Tensor>& out) {
  if (any_complex(self, other)) return complex_add(self, other, -alpha.to_double(), out, "sub");
  return binary("sub", BinaryOp::BinaryOp_Sub, self, other, alpha.to_double(), out, false);
}
Tensor mul(const Tensor& self, const Tensor& other, const std::optional<Tensor>& out) {
  if (any_complex(self, other)) return complex_mul_div(hy::cuda::ComplexOp::ComplexOp_Mul, self, other, out);
  return binary("mul", BinaryOp::BinaryOp_Mul, self, other, 1.0, out, false);
}
Tensor div(const Tensor& self, const Tensor& other, const std::optional<std::string>& rounding_mode,
           const std::optional<Tensor>& out) {
  if (any_complex(self, other)) {
    HY_CHECK(!rounding_mode, TypeError, "div: rounding_mode='", *rounding_mode, "' is not defined for complex tensors");
    return complex_mul_div(hy::cuda::ComplexOp::ComplexOp_Div, self, other, out);
  }
  if (rounding_mode) return div_rounding(self, other, *rounding_mode, out);  // kernels_binary_extra.cpp
  return binary("div", BinaryOp::BinaryOp_Div, self, other, 1.0, out, true);
}
Tensor maximum(const Tensor& self, const Tensor& other, const std::optional<Tensor>& out) {
  return binary("maximum", BinaryOp::BinaryOp_Maximum, self, other, 1.0, out, false);
}
Tensor minimum(const Tensor& self, const Tensor& other, const std::optional<Tensor>& out) {
  return binary("minimum", BinaryOp::BinaryOp_Minimum, self, other, 1.0, out, false);
}

using hy::cuda::CompareOp;
Tensor eq(const Tensor& self, const Tensor& other, const std::optional<Tensor>& out) {
  if (any_complex(self, other)) return complex_equal(self, other, true, out);
  return compare("eq", CompareOp::CompareOp_Eq, self, other, out);
}
Tensor ne(const Tensor& self, const Tensor& other, const std::optional<Tensor>& out) {
  if (any_complex(self, other)) return complex_equal(self, other, false, out);
  return compare("ne", CompareOp::CompareOp_Ne, self, other, out);
}
Tensor lt(const Tensor& self, const Tensor& other, const std::optional<Tensor>& out) {
  return compare("lt", CompareOp::CompareOp_Lt, self, other, out);
}
Tensor le(const Tensor& self, const Tensor& other, const std::optional<Tensor>& out) {
  return compare("le", CompareOp::CompareOp_Le, self, other, out);
}
Tensor gt(const Tensor& self, const Tensor& other, const std::optional<Tensor>& out) {
  return compare("gt", CompareOp::CompareOp_Gt, self, other, out);
}
Tensor ge(const Tensor& self, const Tensor& other, const std::optional<Tensor>& out) {
  return compare("ge", CompareOp::CompareOp_Ge, self, other, out);
}

Tensor pow(const Tensor& self, const Tensor& exponent, const std::optional<Tensor>& out) {
  // Integer powers have the CPU's error rules for negative exponents (raised before any element is
  // computed, which needs the values on the host): not on CUDA yet.
  HY_CHECK(dtype_is_floating(result_type(self, exponent)), NotImplementedError,
           "op 'pow' has no CUDA kernel yet for integer tensors (got ", self.describe(), "); use floating point");
  return binary("pow", BinaryOp::BinaryOp_Pow, self, exponent, 1.0, out, false);
}

Tensor neg(const Tensor& self, const std::optional<Tensor>& out) {
  if (dtype_is_complex(self.dtype())) return complex_neg(self, out);
  return unary("neg", UnaryOp::UnaryOp_Neg, self, out, false);
}
Tensor abs(const Tensor& self, const std::optional<Tensor>& out) { return unary("abs", UnaryOp::UnaryOp_Abs, self, out, false); }
Tensor square(const Tensor& self, const std::optional<Tensor>& out) {
  return unary("square", UnaryOp::UnaryOp_Square, self, out, false);
}
Tensor relu(const Tensor& self, const std::optional<Tensor>& out) { return unary("relu", UnaryOp::UnaryOp_Relu, self, out, false); }
Tensor exp(const Tensor& self, const std::optional<Tensor>& out) { return unary("exp", UnaryOp::UnaryOp_Exp, self, out, true); }
Tensor log(const Tensor& self, const std::optional<Tensor>& out) { return unary("log", UnaryOp::UnaryOp_Log, self, out, true); }
Tensor sqrt(const Tensor& self, const std::optional<Tensor>& out) { return unary("sqrt", UnaryOp::UnaryOp_Sqrt, self, out, true); }
Tensor sin(const Tensor& self, const std::optional<Tensor>& out) { return unary("sin", UnaryOp::UnaryOp_Sin, self, out, true); }
Tensor cos(const Tensor& self, const std::optional<Tensor>& out) { return unary("cos", UnaryOp::UnaryOp_Cos, self, out, true); }
Tensor tanh(const Tensor& self, const std::optional<Tensor>& out) { return unary("tanh", UnaryOp::UnaryOp_Tanh, self, out, true); }
Tensor sigmoid(const Tensor& self, const std::optional<Tensor>& out) {
  return unary("sigmoid", UnaryOp::UnaryOp_Sigmoid, self, out, true);
}

Tensor clone(const Tensor& self) {
  Tensor r = Tensor::empty(self.shape(), self.dtype(), self.device());
  hy::cuda::copy_into(r, self);
  return r;
}
Tensor to_dtype(const Tensor& self, DType dtype, bool copy) {
  if (self.dtype() == dtype && !copy) return self;
  Tensor r = Tensor::empty(self.shape(), dtype, self.device());
  hy::cuda::copy_into(r, self);
  return r;
}
Tensor copy_(const Tensor& self, const Tensor& src) {
  HY_CHECK(src.device() == self.device() || src.dim() == 0, RuntimeError, "copy_: src is on ",
           device_str(src.device()), " and self on ", device_str(self.device()),
           "; move it first with .to(", device_str(self.device()), ")");
  self.note_write();
  hy::cuda::copy_into(self, src);
  return self;
}
Tensor fill_(const Tensor& self, const Scalar& value) {
  check_scalar_fits(value, self.dtype(), "fill_", "value");  // nan or 2**40 into int32 raises, as on the CPU
  self.note_write();
  constexpr int64_t kExactInDouble = int64_t{1} << 53;
  if (self.dtype() == DType::Int64 && value.is_int() &&
      (value.to<int64_t>() > kExactInDouble || value.to<int64_t>() < -kExactInDouble)) {
    // An int64 a double cannot hold (launch_fill takes a double): the exact value goes up from the host.
    Tensor host = Tensor::empty({}, DType::Int64);
    *host.data<int64_t>() = value.to<int64_t>();
    hy::cuda::copy_into(self, hy::cuda::on_device(host, self.device()));
    return self;
  }
  hy::cuda::fill_view(self, value.to_double());
  return self;
}
Tensor zero_(const Tensor& self) { return fill_(self, Scalar(0.0)); }

Tensor empty(const DimVector& size, std::optional<DType> dtype, std::optional<Device> device) {
  return Tensor::empty(size, dtype.value_or(default_float_dtype()), creation_device(device));
}
Tensor zeros(const DimVector& size, std::optional<DType> dtype, std::optional<Device> device) {
  return zero_(empty(size, dtype, device));
}
Tensor ones(const DimVector& size, std::optional<DType> dtype, std::optional<Device> device) {
  return fill_(empty(size, dtype, device), Scalar(1.0));
}
Tensor full(const DimVector& size, const Scalar& fill_value, std::optional<DType> dtype, std::optional<Device> device) {
  // Like the CPU kernel: the value's kind picks the dtype when none is given.
  const DType d = dtype.value_or(fill_value.default_dtype());
  return fill_(Tensor::empty(size, d, creation_device(device)), fill_value);
}

}  // namespace hy::kernels::cuda
