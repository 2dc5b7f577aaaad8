// Moving tensors between devices (Tensor.to("cuda"), .cpu(), pin_memory()): the bytes go through the
// device backend (core/device_backend.h); making a strided source dense first runs on its own device.
#include "kernels/device_copy.h"

#include <cstring>

#include "core/device_backend.h"
#include "core/shape_util.h"
#include "hyflow/ops/ops_generated.h"
#include "kernels/cpu/kernel_util.h"

namespace hy {

Tensor tensor_to_device(const Tensor& t, Device device, bool non_blocking) {
  if (t.device() == device) return t;
  // The bytes move as one block, so the source is made dense on its own device first (a CPU copy for
  // CPU tensors, the device's clone kernel for device tensors: never a read of device memory here).
  Tensor src = t;
  if (!src.is_contiguous()) src = t.device().is_cpu() ? hy::cpu::contiguous(t) : ops::clone(t);
  DeviceBackend& b = device_backend(device.is_cpu() ? t.device().type : device.type);
  if (!device.is_cpu()) {
    HY_CHECK(device.index >= 0 && device.index < b.device_count(), ValueError, "device ", device_str(device),
             " does not exist: this machine has ", b.device_count(), " ", device_type_name(device.type),
             " device(s)");
  }
  Tensor dst = Tensor::empty(src.shape(), src.dtype(), device);
  if (src.nbytes() > 0) b.copy_bytes(dst.raw_data(), device, src.raw_data(), src.device(), src.nbytes(), non_blocking);
  return dst;
}

Tensor tensor_pin_memory(const Tensor& t) {
  HY_CHECK(t.device().is_cpu(), ValueError, "pin_memory: the tensor is on ", device_str(t.device()),
           "; only CPU tensors can be pinned");
  DeviceBackend& b = device_backend(DeviceType::DeviceType_CUDA);
  Tensor src = t.is_contiguous() ? t : hy::cpu::contiguous(t);
  auto storage = b.allocate_pinned(src.nbytes());
  Tensor dst(std::make_shared<TensorImpl>(std::move(storage), src.shape(), contiguous_strides(src.shape()), 0,
                                          src.dtype()));
  if (src.nbytes() > 0) std::memcpy(dst.raw_data(), src.raw_data(), static_cast<size_t>(src.nbytes()));
  return dst;
}

}  // namespace hy
