#include "dispatch/capture_hook.h"

namespace hy::capture {
namespace {
// Per thread: a capture traces the calling thread's program; kernels' worker threads never see it.
thread_local CaptureHook* tls_hook = nullptr;
}  // namespace

CaptureHook* active_hook() { return tls_hook; }

CaptureHook* set_active_hook(CaptureHook* hook) {
  CaptureHook* prev = tls_hook;
  tls_hook = hook;
  return prev;
}

void note_graph_break(const char* what) {
  if (tls_hook) tls_hook->on_graph_break(what);
}

}  // namespace hy::capture
