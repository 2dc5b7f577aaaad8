#include "autograd/autograd_meta.h"

#include "autograd/grad_mode.h"
#include "hyflow/ops/binary.h"
#include "hyflow/ops/creation.h"
#include "hyflow/ops/tensor.h"

namespace hy::autograd {

bool dtype_differentiable(DType dt) { return dtype_is_floating(dt) || dtype_is_complex(dt); }

AutogradMeta& ensure_meta(const Tensor& t) {
  auto* m = meta_of(t);
  if (!m) {
    auto fresh = std::make_shared<AutogradMeta>();
    m = fresh.get();
    t.impl()->set_autograd_meta(std::move(fresh));
  }
  return *m;
}

void set_requires_grad(const Tensor& t, bool value) {
  auto* m = meta_of(t);
  if (m && m->grad_fn) {
    HY_CHECK(value, RuntimeError,
             "you can only change requires_grad flags of leaf variables. If you want to use a computed "
             "variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach().");
    return;
  }
  HY_CHECK(!value || dtype_differentiable(t.dtype()), RuntimeError,
           "only tensors of floating point dtype can require gradients, got ", t.describe());
  if (!m && !value) return;
  ensure_meta(t).requires_grad = value;
}

std::shared_ptr<Node> grad_accumulator(const Tensor& t) {
  auto& m = ensure_meta(t);
  auto acc = m.grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t);
    m.grad_accumulator = acc;
  }
  return acc;
}

Edge gradient_edge(const Tensor& t) {
  auto* m = meta_of(t);
  if (!m || !m->requires_grad) return Edge{};
  if (m->grad_fn) return Edge{m->grad_fn, m->output_nr};
  return Edge{grad_accumulator(t), 0};
}

void set_history(const Tensor& t, const std::shared_ptr<Node>& node, uint32_t output_nr) {
  auto& m = ensure_meta(t);
  m.requires_grad = true;
  m.grad_fn = node;
  m.output_nr = output_nr;
  m.grad_accumulator.reset();
  m.hooks.clear();
}

Tensor detach(const Tensor& t) {
  auto impl = std::make_shared<TensorImpl>(t.storage(), t.shape(), t.strides(), t.offset(), t.dtype());
  impl->set_is_view(t.impl()->is_view());
  return Tensor(std::move(impl));
}

Tensor zeros_for(const OutputInfo& info) { return ops::zeros(info.shape, info.dtype, info.device); }

SavedVariable::SavedVariable(const Tensor& t, bool is_output) : is_output_(is_output), was_defined_(t.defined()) {
  if (!t.defined()) return;
  version_ = t.storage()->version();
  requires_grad_ = requires_grad(t);
  if (is_output) {
    // Holding the output with its grad_fn would make node -> output -> node a cycle.
    data_ = detach(t);
    if (auto* m = meta_of(t)) output_nr_ = m->output_nr;
  } else {
    data_ = t;
  }
}

void SavedVariable::reset() {
  data_ = Tensor();
  released_ = true;
}

Tensor SavedVariable::unpack(const std::shared_ptr<Node>& owner) const {
  if (!was_defined_) return Tensor();
  HY_CHECK(!released_, RuntimeError,
           "Trying to backward through the graph a second time (or directly access saved tensors after "
           "they have already been freed). Saved intermediate values of the graph are freed when you call "
           ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
           "graph a second time or if you need to access saved tensors after calling backward.");
  uint64_t now = data_.storage()->version();
  HY_CHECK(now == version_, RuntimeError,
           "one of the variables needed for gradient computation has been modified by an inplace "
           "operation: [", data_.describe(), "] is at version ", now, "; expected version ", version_,
           " instead.");
  if (is_output_ && requires_grad_ && owner && grad_mode_enabled()) {
    // Building a higher-order graph: the saved output must lead back to the node that made it.
    Tensor out = detach(data_);
    set_history(out, owner, output_nr_);
    return out;
  }
  return data_;
}

TensorList AccumulateGrad::apply(TensorList&& grads) {
  Tensor g = std::move(grads.at(0));  // the list lets go of it: a gradient no one else holds can be kept
  auto& m = ensure_meta(variable);
  for (auto& hook : m.hooks) {
    Tensor r = hook(g);
    if (r.defined()) g = r;
  }
  if (!g.defined()) return {};
  if (g.dtype() != variable.dtype()) g = ops::to_dtype(g, variable.dtype(), false);
  if (g.shape() != variable.shape()) g = ops::reshape(ops::contiguous(g), variable.shape());
  if (!m.grad.defined()) {
    // A fresh copy unless building a higher-order graph or the gradient is ours alone: the incoming
    // gradient may alias another leaf's gradient or the user's grad_outputs, and .grad is accumulated
    // into in place later. A gradient no other handle or view holds (the usual case: the result of a
    // backward formula) is kept as it is, as torch does; the copy was 2.5% of an MLP training step.
    const bool sole_owner = g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 &&
                            g.storage()->writable() && g.is_contiguous();
    m.grad = grad_mode_enabled() || sole_owner ? std::move(g) : ops::clone(g);
  } else if (grad_mode_enabled()) {
    m.grad = ops::add(m.grad, g);
  } else {
    ops::add_(m.grad, g);
  }
  for (auto& hook : m.post_acc_hooks) hook(variable);
  return {};
}

TensorList NotDifferentiableNode::apply(TensorList&&) {
  throw RuntimeError(str("op ", op_, " is not differentiable yet", why_.empty() ? "" : " (", why_,
                         why_.empty() ? "" : ")"));
}

}  // namespace hy::autograd
