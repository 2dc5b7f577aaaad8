// cuFFT plans, cached per device in a least-recently-used list (torch's cufft_plan_cache), and the one
// function that executes them. Making a plan costs far more than most transforms, and a training loop asks
// for the same few shapes every step.
//
// A cached plan is used under its device's cache mutex from lookup to the end of the (asynchronous) exec
// call, because cufftSetStream and cufftSetWorkArea change the plan: two threads sharing a plan must not
// interleave them. The work area is allocated per call from the caching allocator on the current stream,
// so it is reused in stream order like any tensor (cufftSetAutoAllocation(0): cuFFT allocates nothing
// behind the allocator's back, beyond its own tables made at planning).
#include <cufft.h>

#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "core/tensor.h"
#include "cuda/caching_allocator.h"
#include "cuda/cuda_backend.h"
#include "cuda/cufft/fft_exec_internal.h"
#include "cuda/fft_plan_cache.h"

namespace hy::cuda {
namespace {

const char* cufft_error_name(cufftResult r) {
  switch (r) {
    case CUFFT_INVALID_PLAN: return "CUFFT_INVALID_PLAN";
    case CUFFT_ALLOC_FAILED: return "CUFFT_ALLOC_FAILED (out of device memory)";
    case CUFFT_INVALID_TYPE: return "CUFFT_INVALID_TYPE";
    case CUFFT_INVALID_VALUE: return "CUFFT_INVALID_VALUE";
    case CUFFT_INTERNAL_ERROR: return "CUFFT_INTERNAL_ERROR";
    case CUFFT_EXEC_FAILED: return "CUFFT_EXEC_FAILED";
    case CUFFT_SETUP_FAILED: return "CUFFT_SETUP_FAILED";
    case CUFFT_INVALID_SIZE: return "CUFFT_INVALID_SIZE";
    case CUFFT_UNALIGNED_DATA: return "CUFFT_UNALIGNED_DATA";
    case CUFFT_INVALID_DEVICE: return "CUFFT_INVALID_DEVICE";
    case CUFFT_NO_WORKSPACE: return "CUFFT_NO_WORKSPACE";
    case CUFFT_NOT_IMPLEMENTED: return "CUFFT_NOT_IMPLEMENTED";
    case CUFFT_NOT_SUPPORTED: return "CUFFT_NOT_SUPPORTED";
    case CUFFT_MISSING_DEPENDENCY: return "CUFFT_MISSING_DEPENDENCY (libnvJitLink not found?)";
    default: return "unknown cuFFT error";
  }
}

void check(cufftResult r, const char* call, const FftPlanKey& key) {
  if (r == CUFFT_SUCCESS) return;
  throw RuntimeError(str("cuFFT error ", cufft_error_name(r), " (", int(r), ") in ", call, " for a rank-", key.rank,
                         " transform of sizes [", key.n[0], key.rank > 1 ? str(", ", key.n[1]) : std::string(),
                         key.rank > 2 ? str(", ", key.n[2]) : std::string(), "], batch ", key.batch, " on cuda:",
                         key.device));
}

cufftType plan_type(const FftPlanKey& k) {
  switch (k.kind) {
    case FftKind::FftKind_C2C: return k.double_precision ? CUFFT_Z2Z : CUFFT_C2C;
    case FftKind::FftKind_R2C: return k.double_precision ? CUFFT_D2Z : CUFFT_R2C;
    case FftKind::FftKind_C2R: return k.double_precision ? CUFFT_Z2D : CUFFT_C2R;
  }
  return CUFFT_C2C;
}

// A plan and the work area size its exec needs; destroyed with the entry.
struct Plan {
  cufftHandle handle = 0;
  size_t work_bytes = 0;
  explicit Plan(const FftPlanKey& key) {
    check(cufftCreate(&handle), "cufftCreate", key);
    cufftResult r = cufftSetAutoAllocation(handle, 0);
    if (r == CUFFT_SUCCESS) {
      long long n[3] = {key.n[0], key.n[1], key.n[2]};
      // Null embeds: the basic (dense) layout, whose distances follow from n and the transform type.
      r = cufftMakePlanMany64(handle, key.rank, n, nullptr, 1, 0, nullptr, 1, 0, plan_type(key), key.batch,
                              &work_bytes);
    }
    if (r != CUFFT_SUCCESS) {
      cufftDestroy(handle);
      check(r, "cufftMakePlanMany64", key);
    }
  }
  ~Plan() { cufftDestroy(handle); }
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
};

// One device's plans, most recently used first.
struct DeviceCache {
  std::mutex mu;
  int64_t max_size = kFftPlanCacheDefaultMax;
  std::list<std::pair<FftPlanKey, std::unique_ptr<Plan>>> lru;
  std::unordered_map<FftPlanKey, decltype(lru)::iterator, FftPlanKeyHash> index;

