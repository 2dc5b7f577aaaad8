#include "cuda/caching_allocator.h"

#include "cuda/cuda_check_internal.h"

namespace hy::cuda {
namespace {

// Makes `device` current for the scope (cudaMalloc/cudaFree act on the current device).
struct DeviceGuard {
  int previous = -1;
  explicit DeviceGuard(int device) {
    HY_CUDA_CHECK(cudaGetDevice(&previous));
    if (previous != device) HY_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() {
    int now = -1;
    if (cudaGetDevice(&now) == cudaSuccess && now != previous) cudaSetDevice(previous);
  }
};

}  // namespace

int64_t CachingAllocator::size_class(int64_t nbytes) {
  constexpr int64_t kSmall = 512, kMiB = 1 << 20;
  if (nbytes <= 0) return kSmall;
  if (nbytes < kMiB) return (nbytes + kSmall - 1) / kSmall * kSmall;
  if (nbytes >= 16 * kMiB) return (nbytes + 2 * kMiB - 1) / (2 * kMiB) * (2 * kMiB);
  int64_t pow2 = 1;
  while (pow2 < nbytes) pow2 <<= 1;
  const int64_t step = pow2 / 8;
  return (nbytes + step - 1) / step * step;
}

CachingAllocator::PerDevice& CachingAllocator::per_device(int device) { return devices_[device]; }

void* CachingAllocator::allocate(int64_t nbytes, int device, cudaStream_t stream) {
  const int64_t size = size_class(nbytes);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto lists = free_.find({device, stream});
    if (lists != free_.end()) {
      auto it = lists->second.find(size);
      if (it != lists->second.end()) {
        void* p = it->second;
        lists->second.erase(it);
        live_[p] = Block{size, device, stream};
        PerDevice& d = per_device(device);
        d.allocated += size;
        d.peak = std::max(d.peak, d.allocated);
        return p;
      }
    }
  }
  DeviceGuard guard(device);
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, static_cast<size_t>(size));
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // clear the sticky-free error before retrying
    {
      std::lock_guard<std::mutex> lock(mu_);
      release_cached_locked(device);
    }
    err = cudaMalloc(&p, static_cast<size_t>(size));
  }
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    DeviceMemoryStats s = stats(device);
    throw RuntimeError(str("CUDA out of memory: tried to allocate ", nbytes, " bytes on cuda:", device, " (",
                           s.allocated, " bytes allocated by hyflow, ", s.reserved, " reserved; ",
                           cudaGetErrorString(err), ")"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  live_[p] = Block{size, device, stream};
  PerDevice& d = per_device(device);
  d.reserved += size;
  d.allocated += size;
  d.peak = std::max(d.peak, d.allocated);
  return p;
}

void CachingAllocator::free(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(ptr);
  if (it == live_.end()) return;  // not ours: nothing to do (never happens for our storages)
  const Block b = it->second;
  live_.erase(it);
  per_device(b.device).allocated -= b.size;
  free_[{b.device, b.stream}].emplace(b.size, ptr);
}

void CachingAllocator::release_cached_locked(int device) {
  for (auto& [key, blocks] : free_) {
    if (device >= 0 && key.first != device) continue;
    for (auto& [size, p] : blocks) {
      cudaFree(p);  // errors here (a lost device) leave nothing better to do than forget the block
      per_device(key.first).reserved -= size;
    }
    blocks.clear();
  }
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  release_cached_locked(-1);
}

DeviceMemoryStats CachingAllocator::stats(int device) {
  std::lock_guard<std::mutex> lock(mu_);
  const PerDevice& d = per_device(device);
  return DeviceMemoryStats{d.allocated, d.reserved, d.peak};
}

void CachingAllocator::reset_peak(int device) {
  std::lock_guard<std::mutex> lock(mu_);
  PerDevice& d = per_device(device);
  d.peak = d.allocated;
}

CachingAllocator& caching_allocator() {
  static CachingAllocator* a = new CachingAllocator();
  return *a;
}

}  // namespace hy::cuda
