// Thread-local grad mode: whether ops called on this thread record the autograd graph.
//
//   { GradModeGuard no_grad(false); y = ops::mul(x, w); }   // y.requires_grad() is false
//
// Inference mode is grad mode off plus a flag user code can query; hyflow tensors created under it are
// ordinary tensors (PyTorch's inference-tensor restrictions are not modelled).
#pragma once

namespace hy::autograd {

/// Whether ops record autograd history on this thread (default true).
bool grad_mode_enabled();
/// Switch recording on or off for this thread.
void set_grad_mode_enabled(bool enabled);
/// Whether this thread is inside hy.inference_mode().
bool inference_mode_enabled();
/// Enter or leave inference mode on this thread (also turns grad mode off while on).
void set_inference_mode_enabled(bool enabled);

/// Sets grad mode for a scope and restores the previous value on exit.
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled) : prev_(grad_mode_enabled()) { set_grad_mode_enabled(enabled); }
  ~GradModeGuard() { set_grad_mode_enabled(prev_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace hy::autograd
