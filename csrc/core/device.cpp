#include "core/device.h"

#include <atomic>

#include "core/current_device.h"
#include "core/error.h"

namespace hy {

namespace {
std::atomic<int> g_current_cuda_index{0};
}  // namespace

int current_cuda_index() { return g_current_cuda_index.load(std::memory_order_relaxed); }

void set_current_cuda_index(int index) {
  HY_CHECK(index >= 0, ValueError, "set_current_cuda_index: index must be >= 0, got ", index);
  g_current_cuda_index.store(index, std::memory_order_relaxed);
}

Device current_cuda_device() { return Device{DeviceType::DeviceType_CUDA, current_cuda_index()}; }

const char* device_type_name(DeviceType t) {
  switch (t) {
    case DeviceType::DeviceType_CPU: return "cpu";
    case DeviceType::DeviceType_CUDA: return "cuda";
  }
  return "?";
}

std::string device_str(const Device& d) {
  if (d.is_cpu()) return "cpu";
  return str(device_type_name(d.type), ":", d.index);
}

Device device_from_string(const std::string& s) {
  if (s == "cpu") return kCPU;
  if (s.rfind("cuda", 0) == 0) {
    if (s == "cuda") return current_cuda_device();
    if (s.size() > 5 && s[4] == ':') {
      try {
        size_t used = 0;
        int idx = std::stoi(s.substr(5), &used);
        if (used == s.size() - 5 && idx >= 0) return Device{DeviceType::DeviceType_CUDA, idx};
      } catch (const std::exception&) {
      }
    }
  }
  throw ValueError(str("unknown device '", s, "' (expected 'cpu', 'cuda' or 'cuda:N')"));
}

}  // namespace hy
