// The CPU block cache behind StorageImpl::allocate_cpu: freed blocks of kCpuCacheThreshold bytes and more
// are kept, per size class, for the next allocation of that class instead of being returned to the system.
//
//   void* p = cpu_block_cache_take(size);     // a cached block of exactly `size` bytes, or nullptr
//   cpu_block_cache_give(p, size);            // keep it (or free it: cache full or disabled)
//
// Why: training steps and time-stepping loops allocate the same shapes every iteration, and a fresh large
// block costs page faults plus the kernel zeroing every page (glibc serves blocks from 128 KiB up with
// mmap and unmaps them on free). A block is given back only by the deleter of the last storage owning it,
// so a cached block is never handed out while a tensor or view of it is alive.
//
// Bounded (kCpuCacheLimit bytes in all), thread-safe (one mutex: taking/giving is a map operation, rare
// next to the kernels that fill the blocks). Disabled with HYFLOW_CPU_CACHE=0 (read once, at the first
// allocation) and always under AddressSanitizer: a cached block would hide a use-after-free from it.
#pragma once
#include <cstdint>

namespace hy {

/// Blocks below this many bytes are not cached (malloc's own bins serve them).
constexpr int64_t kCpuCacheThreshold = 64 << 10;
/// At most this many bytes stay cached.
constexpr int64_t kCpuCacheLimit = int64_t(256) << 20;

struct CpuCacheStats {
  bool enabled = false;
  int64_t cached_bytes = 0;    // held by the cache now
  int64_t cached_blocks = 0;
  int64_t limit_bytes = kCpuCacheLimit;
  int64_t hits = 0;            // cacheable allocations served from the cache
  int64_t misses = 0;          // cacheable allocations that needed a fresh block
  int64_t released_bytes = 0;  // given back to the system by cpu_block_cache_release
};

/// Whether freed blocks are cached in this process (false under ASan or with HYFLOW_CPU_CACHE=0).
bool cpu_block_cache_enabled();
/// A cached block of exactly `size` bytes (then owned by the caller), or nullptr; counts a hit or miss.
void* cpu_block_cache_take(int64_t size);
/// Hand a block of `size` bytes (from std::aligned_alloc) to the cache; frees it when it does not fit.
void cpu_block_cache_give(void* p, int64_t size);
/// Free every cached block (blocks in use are untouched: they come back when their storage dies).
void cpu_block_cache_release();
CpuCacheStats cpu_block_cache_stats();
/// Zero the hit/miss/released counters.
void cpu_block_cache_reset_counters();

}  // namespace hy
