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
#include <functional>
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
  std::string site;   ///< where the call was made ("file:line"), only with a site recorder set
};

/// A graph break kept by a session that records on after breaks (see set_keep_going).
struct CapturedBreak {
  std::string what;
  std::string site;
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

  /// Opt-in for tools that must report every problem at once (the ONNX exporter): a graph break no longer
  /// discards the calls; it is kept in breaks() and recording goes on. break_reason() is still the first.
  void set_keep_going(bool keep_going) { keep_going_ = keep_going; }
  /// Opt-in: `recorder` is called once per recorded call and break and returns where it was made (the
  /// bindings pass one that reads the Python stack). Costs nothing when unset.
  void set_site_recorder(std::function<std::string()> recorder) { site_recorder_ = std::move(recorder); }
  /// The breaks seen with keep-going on, in order.
  const std::vector<CapturedBreak>& breaks() const { return breaks_; }

  void on_op(const OpEntry& op, ValueList&& args, ValueList&& results) override;
  void on_graph_break(const char* what) override;
  /// The program read a tensor's sizes or strides in Python (`shape`, `size()`, `len()` ...; the bindings
  /// report it): a trace with symbolic sizes keeps that tensor's sizes fixed, since Python may compute
  /// with them. `tensor` is the TensorImpl's address.
  void note_size_read(const void* tensor) { size_reads_.push_back(reinterpret_cast<uintptr_t>(tensor)); }
  /// Addresses (TensorImpl) of the tensors whose sizes or strides Python read during the capture, in order.
  const std::vector<uintptr_t>& size_reads() const { return size_reads_; }

 private:
  std::vector<CapturedCall> calls_;
  std::string break_reason_;
  std::vector<CapturedBreak> breaks_;
  std::vector<uintptr_t> size_reads_;
  std::function<std::string()> site_recorder_;
  bool keep_going_ = false;
  capture::CaptureHook* prev_ = nullptr;
  bool active_ = false;
};

}  // namespace hy::compiler
