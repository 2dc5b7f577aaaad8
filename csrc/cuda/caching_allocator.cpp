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

// The same without exceptions, for free(), which runs inside storage deleters.
struct QuietDeviceGuard {
  int previous = -1;
  explicit QuietDeviceGuard(int device) {
    if (cudaGetDevice(&previous) != cudaSuccess) previous = -1;
    if (previous != device) cudaSetDevice(device);
  }
  ~QuietDeviceGuard() {
    int now = -1;
    if (previous >= 0 && cudaGetDevice(&now) == cudaSuccess && now != previous) cudaSetDevice(previous);
  }
};

}  // namespace

int64_t CachingAllocator::size_class(int64_t nbytes) {
  constexpr int64_t kSmall = 512, kMiB = 1 << 20;
  if (nbytes <= 0) return kSmall;
  if (nbytes < kMiB) return (nbytes + kSmall - 1) / kSmall * kSmall;
  // Rounding up would overflow int64 (a request that no GPU can satisfy anyway): cudaMalloc refuses it.
  if (nbytes > INT64_MAX - 2 * kMiB) return nbytes;
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
    if (!pending_events_.empty()) process_events_locked(false);
    auto lists = free_.find({device, stream});
    if (lists != free_.end()) {
      auto it = lists->second.find(size);
      if (it != lists->second.end()) {
        void* p = it->second;
        lists->second.erase(it);
        live_[p] = Block{size, device, stream, {}};
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
      process_events_locked(true);  // blocks held back for other streams join the cache, then go too
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
  live_[p] = Block{size, device, stream, {}};
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
  Block b = std::move(it->second);
  live_.erase(it);
  per_device(b.device).allocated -= b.size;
  if (!b.uses.empty()) {
    const int events = record_uses_locked(ptr, b);
    if (events > 0) {
      pending_.emplace(ptr, Pending{std::move(b), events});
      return;
    }
  }
  free_[{b.device, b.stream}].emplace(b.size, ptr);
}

int CachingAllocator::record_uses_locked(void* ptr, const Block& b) {
  QuietDeviceGuard guard(b.device);  // events live on the block's device, like its streams
  std::vector<cudaEvent_t>& spare = spare_events_[b.device];
  std::vector<cudaEvent_t> recorded;
  bool ok = true;
  for (cudaStream_t s : b.uses) {
    cudaEvent_t e = nullptr;
    if (!spare.empty()) {
      e = spare.back();
      spare.pop_back();
    } else if (cudaEventCreateWithFlags(&e, cudaEventDisableTiming) != cudaSuccess) {
      e = nullptr;
    }
    if (e && cudaEventRecord(e, s) == cudaSuccess) {
      recorded.push_back(e);
      continue;
    }
    if (e) spare.push_back(e);
    ok = false;
    break;
  }
  if (!ok) {
    // A recorded stream was destroyed (or the runtime failed): no event can track its work, so wait for
    // everything queued on the device; the block is then free at once.
    (void)cudaGetLastError();
    cudaDeviceSynchronize();
    (void)cudaGetLastError();
    spare.insert(spare.end(), recorded.begin(), recorded.end());
    return 0;
  }
  for (cudaEvent_t e : recorded) pending_events_.emplace_back(e, ptr);
  return static_cast<int>(recorded.size());
}

void CachingAllocator::record_stream(const void* ptr, cudaStream_t stream) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(const_cast<void*>(ptr));
  if (it == live_.end()) return;  // not a block of ours (DLPack-imported memory): its owner orders it
  Block& b = it->second;
  if (stream == b.stream) return;  // the allocation stream orders reuse by itself
  for (cudaStream_t s : b.uses)
    if (s == stream) return;
  b.uses.push_back(stream);
}

void CachingAllocator::process_events_locked(bool wait) {
  size_t kept = 0;
  for (size_t i = 0; i < pending_events_.size(); ++i) {
    auto [event, ptr] = pending_events_[i];
    const cudaError_t r = wait ? cudaEventSynchronize(event) : cudaEventQuery(event);
    if (r == cudaErrorNotReady) {
      (void)cudaGetLastError();
      pending_events_[kept++] = pending_events_[i];
      continue;
    }
    // Completed, or an error that leaves nothing to wait for (a lost device): the block is free either way.
    if (r != cudaSuccess) (void)cudaGetLastError();
    auto p = pending_.find(ptr);
    if (p == pending_.end()) continue;  // never: a block waits in pending_ until its last event completed
    spare_events_[p->second.block.device].push_back(event);
    if (--p->second.events_left == 0) {
      const Block& b = p->second.block;
      free_[{b.device, b.stream}].emplace(b.size, ptr);
      pending_.erase(p);
    }
  }
  pending_events_.resize(kept);
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
  process_events_locked(true);  // blocks held back for other streams: wait for that work, then release
  release_cached_locked(-1);
}

DeviceMemoryStats CachingAllocator::stats(int device) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!pending_events_.empty()) process_events_locked(false);
  const PerDevice& d = per_device(device);
  int64_t pending = 0;
  for (const auto& [ptr, p] : pending_) pending += p.block.device == device;
  return DeviceMemoryStats{d.allocated, d.reserved, d.peak, pending};
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
