// Complex tensors: the (real, imag) reinterpreting views, the constructor from parts, and the complex
// path of add. A complex element is std::complex<T>: two T side by side, so a complex tensor of shape
// S and strides s is exactly a T tensor of shape S + [2] and strides 2s + [1] over the same bytes.
#include "core/shape_util.h"
#include "core/type_promotion.h"
#include "hyflow/ops/binary.h"
#include "hyflow/ops/reduce.h"
#include "hyflow/ops/unary.h"
#include "hyflow/ops/complex.h"
#include "hyflow/ops/tensor.h"
#include "kernels/cpu/complex_internal.h"
#include "kernels/cpu/kernel_util.h"
#include "kernels/cpu/loops.h"

namespace hy::kernels::any {

Tensor view_as_real(const Tensor& self) {
  HY_CHECK(dtype_is_complex(self.dtype()), TypeError, "view_as_real: expected a complex tensor, got ",
           self.describe());
  Shape shape = self.shape();
  Strides strides;
  for (int64_t s : self.strides()) strides.push_back(2 * s);
  shape.push_back(2);
  strides.push_back(1);
  return Tensor::make_view(self, shape, strides, 2 * self.offset(), dtype_complex_part(self.dtype()));
}

Tensor view_as_complex(const Tensor& self) {
  HY_CHECK(self.dtype() == DType::Float32 || self.dtype() == DType::Float64, TypeError,
           "view_as_complex: expected a float32 or float64 tensor, got ", self.describe());
  HY_CHECK(self.dim() >= 1 && self.shape().back() == 2, ValueError,
           "view_as_complex: the last dim must have size 2 (real, imag), got shape ", self.shape());
  HY_CHECK(self.strides().back() == 1, ValueError,
           "view_as_complex: the last dim must have stride 1, got strides ", self.strides(), "; call .contiguous()");
  // Every other stride and the offset must land on whole complex elements.
  HY_CHECK(self.offset() % 2 == 0, ValueError, "view_as_complex: the storage offset ", self.offset(),
           " is odd, so the view would not start on a complex element; call .contiguous()");
  Shape shape(self.shape().begin(), self.shape().end() - 1);
  Strides strides;
  for (int64_t i = 0; i + 1 < self.dim(); ++i) {
    const int64_t s = self.strides()[i];
    HY_CHECK(s % 2 == 0 || self.shape()[i] == 1, ValueError, "view_as_complex: stride ", s, " of dim ", i,
             " is odd, so it does not step over whole (real, imag) pairs; call .contiguous()");
    strides.push_back(s / 2);
  }
  return Tensor::make_view(self, shape, strides, self.offset() / 2, dtype_to_complex(self.dtype()));
}

}  // namespace hy::kernels::any

namespace hy::kernels::cpu {

Tensor complex_from_parts(const Tensor& real, const Tensor& imag) {
  hy::cpu::check_defined(real, "complex", "real");
  hy::cpu::check_defined(imag, "complex", "imag");
  for (const Tensor* t : {&real, &imag})
    HY_CHECK(t->dtype() == DType::Float32 || t->dtype() == DType::Float64, TypeError,
             "complex: real and imag must be float32 or float64 tensors, got ", t->describe());
  // torch requires equal dtypes; a mismatch is an error, not a silent promotion.
  HY_CHECK(real.dtype() == imag.dtype(), TypeError, "complex: real and imag must have the same dtype, got ",
           dtype_name(real.dtype()), " and ", dtype_name(imag.dtype()));
  const Shape shape = broadcast_shapes(real.shape(), imag.shape());
  Tensor out = Tensor::empty(shape, dtype_to_complex(real.dtype()));
  Tensor parts = kernels::any::view_as_real(out);  // shape + [2]: write each part through a slice
  hy::cpu::copy_into(ops::select(parts, -1, 0), real);
  hy::cpu::copy_into(ops::select(parts, -1, 1), imag);
  return out;
}

}  // namespace hy::kernels::cpu

