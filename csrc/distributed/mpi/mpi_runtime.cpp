// MPI state shared by every MPI communicator: initialization and finalization, the record of a failure,
// error codes turned into exceptions, and the polling wait that makes every operation time out.
#include <atomic>
#include <chrono>
#include <thread>

#include "distributed/mpi/mpi_communicator.h"
#include "distributed/mpi/mpi_internal.h"
#include "distributed/staging_internal.h"

namespace hy::dist {
namespace {

bool g_we_initialized = false;
std::atomic<bool> g_broken{false};
std::mutex g_state_mutex;  // guards g_broken_reason and g_graveyard
std::string g_broken_reason;
// Buffers of operations abandoned after a timeout: MPI may still write into them, so they are never freed.
std::vector<Tensor>* g_graveyard = new std::vector<Tensor>();

std::mutex g_mpi_mutex;

}  // namespace


int g_mpi_thread_level = MPI_THREAD_SINGLE;
std::atomic<bool> g_mpi_oversubscribed{false};

void note_node_occupancy(MPI_Comm comm) {
  // More ranks on this node than cores: a rank that spins on MPI_Test steals the core its peer needs to
  // make progress, so waits yield the core between polls (as MPI's own yield_when_idle mode does).
  MPI_Comm node = MPI_COMM_NULL;
  if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) != MPI_SUCCESS) return;
  int local = 1;
  MPI_Comm_size(node, &local);
  MPI_Comm_free(&node);
  unsigned cores = std::thread::hardware_concurrency();
  if (cores > 0 && static_cast<unsigned>(local) > cores) g_mpi_oversubscribed.store(true);
}

MpiLock::MpiLock() : lock(g_mpi_mutex, std::defer_lock) {
  if (g_mpi_thread_level < MPI_THREAD_MULTIPLE) lock.lock();
}

std::string mpi_error_text(int rc) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, buf, &len) != MPI_SUCCESS) return str("MPI error code ", rc);
  return std::string(buf, static_cast<size_t>(len));
}

void mark_broken(const std::string& why) {
  std::lock_guard<std::mutex> g(g_state_mutex);
  if (!g_broken.exchange(true)) g_broken_reason = why;
}

void check_usable(const char* op) {
  if (!g_broken.load()) return;
  std::lock_guard<std::mutex> g(g_state_mutex);
  throw DistError(str(op, ": the MPI communicators are unusable after an earlier failure (", g_broken_reason,
                      "); exit and restart the job"));
}

void check_rc(int rc, const char* op, const char* call) {
  if (rc == MPI_SUCCESS) return;
  std::string why = str(op, ": ", call, " failed: ", mpi_error_text(rc));
  mark_broken(why);
  throw DistError(why);
}

MPI_Datatype mpi_datatype(DType d) {
  switch (d) {
    case DType::Bool: return MPI_C_BOOL;
    case DType::Int32: return MPI_INT32_T;
    case DType::Int64: return MPI_INT64_T;
    case DType::Float16:
    case DType::BFloat16: return MPI_UINT16_T;  // moved as bits; reductions are staged in float32
    case DType::Float32: return MPI_FLOAT;
    case DType::Float64: return MPI_DOUBLE;
    case DType::Complex64: return MPI_C_FLOAT_COMPLEX;
    case DType::Complex128: return MPI_C_DOUBLE_COMPLEX;
  }
  return MPI_BYTE;
}

MPI_Op mpi_op(ReduceOp op, DType wire) {
  if (wire == DType::Bool) {  // torch semantics: sum/max = any, prod/min = all
    return (op == ReduceOp::ReduceOp_Sum || op == ReduceOp::ReduceOp_Max) ? MPI_LOR : MPI_LAND;
  }
  switch (op) {
    case ReduceOp::ReduceOp_Sum:
    case ReduceOp::ReduceOp_Avg: return MPI_SUM;
    case ReduceOp::ReduceOp_Prod: return MPI_PROD;
    case ReduceOp::ReduceOp_Min: return MPI_MIN;
    case ReduceOp::ReduceOp_Max: return MPI_MAX;
  }
  return MPI_SUM;
}