  void trim_locked(int64_t keep) {
    while (static_cast<int64_t>(lru.size()) > keep) {
      index.erase(lru.back().first);
      lru.pop_back();
    }
  }
};

DeviceCache& device_cache(int device) {
  static std::mutex mu;
  static auto* caches = new std::map<int, std::unique_ptr<DeviceCache>>();  // never destroyed (exit order)
  std::lock_guard<std::mutex> lock(mu);
  auto& c = (*caches)[device];
  if (!c) c = std::make_unique<DeviceCache>();
  return *c;
}

// A new plan; on out-of-memory the allocator's cached blocks go back to the driver and planning is tried once more.
std::unique_ptr<Plan> make_plan(const FftPlanKey& key) {
  try {
    return std::make_unique<Plan>(key);
  } catch (const RuntimeError& e) {
    if (std::string(e.what()).find("CUFFT_ALLOC_FAILED") == std::string::npos) throw;
    caching_allocator().empty_cache();
    return std::make_unique<Plan>(key);
  }
}

void run(const Plan& plan, const FftPlanKey& key, void* in, void* out, bool forward) {
  const int dir = forward ? CUFFT_FORWARD : CUFFT_INVERSE;
  switch (plan_type(key)) {
    case CUFFT_C2C:
      return check(cufftExecC2C(plan.handle, static_cast<cufftComplex*>(in), static_cast<cufftComplex*>(out), dir),
                   "cufftExecC2C", key);
    case CUFFT_Z2Z:
      return check(cufftExecZ2Z(plan.handle, static_cast<cufftDoubleComplex*>(in),
                                static_cast<cufftDoubleComplex*>(out), dir), "cufftExecZ2Z", key);
    case CUFFT_R2C:
      return check(cufftExecR2C(plan.handle, static_cast<cufftReal*>(in), static_cast<cufftComplex*>(out)),
                   "cufftExecR2C", key);
    case CUFFT_D2Z:
      return check(cufftExecD2Z(plan.handle, static_cast<cufftDoubleReal*>(in), static_cast<cufftDoubleComplex*>(out)),
                   "cufftExecD2Z", key);
    case CUFFT_C2R:
      return check(cufftExecC2R(plan.handle, static_cast<cufftComplex*>(in), static_cast<cufftReal*>(out)),
                   "cufftExecC2R", key);
    case CUFFT_Z2D:
      return check(cufftExecZ2D(plan.handle, static_cast<cufftDoubleComplex*>(in), static_cast<cufftDoubleReal*>(out)),
                   "cufftExecZ2D", key);
    default: break;
  }
}

}  // namespace

void fft_execute(const FftPlanKey& key, void* in, void* out, bool forward) {
  set_current_device(key.device);  // plans belong to the device current when they are made and run
  cudaStream_t stream = static_cast<cudaStream_t>(current_stream(key.device));
  const Device device{DeviceType::DeviceType_CUDA, key.device};
  DeviceCache& cache = device_cache(key.device);
  std::unique_lock<std::mutex> lock(cache.mu);
  std::unique_ptr<Plan> uncached;  // when max_size is 0: made, used once, destroyed
  const Plan* plan = nullptr;
  auto it = cache.index.find(key);
  if (it != cache.index.end()) {
    cache.lru.splice(cache.lru.begin(), cache.lru, it->second);  // now the most recently used
    plan = cache.lru.front().second.get();
  } else if (cache.max_size > 0) {
    cache.trim_locked(cache.max_size - 1);
    cache.lru.emplace_front(key, make_plan(key));
    cache.index[key] = cache.lru.begin();
    plan = cache.lru.front().second.get();
  } else {
    uncached = make_plan(key);
    plan = uncached.get();
  }
  // The work area: a tensor of the allocator, freed (back to this stream's cache) after the exec is queued.
  Tensor work;
  if (plan->work_bytes > 0)
    work = Tensor::empty({static_cast<int64_t>((plan->work_bytes + 7) / 8)}, DType::Int64, device);
  check(cufftSetStream(plan->handle, stream), "cufftSetStream", key);
  check(cufftSetWorkArea(plan->handle, work.defined() ? work.raw_data() : nullptr), "cufftSetWorkArea", key);
  run(*plan, key, in, out, forward);
}

int64_t fft_plan_cache_size(int device) {
  DeviceCache& c = device_cache(device);
  std::lock_guard<std::mutex> lock(c.mu);
  return static_cast<int64_t>(c.lru.size());
}

int64_t fft_plan_cache_max_size(int device) {
  DeviceCache& c = device_cache(device);
  std::lock_guard<std::mutex> lock(c.mu);
  return c.max_size;
}

void set_fft_plan_cache_max_size(int device, int64_t max_size) {
  HY_CHECK(max_size >= 0, ValueError, "cufft_plan_cache.max_size must be >= 0, got ", max_size);
  DeviceCache& c = device_cache(device);
  std::lock_guard<std::mutex> lock(c.mu);
  c.max_size = max_size;
  c.trim_locked(max_size);
}

void fft_plan_cache_clear(int device) {
  DeviceCache& c = device_cache(device);
  std::lock_guard<std::mutex> lock(c.mu);
  c.trim_locked(0);
}

}  // namespace hy::cuda