namespace hy::cpu {

namespace {

// The output of a complex op: `out` when given (checked by prepare_out: a real `out` refuses a complex
// result), else a fresh tensor. `value` (computed first, so an `out` aliasing an input is safe) is
// copied in when it is not already the output.
Tensor write_result(const std::optional<Tensor>& out, const Tensor& value, const char* op) {
  if (!out || !out->defined()) return value;
  Tensor res = prepare_out(out, value.shape(), value.dtype(), op);
  copy_into(res, value);
  return res;
}

// Both inputs converted to the complex result type of the pair (a real input x becomes (x, 0)).
DType complex_result_type(const Tensor& self, const Tensor& other, const char* op) {
  const DType rt = result_type(self, other);
  HY_CHECK(dtype_is_complex(rt), TypeError, op, ": the result type ", dtype_name(rt), " is not complex");
  return rt;
}

template <typename F>
Tensor complex_binary(const Tensor& self, const Tensor& other, const std::optional<Tensor>& out, const char* op,
                      const F& f) {
  const DType rt = complex_result_type(self, other, op);
  const Tensor a = cast_to(self, rt), b = cast_to(other, rt);
  Tensor res = Tensor::empty(broadcast_shapes(a.shape(), b.shape()), rt);
  ElementwisePlan<3> plan(res.shape(), {&res, &a, &b});
  HY_DISPATCH_COMPLEX(rt, op, [&] {
    plan.run([&](char** p, const int64_t* s, int64_t n) {
      for (int64_t i = 0; i < n; ++i) {
        const scalar_t& x = *reinterpret_cast<const scalar_t*>(p[1] + i * s[1]);
        const scalar_t& y = *reinterpret_cast<const scalar_t*>(p[2] + i * s[2]);
        *reinterpret_cast<scalar_t*>(p[0] + i * s[0]) = f(x, y);
      }
    });
  });
  return write_result(out, res, op);
}

}  // namespace

Tensor complex_add(const Tensor& self, const Tensor& other, const Scalar& alpha, const std::optional<Tensor>& out) {
  const DType rt = complex_result_type(self, other, "add");
  // Complex addition is the addition of the (real, imag) pairs: add both inputs' pair views, each
  // converted to the result's complex dtype first.
  const Tensor a = cast_to(self, rt), b = cast_to(other, rt);
  Tensor sum = ops::add(kernels::any::view_as_real(a), kernels::any::view_as_real(b), alpha);
  return write_result(out, kernels::any::view_as_complex(contiguous(sum)), "add");
}

Tensor complex_mul(const Tensor& self, const Tensor& other, const std::optional<Tensor>& out) {
  return complex_binary(self, other, out, "mul", [](const auto& x, const auto& y) { return x * y; });
}

Tensor complex_div(const Tensor& self, const Tensor& other, const std::optional<Tensor>& out) {
  return complex_binary(self, other, out, "div", [](const auto& x, const auto& y) { return x / y; });
}

Tensor complex_neg(const Tensor& self, const std::optional<Tensor>& out) {
  Tensor pairs = ops::neg(kernels::any::view_as_real(self));
  return write_result(out, kernels::any::view_as_complex(contiguous(pairs)), "neg");
}

Tensor complex_equal(const Tensor& self, const Tensor& other, bool equal, const std::optional<Tensor>& out) {
  const char* op = equal ? "eq" : "ne";
  const DType rt = complex_result_type(self, other, op);
  // Two complex numbers are equal when both parts are (so a NaN part is never equal, as in NumPy).
  Tensor same = ops::eq(kernels::any::view_as_real(cast_to(self, rt)), kernels::any::view_as_real(cast_to(other, rt)));
  Tensor both = ops::logical_and(ops::select(same, -1, 0), ops::select(same, -1, 1));
  return write_result(out, equal ? both : ops::logical_not(both), op);
}

Tensor complex_sum(const Tensor& self, const std::optional<DimVector>& dim, bool keepdim, std::optional<DType> dtype,
                   bool mean) {
  const char* op = mean ? "mean" : "sum";
  const DType rt = dtype ? *dtype : self.dtype();
  HY_CHECK(dtype_is_complex(rt), TypeError, op, ": a complex tensor reduces into a complex dtype, got dtype=",
           dtype_name(rt), " (take .real or .abs() first)");
  const Tensor z = cast_to(self, rt);
  if (z.dim() == 0) return ops::clone(z);
  // The sum of complex numbers is the sum of their (real, imag) pairs: reduce the pair view over the
  // same dims, leaving its last (pair) dim alone.
  DimVector dims;
  if (!dim || dim->empty()) {
    for (int64_t d = 0; d < z.dim(); ++d) dims.push_back(d);
  } else {
    for (int64_t d : *dim) dims.push_back(wrap_dim(d, z.dim()));
  }
  Tensor pairs = kernels::any::view_as_real(z);
  Tensor r = mean ? ops::mean(pairs, dims, keepdim, std::nullopt) : ops::sum(pairs, dims, keepdim, std::nullopt);
  return kernels::any::view_as_complex(contiguous(r));
}

}  // namespace hy::cpu
