#include "compiler/capture_session.h"

#include "autograd/grad_mode.h"
#include "core/error.h"

namespace hy::compiler {

CaptureSession::~CaptureSession() {
  // A session dropped while recording (its owner raised) must not leave a dangling hook behind.
  if (active_ && capture::active_hook() == this) capture::set_active_hook(prev_);
}

void CaptureSession::begin() {
  HY_CHECK(!active_, RuntimeError, "CaptureSession.begin(): this session is already recording");
  calls_.clear();
  break_reason_.clear();
  breaks_.clear();
  size_reads_.clear();
  prev_ = capture::set_active_hook(this);
  active_ = true;
}

void CaptureSession::end() {
  if (!active_) return;
  // Restore only if we are still the thread's hook; ending on another thread must not clobber its hook.
  if (capture::active_hook() == this) capture::set_active_hook(prev_);
  active_ = false;
}

void CaptureSession::on_op(const OpEntry& op, ValueList&& args, ValueList&& results) {
  // After a graph break the trace is discarded; keeping the calls would only hold tensors alive.
  if (!break_reason_.empty() && !keep_going_) return;
  calls_.push_back(CapturedCall{&op, std::move(args), std::move(results), autograd::grad_mode_enabled(),
                                site_recorder_ ? site_recorder_() : std::string()});
}

void CaptureSession::on_graph_break(const char* what) {
  if (keep_going_) {
    breaks_.push_back(CapturedBreak{what, site_recorder_ ? site_recorder_() : std::string()});
    if (break_reason_.empty()) break_reason_ = what;
    return;
  }
  if (!break_reason_.empty()) return;
  break_reason_ = what;
  calls_.clear();
}

}  // namespace hy::compiler
