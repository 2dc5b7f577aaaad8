// How a process leaves an MPI job at exit, and how the other ranks learn that it left.
//
// Open MPI's mpirun (ORTE's errmgr) aborts the whole job -- SIGTERM to every rank about a second later,
// SIGKILL a second after that -- as soon as one rank terminates "abnormally": killed by a signal, exiting
// with a non-zero status, or exiting without having finalized (deregistered from the launcher).
// `mpirun --enable-recovery` switches that off. MPI_Finalize itself waits (a PMIx fence) for every rank, so
// a rank whose peer died or is stuck cannot call it: it would hang. Such a rank used to exit without
// finalizing, and mpirun then killed the ranks that were still saving their state.
//
// So, at exit (mpi_finalize):
//  * when nothing failed: a barrier that can time out, then MPI_Finalize;
//  * otherwise: send every other rank a departure notice, so that a rank still waiting for this one raises
//    within a second instead of after its whole timeout (poll_requests asks departed_peer), and deregister
//    from the launcher without the fence (PMIx_Finalize), which makes this exit a normal one for mpirun:
//    the other ranks keep running and leave in their own time;
//  * where a non-zero exit status would abort the job (`linger`: no --enable-recovery), a rank that leaves
//    this way first waits until every other rank has left too (or the timeout passed): it cannot know its
//    own exit status (an uncaught exception, sys.exit(1)), and the others may still be saving.
// No rank finalizes once one departed: a departed rank never posts the exit barrier, so no barrier
// completes anywhere.
#include <dlfcn.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>

#include "distributed/mpi/mpi_communicator.h"
#include "distributed/mpi/mpi_internal.h"
#include "distributed/staging_internal.h"

