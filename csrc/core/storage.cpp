#include "core/storage.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <new>

#include "core/cpu_block_cache.h"
#include "core/error.h"

namespace hy {
namespace {

// Large blocks are 2 MiB aligned and marked for transparent huge pages: a fresh 64 MiB output then
// takes 32 page faults instead of 16384, which is most of the cost of `x + y` on large tensors
// (NumPy does the same). Small blocks keep the 64-byte alignment.
constexpr int64_t kHugePage = 2 << 20;
constexpr int64_t kHugeThreshold = 4 << 20;

// Below the huge-page sizes, cached blocks come in classes of 1/8 of a power of two (at most 12.5% unused),
// so that nearby sizes share blocks instead of each size holding its own.
int64_t size_class(int64_t n) {
  int64_t pow2 = 1;
  while (pow2 < n) pow2 <<= 1;
  int64_t step = pow2 / 8;
  return (n + step - 1) / step * step;
}

// Tensors of a few elements (the 0-d tensor a Python number becomes, a 1-element result, a small bias)
// are where per-op overhead shows: their bytes live inside the StorageImpl's own allocation, which
// make_shared also shares with the reference counts, so such a storage costs one malloc instead of three
// (an aligned block, the owner's control block, the StorageImpl). malloc only promises 16-byte
// alignment, so the buffer has room to start the data at the next 64-byte boundary (asking make_shared
// for a 64-aligned type would go through aligned operator new, the slow memalign path again).
constexpr int64_t kInlineBytes = 64;

class InlineStorage : public StorageImpl {
 public:
  explicit InlineStorage(int64_t nbytes) : StorageImpl(aligned_start(buffer_), nbytes, kCPU, nullptr) {}

 private:
  static void* aligned_start(unsigned char* p) {
    auto a = reinterpret_cast<uintptr_t>(p);
    return reinterpret_cast<void*>((a + kAllocAlignment - 1) & ~uintptr_t(kAllocAlignment - 1));
  }
  unsigned char buffer_[kInlineBytes + kAllocAlignment - 1];
};

}  // namespace

std::shared_ptr<StorageImpl> StorageImpl::allocate_cpu(int64_t nbytes) {
  HY_CHECK(nbytes >= 0, ValueError, "cannot allocate a negative number of bytes (", nbytes, ")");
  if (nbytes <= kInlineBytes) return std::make_shared<InlineStorage>(nbytes);
  int64_t align = nbytes >= kHugeThreshold ? kHugePage : kAllocAlignment;
  // aligned_alloc wants a size that is a multiple of the alignment; never ask for 0 bytes.
  if (nbytes > INT64_MAX - align) throw std::bad_alloc();
  int64_t rounded = (nbytes + align - 1) / align * align;
  if (rounded == 0) rounded = align;
  // Freed blocks from kCpuCacheThreshold bytes up go to the block cache (core/cpu_block_cache.h).
  const bool cacheable = rounded >= kCpuCacheThreshold && cpu_block_cache_enabled();
  if (cacheable && align != kHugePage) rounded = size_class(rounded);
  void* p = cacheable ? cpu_block_cache_take(rounded) : nullptr;
  if (!p) {
    p = std::aligned_alloc(static_cast<size_t>(align), static_cast<size_t>(rounded));
    if (!p) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    if (align == kHugePage) madvise(p, static_cast<size_t>(rounded), MADV_HUGEPAGE);  // a hint; failure is harmless
#endif
  }
  std::shared_ptr<void> owner = cacheable
      ? std::shared_ptr<void>(p, [rounded](void* q) { cpu_block_cache_give(q, rounded); })
      : std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  return std::make_shared<StorageImpl>(p, nbytes, kCPU, std::move(owner));
}

}  // namespace hy
