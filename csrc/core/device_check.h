// The one device rule every generated front function enforces before it calls a kernel: all tensor
// arguments live on the device whose kernel runs. A kernel never sees a pointer it cannot read (a CPU
// loop over device memory would crash), and the error names both devices and the argument.
//
//   check_devices("add", self.device(), {device_arg("self", self), device_arg("other", other)});
#pragma once
#include <initializer_list>
#include <optional>
#include <vector>

#include "core/tensor.h"

namespace hy {

/// One tensor-valued argument (plain, optional or list) as the check sees it.
struct DeviceArg {
  const char* name;
  const Tensor* tensor = nullptr;             // a plain or engaged optional tensor
  const std::vector<Tensor>* list = nullptr;  // a Tensor[] argument
};
inline DeviceArg device_arg(const char* name, const Tensor& t) { return {name, &t, nullptr}; }
inline DeviceArg device_arg(const char* name, const std::optional<Tensor>& t) {
  return {name, t ? &*t : nullptr, nullptr};
}
inline DeviceArg device_arg(const char* name, const std::vector<Tensor>& l) { return {name, nullptr, &l}; }

/// Throws RuntimeError "expected all tensors to be on the same device, but found at least two devices,
/// cuda:0 and cpu (op 'add', argument 'other')" unless every defined tensor is on `device`. As in
/// PyTorch, a 0-d CPU tensor (a Python number, a CPU scalar) may join a device op: kernels read it as a value.
void check_devices(const char* op, Device device, std::initializer_list<DeviceArg> args);

}  // namespace hy
