// The device memory allocator: freed blocks stay cached, per device and per stream, in size classes, so
// a training step that allocates the same shapes every iteration never calls cudaMalloc (which
// synchronizes the device) after the first one. A block is reused only on the stream it was freed on,
// so stream order alone makes the reuse safe (memory used on a second stream must be kept alive by the
// caller until that stream is done, as with torch's record_stream).
//
//   void* p = allocator.allocate(nbytes, device, stream);
//   allocator.free(p);   // back to (device, stream)'s free list
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>

#include "core/device_backend.h"

namespace hy::cuda {

class CachingAllocator {
 public:
  /// Memory of at least `nbytes` on `device`, reused from `stream`'s free list when a block of the same
  /// size class is cached; on out-of-memory the cache is emptied and the allocation retried once.
  void* allocate(int64_t nbytes, int device, cudaStream_t stream);
  /// Return a block from allocate() to its free list.
  void free(void* ptr);
  /// cudaFree every cached block (of every device).
  void empty_cache();
  DeviceMemoryStats stats(int device);
  void reset_peak(int device);
  /// The size a request of `nbytes` is rounded up to (its class): 512 B steps below 1 MiB, then 1/8 of
  /// the next power of two, 2 MiB steps from 16 MiB up.
  static int64_t size_class(int64_t nbytes);

 private:
  struct Block {
    int64_t size;
    int device;
    cudaStream_t stream;
  };
  struct PerDevice {
    int64_t allocated = 0, reserved = 0, peak = 0;
  };
  void release_cached_locked(int device);  // device < 0: all
  PerDevice& per_device(int device);

  std::mutex mu_;
  std::unordered_map<void*, Block> live_;
  // (device, stream) -> size -> cached blocks
  std::map<std::pair<int, cudaStream_t>, std::multimap<int64_t, void*>> free_;
  std::map<int, PerDevice> devices_;
};

/// The process's allocator (never destroyed: tensors freed during interpreter exit still return blocks).
CachingAllocator& caching_allocator();

}  // namespace hy::cuda
