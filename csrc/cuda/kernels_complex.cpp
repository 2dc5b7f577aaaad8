// Complex tensors on CUDA: the constructor from parts and the complex paths of add, sub, mul, div, neg,
// eq, ne, sum and mean, with the CPU's rules (kernels/cpu/complex.cpp). A complex element is a (real,
// imag) pair, so everything but products and quotients runs the real kernels on the pair views
// (ops::view_as_real); mul and div are complex.cu's kernels.
#include "core/shape_util.h"
#include "core/type_promotion.h"
#include "cuda/complex_glue_internal.h"
#include "cuda/glue_internal.h"
#include "hyflow/ops/ops_generated.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::kernels::cuda {
namespace {

Device op_device(const Tensor& a, const Tensor& b) { return a.device().is_cpu() ? b.device() : a.device(); }

// Both inputs convert to the complex result type of the pair (a real input x becomes (x, 0)).
DType complex_result_type(const Tensor& self, const Tensor& other, const char* op) {
  const DType rt = result_type(self, other);
  HY_CHECK(dtype_is_complex(rt), TypeError, op, ": the result type ", dtype_name(rt), " is not complex");
  return rt;
}

Tensor on_device_as(const Tensor& t, Device device, DType dtype) {
  return hy::cuda::cast(hy::cuda::on_device(t, device), dtype);
}

// The output of a complex op: `out` when given (checked as the CPU checks it: a real `out` refuses a
// complex result), else `value` itself.
Tensor write_result(const std::optional<Tensor>& out, const Tensor& value, const char* op) {
  if (!out || !out->defined()) return value;
  Tensor res = hy::cuda::result_tensor(op, out, value.shape(), value.dtype(), value.device());
  hy::cuda::copy_into(res, value);
  return res;
}

Tensor pairs_back_to_complex(const Tensor& pairs) { return ops::view_as_complex(ops::contiguous(pairs)); }

}  // namespace

Tensor complex_add(const Tensor& self, const Tensor& other, double alpha, const std::optional<Tensor>& out,
                   const char* op) {
  const DType rt = complex_result_type(self, other, op);
  const Device device = op_device(self, other);
  const Tensor a = on_device_as(self, device, rt), b = on_device_as(other, device, rt);
  // Complex addition is the addition of the (real, imag) pairs; the pair dims line up under broadcasting.
  Tensor sum = ops::add(ops::view_as_real(a), ops::view_as_real(b), Scalar(alpha));
  return write_result(out, pairs_back_to_complex(sum), op);
}

Tensor complex_mul_div(hy::cuda::ComplexOp op, const Tensor& self, const Tensor& other,
                       const std::optional<Tensor>& out) {
  const char* name = op == hy::cuda::ComplexOp::ComplexOp_Mul ? "mul" : "div";
  const DType rt = complex_result_type(self, other, name);
  const Device device = op_device(self, other);
  const Tensor a = on_device_as(self, device, rt), b = on_device_as(other, device, rt);
  const Shape shape = broadcast_shapes(a.shape(), b.shape());
  Tensor res = Tensor::empty(shape, rt, device);  // computed first, so an `out` aliasing an input is safe
  auto g = hy::cuda::make_geometry<3>(name, shape, {&res, &a, &b});
  hy::cuda::launch_complex_binary(op, rt, res.raw_data(), a.raw_data(), b.raw_data(), g,
                                  hy::cuda::launch_stream(device));
  return write_result(out, res, name);
}

Tensor complex_neg(const Tensor& self, const std::optional<Tensor>& out) {
  return write_result(out, pairs_back_to_complex(ops::neg(ops::view_as_real(self))), "neg");
}

Tensor complex_equal(const Tensor& self, const Tensor& other, bool equal, const std::optional<Tensor>& out) {
  const char* op = equal ? "eq" : "ne";
  const DType rt = complex_result_type(self, other, op);
  const Device device = op_device(self, other);
  // Equal when both parts are (so a NaN part is never equal, as in NumPy).
  Tensor same = ops::eq(ops::view_as_real(on_device_as(self, device, rt)),
                        ops::view_as_real(on_device_as(other, device, rt)));
  Tensor both = ops::logical_and(ops::select(same, -1, 0), ops::select(same, -1, 1));
  return write_result(out, equal ? both : ops::logical_not(both), op);
}

Tensor complex_sum(const Tensor& self, const std::optional<DimVector>& dim, bool keepdim, std::optional<DType> dtype,
                   bool mean) {
  const char* op = mean ? "mean" : "sum";
  const DType rt = dtype ? *dtype : self.dtype();
  HY_CHECK(dtype_is_complex(rt), TypeError, op, ": a complex tensor reduces into a complex dtype, got dtype=",
           dtype_name(rt), " (take .real or .abs() first)");
  const Tensor z = hy::cuda::cast(self, rt);
  if (z.dim() == 0) return ops::clone(z);
  // The sum of complex numbers is the sum of their pairs: reduce the pair view over the same dims.
  DimVector dims;
  if (!dim || dim->empty()) {
    for (int64_t d = 0; d < z.dim(); ++d) dims.push_back(d);
  } else {
    for (int64_t d : *dim) dims.push_back(wrap_dim(d, z.dim()));
  }
  Tensor pairs = ops::view_as_real(z);
  Tensor r = mean ? ops::mean(pairs, dims, keepdim, std::nullopt) : ops::sum(pairs, dims, keepdim, std::nullopt);
  return pairs_back_to_complex(r);
}

Tensor complex_from_parts(const Tensor& real, const Tensor& imag) {
  hy::cpu::check_defined(real, "complex", "real");
  hy::cpu::check_defined(imag, "complex", "imag");
  for (const Tensor* t : {&real, &imag})
    HY_CHECK(t->dtype() == DType::Float32 || t->dtype() == DType::Float64, TypeError,
             "complex: real and imag must be float32 or float64 tensors, got ", t->describe());
  HY_CHECK(real.dtype() == imag.dtype(), TypeError, "complex: real and imag must have the same dtype, got ",
           dtype_name(real.dtype()), " and ", dtype_name(imag.dtype()));
  Tensor out = Tensor::empty(broadcast_shapes(real.shape(), imag.shape()), dtype_to_complex(real.dtype()),
                             op_device(real, imag));
  const Tensor parts = ops::view_as_real(out);  // shape + [2]: each part written through a slice
  hy::cuda::copy_into(ops::select(parts, -1, 0), real);
  hy::cuda::copy_into(ops::select(parts, -1, 1), imag);
  return out;
}

}  // namespace hy::kernels::cuda
