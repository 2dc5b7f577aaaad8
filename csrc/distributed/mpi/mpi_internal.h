// Private to the MPI backend: MPI state and error handling, the polling wait, the Work of posted MPI
// operations, and the point-to-point all-reduce algorithms.
#pragma once
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "distributed/communicator.h"

namespace hy::dist {

/// The thread level MPI granted (set by mpi_init / mpi_adopt).
extern int g_mpi_thread_level;
/// Record whether comm puts more ranks on this node than it has cores (waits then yield between polls).
/// Collective over comm.
void note_node_occupancy(MPI_Comm comm);

/// Below MPI_THREAD_MULTIPLE, two threads must not be inside MPI at once; our own calls take this lock.
struct MpiLock {
  std::unique_lock<std::mutex> lock;
  MpiLock();
};

/// MPI_Error_string of an error code.
std::string mpi_error_text(int rc);
/// Record the first failure; every later operation raises DistError (MPI state is doubtful now).
void mark_broken(const std::string& why);
/// Throws DistError once any operation failed or timed out.
void check_usable(const char* op);
/// Throws DistError (and marks MPI broken) unless rc is MPI_SUCCESS.
void check_rc(int rc, const char* op, const char* call);
/// The MPI datatype tensors of dtype d travel as (16-bit floats as their bits).
MPI_Datatype mpi_datatype(DType d);
/// The MPI reduction for op on wire dtype `wire` (bool: logical or/and).
MPI_Op mpi_op(ReduceOp op, DType wire);
/// Whether hyflow called MPI_Init (then it also finalizes MPI at exit: mpi_exit.cpp).
bool mpi_we_initialized();
/// When hyflow initialized MPI: create the private communicator that carries departure notices
/// (mpi_exit.cpp). Collective over MPI_COMM_WORLD; later calls do nothing.
void open_departure_notices();

/// Which peers a wait needs: every rank of `comm`, or one of them. A departure notice (mpi_exit.cpp)
/// from one of those ranks ends the wait with a DistError instead of the timeout.
struct WaitScope {
  static constexpr int kAllRanks = -1;
  MPI_Comm comm = MPI_COMM_NULL;  // MPI_COMM_NULL: no departure check (a receive from any source)
  int peer = kAllRanks;           // a rank of comm, or kAllRanks
  double grace_s = 1.0;           // ignore a departure this recent: the rank's last messages may be in flight
};
/// Poll until every request completed: DistError on MPI errors, DistTimeoutError past timeout_s, DistError
/// when a rank the wait needs has departed (the buffers are then kept forever, since MPI may still write
/// into them).
void poll_requests(const char* op, std::vector<MPI_Request>& reqs, std::vector<MPI_Status>& st, double timeout_s,
                   const std::vector<Tensor>& buffers, const WaitScope& scope);
/// Record every departure notice received so far; then, if a rank that `scope` waits for departed at
/// least scope.grace_s ago, describe it in *why and return its world rank (else -1).
int departed_peer(const WaitScope& scope, std::string* why);

// Post one MPI call under the MPI lock; its error code becomes a DistError.
#define HY_MPI_POST(op, call_name, expr) \
  do {                                   \
    MpiLock lock_;                       \
    check_rc((expr), op, call_name);     \
  } while (0)

/// A posted MPI operation: its requests, the buffers they use, and what completes it.
class MpiWork : public Work {
 public:
  MpiWork(std::shared_ptr<const void> owner, const char* op, double timeout_s)
      : reqs(1, MPI_REQUEST_NULL), owner_(std::move(owner)), op_(op), timeout_s_(timeout_s) {}

  void wait() override {
    if (done_) return;
    do {
      poll_requests(op_, reqs, status_, timeout_s_, keep, scope);
    } while (next_stage && next_stage(*this));
    complete();
  }
  bool is_completed() override {
    if (done_) return true;
    check_usable(op_);
    int flag = 0, rc;
    status_.resize(reqs.size());
    {
      MpiLock lock;
      rc = MPI_Testall(static_cast<int>(reqs.size()), reqs.data(), &flag, status_.data());
    }
    if (rc != MPI_SUCCESS) wait();  // wait() turns the error into an exception
    if (flag && next_stage && next_stage(*this)) return false;
    if (flag) complete();
    return done_;
  }
  int source() const override { return source_; }

  std::vector<MPI_Request> reqs;
  std::vector<Tensor> keep;              // buffers MPI reads or writes until completion
  std::vector<int> counts;               // count/displacement arrays of v-collectives, alive until completion
  std::function<void(MpiWork&)> finish;  // copies staged results into the caller's outputs
  // Multi-stage operations (the ring all-reduce): called when the current requests completed; posts
  // the next stage's requests and returns true, or returns false when there is none.
  std::function<bool(MpiWork&)> next_stage;
  WaitScope scope;                       // the peers it waits for
  int64_t expect_recv = -1;              // for recv: the element count the tensor holds
  MPI_Datatype recv_type = MPI_DATATYPE_NULL;

 private:
  void complete() {
    if (expect_recv >= 0) {
      source_ = status_[0].MPI_SOURCE;
      int got = 0;
      MPI_Get_count(&status_[0], recv_type, &got);
      HY_CHECK(got == expect_recv, ValueError, "recv: rank ", source_, " sent ", got, " elements but the tensor holds ",
               expect_recv);
    }
    if (finish) finish(*this);
    finish = nullptr;
    next_stage = nullptr;
    keep.clear();
    done_ = true;
  }

  std::shared_ptr<const void> owner_;  // the communicator, kept alive while the operation runs
  const char* op_;
  double timeout_s_;
  std::vector<MPI_Status> status_;
  bool done_ = false;
  int source_ = -1;
};

/// Where a point-to-point algorithm runs: a private communicator, and a tag no concurrent one shares.
struct P2pContext {
  std::shared_ptr<const void> owner;
  MPI_Comm comm;
  int rank, size, tag;
  double timeout_s;
};
/// buf <- op over ranks of buf by recursive doubling (small messages). buf: contiguous, a wire dtype.
std::shared_ptr<MpiWork> doubling_all_reduce(const P2pContext& c, const char* name, const Tensor& buf, ReduceOp op);
/// The same exchange with a caller-defined combine(acc, in) over the whole buffer's bytes (the argument
/// check uses it to reduce a signature with MAX and a small payload with the collective's own op).
std::shared_ptr<MpiWork> doubling_all_reduce(const P2pContext& c, const char* name, const Tensor& buf,
                                             std::function<void(void*, const void*)> combine);
/// buf <- op over ranks of buf by a ring (large messages; buf.numel() >= c.size).
std::shared_ptr<MpiWork> ring_all_reduce(const P2pContext& c, const char* name, const Tensor& buf, ReduceOp op);

}  // namespace hy::dist
