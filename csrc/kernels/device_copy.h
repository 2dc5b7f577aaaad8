// Host<->device tensor copies: Tensor.to(device), .cuda(), .cpu(), pin_memory().
#pragma once
#include "core/tensor.h"

namespace hy {

/// `t`'s data on `device` (a new contiguous tensor; `t` itself when already there). Host<->device
/// copies go through the device backend; `non_blocking` overlaps them only for pinned host memory.
Tensor tensor_to_device(const Tensor& t, Device device, bool non_blocking);
/// `t` copied into page-locked host memory (Tensor.pin_memory()); needs a loaded CUDA backend.
Tensor tensor_pin_memory(const Tensor& t);

}  // namespace hy
