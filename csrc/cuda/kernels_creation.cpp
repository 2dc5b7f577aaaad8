// The CUDA kernels of arange, linspace, eye (factories) and tril/triu (creation.cu). Argument checks,
// dtype defaults and the element counts are the CPU kernels' (kernels/cpu/creation.cpp, triangular.cpp);
// the values are computed on the device from each element's index with the CPU's formulas.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>

#include "core/current_device.h"
#include "core/scalar_check.h"
#include "cuda/elem_glue_internal.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::kernels::cuda {
namespace {
using std::optional;

Device factory_device(optional<Device> device) {
  const Device d = device.value_or(current_cuda_device());
  HY_CHECK(d.type == DeviceType::DeviceType_CUDA, ValueError, "CUDA kernel called for device ", device_str(d));
  return d;
}

Tensor triangle(const char* op, bool lower, const Tensor& self, int64_t diagonal, const optional<Tensor>& out) {
  hy::cuda::check_defined(self, op, "self");
  HY_CHECK(self.dim() >= 2, ValueError, op, ": input tensor must have at least 2 dimensions, got ", self.describe());
  Tensor dst = hy::cuda::out_or_new(op, out, self.shape(), self.dtype(), self.device());
  // Straight into dst when it has self's dtype (any layout: the kernel follows strides; out = self is safe,
  // each element is read and written by one thread), else through a temporary.
  Tensor res = dst.dtype() == self.dtype() ? dst : Tensor::empty(self.shape(), self.dtype(), self.device());
  const int64_t rows = self.shape()[self.dim() - 2], cols = self.shape()[self.dim() - 1];
  diagonal = std::clamp<int64_t>(diagonal, -rows - 1, cols + 1);  // beyond the matrix: all or nothing
  auto g = hy::cuda::make_geometry<2>(op, self.shape(), {&res, &self});
  hy::cuda::launch_triangle(lower, static_cast<int>(self.itemsize()), res.raw_data(), self.raw_data(), g, diagonal,
                            hy::cuda::launch_stream(self.device()));
  if (res.impl() != dst.impl()) hy::cuda::copy_into(dst, res);
  return dst;
}

}  // namespace

Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step, optional<DType> dtype,
              optional<Device> device) {
  // The CPU kernel's checks and size (kernels/cpu/kernel_util.h): both devices raise alike.
  const hy::cpu::ArangePlan plan = hy::cpu::arange_plan(start, end, step, dtype);
  const DType dt = plan.dtype;
  const int64_t n = plan.n;
  const bool all_int = plan.all_int;
  const double s = start.to_double(), st = step.to_double();
  const Device d = factory_device(device);
  Tensor t = Tensor::empty(Shape{n}, dt, d);
  const bool int_values = all_int && dtype_is_integral(dt);
  hy::cuda::launch_arange(dt, t.raw_data(), n, int_values, int_values ? start.to_int() : 0,
                          int_values ? step.to_int() : 0, s, st, hy::cuda::launch_stream(d));
  return t;
}

Tensor linspace(const Scalar& start, const Scalar& end, int64_t steps, optional<DType> dtype, optional<Device> device) {
  HY_CHECK(steps >= 0, ValueError, "linspace: steps must be non-negative, got ", steps);
  const Device d = factory_device(device);
  Tensor t = Tensor::empty(Shape{steps}, dtype.value_or(default_float_dtype()), d);
  if (steps > 0) check_scalar_fits(start, t.dtype(), "linspace", "start");
  if (steps > 1) check_scalar_fits(end, t.dtype(), "linspace", "end");
  const double s = start.to_double(), e = end.to_double();
  const double step = steps > 1 ? (e - s) / static_cast<double>(steps - 1) : 0.0;
  hy::cuda::launch_linspace(t.dtype(), t.raw_data(), steps, s, e, step, hy::cuda::launch_stream(d));
  return t;
}

Tensor eye(int64_t n, optional<int64_t> m, optional<DType> dtype, optional<Device> device) {
  const int64_t cols = m.value_or(n);
  HY_CHECK(n >= 0 && cols >= 0, ValueError, "eye: sizes must be non-negative, got n=", n, ", m=", cols);
  const Device d = factory_device(device);
  Tensor t = Tensor::empty(Shape{n, cols}, dtype.value_or(default_float_dtype()), d);
  hy::cuda::launch_eye(t.dtype(), t.raw_data(), n, cols, hy::cuda::launch_stream(d));
  return t;
}

Tensor tril(const Tensor& self, int64_t diagonal, const optional<Tensor>& out) {
  return triangle("tril", true, self, diagonal, out);
}

Tensor triu(const Tensor& self, int64_t diagonal, const optional<Tensor>& out) {
  return triangle("triu", false, self, diagonal, out);
}

}  // namespace hy::kernels::cuda
