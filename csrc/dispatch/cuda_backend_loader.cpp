#include "dispatch/cuda_backend_loader.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

#include "core/device_backend.h"
#include "core/error.h"
#include "dispatch/registry.h"
#include "hyflow/build_config.h"

namespace hy {
namespace {

std::mutex g_mu;
CudaBackendStatus g_status;

// The folder libhyflow_core.so was loaded from: libhyflow_cuda.so is built and installed beside it.
std::string core_library_dir() {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(&load_cuda_backend), &info) || !info.dli_fname) return ".";
  std::string path = info.dli_fname;
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// Returns the reason CUDA stays unavailable, or "" once the backend is registered.
std::string try_load(Registry& r, const std::string& path) {
  // The driver is part of the GPU's installation, not of hyflow: without it nothing CUDA can run, so the
  // backend library (and the CUDA runtime inside it) is not even loaded. The handle is kept open on
  // purpose: the runtime loads the same library again.
  if (!dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL)) {
    const char* why = dlerror();
    return str("no CUDA driver: libcuda.so.1 could not be loaded (", why ? why : "not found", ")");
  }
  // RTLD_LOCAL and never closed: the registry holds pointers into the library for the process's life.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    return str("cannot load ", path, ": ", why ? why : "unknown error");
  }
  auto fn = reinterpret_cast<CudaRegisterFn>(dlsym(handle, kCudaRegisterSymbol));
  if (!fn) return str(path, " does not export ", kCudaRegisterSymbol);
  const char* version = fn(nullptr, HYFLOW_VERSION);
  if (!version || std::string(version) != HYFLOW_VERSION)
    return str(path, " belongs to another hyflow build (", version ? version : "?", ", core ", HYFLOW_VERSION, ")");
  const char* error = fn(&r, HYFLOW_VERSION);
  return error ? std::string(error) : std::string();
}

}  // namespace

void load_cuda_backend(Registry& r) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_status = CudaBackendStatus{};
  g_status.library = core_library_dir() + "/libhyflow_cuda.so";
#ifdef HYFLOW_CUDA_LIBRARY_BUILT
  g_status.built = true;
  if (const char* off = std::getenv("HYFLOW_DISABLE_CUDA"); off && *off && std::string(off) != "0") {
    g_status.reason = "disabled by the HYFLOW_DISABLE_CUDA environment variable";
  } else {
    g_status.reason = try_load(r, g_status.library);
  }
  g_status.loaded = g_status.reason.empty();
#else
  (void)r;
  g_status.reason = "hyflow was built without its CUDA backend (no CUDA toolkit, or HYFLOW_CUDA=OFF)";
#endif
  if (!g_status.loaded) set_device_unavailable_reason(DeviceType::DeviceType_CUDA, g_status.reason);
}

CudaBackendStatus cuda_backend_status() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_status;
}

}  // namespace hy
