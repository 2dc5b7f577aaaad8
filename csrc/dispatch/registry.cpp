#include "dispatch/registry.h"

#include "core/device_backend.h"
#include "core/error.h"
#include "dispatch/capture_hook.h"

namespace hy {

void OpEntry::throw_missing(Device device) const {
  // The CUDA backend covers the table op by op (docs/cuda.md has the coverage table): a missing kernel
  // is an error, never a silent round trip through the CPU.
  if (device.type == DeviceType::DeviceType_CUDA && !find_device_backend(DeviceType::DeviceType_CUDA))
    throw RuntimeError(str("op '", name, "' cannot run on ", device_str(device), ": CUDA is not available (",
                           device_unavailable_reason(DeviceType::DeviceType_CUDA), ")"));
  if (device.type == DeviceType::DeviceType_CUDA)
    throw NotImplementedError(str("op '", name, "' has no CUDA kernel yet (", device_str(device),
                                  "); move the inputs to the CPU with .cpu() to run it there"));
  throw NotImplementedError(str("op '", name, "' has no kernel for device '", device_str(device),
                                "' in this build"));
}

Registry& Registry::global() {
  static Registry* r = new Registry();  // lives for the whole process; kernels may run at exit
  return *r;
}

OpEntry& Registry::define(const std::string& schema_text, std::map<std::string, std::string> meta) {
  Schema schema = parse_schema(schema_text);
  std::lock_guard<std::mutex> lock(mu_);
  HY_CHECK(!ops_.count(schema.name), ValueError, "op '", schema.name, "' is already defined");
  auto e = std::make_unique<OpEntry>();
  e->name = schema.name;
  e->schema = std::move(schema);
  e->meta = std::move(meta);
  OpEntry& ref = *e;
  ops_[ref.name] = std::move(e);
  return ref;
}

OpEntry& Registry::define_builtin(const std::string& schema, std::map<std::string, std::string> meta,
                                  std::type_index signature, BoxedKernel boxed_front) {
  OpEntry& e = define(schema, std::move(meta));
  e.builtin = true;
  e.signature = signature;
  e.boxed_front = std::move(boxed_front);
  return e;
}

void Registry::impl_typed(const std::string& name, int device, void* fn, std::type_index sig) {
  OpEntry& e = get(name);
  std::lock_guard<std::mutex> lock(mu_);
  HY_CHECK(e.builtin, ValueError, "op '", name, "' is user-defined: register its kernel with impl_boxed");
  HY_CHECK(sig == e.signature, TypeError, "kernel for op '", name,
           "' does not match the signature declared in the op table: ", e.schema.text);
  void*& slot = device == kAnyDevice ? e.typed_any : e.typed[device];
  HY_CHECK(slot == nullptr, ValueError, "op '", name, "' already has a kernel for device ",
           device == kAnyDevice ? "any" : device_type_name(static_cast<DeviceType>(device)));
  slot = fn;
}

void Registry::replace_typed(const std::string& name, int device, void* fn, std::type_index sig) {
  OpEntry& e = get(name);
  std::lock_guard<std::mutex> lock(mu_);
  HY_CHECK(e.builtin, ValueError, "op '", name, "' is user-defined: only built-in kernels have ISA variants");
  HY_CHECK(sig == e.signature, TypeError, "kernel variant for op '", name,
           "' does not match the signature declared in the op table: ", e.schema.text);
  const char* dev = device_type_name(static_cast<DeviceType>(device));
  // A variant replaces a kernel; it never supplies one the baseline build lacks, so choosing the
  // baseline (HYFLOW_CPU_CAPABILITY=default) can never leave an op without a kernel.
  HY_CHECK(e.typed[device] != nullptr, ValueError, "op '", name, "' has no ", dev,
           " kernel for a variant to replace");
  e.typed[device] = fn;
}

void Registry::impl_boxed(const std::string& name, DeviceType device, BoxedKernel kernel) {
  OpEntry& e = get(name);
  std::lock_guard<std::mutex> lock(mu_);
  HY_CHECK(!e.builtin, ValueError, "op '", name, "' is built in; its kernels come from the op table");
  auto& slot = e.boxed[static_cast<int>(device)];
  HY_CHECK(!slot, ValueError, "op '", name, "' already has a kernel for device ", device_type_name(device));
  slot = std::move(kernel);
}

OpEntry* Registry::find(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ops_.find(name);
  return it == ops_.end() ? nullptr : it->second.get();
}

OpEntry& Registry::get(const std::string& name) {
  OpEntry* e = find(name);
  HY_CHECK(e != nullptr, ValueError, "no op named '", name, "' is registered");
  return *e;
}

Device dispatch_device(const ValueList& args) {
  for (const Value& v : args) {
    if (auto* t = std::get_if<Tensor>(&v)) if (t->defined()) return t->device();
    if (auto* l = std::get_if<std::vector<Tensor>>(&v)) if (!l->empty()) return l->front().device();
  }
  for (const Value& v : args)
    if (auto* d = std::get_if<Device>(&v)) return *d;
  return kCPU;
}

ValueList Registry::call_boxed(const std::string& name, ValueList& args) {
  OpEntry& e = get(name);
  HY_CHECK(args.size() == e.schema.args.size(), TypeError, "op '", name, "' takes ",
           e.schema.args.size(), " arguments, got ", args.size(), " (", e.schema.text, ")");
  if (e.builtin) return e.boxed_front(args);  // the front function reports to a capture itself
  Device d = dispatch_device(args);
  const BoxedKernel& k = e.boxed[static_cast<int>(d.type)];
  if (!k) e.throw_missing(d);
  capture::CaptureHook* hook = capture::active_hook();
  if (!hook) return k(args);
  // A user-defined op is recorded like a built-in one: once, not the ops its kernel calls.
  ValueList results;
  {
    capture::HookInstall hidden(nullptr);
    results = k(args);
  }
  hook->on_op(e, ValueList(args), ValueList(results));
  return results;
}

std::vector<std::string> Registry::names() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (auto& kv : ops_) out.push_back(kv.first);
  return out;
}

std::vector<std::string> Registry::missing_kernels(DeviceType device) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  const char* dev = device_type_name(device);
  for (auto& kv : ops_) {
    const OpEntry& e = *kv.second;
    auto it = e.meta.find(std::string("kernel_") + dev);
    if (!e.builtin || it == e.meta.end()) continue;
    if (!e.typed[static_cast<int>(device)] && !e.typed_any) out.push_back(e.name);
  }
  return out;
}

}  // namespace hy
