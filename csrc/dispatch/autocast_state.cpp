#include "dispatch/autocast_state.h"

#include <string>
#include <vector>

#include "core/error.h"

namespace hy::autocast {
namespace {
// Per thread, as torch's autocast: a region covers the code of the thread that opened it; kernels' worker
// threads never dispatch ops.
thread_local State tls_state;
thread_local std::vector<State> tls_enclosing;  // the states the open regions replaced, innermost last
thread_local CastCache tls_cache;
}  // namespace

State& state() { return tls_state; }
CastCache& cast_cache() { return tls_cache; }

void push_region(bool enabled, DType dtype, bool cache_enabled) {
  if (enabled && dtype != DType::Float16 && dtype != DType::BFloat16)
    throw ValueError(std::string("autocast: dtype must be float16 or bfloat16, got ") + dtype_name(dtype));
  tls_enclosing.push_back(tls_state);
  tls_state.enabled = enabled;
  tls_state.dtype = dtype;
  tls_state.cache_enabled = cache_enabled;
}

void pop_region() {
  if (tls_enclosing.empty()) throw RuntimeError("autocast: exit without a matching enter on this thread");
  const int suspended = tls_state.suspended;  // a Suspend scope is not a region's to undo
  tls_state = tls_enclosing.back();
  tls_state.suspended = suspended;
  tls_enclosing.pop_back();
  if (tls_enclosing.empty()) tls_cache.clear();
}

int region_depth() { return static_cast<int>(tls_enclosing.size()); }

}  // namespace hy::autocast
