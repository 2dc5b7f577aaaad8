// The dispatcher: every op by name, its signature and metadata from the op table, and one kernel per
// device. Built-in ops get typed (unboxed) kernels that generated front functions call directly; ops
// users define at run time get boxed kernels (C++ or Python). Registration is explicit: each kernel file
// exports register_<family>_<device>(Registry&), and register_all.cpp calls them in order.
//
//   r.impl("add", DeviceType::DeviceType_CPU, &add_cpu);            // typed, signature checked
//   r.define("scale(Tensor x, float a) -> Tensor", {{"doc", "..."}});
//   r.impl_boxed("scale", DeviceType::DeviceType_CPU, make_boxed(&scale_cpu));
#pragma once
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <typeindex>
#include <vector>

#include "dispatch/boxing.h"
#include "dispatch/schema.h"

namespace hy {

/// Everything the dispatcher knows about one op.
struct OpEntry {
  std::string name;
  Schema schema;
  /// Op-table fields (dtype_rule, shape_rule, backward, autocast, onnx, lowering, doc, ...).
  std::map<std::string, std::string> meta;
  bool builtin = false;
  /// Typed signature of built-ins; typed kernels must match it exactly.
  std::type_index signature = typeid(void);
  std::array<void*, kNumDeviceTypes> typed{};
  std::array<BoxedKernel, kNumDeviceTypes> boxed{};
  /// A device-independent implementation (views, composites), used when no device kernel exists.
  void* typed_any = nullptr;
  /// Calls the op through its front function (built-ins) so boxed callers get the full semantics.
  BoxedKernel boxed_front;

  /// The typed kernel for `device`; throws NotImplementedError naming op and device.
  void* typed_kernel(Device device) const {
    void* k = typed[static_cast<int>(device.type)];
    if (k) return k;
    if (typed_any) return typed_any;
    throw_missing(device);
  }
  [[noreturn]] void throw_missing(Device device) const;
};

/// Pseudo-device for impl(): a kernel that works on any device (views, composite ops).
constexpr int kAnyDevice = -1;

/// The process-wide op registry.
class Registry {
 public:
  static Registry& global();

  /// Declare an op from its schema text. Throws ValueError if the name is taken.
  OpEntry& define(const std::string& schema, std::map<std::string, std::string> meta = {});
  /// Declare a built-in (generated code): typed signature plus its boxed front function.
  OpEntry& define_builtin(const std::string& schema, std::map<std::string, std::string> meta,
                          std::type_index signature, BoxedKernel boxed_front);

  /// Register a typed kernel; `device` is a DeviceType or kAnyDevice.
  template <typename R, typename... Args>
  void impl(const std::string& name, int device, R (*fn)(Args...)) {
    impl_typed(name, device, reinterpret_cast<void*>(fn), typeid(R (*)(Args...)));
  }
  template <typename R, typename... Args>
  void impl(const std::string& name, DeviceType device, R (*fn)(Args...)) {
    impl(name, static_cast<int>(device), fn);
  }
  /// Replace a built-in's registered kernel by an ISA variant of it (same signature), as the CPU variant
  /// libraries do at import (dispatch/cpu_variant.cpp). Throws unless `name` already has a kernel there.
  template <typename R, typename... Args>
  void impl_variant(const std::string& name, DeviceType device, R (*fn)(Args...)) {
    replace_typed(name, static_cast<int>(device), reinterpret_cast<void*>(fn), typeid(R (*)(Args...)));
  }
  /// Register a boxed kernel for a runtime-defined op.
  void impl_boxed(const std::string& name, DeviceType device, BoxedKernel kernel);

  /// Lookup; nullptr when absent.
  OpEntry* find(const std::string& name);
  /// Lookup; throws AttributeError-like ValueError naming the op.
  OpEntry& get(const std::string& name);
  /// Call any op by name with boxed arguments (schema order). `device` picks the kernel.
  ValueList call_boxed(const std::string& name, ValueList& args);
  /// All op names, sorted.
  std::vector<std::string> names() const;
  /// Built-ins whose table entry promises a kernel for `device` but none was registered.
  std::vector<std::string> missing_kernels(DeviceType device) const;

 private:
  void impl_typed(const std::string& name, int device, void* fn, std::type_index sig);
  void replace_typed(const std::string& name, int device, void* fn, std::type_index sig);
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<OpEntry>> ops_;
};

/// The device whose kernel serves a call: that of the first tensor argument, else CPU.
Device dispatch_device(const ValueList& args);

/// Registers every built-in op and kernel (called once, when the module loads).
void register_all(Registry& r);

}  // namespace hy
