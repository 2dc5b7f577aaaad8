#include "core/device_backend.h"

#include <atomic>
#include <mutex>

#include "core/error.h"
#include "core/tensor.h"

namespace hy {
namespace {

// Written once at import (by the loader, before any op runs) and read on every device call: atomics
// make the read side lock-free; the reasons are guarded because they are strings.
std::atomic<DeviceBackend*> g_backends[kNumDeviceTypes];
std::mutex g_reason_mu;
std::string g_reasons[kNumDeviceTypes];

}  // namespace

void set_device_backend(DeviceType type, DeviceBackend* backend) {
  g_backends[static_cast<int>(type)].store(backend, std::memory_order_release);
}

DeviceBackend* find_device_backend(DeviceType type) {
  return g_backends[static_cast<int>(type)].load(std::memory_order_acquire);
}

void set_device_unavailable_reason(DeviceType type, const std::string& reason) {
  std::lock_guard<std::mutex> lock(g_reason_mu);
  g_reasons[static_cast<int>(type)] = reason;
}

std::string device_unavailable_reason(DeviceType type) {
  std::lock_guard<std::mutex> lock(g_reason_mu);
  const std::string& r = g_reasons[static_cast<int>(type)];
  return r.empty() ? std::string("hyflow was built without its ") + device_type_name(type) + " backend" : r;
}

DeviceBackend& device_backend(DeviceType type) {
  HY_CHECK(type != DeviceType::DeviceType_CPU, ValueError, "the CPU has no device backend");
  DeviceBackend* b = find_device_backend(type);
  if (!b) {
    std::string name = device_type_name(type);
    for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    throw RuntimeError(str(name, " is not available (", device_unavailable_reason(type), "); use device='cpu'"));
  }
  return *b;
}

}  // namespace hy
