// Run a long native call with the Python GIL released (when the calling thread holds it), through the
// hooks the bindings install (core/parallel.h, set_gil_hooks). For work that runs outside parallel_for,
// such as a library GEMM on its own thread pool, so other Python threads (workflow tasks) run meanwhile.
//
//   run_without_gil([&] { library_call(); });   // must not touch Python objects
#pragma once
#include <functional>

namespace hy {

/// Call f() with the GIL released if the calling thread holds it; the GIL is taken back before returning
/// (also when f throws).
void run_without_gil(const std::function<void()>& f);

}  // namespace hy
