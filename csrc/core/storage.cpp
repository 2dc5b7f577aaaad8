#include "core/storage.h"

#include <cstdlib>
#include <new>

#include "core/error.h"

namespace hy {

std::shared_ptr<StorageImpl> StorageImpl::allocate_cpu(int64_t nbytes) {
  HY_CHECK(nbytes >= 0, ValueError, "cannot allocate a negative number of bytes (", nbytes, ")");
  // aligned_alloc wants a size that is a multiple of the alignment; never ask for 0 bytes.
  int64_t rounded = (nbytes + kAllocAlignment - 1) / kAllocAlignment * kAllocAlignment;
  if (rounded == 0) rounded = kAllocAlignment;
  if (rounded < nbytes) throw std::bad_alloc();
  void* p = std::aligned_alloc(kAllocAlignment, static_cast<size_t>(rounded));
  if (!p) throw std::bad_alloc();
  std::shared_ptr<void> owner(p, [](void* q) { std::free(q); });
  return std::make_shared<StorageImpl>(p, nbytes, kCPU, std::move(owner));
}

}  // namespace hy
