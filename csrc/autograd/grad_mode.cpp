#include "autograd/grad_mode.h"

namespace hy::autograd {
namespace {
thread_local bool tls_grad_enabled = true;
thread_local bool tls_inference = false;
}  // namespace

bool grad_mode_enabled() { return tls_grad_enabled; }
void set_grad_mode_enabled(bool enabled) { tls_grad_enabled = enabled; }
bool inference_mode_enabled() { return tls_inference; }
void set_inference_mode_enabled(bool enabled) { tls_inference = enabled; }

}  // namespace hy::autograd
