// Capture hook: the one place a tracer (the graph compiler, later the ONNX exporter) sees every op call.
//
//   struct MyHook : capture::CaptureHook { void on_op(...) override; void on_graph_break(...) override; };
//   MyHook h;
//   capture::HookInstall install(&h);      // this thread's outermost op calls now reach h.on_op
//   ops::add(x, y);                        // runs as usual AND is reported, with its results
//
// The generated front functions `hy::ops::<op>` test `active_hook()` first: with no capture active that is
// one thread-local load and a branch, so eager calls pay nothing more. With a hook installed the front
// function hands itself to `record_call`, which hides the hook while the op runs (the ops a kernel, an
// autograd formula or an overlap copy call internally are not reported; only the outermost call is, as
// GradModeGuard does for autograd) and reports the call once it returned.
#pragma once
#include <optional>
#include <type_traits>
#include <utility>

#include "dispatch/boxing.h"
#include "dispatch/value.h"

namespace hy {
struct OpEntry;

namespace capture {

/// Receives the op calls made on one thread while installed.
class CaptureHook {
 public:
  virtual ~CaptureHook() = default;
  /// `op` ran with `args` (schema order, boxed; a missing optional is monostate) and returned `results`.
  virtual void on_op(const OpEntry& op, ValueList&& args, ValueList&& results) = 0;
  /// Something a trace of op calls cannot stand for happened (`what` says what): tensor data reached the
  /// program as a host value it may branch on ("item()", "tolist()", "numpy()"), or a tensor was made or
  /// changed outside the op table ("detach()", "backward()").
  virtual void on_graph_break(const char* what) = 0;
};

/// The hook installed on this thread, or null (no capture active).
CaptureHook* active_hook();
/// Install `hook` (null removes it) on this thread; returns the previous one.
CaptureHook* set_active_hook(CaptureHook* hook);
/// Report a graph break to the active hook, if any (called by the bindings: data reads, detach, backward).
void note_graph_break(const char* what);

/// Installs a hook for a scope and restores the previous one on exit.
class HookInstall {
 public:
  explicit HookInstall(CaptureHook* hook) : prev_(set_active_hook(hook)) {}
  ~HookInstall() { set_active_hook(prev_); }
  HookInstall(const HookInstall&) = delete;
  HookInstall& operator=(const HookInstall&) = delete;

 private:
  CaptureHook* prev_;
};

namespace detail {
template <typename T> Value box_value(const T& v) { return Value(v); }
template <typename T> Value box_value(const std::optional<T>& v) {
  return v ? box_value(*v) : Value(std::monostate{});
}
inline Value box_value(const std::shared_ptr<Generator>& g) { return g ? Value(g) : Value(std::monostate{}); }
}  // namespace detail

/// Run the front function `front` with the hook hidden, then report the call to `hook`.
/// A call that throws is not reported (the exception reaches the traced program as it would eagerly).
template <typename R, typename... Params, typename... Args>
R record_call(CaptureHook& hook, const OpEntry& op, R (*front)(Params...), const Args&... args) {
  ValueList boxed_args;
  boxed_args.reserve(sizeof...(Args));
  (boxed_args.push_back(detail::box_value(args)), ...);
  ValueList results;
  if constexpr (std::is_void_v<R>) {
    {
      HookInstall hidden(nullptr);
      front(args...);
    }
    hook.on_op(op, std::move(boxed_args), std::move(results));
  } else {
    std::optional<R> r;
    {
      HookInstall hidden(nullptr);
      r.emplace(front(args...));
    }
    boxing::box_into(results, R(*r));
    hook.on_op(op, std::move(boxed_args), std::move(results));
    return std::move(*r);
  }
}

}  // namespace capture
}  // namespace hy
