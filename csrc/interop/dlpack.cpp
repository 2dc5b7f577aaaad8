// Tensor <-> DLPack managed tensors. An export pins the tensor (and so its storage) in the managed
// tensor's context until the consumer calls the deleter; an import wraps the producer's memory in a
// StorageImpl whose owner calls the producer's deleter exactly once, when the last view is gone.
#include "interop/dlpack.h"

#include <vector>

#include "core/device_backend.h"
#include "core/shape_util.h"
#include "interop/bool_bytes.h"

namespace hy {
namespace {

// What an exported managed tensor points into: shape and strides must outlive the DLTensor, and the
// tensor keeps the memory alive.
struct ExportContext {
  Tensor tensor;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
};

void delete_export(DLManagedTensor* m) {
  delete static_cast<ExportContext*>(m->manager_ctx);
  delete m;
}

void delete_export_versioned(DLManagedTensorVersioned* m) {
  delete static_cast<ExportContext*>(m->manager_ctx);
  delete m;
}

const char* device_type_name(int type) {
  switch (type) {
    case kDLCPU: return "kDLCPU";
    case kDLCUDA: return "kDLCUDA";
    case kDLCUDAHost: return "kDLCUDAHost";
    case kDLROCM: return "kDLROCM";
    case kDLCUDAManaged: return "kDLCUDAManaged";
    case kDLOneAPI: return "kDLOneAPI";
    case kDLMetal: return "kDLMetal";
    default: return "another device";
  }
}

ExportContext* make_context(const Tensor& t, DLTensor& dl) {
  HY_CHECK(t.defined(), ValueError, "to_dlpack: the tensor is undefined");
  auto* ctx = new ExportContext{t, t.shape().vec(), t.strides().vec()};
  dl.data = t.raw_data();
  // CUDA tensors travel as kDLCUDA memory of their GPU (the consumer's stream handshake is the bindings').
  dl.device = t.device().is_cpu() ? DLDevice{kDLCPU, 0} : DLDevice{kDLCUDA, t.device().index};
  dl.ndim = static_cast<int32_t>(t.dim());
  dl.dtype = dlpack_dtype(t.dtype());
  dl.shape = ctx->shape.data();
  dl.strides = ctx->strides.data();
  dl.byte_offset = 0;
  return ctx;
}

}  // namespace

DLDataType dlpack_dtype(DType t) {
  switch (t) {
    case DType::Bool: return DLDataType{kDLBool, 8, 1};
    case DType::Int32: return DLDataType{kDLInt, 32, 1};
    case DType::Int64: return DLDataType{kDLInt, 64, 1};
    case DType::Float16: return DLDataType{kDLFloat, 16, 1};
    case DType::BFloat16: return DLDataType{kDLBfloat, 16, 1};
    case DType::Float32: return DLDataType{kDLFloat, 32, 1};
    case DType::Float64: return DLDataType{kDLFloat, 64, 1};
    case DType::Complex64: return DLDataType{kDLComplex, 64, 1};
    case DType::Complex128: return DLDataType{kDLComplex, 128, 1};
  }
  throw TypeError("to_dlpack: unknown dtype");
}

DType dtype_from_dlpack(DLDataType t) {
  HY_CHECK(t.lanes == 1, TypeError, "from_dlpack: vector element types (lanes=", t.lanes, ") are not supported");
  if (t.code == kDLBool && t.bits == 8) return DType::Bool;
  if (t.code == kDLInt && t.bits == 32) return DType::Int32;
  if (t.code == kDLInt && t.bits == 64) return DType::Int64;
  if (t.code == kDLFloat && t.bits == 16) return DType::Float16;
  if (t.code == kDLBfloat && t.bits == 16) return DType::BFloat16;
  if (t.code == kDLFloat && t.bits == 32) return DType::Float32;
  if (t.code == kDLFloat && t.bits == 64) return DType::Float64;
  if (t.code == kDLComplex && t.bits == 64) return DType::Complex64;
  if (t.code == kDLComplex && t.bits == 128) return DType::Complex128;
  static const char* const kCodes[] = {"int", "uint", "float", "opaque handle", "bfloat", "complex", "bool"};
  const char* code = t.code < 7 ? kCodes[t.code] : "unknown";
  throw TypeError(str("from_dlpack: element type ", code, static_cast<int>(t.bits), " (DLPack code ", static_cast<int>(t.code), ", ",
                      static_cast<int>(t.bits), " bits) is not supported; hyflow has bool, int32, int64, "
                      "float16, bfloat16, float32, float64, complex64 and complex128"));
}

DLManagedTensor* to_dlpack(const Tensor& t) {
  auto* m = new DLManagedTensor{};
  try {
    m->manager_ctx = make_context(t, m->dl_tensor);
  } catch (...) {
    delete m;
    throw;
  }
  m->deleter = &delete_export;
  return m;
}

DLManagedTensorVersioned* to_dlpack_versioned(const Tensor& t, bool copied) {
  auto* m = new DLManagedTensorVersioned{};
  try {
    m->manager_ctx = make_context(t, m->dl_tensor);
  } catch (...) {
    delete m;
    throw;
  }
  m->version = DLPackVersion{DLPACK_MAJOR_VERSION, DLPACK_MINOR_VERSION};
  m->deleter = &delete_export_versioned;
  if (!t.storage()->writable()) m->flags |= DLPACK_FLAG_BITMASK_READ_ONLY;
  if (copied) m->flags |= DLPACK_FLAG_BITMASK_IS_COPIED;
  return m;
}

Tensor tensor_from_dltensor(const DLTensor& dl, bool writable, const std::function<std::shared_ptr<void>()>& make_owner) {
  const bool on_cuda = dl.device.device_type == kDLCUDA;
  HY_CHECK(dl.device.device_type == kDLCPU || on_cuda, NotImplementedError, "from_dlpack: hyflow imports CPU "
           "(kDLCPU) and CUDA (kDLCUDA) memory; the producer's tensor is on ", device_type_name(dl.device.device_type),
           " (device type ", static_cast<int>(dl.device.device_type), ")");
  if (on_cuda && !find_device_backend(DeviceType::DeviceType_CUDA))
    throw RuntimeError(str("from_dlpack: the producer's tensor is CUDA memory, but CUDA is not available (",
                           device_unavailable_reason(DeviceType::DeviceType_CUDA), ")"));
  const Device device = on_cuda ? Device{DeviceType::DeviceType_CUDA, dl.device.device_id} : kCPU;
  DType dtype = dtype_from_dlpack(dl.dtype);
  HY_CHECK(dl.ndim >= 0, ValueError, "from_dlpack: negative ndim ", dl.ndim);
  HY_CHECK(dl.ndim == 0 || dl.shape != nullptr, ValueError, "from_dlpack: shape is NULL for a ", dl.ndim, "-d tensor");
  Shape shape(dl.shape, dl.shape + dl.ndim);
  for (int64_t n : shape) HY_CHECK(n >= 0, ValueError, "from_dlpack: negative size in shape ", shape);
  Strides strides = dl.strides ? Strides(dl.strides, dl.strides + dl.ndim) : contiguous_strides(shape);
  for (int64_t s : strides)
    HY_CHECK(s >= 0, ValueError, "from_dlpack: negative strides are not supported (strides ", strides,
             "); make a copy with non-negative strides first");
  const int64_t numel = shape_numel(shape), item = dtype_itemsize(dtype);
  int64_t nbytes = 0;
  if (numel > 0) {
    int64_t last = 0;  // element offset of the last addressable element
    for (size_t i = 0; i < shape.size(); ++i) last += checked_mul(shape[i] - 1, strides[i], "DLPack tensor extent");
    nbytes = checked_mul(last + 1, item, "DLPack tensor extent");
    HY_CHECK(dl.data != nullptr, ValueError, "from_dlpack: data is NULL for a tensor of shape ", shape);
  }
  void* data = dl.data ? static_cast<char*>(dl.data) + dl.byte_offset : nullptr;
  // Checked before the owner exists: a rejected capsule stays the producer's.
  // (Device memory cannot be read here: a CUDA producer's bools are trusted.)
  if (dtype == DType::Bool && numel > 0 && !on_cuda) check_bool_bytes(static_cast<const uint8_t*>(data), shape, strides, "from_dlpack");
  auto storage = std::make_shared<StorageImpl>(data, nbytes, device, make_owner(), writable);
  return Tensor(std::make_shared<TensorImpl>(std::move(storage), std::move(shape), std::move(strides), 0, dtype));
}

Tensor hyflow_tensor_of(const DLManagedTensor* m) {
  if (m->deleter != &delete_export) return Tensor();
  const Tensor& t = static_cast<const ExportContext*>(m->manager_ctx)->tensor;
  return Tensor::make_view(t, t.shape(), t.strides(), t.offset());
}

Tensor hyflow_tensor_of(const DLManagedTensorVersioned* m) {
  if (m->deleter != &delete_export_versioned) return Tensor();
  const Tensor& t = static_cast<const ExportContext*>(m->manager_ctx)->tensor;
  return Tensor::make_view(t, t.shape(), t.strides(), t.offset());
}

Tensor from_dlpack(DLManagedTensor* m) {
  HY_CHECK(m != nullptr, ValueError, "from_dlpack: NULL managed tensor");
  if (Tensor t = hyflow_tensor_of(m); t.defined()) {
    m->deleter(m);
    return t;
  }
  return tensor_from_dltensor(m->dl_tensor, true, [m] {
    return std::shared_ptr<void>(m, [](void* p) {
      auto* mt = static_cast<DLManagedTensor*>(p);
      if (mt->deleter) mt->deleter(mt);
    });
  });
}

Tensor from_dlpack(DLManagedTensorVersioned* m) {
  HY_CHECK(m != nullptr, ValueError, "from_dlpack: NULL managed tensor");
  HY_CHECK(m->version.major <= DLPACK_MAJOR_VERSION, ValueError, "from_dlpack: DLPack ", m->version.major, ".",
           m->version.minor, " is newer than the version this hyflow reads (", DLPACK_MAJOR_VERSION, ".x)");
  if (Tensor t = hyflow_tensor_of(m); t.defined()) {
    m->deleter(m);
    return t;
  }
  bool writable = !(m->flags & DLPACK_FLAG_BITMASK_READ_ONLY);
  return tensor_from_dltensor(m->dl_tensor, writable, [m] {
    return std::shared_ptr<void>(m, [](void* p) {
      auto* mt = static_cast<DLManagedTensorVersioned*>(p);
      if (mt->deleter) mt->deleter(mt);
    });
  });
}

}  // namespace hy
