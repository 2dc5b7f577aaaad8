#include "core/storage.h"

#include <sys/mman.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>

#include "core/error.h"

namespace hy {
namespace {

// Large blocks are 2 MiB aligned and marked for transparent huge pages: a fresh 64 MiB output then
// takes 32 page faults instead of 16384, which is most of the cost of `x + y` on large tensors
// (NumPy does the same). Small blocks keep the 64-byte alignment.
constexpr int64_t kHugePage = 2 << 20;
constexpr int64_t kHugeThreshold = 4 << 20;

// Freed large blocks (>= kCacheThreshold) are kept for reuse by a later allocation of the same rounded size:
// training steps allocate the same activation/gradient shapes every iteration, and a fresh block costs
// page faults plus the kernel zeroing every page. At most kCacheLimit bytes stay cached.
constexpr int64_t kCacheThreshold = 1 << 20;
constexpr int64_t kCacheLimit = int64_t(256) << 20;

struct BlockCache {
  std::mutex mu;
  std::multimap<int64_t, void*> free_blocks;  // rounded size -> block
  int64_t cached = 0;

  void* take(int64_t size) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = free_blocks.find(size);
    if (it == free_blocks.end()) return nullptr;
    void* p = it->second;
    free_blocks.erase(it);
    cached -= size;
    return p;
  }
  void give(void* p, int64_t size) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (cached + size <= kCacheLimit) {
        free_blocks.emplace(size, p);
        cached += size;
        return;
      }
    }
    std::free(p);
  }
};

// Never destroyed: storages freed during interpreter shutdown may still return blocks to it.
BlockCache& block_cache() {
  static BlockCache* cache = new BlockCache();
  return *cache;
}

}  // namespace

std::shared_ptr<StorageImpl> StorageImpl::allocate_cpu(int64_t nbytes) {
  HY_CHECK(nbytes >= 0, ValueError, "cannot allocate a negative number of bytes (", nbytes, ")");
  int64_t align = nbytes >= kHugeThreshold ? kHugePage : kAllocAlignment;
  // aligned_alloc wants a size that is a multiple of the alignment; never ask for 0 bytes.
  if (nbytes > INT64_MAX - align) throw std::bad_alloc();
  int64_t rounded = (nbytes + align - 1) / align * align;
  if (rounded == 0) rounded = align;
  const bool cacheable = rounded >= kCacheThreshold;
  void* p = cacheable ? block_cache().take(rounded) : nullptr;
  if (!p) {
    p = std::aligned_alloc(static_cast<size_t>(align), static_cast<size_t>(rounded));
    if (!p) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    if (align == kHugePage) madvise(p, static_cast<size_t>(rounded), MADV_HUGEPAGE);  // a hint; failure is harmless
#endif
  }
  std::shared_ptr<void> owner = cacheable
      ? std::shared_ptr<void>(p, [rounded](void* q) { block_cache().give(q, rounded); })
      : std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  return std::make_shared<StorageImpl>(p, nbytes, kCPU, std::move(owner));
}

}  // namespace hy
