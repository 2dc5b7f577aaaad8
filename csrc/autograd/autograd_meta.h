// Per-tensor autograd state, stored in TensorImpl's autograd_meta slot, and the functions that read
// and write it. A tensor with no meta does not require grad; that keeps the no-autograd path free.
//
//   set_requires_grad(w, true);          // w becomes a leaf that accumulates into w.grad
//   Tensor y = ops::mul(x, w);           // y.grad_fn() is MulBackward0
#pragma once
#include <memory>
#include <vector>

#include "autograd/node.h"
#include "core/tensor.h"

namespace hy::autograd {

/// requires_grad, .grad, grad_fn and hooks of one tensor.
struct AutogradMeta : AutogradMetaBase {
  bool requires_grad = false;
  bool retains_grad = false;
  uint32_t output_nr = 0;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  std::weak_ptr<Node> grad_accumulator;
  std::vector<TensorHook> hooks;                   // leaf hooks (non-leaf hooks live on grad_fn)
  std::vector<PostAccumulateHook> post_acc_hooks;  // leaves only
};

/// The meta of `t`, or null when it has none.
inline AutogradMeta* meta_of(const Tensor& t) {
  return t.defined() ? static_cast<AutogradMeta*>(t.impl()->autograd_meta()) : nullptr;
}
/// The meta of `t`, created on first use.
AutogradMeta& ensure_meta(const Tensor& t);

/// Whether `t` requires grad (a leaf marked so, or the result of a recorded op).
inline bool requires_grad(const Tensor& t) {
  auto* m = meta_of(t);
  return m && m->requires_grad;
}
/// Mark a leaf as requiring grad (or not). Raises for non-leaves and non-float dtypes.
void set_requires_grad(const Tensor& t, bool value);
inline std::shared_ptr<Node> grad_fn(const Tensor& t) {
  auto* m = meta_of(t);
  return m ? m->grad_fn : nullptr;
}
inline bool is_leaf(const Tensor& t) { return !grad_fn(t); }
/// The AccumulateGrad node of leaf `t` (created on first use, kept alive by the graph only).
std::shared_ptr<Node> grad_accumulator(const Tensor& t);
/// The edge a gradient for `t` flows into (invalid when `t` does not require grad).
Edge gradient_edge(const Tensor& t);
/// Make `t` output `output_nr` of `node` (replacing any previous history, as in-place ops do).
void set_history(const Tensor& t, const std::shared_ptr<Node>& node, uint32_t output_nr);
/// A new handle on the same memory with no autograd history.
Tensor detach(const Tensor& t);
/// Only floating dtypes can carry gradients.
bool dtype_differentiable(DType dt);

}  // namespace hy::autograd
