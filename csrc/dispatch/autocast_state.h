// Autocast state of the calling thread: whether an autocast region is open, its lower-precision dtype,
// and the cast cache. The state lives in the dispatch layer (like the capture hook) so the autograd engine
// can suspend it while it runs backward formulas; the casting rules live in amp/autocast.h.
//
//   autocast::RegionGuard region(true, DType::BFloat16, /*cache_enabled=*/true);   // hy.autocast(...)
//   if (autocast::active()) ...       // true inside an enabled region, unless suspended
//   { autocast::Suspend off; ... }    // the ops called here see no autocast (inner calls, backward)
#pragma once
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace hy::autocast {

struct State {
  bool enabled = false;
  DType dtype = DType::BFloat16;  // the region's lower-precision dtype (float16 or bfloat16)
  bool cache_enabled = true;
  int suspended = 0;               // > 0 while an op autocast already handled runs, or backward runs
};

/// This thread's state.
State& state();

/// True when ops should apply their autocast policy now.
inline bool active() {
  const State& s = state();
  return s.enabled && s.suspended == 0;
}

/// Opens a region (`hy.autocast`'s __enter__): sets enabled/dtype/cache until the matching pop_region.
/// Throws ValueError for a dtype other than float16/bfloat16 (when enabled).
void push_region(bool enabled, DType dtype, bool cache_enabled);
/// Closes the innermost region, restoring the enclosing one; the cast cache is cleared when the
/// outermost region closes. Throws RuntimeError when no region is open on this thread.
void pop_region();
/// Number of regions open on this thread (enabled or not).
int region_depth();

/// push_region / pop_region for a C++ scope.
class RegionGuard {
 public:
  RegionGuard(bool enabled, DType dtype, bool cache_enabled) { push_region(enabled, dtype, cache_enabled); }
  ~RegionGuard() { pop_region(); }
  RegionGuard(const RegionGuard&) = delete;
  RegionGuard& operator=(const RegionGuard&) = delete;
};

/// Hides autocast from the ops called in its scope.
class Suspend {
 public:
  Suspend() { ++state().suspended; }
  ~Suspend() { --state().suspended; }
  Suspend(const Suspend&) = delete;
  Suspend& operator=(const Suspend&) = delete;
};

/// Casts of leaf tensors that require grad (weights), reused within the outermost region as
/// torch does: a model's weights are cast once per forward, not once per use. An entry is valid while
/// its source's version is unchanged (an in-place update inside the region recasts).
struct CastCache {
  struct Entry {
    Tensor source;  // held so its address cannot be reused by another tensor while cached
    uint64_t version;
    Tensor cast;
  };
  std::unordered_map<const void*, Entry> by_source[kNumDTypes];
  void clear() {
    for (auto& m : by_source) m.clear();
  }
  size_t size() const {
    size_t n = 0;
    for (auto& m : by_source) n += m.size();
    return n;
  }
};
CastCache& cast_cache();

}  // namespace hy::autocast