namespace hy::dist {
namespace {

using Clock = std::chrono::steady_clock;

// Why a rank departed: the payload of its notice.
enum Departure : int { Departure_Failed = 1, Departure_AfterError = 2, Departure_Unfinished = 3 };

constexpr int kNoticeTag = 1;
MPI_Comm g_notices = MPI_COMM_NULL;  // a private duplicate of MPI_COMM_WORLD: its ranks are world ranks
std::atomic<bool> g_failed{false};
std::mutex g_departed_mutex;
std::map<int, std::pair<int, Clock::time_point>> g_departed;  // world rank -> (reason, when received)

const char* departure_text(int reason) {
  switch (reason) {
    case Departure_Failed: return "exited with an uncaught exception";
    case Departure_AfterError: return "exited after a communication failure";
    default: return "exited without finalizing MPI (a peer never reached the exit barrier)";
  }
}

// Receive every notice that arrived. Matched probes, so that two threads polling at once never race for
// one message.
void collect_notices() {
  if (g_notices == MPI_COMM_NULL) return;
  for (;;) {
    int flag = 0, reason = 0;
    MPI_Message msg;
    MPI_Status st;
    {
      MpiLock lock;
      if (MPI_Improbe(MPI_ANY_SOURCE, kNoticeTag, g_notices, &flag, &msg, &st) != MPI_SUCCESS || !flag) return;
      if (MPI_Mrecv(&reason, 1, MPI_INT, &msg, MPI_STATUS_IGNORE) != MPI_SUCCESS) return;
    }
    std::lock_guard<std::mutex> g(g_departed_mutex);
    g_departed.emplace(st.MPI_SOURCE, std::make_pair(reason, Clock::now()));
  }
}

size_t departed_count() {
  std::lock_guard<std::mutex> g(g_departed_mutex);
  return g_departed.size();
}

// Whether the wait described by scope needs world rank r.
bool needs(const WaitScope& scope, int r) {
  MpiLock lock;
  MPI_Group world, group;
  MPI_Comm_group(g_notices, &world);
  MPI_Comm_group(scope.comm, &group);
  int in_group = MPI_UNDEFINED;
  MPI_Group_translate_ranks(world, 1, &r, group, &in_group);
  MPI_Group_free(&world);
  MPI_Group_free(&group);
  return scope.peer == WaitScope::kAllRanks ? in_group != MPI_UNDEFINED : in_group == scope.peer;
}

// Tell every other rank that this one departed. The sends get a moment to leave (a message still queued
// when the process exits is lost) but are not awaited beyond it: a dead peer may never take its notice.
void send_notices(int reason) {
  if (g_notices == MPI_COMM_NULL) return;
  static int payload;  // outlives the sends
  payload = reason;
  int rank = 0, size = 1;
  MPI_Comm_rank(g_notices, &rank);
  MPI_Comm_size(g_notices, &size);
  std::vector<MPI_Request> reqs;
  {
    MpiLock lock;
    for (int r = 0; r < size; ++r) {
      MPI_Request q = MPI_REQUEST_NULL;
      if (r != rank && MPI_Isend(&payload, 1, MPI_INT, r, kNoticeTag, g_notices, &q) == MPI_SUCCESS) reqs.push_back(q);
    }
  }
  const auto deadline = Clock::now() + std::chrono::seconds(1);
  for (int done = 0; !done && Clock::now() < deadline;) {
    {
      MpiLock lock;
      if (MPI_Testall(static_cast<int>(reqs.size()), reqs.data(), &done, MPI_STATUSES_IGNORE) != MPI_SUCCESS) return;
    }
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Until every other rank has sent its notice, the timeout passed, or a signal (Ctrl-C) arrived.
void wait_for_all_departed(double timeout_s) {
  int size = 1;
  MPI_Comm_size(g_notices, &size);
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  while (true) {
    collect_notices();
    if (departed_count() + 1 >= static_cast<size_t>(size)) return;
    if ((timeout_s > 0 && Clock::now() > deadline) || interrupt_requested()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Deregister from the launcher without MPI_Finalize's fence: PMIx_Finalize, the call MPI_Finalize ends
// with under Open MPI (PMIx is how its mpirun, and srun --mpi=pmix, learn that a process finished
// properly). Looked up at run time: an MPI without PMIx has no such symbol, and then nothing changes.
bool leave_launcher() {
  using Fn = int (*)(const void* info, size_t ninfo);
  auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "PMIx_Finalize"));
  return fn && fn(nullptr, 0) == 0;
}

// Every rank posts it at exit, unless it departed: so it completes only when all ranks exit cleanly.
bool exit_barrier(double timeout_s) {
  MPI_Comm comm = g_notices == MPI_COMM_NULL ? MPI_COMM_WORLD : g_notices;
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  std::vector<MPI_Request> reqs(1, MPI_REQUEST_NULL);
  std::vector<MPI_Status> st;
  {
    MpiLock lock;
    if (MPI_Ibarrier(comm, &reqs[0]) != MPI_SUCCESS) return false;
  }
  WaitScope all{g_notices};
  all.grace_s = 0;  // a departed rank never posts this barrier
  try {
    poll_requests("finalize", reqs, st, timeout_s, {}, all);
  } catch (const DistError&) {
    return false;
  }
  return true;
}

// Every rank passed the barrier, so all are finalizing. Should one have given up on the barrier at the
// very instant it completed elsewhere (its timeout expiring), MPI_Finalize's fence would wait for it for
// ever: a watchdog turns that hang into an (abnormal) exit after the timeout.
void finalize_with_watchdog(double timeout_s) {
  struct Watch {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
  };
  auto watch = std::make_shared<Watch>();
  if (timeout_s > 0) {
    std::thread([watch, timeout_s] {
      std::unique_lock<std::mutex> lock(watch->m);
      if (!watch->cv.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return watch->done; })) {
        std::fputs("hyflow.distributed: MPI_Finalize did not return within the timeout; exiting\n", stderr);
        std::_Exit(1);
      }
    }).detach();
  }
  MPI_Finalize();
  {
    std::lock_guard<std::mutex> lock(watch->m);
    watch->done = true;
  }
  watch->cv.notify_all();
}

}  // namespace

void open_departure_notices() {
  if (!mpi_we_initialized() || g_notices != MPI_COMM_NULL) return;
  check_rc(MPI_Comm_dup(MPI_COMM_WORLD, &g_notices), "init", "MPI_Comm_dup(MPI_COMM_WORLD)");
  MPI_Comm_set_errhandler(g_notices, MPI_ERRORS_RETURN);
}

void mpi_mark_failed() { g_failed.store(true); }

int departed_peer(const WaitScope& scope, std::string* why) {
  if (scope.comm == MPI_COMM_NULL || g_notices == MPI_COMM_NULL) return -1;
  collect_notices();
  std::vector<std::pair<int, int>> old_enough;  // (world rank, reason)
  {
    std::lock_guard<std::mutex> g(g_departed_mutex);
    const auto now = Clock::now();
    for (const auto& [r, d] : g_departed) {
      if (now - d.second >= std::chrono::duration<double>(scope.grace_s)) old_enough.emplace_back(r, d.first);
    }
  }
  for (const auto& [r, reason] : old_enough) {
    if (!needs(scope, r)) continue;
    *why = str("world rank ", r, " ", departure_text(reason));
    return r;
  }
  return -1;
}

bool mpi_finalize(double timeout_s, bool linger) {
  if (!mpi_we_initialized() || !mpi_is_active()) return false;
  int reason = g_failed.load() ? Departure_Failed : mpi_any_broken() ? Departure_AfterError : 0;
  if (reason == 0 && exit_barrier(timeout_s)) {
    finalize_with_watchdog(timeout_s);
    return true;
  }
  send_notices(reason == 0 ? Departure_Unfinished : reason);
  if (linger && g_notices != MPI_COMM_NULL) wait_for_all_departed(timeout_s);
  leave_launcher();
  return false;
}

}  // namespace hy::dist
