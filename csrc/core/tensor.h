// Tensor: a strided view (shape, strides, offset, dtype) over shared Storage.
//
//   Tensor t = Tensor::empty({2, 3}, DType::Float32);
//   Tensor v = t.view_as_strided({3, 2}, {1, 3}, 0);    // a transposed view sharing t's memory
//   float* p = t.data<float>();
//
// Tensor is a cheap handle (one shared_ptr); copies alias the same TensorImpl. Op math lives in
// ops/ and kernels/, never here.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "core/device.h"
#include "core/dim_vector.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/storage.h"

namespace hy {

/// Per-tensor state owned by the autograd layer (grad, grad_fn, hooks). The core only carries it.
struct AutogradMetaBase {
  virtual ~AutogradMetaBase() = default;
};

/// The shared state behind Tensor handles. Python objects wrap exactly one TensorImpl each.
class TensorImpl {
 public:
  TensorImpl(std::shared_ptr<StorageImpl> storage, Shape shape, Strides strides, int64_t offset, DType dtype);

  const std::shared_ptr<StorageImpl>& storage() const { return storage_; }
  const Shape& shape() const { return shape_; }
  const Strides& strides() const { return strides_; }
  int64_t offset() const { return offset_; }
  DType dtype() const { return dtype_; }
  int64_t numel() const { return numel_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  bool is_contiguous() const { return contiguous_; }
  Device device() const { return storage_->device(); }
  void* data_ptr() const {
    return static_cast<char*>(storage_->data()) + offset_ * dtype_itemsize(dtype_);
  }

  /// A Python number promoted to a 0-d tensor: weaker than any real tensor in type promotion.
  bool is_wrapped_number() const { return wrapped_number_; }
  void set_wrapped_number(bool v) { wrapped_number_ = v; }
  /// True for tensors made by Tensor::make_view (they alias memory another tensor owns).
  bool is_view() const { return is_view_; }
  void set_is_view(bool v) { is_view_ = v; }

  AutogradMetaBase* autograd_meta() const { return autograd_meta_.get(); }
  void set_autograd_meta(std::shared_ptr<AutogradMetaBase> m) { autograd_meta_ = std::move(m); }

 private:
  std::shared_ptr<StorageImpl> storage_;
  Shape shape_;
  Strides strides_;
  int64_t offset_;
  int64_t numel_;
  DType dtype_;
  bool contiguous_;
  bool wrapped_number_ = false;
  bool is_view_ = false;
  std::shared_ptr<AutogradMetaBase> autograd_meta_;
};

/// Handle to a TensorImpl. A default-constructed Tensor is "undefined" (like an empty optional).
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  /// Uninitialized contiguous tensor on the CPU. Throws ValueError for negative/overflowing shapes.
  static Tensor empty(const Shape& shape, DType dtype, Device device = kCPU);
  /// A view of `base`'s storage with the given geometry; bounds are checked against the storage.
  static Tensor make_view(const Tensor& base, Shape shape, Strides strides, int64_t offset);
  /// The same, reading the storage as `dtype` (shape, strides and offset in elements of `dtype`):
  /// view_as_real / view_as_complex reinterpret complex64 as pairs of float32 this way.
  static Tensor make_view(const Tensor& base, Shape shape, Strides strides, int64_t offset, DType dtype);

  bool defined() const { return static_cast<bool>(impl_); }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  const Shape& shape() const { return impl_->shape(); }
  const Strides& strides() const { return impl_->strides(); }
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t offset() const { return impl_->offset(); }
  DType dtype() const { return impl_->dtype(); }
  int64_t numel() const { return impl_->numel(); }
  int64_t dim() const { return impl_->dim(); }
  int64_t itemsize() const { return dtype_itemsize(dtype()); }
  int64_t nbytes() const { return numel() * itemsize(); }
  bool is_contiguous() const { return impl_->is_contiguous(); }
  Device device() const { return impl_->device(); }
  const std::shared_ptr<StorageImpl>& storage() const { return impl_->storage(); }
  void* raw_data() const { return impl_->data_ptr(); }
  template <typename T> T* data() const { return static_cast<T*>(impl_->data_ptr()); }

  /// Mark a write: bumps the version counter shared by all views. Throws if the memory is read-only.
  void note_write() const;
  /// True when both handles share storage.
  bool shares_storage(const Tensor& o) const { return storage() == o.storage(); }
  /// "float32 tensor of shape (2, 3)" for error messages.
  std::string describe() const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

}  // namespace hy
