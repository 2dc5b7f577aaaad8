// The CUDA kernels of where, clamp and clamp_tensor (ternary.cu): argument checks, dtype rules and out=
// handling of the CPU kernels (kernels/cpu/ternary.cpp).
//
// where moves raw bits in the promoted dtype. clamp converts its number bounds on the host to the compute
// type, as the CPU converts them (a float16/bfloat16 result computes in float32 with float32 bounds).
// clamp_tensor converts every operand to the dtype it runs in; for a float16/bfloat16 result that is the
// 16-bit type itself even where the CPU reads a bound of another dtype as float32: rounding is monotone and
// leaves x unchanged, so round(clamp(x, lo, hi)) == clamp(x, round(lo), round(hi)) (NaN stays NaN) and
// the results are the same.
#include <optional>
#include <vector>

#include "core/scalar_check.h"
#include "core/shape_util.h"
#include "cuda/elem_glue_internal.h"

namespace hy::kernels::cuda {
namespace {
using hy::cuda::check_defined;
using std::optional;

// The shape all defined tensors of `ts` broadcast to; the error names the op (as on the CPU).
Shape broadcast_all(const char* op, std::initializer_list<const Tensor*> ts) {
  Shape shape;
  try {
    for (const Tensor* t : ts)
      if (t->defined()) shape = broadcast_shapes(shape, t->shape());
  } catch (const ValueError& e) {
    throw ValueError(str(op, ": ", e.what()));
  }
  return shape;
}

// The device of the op: the first defined tensor not on the CPU (others are 0-d CPU operands).
Device op_device(std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    if (t->defined() && !t->device().is_cpu()) return t->device();
  return (*ts.begin())->device();
}

// A number bound in the compute dtype `c`, converted as the CPU's tensor cast converts it.
int64_t bound_int(const Scalar& s) { return s.is_bool() ? int64_t(s.to_bool()) : s.to_int(); }
double bound_float(const Scalar& s, DType c) {
  if (c == DType::Float32) {
    const float f = s.is_bool() ? float(s.to_bool()) : s.is_int() ? static_cast<float>(s.to_int())
                                                                    : static_cast<float>(s.to_double());
    return f;
  }
  return s.is_bool() ? double(s.to_bool()) : s.is_int() ? static_cast<double>(s.to_int()) : s.to_double();
}

}  // namespace

Tensor where(const Tensor& condition, const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  check_defined(condition, "where", "condition");
  check_defined(self, "where", "self");
  check_defined(other, "where", "other");
  HY_CHECK(condition.dtype() == DType::Bool, TypeError, "where: condition must be a bool tensor, got ",
           condition.describe());
  const Shape shape = broadcast_all("where", {&condition, &self, &other});
  const DType common = result_type(self, other);
  check_wrapped_number_fits(self, common, "where");
  check_wrapped_number_fits(other, common, "where");
  const Device device = op_device({&condition, &self, &other});
  Tensor res = hy::cuda::out_or_new("where", out, shape, common, device);
  Tensor r = res.dtype() == common ? res : Tensor::empty(shape, common, device);
  const Tensor c = hy::cuda::on_device(condition, device);
  const Tensor a = hy::cuda::cast(hy::cuda::on_device(self, device), common);
  const Tensor b = hy::cuda::cast(hy::cuda::on_device(other, device), common);
  auto g = hy::cuda::make_geometry4("where", shape, r, c, a, b);
  hy::cuda::launch_where(static_cast<int>(dtype_itemsize(common)), r.raw_data(),
                         static_cast<const bool*>(c.raw_data()), a.raw_data(), b.raw_data(), g,
                         hy::cuda::launch_stream(device));
  if (r.impl() != res.impl()) hy::cuda::copy_into(res, r);
  return res;
}

Tensor clamp(const Tensor& self, const optional<Scalar>& min, const optional<Scalar>& max,
             const optional<Tensor>& out) {
  check_defined(self, "clamp", "self");
  HY_CHECK(min || max, ValueError, "clamp: at least one of min and max must be given");
  // The bounds promote like Python numbers in binary ops (clamp(int_tensor, 0.5) is float32).
  const Tensor lo = min ? wrapped_number_tensor(*min) : Tensor();
  const Tensor hi = max ? wrapped_number_tensor(*max) : Tensor();
  const DType common = result_type(std::vector<Tensor>{self, lo, hi});
  HY_CHECK(common != DType::Bool, TypeError, "clamp is not supported for bool tensors, got ", self.describe());
  check_wrapped_number_fits(lo, common, "clamp");  // clamp(int32_t, max=2**40) must not wrap the bound
  check_wrapped_number_fits(hi, common, "clamp");
  Tensor res = hy::cuda::out_or_new("clamp", out, self.shape(), common, self.device());
  // A float16/bfloat16 common dtype is self's own (numbers never promote to it).
  hy::cuda::run_into(res, common, true, [&](DType run, const Tensor& r) {
    const DType c = hy::cuda::compute_of(run);
    hy::cuda::ClampScalars bounds;
    bounds.has_lo = min.has_value();
    bounds.has_hi = max.has_value();
    if (dtype_is_integral(c)) {
      if (min) bounds.lo_i = bound_int(*min);
      if (max) bounds.hi_i = bound_int(*max);
    } else {
      if (min) bounds.lo_f = bound_float(*min, c);
      if (max) bounds.hi_f = bound_float(*max, c);
    }
    const Tensor x = hy::cuda::cast(self, run);
    auto g = hy::cuda::make_geometry<2>("clamp", self.shape(), {&r, &x});
    hy::cuda::launch_clamp_scalar(run, bounds, r.raw_data(), x.raw_data(), g, hy::cuda::launch_stream(self.device()));
  });
  return res;
}

Tensor clamp_tensor(const Tensor& self, const optional<Tensor>& min, const optional<Tensor>& max,
                    const optional<Tensor>& out) {
  const char* op = "clamp_tensor";
  check_defined(self, op, "self");
  const Tensor lo = min ? *min : Tensor();
  const Tensor hi = max ? *max : Tensor();
  HY_CHECK(lo.defined() || hi.defined(), ValueError, op, ": at least one of min and max must be given");
  const Shape shape = broadcast_all(op, {&self, &lo, &hi});
  const DType common = result_type(std::vector<Tensor>{self, lo, hi});
  HY_CHECK(common != DType::Bool, TypeError, op, " is not supported for bool tensors, got ", self.describe());
  check_wrapped_number_fits(lo, common, op);
  check_wrapped_number_fits(hi, common, op);
  const Device device = op_device({&self, &lo, &hi});
  Tensor res = hy::cuda::out_or_new(op, out, shape, common, device);
  const DType run = res.dtype() == common ? common : hy::cuda::compute_of(common);
  Tensor r = res.dtype() == run ? res : Tensor::empty(shape, run, device);
  const Tensor x = hy::cuda::cast(hy::cuda::on_device(self, device), run);
  const Tensor l = lo.defined() ? hy::cuda::cast(hy::cuda::on_device(lo, device), run) : Tensor();
  const Tensor h = hi.defined() ? hy::cuda::cast(hy::cuda::on_device(hi, device), run) : Tensor();
  void* stream = hy::cuda::launch_stream(device);
  if (l.defined() && h.defined()) {
    auto g = hy::cuda::make_geometry4(op, shape, r, x, l, h);
    hy::cuda::launch_clamp2(run, r.raw_data(), x.raw_data(), l.raw_data(), h.raw_data(), g, stream);
  } else {
    const Tensor& bound = l.defined() ? l : h;
    auto g = hy::cuda::make_geometry<3>(op, shape, {&r, &x, &bound});
    hy::cuda::launch_clamp1(l.defined(), run, r.raw_data(), x.raw_data(), bound.raw_data(), g, stream);
  }
  if (r.impl() != res.impl()) hy::cuda::copy_into(res, r);
  return res;
}

}  // namespace hy::kernels::cuda
