#include "core/parallel.h"
#include "core/gil_release_internal.h"

#include <sched.h>

#include <cstdlib>
#include <memory>
#include <atomic>
#include <mutex>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include "core/error.h"

namespace hy {
namespace {

int default_num_threads() {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n >= 1) return n;
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n >= 1) return n;
  }
  return 1;
}

struct Pool {
  std::mutex mu;
  int threads = default_num_threads();
  std::unique_ptr<tbb::task_arena> arena;
  tbb::task_arena& get() {
    std::lock_guard<std::mutex> lock(mu);
    if (!arena) arena = std::make_unique<tbb::task_arena>(threads);
    return *arena;
  }
};
Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: worker threads may outlive static destruction order
  return *p;
}
thread_local bool t_in_parallel = false;

}  // namespace

int get_num_threads() { return pool().threads; }

void set_num_threads(int n) {
  HY_CHECK(n >= 1, ValueError, "set_num_threads: n must be >= 1, got ", n);
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  if (n == p.threads && p.arena) return;
  p.threads = n;
  p.arena.reset();  // recreated lazily with the new size
}

bool in_parallel_region() { return t_in_parallel; }

namespace {
std::atomic<GilReleaseHook> g_gil_release{nullptr};
std::atomic<GilRestoreHook> g_gil_restore{nullptr};

struct GilFree {
  void* token = nullptr;
  GilFree() {
    if (GilReleaseHook h = g_gil_release.load(std::memory_order_relaxed)) token = h();
  }
  ~GilFree() {
    if (token) g_gil_restore.load(std::memory_order_relaxed)(token);
  }
  GilFree(const GilFree&) = delete;
  GilFree& operator=(const GilFree&) = delete;
};
}  // namespace

void run_without_gil(const std::function<void()>& f) {
  GilFree nogil;
  f();
}

void set_gil_hooks(GilReleaseHook release, GilRestoreHook restore) {
  g_gil_restore.store(restore);
  g_gil_release.store(release);
}

void parallel_for(int64_t begin, int64_t end, int64_t grain, const std::function<void(int64_t, int64_t)>& f) {
  if (end <= begin) return;
  if (end - begin <= grain || t_in_parallel) {
    f(begin, end);
    return;
  }
  GilFree nogil;  // enough work to be worth letting other Python threads run
  int threads = get_num_threads();
  if (threads == 1) {
    f(begin, end);
    return;
  }
  // Chunks no smaller than `grain`, at most one per thread: bandwidth-bound loops gain nothing from
  // finer splitting, and static partitioning keeps each chunk's memory on one core.
  int64_t chunks = std::min<int64_t>(threads, (end - begin + grain - 1) / grain);
  int64_t step = (end - begin + chunks - 1) / chunks;
  pool().get().execute([&] {
    tbb::parallel_for(
        tbb::blocked_range<int64_t>(0, chunks, 1),
        [&](const tbb::blocked_range<int64_t>& r) {
          bool was = t_in_parallel;
          t_in_parallel = true;
          try {
            for (int64_t c = r.begin(); c < r.end(); ++c) {
              int64_t b = begin + c * step, e = std::min(end, b + step);
              if (b < e) f(b, e);
            }
          } catch (...) {
            t_in_parallel = was;
            throw;
          }
          t_in_parallel = was;
        },
        tbb::static_partitioner());
  });
}

}  // namespace hy
