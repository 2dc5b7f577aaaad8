// Where a tensor's memory lives. CPU is always built; CUDA arrives with the CUDA backend.
#pragma once
#include <cstdint>
#include <string>

namespace hy {

/// Kind of device. kNumDeviceTypes sizes the dispatcher's per-device kernel tables.
enum class DeviceType : uint8_t { DeviceType_CPU = 0, DeviceType_CUDA = 1 };
constexpr int kNumDeviceTypes = 2;

/// A device kind plus an ordinal ("cuda:1").
struct Device {
  DeviceType type = DeviceType::DeviceType_CPU;
  int index = 0;
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  bool is_cpu() const { return type == DeviceType::DeviceType_CPU; }
};

/// "cpu", "cuda", ...
const char* device_type_name(DeviceType t);
/// "cpu" or "cuda:0".
std::string device_str(const Device& d);
/// Parse "cpu", "cuda", "cuda:1". Throws ValueError on anything else.
Device device_from_string(const std::string& s);

constexpr Device kCPU{DeviceType::DeviceType_CPU, 0};

}  // namespace hy
