#include "core/tensor.h"

#include "core/device_backend.h"
#include "core/shape_util.h"

namespace hy {

TensorImpl::TensorImpl(std::shared_ptr<StorageImpl> storage, Shape shape, Strides strides, int64_t offset,
                       DType dtype)
    : storage_(std::move(storage)),
      shape_(std::move(shape)),
      strides_(std::move(strides)),
      offset_(offset),
      numel_(shape_numel(shape_)),
      dtype_(dtype),
      contiguous_(strides_are_contiguous(shape_, strides_)) {}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  int64_t n = shape_numel(shape);
  int64_t nbytes = checked_mul(n, dtype_itemsize(dtype), "tensor size in bytes");
  // Device memory comes from the device's backend (its caching allocator); without one this names why.
  auto storage = device.is_cpu() ? StorageImpl::allocate_cpu(nbytes)
                                 : device_backend(device.type).allocate(nbytes, device);
  return Tensor(std::make_shared<TensorImpl>(std::move(storage), shape, contiguous_strides(shape), 0, dtype));
}

Tensor Tensor::make_view(const Tensor& base, Shape shape, Strides strides, int64_t offset) {
  return make_view(base, std::move(shape), std::move(strides), offset, base.dtype());
}

Tensor Tensor::make_view(const Tensor& base, Shape shape, Strides strides, int64_t offset, DType dtype) {
  HY_CHECK(shape.size() == strides.size(), ValueError, "view: shape ", shape, " and strides ", strides,
           " differ in length");
  // Every element the view can address must lie inside the storage.
  int64_t numel = shape_numel(shape);
  HY_CHECK(offset >= 0, ValueError, "view: negative storage offset ", offset);
  if (numel > 0) {
    int64_t lo = offset, hi = offset;
    for (size_t i = 0; i < shape.size(); ++i) {
      int64_t span = checked_mul(shape[i] - 1, strides[i], "view extent");
      if (span < 0) lo += span; else hi += span;
    }
    int64_t capacity = base.storage()->nbytes() / dtype_itemsize(dtype);
    HY_CHECK(lo >= 0 && hi < capacity, ValueError, "view with shape ", shape, ", strides ", strides,
             " and offset ", offset, " reaches outside its storage of ", capacity, " elements");
  }
  Tensor view(std::make_shared<TensorImpl>(base.storage(), std::move(shape), std::move(strides), offset, dtype));
  view.impl()->set_is_view(true);
  return view;
}

int64_t Tensor::size(int64_t d) const { return shape()[static_cast<size_t>(wrap_dim(d, dim()))]; }
int64_t Tensor::stride(int64_t d) const { return strides()[static_cast<size_t>(wrap_dim(d, dim()))]; }

void Tensor::note_write() const {
  HY_CHECK(storage()->writable(), ValueError,
           "cannot write to a read-only tensor (it views a non-writable buffer); make a copy with .clone()");
  storage()->bump_version();
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  return str(dtype_name(dtype()), " tensor of shape ", shape());
}

}  // namespace hy
