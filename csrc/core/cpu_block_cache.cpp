#include "core/cpu_block_cache.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace hy {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUnderAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kUnderAsan = true;
#else
constexpr bool kUnderAsan = false;
#endif
#else
constexpr bool kUnderAsan = false;
#endif

bool read_enabled() {
  if (kUnderAsan) return false;
  const char* v = std::getenv("HYFLOW_CPU_CACHE");
  return !(v && (std::strcmp(v, "0") == 0 || std::strcmp(v, "off") == 0 || std::strcmp(v, "false") == 0));
}

struct BlockCache {
  std::mutex mu;
  std::multimap<int64_t, void*> free_blocks;  // size -> block
  CpuCacheStats stats;
};

// Never destroyed: storages freed during interpreter shutdown may still return blocks to it.
BlockCache& cache() {
  static BlockCache* c = [] {
    auto* b = new BlockCache();
    b->stats.enabled = read_enabled();
    return b;
  }();
  return *c;
}

}  // namespace

bool cpu_block_cache_enabled() { return cache().stats.enabled; }

void* cpu_block_cache_take(int64_t size) {
  BlockCache& c = cache();
  if (!c.stats.enabled) return nullptr;
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.free_blocks.find(size);
  if (it == c.free_blocks.end()) {
    ++c.stats.misses;
    return nullptr;
  }
  void* p = it->second;
  c.free_blocks.erase(it);
  c.stats.cached_bytes -= size;
  --c.stats.cached_blocks;
  ++c.stats.hits;
  return p;
}

void cpu_block_cache_give(void* p, int64_t size) {
  BlockCache& c = cache();
  if (c.stats.enabled) {
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.stats.cached_bytes + size <= kCpuCacheLimit) {
      c.free_blocks.emplace(size, p);
      c.stats.cached_bytes += size;
      ++c.stats.cached_blocks;
      return;
    }
  }
  std::free(p);
}

void cpu_block_cache_release() {
  BlockCache& c = cache();
  std::multimap<int64_t, void*> blocks;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    blocks.swap(c.free_blocks);
    c.stats.released_bytes += c.stats.cached_bytes;
    c.stats.cached_bytes = 0;
    c.stats.cached_blocks = 0;
  }
  for (auto& kv : blocks) std::free(kv.second);  // outside the lock: munmap can take a while
}

CpuCacheStats cpu_block_cache_stats() {
  BlockCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.stats;
}

void cpu_block_cache_reset_counters() {
  BlockCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.hits = c.stats.misses = c.stats.released_bytes = 0;
}

}  // namespace hy
