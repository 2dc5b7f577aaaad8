// hyflow's one thread pool (a oneTBB arena), shared by every parallel kernel. Its size comes from
// hy.set_num_threads(), else OMP_NUM_THREADS, else the CPUs this process may run on. The BLAS is kept
// single-threaded and called from inside this pool, so two pools never fight over the cores.
//
//   parallel_for(0, n, kGrainElementwise, [&](int64_t b, int64_t e) { for (...) out[i] = f(in[i]); });
#pragma once
#include <cstdint>
#include <functional>

namespace hy {

/// Below this many elements an elementwise kernel runs on the calling thread: thread wake-up costs
/// more than the work.
constexpr int64_t kGrainElementwise = 32768;

/// Threads in the pool.
int get_num_threads();
/// Resize the pool (n >= 1). Throws ValueError for n < 1.
void set_num_threads(int n);
/// Run f(begin', end') over disjoint chunks covering [begin, end); inline when the range is <= grain
/// or the pool has one thread. Exceptions from chunks propagate to the caller.
void parallel_for(int64_t begin, int64_t end, int64_t grain, const std::function<void(int64_t, int64_t)>& f);
/// True while running inside a parallel_for chunk (nested calls then run inline).
bool in_parallel_region();

/// The Python bindings install these so that a parallel_for over more than `grain` elements runs with
/// the GIL released (when the calling thread holds it): other Python threads, e.g. a workflow's other
/// tasks, run meanwhile. Small ops keep the GIL, so threads don't hand it back and forth per tiny op.
/// release() returns a token (null: nothing was released) that restore() takes back.
using GilReleaseHook = void* (*)();
using GilRestoreHook = void (*)(void*);
void set_gil_hooks(GilReleaseHook release, GilRestoreHook restore);

}  // namespace hy
