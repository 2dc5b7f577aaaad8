#include "distributed/nccl_loader.h"

#include <dlfcn.h>

#include <mutex>

#include "core/device_backend.h"
#include "hyflow/build_config.h"

namespace hy::dist {
namespace {

std::string library_path() {
  Dl_info info{};
  std::string dir = ".";
  if (dladdr(reinterpret_cast<void*>(&nccl_world), &info) && info.dli_fname) {
    std::string path = info.dli_fname;
    size_t slash = path.rfind('/');
    if (slash != std::string::npos) dir = path.substr(0, slash);
  }
  return dir + "/libhyflow_nccl.so";
}

struct Library {
  NcclWorldFn world = nullptr;
  NcclRawAllReduceFn raw_all_reduce = nullptr;
};

// Loaded once; a failure is remembered so every later call reports the same reason.
const Library& load(std::string* error) {
  static std::once_flag once;
  static Library lib;
  static std::string reason;
  std::call_once(once, [] {
    const std::string path = library_path();
    // RTLD_LOCAL and never closed: communicators made by the library live as long as the process may.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = dlerror();
      reason = str("cannot load ", path, ": ", why ? why : "unknown error");
      return;
    }
    auto f = reinterpret_cast<NcclWorldFn>(dlsym(handle, kNcclWorldSymbol));
    const char* version = f ? f(nullptr, nullptr, HYFLOW_VERSION) : nullptr;
    if (!version || std::string(version) != HYFLOW_VERSION) {
      reason = str(path, " does not belong to this hyflow build (", HYFLOW_VERSION, ")");
      return;
    }
    lib.world = f;
    lib.raw_all_reduce = reinterpret_cast<NcclRawAllReduceFn>(dlsym(handle, kNcclRawAllReduceSymbol));
  });
  *error = reason;
  return lib;
}

}  // namespace

bool nccl_built() {
#ifdef HYFLOW_NCCL_LIBRARY_BUILT
  return true;
#else
  return false;
#endif
}

CommunicatorPtr nccl_world(const CommunicatorPtr& bootstrap) {
  HY_CHECK(bootstrap != nullptr, ValueError, "nccl_world: the bootstrap communicator is null");
  if (!find_device_backend(DeviceType::DeviceType_CUDA))
    throw DistError(str("the NCCL backend needs CUDA, which is not available (",
                        device_unavailable_reason(DeviceType::DeviceType_CUDA), ")"));
  if (!nccl_built())
    throw DistError("this hyflow was built without its NCCL communicator (NCCL not found at build time)");
  std::string error;
  NcclWorldFn fn = load(&error).world;
  if (!fn) throw DistError(error);
  CommunicatorPtr out;
  if (const char* e = fn(bootstrap.get(), &out, HYFLOW_VERSION)) throw DistError(e);
  return out;
}

double nccl_raw_all_reduce_seconds(const CommunicatorPtr& comm, const Tensor& t, int iters, int warmup) {
  HY_CHECK(comm != nullptr && comm->backend() == "nccl", ValueError,
           "nccl_raw_all_reduce: expected an NCCL communicator, got ", comm ? comm->backend() : "none");
  HY_CHECK(iters > 0 && warmup >= 0, ValueError, "nccl_raw_all_reduce: iters must be > 0 and warmup >= 0, got ",
           iters, " and ", warmup);
  HY_CHECK(t.defined() && t.is_contiguous() && t.dtype() == DType::Float32, ValueError,
           "nccl_raw_all_reduce: expected a contiguous float32 tensor");
  std::string error;
  NcclRawAllReduceFn fn = load(&error).raw_all_reduce;
  if (!fn) throw DistError(error.empty() ? str("libhyflow_nccl.so has no ", kNcclRawAllReduceSymbol) : error);
  double seconds = 0;
  if (const char* e = fn(comm.get(), &t, iters, warmup, &seconds)) throw DistError(e);
  return seconds;
}

}  // namespace hy::dist
