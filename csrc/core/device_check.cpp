#include "core/device_check.h"

#include "core/error.h"

namespace hy {
namespace {

[[noreturn]] void throw_mixed(const char* op, Device device, const Tensor& t, const char* name) {
  throw RuntimeError(str("expected all tensors to be on the same device, but found at least two devices, ",
                         device_str(device), " and ", device_str(t.device()), " (op '", op, "', argument '",
                         name, "')"));
}

void check_one(const char* op, Device device, const Tensor& t, const char* name) {
  if (!t.defined() || t.device() == device) return;
  // A device op may read a CPU scalar by value; a CPU op can never read device memory.
  if (!device.is_cpu() && t.device().is_cpu() && t.dim() == 0) return;
  throw_mixed(op, device, t, name);
}

}  // namespace

void check_devices(const char* op, Device device, std::initializer_list<DeviceArg> args) {
  for (const DeviceArg& a : args) {
    if (a.tensor) check_one(op, device, *a.tensor, a.name);
    if (a.list)
      for (const Tensor& t : *a.list) check_one(op, device, t, a.name);
  }
}

}  // namespace hy
