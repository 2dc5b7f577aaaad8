// Threads that run Python code for hyflow (workflow workers, sub-tasks, kernels that released the GIL)
// and the exceptions that must never leave them.
//
// Two rules:
//  * Nothing may escape a thread's entry point: oneTBB terminates the process when an exception leaves
//    an enqueued task. Catch-alls there list HY_LET_THREAD_EXIT_THROUGH (inner levels) or
//    HY_PARK_ON_THREAD_EXIT (where the unwinding must stop) before `catch (...)`.
//  * Thread cancellation is an exception too: when a thread wants the GIL after Python has begun to
//    shut down, CPython ends it with pthread_exit, which glibc implements as a "forced unwind". Swallowing
//    it aborts the process ("FATAL: exception not rethrown"), and letting it unwind through oneTBB (which
//    catches everything) or a noexcept destructor does too. So where a worker calls into Python, the
//    forced unwind is caught right there and the thread parks forever instead: the process is exiting,
//    which ends it. Nothing may be destroyed on the way (py::object destructors would touch Python
//    without the GIL), so such calls use the raw C API with their objects declared outside the `try`.
//
//   try { result = PyObject_Call(fn, args, nullptr); }
//   HY_PARK_ON_THREAD_EXIT
#pragma once
#include <chrono>
#include <exception>
#include <string>
#include <thread>

namespace hy {

/// Never returns: a thread Python wanted to end at interpreter shutdown waits here for the process to exit.
[[noreturn]] inline void park_thread_forever() {
  for (;;) std::this_thread::sleep_for(std::chrono::hours(24));
}

/// The message of the exception being handled; call only inside a catch block.
inline std::string current_exception_message() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

}  // namespace hy

#if defined(__GLIBCXX__)
#include <cxxabi.h>
#define HY_LET_THREAD_EXIT_THROUGH \
  catch (abi::__forced_unwind&) {  \
    throw;                         \
  }
#define HY_PARK_ON_THREAD_EXIT    \
  catch (abi::__forced_unwind&) { \
    ::hy::park_thread_forever();  \
  }
#else
#define HY_LET_THREAD_EXIT_THROUGH
#define HY_PARK_ON_THREAD_EXIT
#endif
