// The autocast rules: how an op's declared `autocast` policy (csrc/ops/table, field `autocast`) changes
// its inputs inside an autocast region. The generated front function of every op with a policy other than
// `none` does, when autocast::active():
//
//   amp::AutocastCall ac(amp::Policy::Lower, std::nullopt);   // the op's policy and declared dtype
//   ac.consider(self); ac.consider(other);                     // promote: find the widest float input
//   return ops::mm(ac.cast(self), ac.cast(other));             // inner call: autocast suspended
//
// Policies (PyTorch's CPU autocast semantics, docs/amp.md):
//   lower    floating inputs other than float64 run in the region's dtype (or the op's declared one)
//   fp32     float16/bfloat16 inputs run in float32
//   promote  floating inputs run in the widest floating dtype among them
// Casts go through ops::to_dtype, so autograd records them (gradients come back in the input's dtype)
// and a capture records them. Python numbers (wrapped 0-d tensors) and non-float tensors are left alone.
#pragma once
#include <optional>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "dispatch/autocast_state.h"

namespace hy::amp {

enum class Policy { Lower, Fp32, Promote };

/// One op call under autocast. While it lives, autocast is suspended (the inner call and the casts see
/// none), so construct it, cast the arguments and make the inner call in one statement's scope.
class AutocastCall {
 public:
  AutocastCall(Policy policy, std::optional<DType> declared_dtype);
  void consider(const Tensor& t);
  void consider(const std::optional<Tensor>& t) {
    if (t) consider(*t);
  }
  void consider(const std::vector<Tensor>& ts) {
    for (const Tensor& t : ts) consider(t);
  }
  Tensor cast(const Tensor& t) const;
  std::optional<Tensor> cast(const std::optional<Tensor>& t) const {
    return t ? std::optional<Tensor>(cast(*t)) : t;
  }
  std::vector<Tensor> cast(const std::vector<Tensor>& ts) const;

 private:
  Policy policy_;
  std::optional<DType> target_;  // unset: nothing to cast (promote with no floating input)
  autocast::Suspend suspend_;
};

}  // namespace hy::amp
