#include "amp/autocast.h"

#include "autograd/autograd_meta.h"
#include "dispatch/capture_hook.h"
#include "hyflow/ops/tensor.h"

namespace hy::amp {
namespace {

bool takes_part(const Tensor& t) {
  return t.defined() && dtype_is_floating(t.dtype()) && !t.impl()->is_wrapped_number();
}

// A weight is cast once per outermost region (torch's rule: leaves that require grad). Not while a
// capture records: a cached cast made before it would enter the graph as an external tensor, cut off
// from the weight it came from, and a replay after an optimizer step would read stale values.
bool cacheable(const Tensor& t) {
  return autocast::state().cache_enabled && autograd::requires_grad(t) && autograd::is_leaf(t) &&
         capture::active_hook() == nullptr;
}

Tensor cast_to(const Tensor& t, DType target) {
  if (!cacheable(t)) return ops::to_dtype(t, target, false);
  auto& cache = autocast::cast_cache().by_source[static_cast<int>(target)];
  const uint64_t version = t.storage()->version();
  auto it = cache.find(t.impl());
  if (it != cache.end() && it->second.version == version) return it->second.cast;
  Tensor cast = ops::to_dtype(t, target, false);
  cache[t.impl()] = {t, version, cast};
  return cast;
}

}  // namespace

AutocastCall::AutocastCall(Policy policy, std::optional<DType> declared_dtype) : policy_(policy) {
  if (policy == Policy::Lower) target_ = declared_dtype ? *declared_dtype : autocast::state().dtype;
  if (policy == Policy::Fp32) target_ = DType::Float32;
}

void AutocastCall::consider(const Tensor& t) {
  if (policy_ != Policy::Promote || !takes_part(t)) return;
  target_ = target_ ? promote_types(*target_, t.dtype()) : t.dtype();
}

Tensor AutocastCall::cast(const Tensor& t) const {
  if (!target_ || !takes_part(t) || t.dtype() == *target_) return t;
  switch (policy_) {
    case Policy::Lower:  // float64 stays: lowering it would lose more than the region asked for
      return t.dtype() == DType::Float64 ? t : cast_to(t, *target_);
    case Policy::Fp32:
      return (t.dtype() == DType::Float16 || t.dtype() == DType::BFloat16) ? cast_to(t, *target_) : t;
    case Policy::Promote:
      return cast_to(t, *target_);
  }
  return t;
}

std::vector<Tensor> AutocastCall::cast(const std::vector<Tensor>& ts) const {
  std::vector<Tensor> r;
  r.reserve(ts.size());
  for (const Tensor& t : ts) r.push_back(cast(t));
  return r;
}

}  // namespace hy::amp
