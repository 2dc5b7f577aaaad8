// Loading the CUDA backend at import. libhyflow_cuda.so is a separate library (the core never links
// CUDA): it is dlopen'ed only when a CUDA driver is present, and then registers its kernels into the
// same registry and installs its DeviceBackend (core/device_backend.h). Any failure leaves CUDA
// unavailable with the reason recorded, never an import error.
#pragma once
#include <string>

namespace hy {

class Registry;

/// What the loader found, for hy.build_info() and hy.cuda.is_available().
struct CudaBackendStatus {
  bool built = false;   ///< libhyflow_cuda.so was built with this core
  bool loaded = false;  ///< it is loaded and its kernels are registered
  std::string reason;   ///< why not loaded (empty when loaded)
  std::string library;  ///< the path it was (or would be) loaded from
};

/// Probe the driver and load the backend; called once by register_all after the CPU kernels.
void load_cuda_backend(Registry& r);
CudaBackendStatus cuda_backend_status();

/// The entry point libhyflow_cuda.so exports. With a null registry it touches no CUDA API and returns
/// the hyflow version it was built for (a probe); else it registers everything and returns nullptr, or an
/// error message (static storage) when no usable GPU is present.
using CudaRegisterFn = const char* (*)(Registry* r, const char* core_version);
constexpr const char* kCudaRegisterSymbol = "hyflow_cuda_register";

}  // namespace hy
