#include "cuda/glue_internal.h"

#include "core/shape_util.h"
#include "core/type_promotion.h"
#include "cuda/cuda_backend.h"
#include "hyflow/ops/ops_generated.h"
#include "kernels/device_copy.h"

namespace hy::cuda {

template <int N>
Geometry<N> make_geometry(const char* op, const Shape& shape, std::initializer_list<const Tensor*> tensors) {
  Geometry<N> g;
  const int ndim = static_cast<int>(shape.size());
  HY_CHECK(ndim <= kMaxDims, ValueError, op, ": the CUDA kernels handle at most ", kMaxDims, " dims, got ", ndim);
  g.ndim = ndim;
  g.numel = shape_numel(shape);
  const Strides dense = contiguous_strides(shape);
  int k = 0;
  for (const Tensor* t : tensors) {
    const int lead = ndim - static_cast<int>(t->dim());
    for (int d = 0; d < ndim; ++d) {
      g.sizes[d] = shape[d];
      const int td = d - lead;
      const bool broadcast = td < 0 || (t->shape()[td] == 1 && shape[d] != 1);
      g.strides[k][d] = broadcast ? 0 : t->strides()[td];
      if (g.strides[k][d] != dense[d] && shape[d] != 1) g.contiguous = false;
    }
    ++k;
  }
  return g;
}
template Geometry<2> make_geometry<2>(const char*, const Shape&, std::initializer_list<const Tensor*>);
template Geometry<3> make_geometry<3>(const char*, const Shape&, std::initializer_list<const Tensor*>);

Tensor on_device(const Tensor& t, Device device) {
  if (t.device() == device) return t;
  return tensor_to_device(t, device, false);  // a 0-d CPU operand (core/device_check.h allows only those)
}

void* launch_stream(Device device) {
  set_current_device(device.index);
  return current_stream(device.index);
}

namespace {

// A complex element is a (real, imag) pair of its part dtype, so every copy that touches a complex tensor
// is a copy between the parts (ops::view_as_real: the same bytes with a last dim of 2), with the CPU's
// conversions (kernels/cpu/copy.cpp): real -> complex gives (x, 0); complex -> real keeps the real part,
// complex -> bool tests both parts.
void copy_complex(const Tensor& dst, const Tensor& s) {
  if (dtype_is_complex(dst.dtype()) && dtype_is_complex(s.dtype())) {
    copy_into(ops::view_as_real(dst), ops::view_as_real(s));  // the pair dims line up (broadcast from the left)
  } else if (dtype_is_complex(dst.dtype())) {
    const Tensor pairs = ops::view_as_real(dst);
    copy_into(ops::select(pairs, -1, 0), s);
    fill_view(ops::select(pairs, -1, 1), 0.0);
  } else if (dst.dtype() == DType::Bool) {
    const Tensor pairs = ops::view_as_real(s);
    copy_into(dst, ops::logical_or(cast(ops::select(pairs, -1, 0), DType::Bool), cast(ops::select(pairs, -1, 1), DType::Bool),
                                   std::nullopt));
  } else {
    copy_into(dst, ops::select(ops::view_as_real(s), -1, 0));
  }
}

}  // namespace

void copy_into(const Tensor& dst, const Tensor& src) {
  Tensor s = on_device(src, dst.device());
  if (dtype_is_complex(dst.dtype()) || dtype_is_complex(s.dtype())) return copy_complex(dst, s);
  Geometry<2> g = make_geometry<2>("copy_", dst.shape(), {&dst, &s});
  launch_copy(dst.dtype(), s.dtype(), dst.raw_data(), s.raw_data(), g, launch_stream(dst.device()));
}

void fill_view(const Tensor& dst, double value) {
  void* stream = launch_stream(dst.device());
  if (dtype_is_complex(dst.dtype())) {  // (value, 0), as the CPU fills complex tensors
    const Tensor pairs = ops::view_as_real(dst);
    fill_view(ops::select(pairs, -1, 0), value);
    fill_view(ops::select(pairs, -1, 1), 0.0);
  } else if (dst.is_contiguous()) {
    launch_fill(dst.dtype(), dst.raw_data(), value, dst.numel(), stream);
  } else {  // a dense scalar, broadcast-copied into the strided view
    Tensor one = Tensor::empty({}, dst.dtype(), dst.device());
    launch_fill(dst.dtype(), one.raw_data(), value, 1, stream);
    copy_into(dst, one);
  }
}

Tensor cast(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  Tensor r = Tensor::empty(t.shape(), dtype, t.device());
  copy_into(r, t);
  return r;
}

Tensor result_tensor(const char* op, const std::optional<Tensor>& out, const Shape& shape, DType dtype,
                     Device device) {
  if (!out || !out->defined()) return Tensor::empty(shape, dtype, device);
  HY_CHECK(out->device() == device, RuntimeError, op, ": out is on ", device_str(out->device()),
           " but the inputs are on ", device_str(device));
  HY_CHECK(out->shape() == shape, ValueError, op, ": out has shape ", out->shape(), " but the result has shape ",
           shape);
  // As the CPU's prepare_out: a float result never lands silently truncated in an integer out=.
  HY_CHECK(can_cast_in_place(dtype, out->dtype()), TypeError, op, ": result dtype ", dtype_name(dtype),
           " can't be cast to the output dtype ", dtype_name(out->dtype()));
  out->note_write();
  return *out;
}

}  // namespace hy::cuda
