// Communicator: a group of processes that run collectives on hyflow tensors. Backends implement it
// (mpi/ over the system MPI, the size-1 local world, later nccl/ for GPU tensors).
//
//   std::shared_ptr<Communicator> c = dist::local_world();          // or dist::mpi_world()
//   c->all_reduce(t, ReduceOp::ReduceOp_Sum)->wait();                // blocking use
//   WorkPtr w = c->all_gather_into_tensor(out, t);  ...;  w->wait(); // overlapped use
//
// Every call posts the operation and returns a Work handle at once; outputs are valid after wait()
// (or once is_completed() turned true). Inputs may be non-contiguous and of any dtype: backends stage
// them through contiguous buffers and copy results back into the caller's (possibly strided) outputs.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace hy::dist {

/// The reduction a collective applies elementwise across ranks.
enum class ReduceOp : uint8_t { ReduceOp_Sum, ReduceOp_Prod, ReduceOp_Min, ReduceOp_Max, ReduceOp_Avg };
/// "sum", "prod", ... for messages.
const char* reduce_op_name(ReduceOp op);

/// A communication failure (maps to hyflow.distributed.DistError, a RuntimeError).
struct DistError : RuntimeError { using RuntimeError::RuntimeError; };
/// A peer did not answer within the communicator's timeout (hyflow.distributed.DistTimeoutError).
struct DistTimeoutError : DistError { using DistError::DistError; };
/// A wait was interrupted by a signal (the bindings re-raise Python's KeyboardInterrupt & co).
struct DistInterrupted : DistError { using DistError::DistError; };

/// Called every ~50 ms while an operation waits; returning true abandons the wait with DistInterrupted.
/// The Python bindings install one that runs Python's signal handlers (so Ctrl-C works).
using InterruptCheck = bool (*)();
void set_interrupt_check(InterruptCheck fn);

/// Handle to a posted operation.
class Work {
 public:
  virtual ~Work() = default;
  /// Block until the operation finished and its outputs are written. Throws DistTimeoutError when the
  /// communicator's timeout passes first, DistError when the transport reports an error.
  virtual void wait() = 0;
  /// Non-blocking: true once finished (outputs are then written).
  virtual bool is_completed() = 0;
  /// For recv: the rank the message came from, after completion; -1 for other operations.
  virtual int source() const { return -1; }
};
using WorkPtr = std::shared_ptr<Work>;

/// A process group. Ranks in arguments (root, src, dst) are ranks of this communicator.
class Communicator {
 public:
  virtual ~Communicator() = default;
  /// This process's rank in [0, size()).
  virtual int rank() const = 0;
  /// Number of processes.
  virtual int size() const = 0;
  /// "mpi", "local" or "nccl".
  virtual std::string backend() const = 0;
  /// Where the tensors of its calls live: the CPU (MPI; the local world takes any device), or for NCCL
  /// this rank's GPU. The Python layer puts its own small bookkeeping tensors there.
  virtual Device device() const { return kCPU; }

  /// In place: t <- op over ranks of t.
  virtual WorkPtr all_reduce(const Tensor& t, ReduceOp op) = 0;
  /// t <- root's t.
  virtual WorkPtr broadcast(const Tensor& t, int root) = 0;
  /// On root: t <- op over ranks of t. Other ranks' t is left unchanged.
  virtual WorkPtr reduce(const Tensor& t, int root, ReduceOp op) = 0;
  /// outs[r] <- rank r's in, for every r (outs.size() == size()).
  virtual WorkPtr all_gather(const std::vector<Tensor>& outs, const Tensor& in) = 0;
  /// out (numel = size() * in.numel()) <- concatenation of every rank's in, in rank order.
  virtual WorkPtr all_gather_into_tensor(const Tensor& out, const Tensor& in) = 0;
  /// On root: outs[r] <- rank r's in. Other ranks pass an empty outs.
  virtual WorkPtr gather(const std::vector<Tensor>& outs, const Tensor& in, int root) = 0;
  /// out <- root's ins[rank()]. Other ranks pass an empty ins.
  virtual WorkPtr scatter(const Tensor& out, const std::vector<Tensor>& ins, int root) = 0;
  /// out <- op over ranks of ins[rank()] (ins.size() == size()).
  virtual WorkPtr reduce_scatter(const Tensor& out, const std::vector<Tensor>& ins, ReduceOp op) = 0;
  /// out <- op over ranks of the rank()-th chunk of in (in.numel() == size() * out.numel()).
  virtual WorkPtr reduce_scatter_tensor(const Tensor& out, const Tensor& in, ReduceOp op) = 0;
  /// outs[r] <- rank r's ins[rank()]; sizes may differ per pair but must agree between the two ranks.
  virtual WorkPtr all_to_all(const std::vector<Tensor>& outs, const std::vector<Tensor>& ins) = 0;
  /// The r-th chunk of out <- rank r's rank()-th chunk of in (equal chunks).
  virtual WorkPtr all_to_all_single(const Tensor& out, const Tensor& in) = 0;
  /// Point to point. tag >= 0. recv with src == -1 takes a message from any rank (see Work::source()).
  virtual WorkPtr send(const Tensor& t, int dst, int tag) = 0;
  virtual WorkPtr recv(const Tensor& t, int src, int tag) = 0;
  /// Completes once every rank posted its barrier.
  virtual WorkPtr barrier() = 0;
  /// A new communicator of the ranks that pass the same color, ordered by (key, rank); nullptr for a
  /// negative color. Collective over this communicator.
  virtual std::shared_ptr<Communicator> split(int color, int key) = 0;
  /// For a call the caller found invalid before posting it (the Python layer's world-to-group rank
  /// translation): take part in collective `op`'s cross-rank argument check as a rank whose arguments
  /// failed, so that the peers raise "invalid on another rank" instead of waiting for this rank; the
  /// caller then raises the real error. Does nothing where the real call would exchange no check
  /// (check_args() off, except for "split", whose check always runs).
  virtual void reject(const std::string& op) = 0;

  /// Seconds a wait() may block before it throws DistTimeoutError (<= 0: forever).
  void set_timeout(double seconds) { timeout_s_ = seconds; }
  double timeout() const { return timeout_s_; }
  /// Whether collectives first check, across ranks, that shapes/dtypes/roots agree (one tiny
  /// all-reduce per call). On by default.
  void set_check_args(bool on) { check_args_ = on; }
  bool check_args() const { return check_args_; }

 protected:
  double timeout_s_ = 1800.0;
  bool check_args_ = true;
};
using CommunicatorPtr = std::shared_ptr<Communicator>;

/// The world of one process: every collective is a local copy. Needs no MPI.
CommunicatorPtr local_world();

}  // namespace hy::dist
