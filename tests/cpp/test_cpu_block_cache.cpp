// The CPU block cache (core/cpu_block_cache.h): a freed large storage's block is reused by the next
// allocation of its size, bounded, released on request; under AddressSanitizer nothing is cached, so a
// use-after-free of a freed storage's memory is still reported (the block really is freed).
#include <gtest/gtest.h>

#include <cstdlib>

#include "core/cpu_block_cache.h"
#include "core/storage.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace hy {
namespace {

constexpr int64_t kBlock = int64_t(1) << 20;

#if defined(__SANITIZE_ADDRESS__)
TEST(CpuBlockCache, OffUnderAsanSoAFreedBlockIsPoisoned) {
  EXPECT_FALSE(cpu_block_cache_enabled());
  void* p = nullptr;
  {
    auto s = StorageImpl::allocate_cpu(kBlock);
    p = s->data();
  }
  EXPECT_TRUE(__asan_address_is_poisoned(p));  // freed, in ASan's quarantine: a read would be reported
  EXPECT_EQ(cpu_block_cache_stats().cached_blocks, 0);
}
#else
TEST(CpuBlockCache, ReusesTheFreedBlockOfTheSameSize) {
  if (!cpu_block_cache_enabled()) GTEST_SKIP() << "HYFLOW_CPU_CACHE=0";
  cpu_block_cache_release();
  void* p = nullptr;
  {
    auto s = StorageImpl::allocate_cpu(kBlock);
    p = s->data();
  }
  EXPECT_EQ(cpu_block_cache_stats().cached_blocks, 1);
  auto again = StorageImpl::allocate_cpu(kBlock);
  EXPECT_EQ(again->data(), p);
  EXPECT_EQ(cpu_block_cache_stats().cached_blocks, 0);
}

TEST(CpuBlockCache, ReleaseFreesEveryCachedBlockAndGiveBeyondTheLimitFrees) {
  if (!cpu_block_cache_enabled()) GTEST_SKIP() << "HYFLOW_CPU_CACHE=0";
  cpu_block_cache_release();
  { auto a = StorageImpl::allocate_cpu(kBlock), b = StorageImpl::allocate_cpu(2 * kBlock); }
  EXPECT_EQ(cpu_block_cache_stats().cached_blocks, 2);
  cpu_block_cache_release();
  CpuCacheStats s = cpu_block_cache_stats();
  EXPECT_EQ(s.cached_blocks, 0);
  EXPECT_EQ(s.cached_bytes, 0);
  // A block larger than the whole limit is freed, not kept.
  void* big = std::aligned_alloc(64, static_cast<size_t>(kCpuCacheLimit + kBlock));
  ASSERT_NE(big, nullptr);
  cpu_block_cache_give(big, kCpuCacheLimit + kBlock);
  EXPECT_EQ(cpu_block_cache_stats().cached_bytes, 0);
}
#endif

}  // namespace
}  // namespace hy
