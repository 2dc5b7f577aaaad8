// The device memory allocator: freed blocks stay cached, per device and per stream, in size classes, so
// a training step that allocates the same shapes every iteration never calls cudaMalloc (which
// synchronizes the device) after the first one. A block is reused only on the stream it was freed on,
// so stream order alone makes the reuse safe. A block that record_stream() marked as used by other
// streams too is held back when freed: an event is recorded on each of those streams at free time, and
// the block joins its free list only once every one of them has completed (as torch's record_stream).
//
//   void* p = allocator.allocate(nbytes, device, stream);
//   allocator.record_stream(p, side_stream);   // p is also read or written by work on side_stream
//   allocator.free(p);   // back to (device, stream)'s free list once side_stream's work so far is done
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/device_backend.h"

namespace hy::cuda {

class CachingAllocator {
 public:
  /// Memory of at least `nbytes` on `device`, reused from `stream`'s free list when a block of the same
  /// size class is cached; on out-of-memory the cache is emptied and the allocation retried once.
  void* allocate(int64_t nbytes, int device, cudaStream_t stream);
  /// Return a block from allocate() to its free list (after the work of its recorded streams, if any).
  void free(void* ptr);
  /// Mark the live block `ptr` as used by work on `stream` (no effect on the block's own stream, or on
  /// memory this allocator did not hand out).
  void record_stream(const void* ptr, cudaStream_t stream);
  /// cudaFree every cached block (of every device); blocks waiting for their streams are waited for first.
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
    std::vector<cudaStream_t> uses;  // other streams the block was recorded on (record_stream)
  };
  struct Pending {
    Block block;
    int events_left;
  };
  struct PerDevice {
    int64_t allocated = 0, reserved = 0, peak = 0;
  };
  void release_cached_locked(int device);  // device < 0: all
  PerDevice& per_device(int device);
  // Moves held-back blocks whose events have all completed (wait: synchronize on each event first) to
  // their free lists.
  void process_events_locked(bool wait);
  // Records one event on each stream of b.uses and returns how many; 0 when the runtime refused one (a
  // destroyed stream), after waiting for the whole device instead.
  int record_uses_locked(void* ptr, const Block& b);

  std::mutex mu_;
  std::unordered_map<void*, Block> live_;
  // (device, stream) -> size -> cached blocks
  std::map<std::pair<int, cudaStream_t>, std::multimap<int64_t, void*>> free_;
  std::map<int, PerDevice> devices_;
  std::unordered_map<void*, Pending> pending_;               // freed, waiting for recorded streams
  std::vector<std::pair<cudaEvent_t, void*>> pending_events_;  // (event, its block), in record order
  // Completed events, reused, per device: an event can only be recorded on streams of its own device.
  std::map<int, std::vector<cudaEvent_t>> spare_events_;
};

/// The process's allocator (never destroyed: tensors freed during interpreter exit still return blocks).
CachingAllocator& caching_allocator();

}  // namespace hy::cuda