using Clock = std::chrono::steady_clock;


// Poll until every request completed. MPI implementations progress non-blocking collectives only inside
// MPI calls, so this spins on MPI_Testall (as MPI_Wait would) and only yields the core after a while.
void poll_requests(const char* op, std::vector<MPI_Request>& reqs, std::vector<MPI_Status>& st, double timeout_s,
                   const std::vector<Tensor>& buffers, const WaitScope& scope) {
  const auto start = Clock::now();
  auto next_interrupt_check = start + std::chrono::milliseconds(50);
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  st.resize(reqs.size());
  // Giving up on an operation that MPI cannot cancel: MPI is unusable from here on, and the buffers are
  // kept forever since MPI may still write into them.
  auto abandon = [&](const std::string& why) {
    mark_broken(why);
    std::lock_guard<std::mutex> g(g_state_mutex);
    for (const Tensor& b : buffers) g_graveyard->push_back(b);
  };
  for (int64_t spins = 0;; ++spins) {
    int flag = 0, rc;
    {
      MpiLock lock;
      rc = MPI_Testall(static_cast<int>(reqs.size()), reqs.data(), &flag, st.data());
    }
    if (rc != MPI_SUCCESS) {
      int code = rc;
      if (rc == MPI_ERR_IN_STATUS) {
        for (auto& s : st) if (s.MPI_ERROR != MPI_SUCCESS && s.MPI_ERROR != MPI_ERR_PENDING) code = s.MPI_ERROR;
      }
      int cls = code;
      MPI_Error_class(code, &cls);
      std::string why = str(op, ": MPI reported an error: ", mpi_error_text(code));
      if (cls == MPI_ERR_TRUNCATE) throw DistError(str(why, " (the message is larger than the receive tensor)"));
      mark_broken(why);
      throw DistError(why);
    }
    if (flag) return;
    if (g_mpi_oversubscribed.load(std::memory_order_relaxed)) std::this_thread::yield();  // let the peer run
    if ((spins & 255) == 255) {
      auto now = Clock::now();
      if (timeout_s > 0 && now > deadline) {
        std::string why = str(op, ": no answer from a peer within the timeout of ", timeout_s,
                              " s (HYFLOW_DIST_TIMEOUT); a rank has probably died or is stuck");
        abandon(why);
        throw DistTimeoutError(why);
      }
      if (now > next_interrupt_check) {
        next_interrupt_check = now + std::chrono::milliseconds(50);
        std::string departed;
        if (departed_peer(scope, &departed) >= 0) {
          // That rank posts nothing more, so this operation can never complete: fail now rather than
          // after the whole timeout, so that this rank can save and exit while the job is still alive.
          std::string why = str(op, ": ", departed, " while this rank was waiting for it");
          abandon(why);
          throw DistError(why);
        }
        if (interrupt_requested()) {
          std::string why = str(op, ": interrupted while waiting for peers");
          abandon(why);
          throw DistInterrupted(why);
        }
      }
      if (now - start > std::chrono::milliseconds(100)) std::this_thread::yield();
    }
  }
}

void mpi_init() {
  int inited = 0, finalized = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&finalized);
  HY_CHECK(!finalized, dist::DistError, "init: MPI was already finalized in this process; it cannot start again");
  if (!inited) {
    int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &g_mpi_thread_level);
    if (rc != MPI_SUCCESS) throw DistError(str("init: MPI_Init_thread failed: ", mpi_error_text(rc)));
    g_we_initialized = true;
  } else {
    MPI_Query_thread(&g_mpi_thread_level);
  }
}

bool mpi_we_initialized() { return g_we_initialized; }

bool mpi_is_active() {
  int inited = 0, finalized = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&finalized);
  return inited && !finalized;
}

bool mpi_any_broken() { return g_broken.load(); }

std::string mpi_library_version() {
  char buf[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(buf, &len);
  return std::string(buf, static_cast<size_t>(len));
}

}  // namespace hy::dist
