// The library's one exported entry point, called by the core's loader (dispatch/cuda_backend_loader.cpp)
// after it found a CUDA driver: check that a GPU is usable, install the DeviceBackend, register the
// generated kernel table. Exceptions never cross the C boundary: they become the returned reason.
#include <cuda_runtime_api.h>

#include <string>

#include "cuda/cuda_backend.h"
#include "dispatch/registry.h"
#include "hyflow/build_config.h"
#include "hyflow/ops/ops_common.h"

namespace {
std::string g_error;  // storage for the returned reason
}

extern "C" __attribute__((visibility("default"))) const char* hyflow_cuda_register(hy::Registry* r,
                                                                                   const char* core_version) {
  if (!r) return HYFLOW_VERSION;  // the loader's probe: touches no CUDA API
  (void)core_version;
  try {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      g_error = std::string("the CUDA runtime found no usable GPU: ") + cudaGetErrorString(err);
      return g_error.c_str();
    }
    if (count == 0) return "the CUDA driver reports no GPU";
    hy::register_kernels_cuda(*r);
    hy::set_device_backend(hy::DeviceType::DeviceType_CUDA, &hy::cuda::cuda_backend());
    return nullptr;
  } catch (const std::exception& e) {
    g_error = std::string("registering the CUDA kernels failed: ") + e.what();
    return g_error.c_str();
  }
}
