// A capture session: the compiler's CaptureHook. It records every outermost op call of the calling
// thread (record-and-execute: the ops also run, so shapes, dtypes and Python control flow are those of
// a real call) until it ends or a graph break stops it.
//
//   compiler::CaptureSession s;
//   s.begin();                 // this thread's op calls are recorded from here
//   Tensor y = ops::mul(ops::add(x, w), w);
//   s.end();                   // s.calls(): add, mul with their boxed arguments and results
//
// The graph itself (SSA values, passes, replay) is built from the calls in Python
// (python/hyflow/compiler/); this layer only observes.
#pragma once
#include <string>
#include <vector>

#include "dispatch/capture_hook.h"
#include "dispatch/registry.h"

namespace hy::compiler {

/// One recorded op call.
struct CapturedCall {
  const OpEntry* op;
  ValueList args;     ///< schema order; monostate for a missing optional
  ValueList results;  ///< return order
  bool grad_enabled;  ///< grad mode when the op ran (a `with no_grad()` block inside the traced code)
};

/// Records op calls of the thread that called begin(); see the file comment.
class CaptureSession final : public capture::CaptureHook {
 public:
  CaptureSession() = default;
  ~CaptureSession() override;
  CaptureSession(const CaptureSession&) = delete;
  CaptureSession& operator=(const CaptureSession&) = delete;

  /// Start recording this thread's op calls (RuntimeError if this session already records).
  void begin();
  /// Stop recording; the thread's previous hook (a capture around this one) is restored.
  void end();
  /// Whether begin() was called and end() not yet.
  bool active() const { return active_; }

  /// The calls recorded so far, in execution order (empty after a graph break).
  const std::vector<CapturedCall>& calls() const { return calls_; }
  /// Why recording stopped early ("" when it did not): the first graph break reported.
  const std::string& break_reason() const { return break_reason_; }

  void on_op(const OpEntry& op, ValueList&& args, ValueList&& results) override;
  void on_graph_break(const char* what) override;

 private:
  std::vector<CapturedCall> calls_;
  std::string break_reason_;
  capture::CaptureHook* prev_ = nullptr;
  bool active_ = false;
};

}  // namespace hy::compiler
