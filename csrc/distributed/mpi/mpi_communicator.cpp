// Communicator over MPI. Every operation is posted as a non-blocking MPI call (MPI_I*) and completed
// by polling MPI_Test against a deadline, so that a dead peer becomes a DistTimeoutError on the
// survivors instead of a hang, and errors come back as exceptions (MPI_ERRORS_RETURN), never aborts.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include "distributed/mpi/mpi_communicator.h"

#include <mpi.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>

#include "core/shape_util.h"
#include "distributed/staging_internal.h"

namespace hy::dist {
namespace {

bool g_we_initialized = false;
int g_thread_level = MPI_THREAD_SINGLE;
std::atomic<bool> g_broken{false};
std::mutex g_state_mutex;  // guards g_broken_reason and g_graveyard
std::string g_broken_reason;
// Buffers of operations abandoned after a timeout: MPI may still write into them, so they are never freed.
std::vector<Tensor>* g_graveyard = new std::vector<Tensor>();

// Below MPI_THREAD_MULTIPLE, two threads must not be inside MPI at once; our own calls take this lock.
std::mutex g_mpi_mutex;
struct MpiLock {
  std::unique_lock<std::mutex> lock;
  MpiLock() : lock(g_mpi_mutex, std::defer_lock) {
    if (g_thread_level < MPI_THREAD_MULTIPLE) lock.lock();
  }
};

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

// MPI handles are pointers in Open MPI and ints in MPICH; mpi4py hands both out as Python ints.
template <class H> H handle_from_int(intptr_t v) {
  if constexpr (std::is_pointer_v<H>) return reinterpret_cast<H>(v);
  else return static_cast<H>(v);
}
template <class H> intptr_t handle_to_int(H h) {
  if constexpr (std::is_pointer_v<H>) return reinterpret_cast<intptr_t>(h);
  else return static_cast<intptr_t>(h);
}

// Opcodes of the cross-rank argument check: ranks that entered different collectives disagree here.
enum CheckOp : int64_t {
  kAllReduce = 1, kBroadcast, kReduce, kAllGather, kAllGatherTensor, kGather, kScatter, kReduceScatter,
  kReduceScatterTensor, kAllToAll, kAllToAllSingle, kSplit, kDup
};

int64_t shape_hash(const Shape& s) {
  uint64_t h = 1469598103934665603ull ^ s.size();
  for (int64_t d : s) h = (h ^ static_cast<uint64_t>(d)) * 1099511628211ull;
  return static_cast<int64_t>(h & 0x3fffffffffffffffull);  // non-negative, so that -h cannot overflow
}

// Post one MPI call under the MPI lock; its error code becomes a DistError.
#define HY_MPI_POST(op, call_name, expr) \
  do {                                   \
    MpiLock lock_;                       \
    check_rc((expr), op, call_name);     \
  } while (0)

using Clock = std::chrono::steady_clock;

// Poll until every request completed. MPI implementations progress non-blocking collectives only inside
// MPI calls, so this spins on MPI_Testall (as MPI_Wait would) and only yields the core after a while.
void poll_requests(const char* op, std::vector<MPI_Request>& reqs, std::vector<MPI_Status>& st, double timeout_s,
                   const std::vector<Tensor>& buffers) {
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  st.resize(reqs.size());
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
    if ((spins & 255) == 255) {
      auto now = Clock::now();
      if (timeout_s > 0 && now > deadline) {
        std::string why = str(op, ": no answer from a peer within the timeout of ", timeout_s,
                              " s (HYFLOW_DIST_TIMEOUT); a rank has probably died or is stuck");
        mark_broken(why);
        {
          std::lock_guard<std::mutex> g(g_state_mutex);
          for (const Tensor& b : buffers) g_graveyard->push_back(b);
        }
        throw DistTimeoutError(why);
      }
      if (now - start > std::chrono::milliseconds(100)) std::this_thread::yield();
    }
  }
}

class MpiCommunicator;

class MpiWork : public Work {
 public:
  MpiWork(std::shared_ptr<const MpiCommunicator> comm, const char* op, double timeout_s)
      : reqs(1, MPI_REQUEST_NULL), comm_(std::move(comm)), op_(op), timeout_s_(timeout_s) {}

  void wait() override {
    if (done_) return;
    do {
      poll_requests(op_, reqs, status_, timeout_s_, keep);
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

  std::shared_ptr<const MpiCommunicator> comm_;
  const char* op_;
  double timeout_s_;
  std::vector<MPI_Status> status_;
  bool done_ = false;
  int source_ = -1;
};

class MpiCommunicator : public Communicator, public std::enable_shared_from_this<MpiCommunicator> {
 public:
  explicit MpiCommunicator(MPI_Comm comm) : comm_(comm) {
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    // The ring all-reduce's messages get their own communicator so they never match user send/recv.
    check_rc(MPI_Comm_dup(comm_, &ring_comm_), "init", "MPI_Comm_dup");
    MPI_Comm_set_errhandler(ring_comm_, MPI_ERRORS_RETURN);
  }
  ~MpiCommunicator() override {
    // After a failure, or once MPI is finalized, freeing could hang or is illegal.
    if (!g_broken.load() && mpi_is_active()) {
      MPI_Comm_free(&ring_comm_);
      MPI_Comm_free(&comm_);
    }
  }
  MPI_Comm comm() const { return comm_; }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }

  WorkPtr all_reduce(const Tensor& t, ReduceOp op) override {
    const char* name = "all_reduce";
    prologue(name, kAllReduce, &t, -1, op, [&] {
      check_reduce_dtype(name, t.dtype(), op);
      check_count(name, t.numel());
      t.note_write();
    });
    DType wire = reduce_wire_dtype(t.dtype());
    Tensor buf = stage_in(t, wire);
    if (size_ > 1 && buf.nbytes() >= ring_min_bytes() && buf.numel() >= size_) return ring_all_reduce(t, buf, op);
    std::shared_ptr<MpiWork> w;
    if (size_ > 1) {
      w = doubling_all_reduce(name, buf, op);
    } else {
      w = start(name, {buf});
      HY_MPI_POST(name, "MPI_Iallreduce", MPI_Iallreduce(MPI_IN_PLACE, buf.raw_data(), count(buf), mpi_datatype(wire),
                                                         mpi_op(op, wire), comm_, &w->reqs[0]));
    }
    int n = size_;
    w->finish = [t, buf, op, n](MpiWork&) {
      if (op == ReduceOp::ReduceOp_Avg) divide_inplace(buf, n);
      unstage(t, buf);
    };
    return w;
  }

  // Small all-reduces: recursive doubling over point-to-point messages, log2(n) exchange rounds. It has
  // a fraction of the latency of MPI_Iallreduce in common MPI libraries, and stays pollable. With n not
  // a power of two, the ranks above the largest power of two p first fold their data into rank r - p
  // and get the result back at the end. Partners combine the same two values (commutative ops), so
  // every rank ends with identical bits.
  std::shared_ptr<MpiWork> doubling_all_reduce(const char* name, const Tensor& buf, ReduceOp op) {
    struct Step {
      int peer;
      bool send, recv, reduce;  // recv lands in tmp and is reduced into buf when reduce, else in buf
    };
    struct State {
      std::vector<Step> steps;
      size_t at = 0;
      int tag = 0;
      Tensor tmp;
    };
    auto st = std::make_shared<State>();
    st->tag = static_cast<int>(ring_seq_++ % 32768);
    const int n = size_, r = rank_;
    int p = 1;
    while (p * 2 <= n) p *= 2;
    if (r >= p) {
      st->steps = {{r - p, true, false, false}, {r - p, false, true, false}};
    } else {
      if (r < n - p) st->steps.push_back({r + p, false, true, true});
      for (int mask = 1; mask < p; mask <<= 1) st->steps.push_back({r ^ mask, true, true, true});
      if (r < n - p) st->steps.push_back({r + p, true, false, false});
    }
    st->tmp = Tensor::empty(Shape{buf.numel()}, buf.dtype());
    auto w = start(name, {buf, st->tmp});
    w->reqs.assign(2, MPI_REQUEST_NULL);
    MPI_Datatype dt = mpi_datatype(buf.dtype());
    MPI_Comm comm = ring_comm_;
    const int cnt = count(buf);
    DType wire = buf.dtype();
    auto post_step = [=](MpiWork& work) {
      const Step& s = st->steps[st->at];
      if (s.recv) {
        void* to = s.reduce ? st->tmp.raw_data() : buf.raw_data();
        HY_MPI_POST(name, "MPI_Irecv", MPI_Irecv(to, cnt, dt, s.peer, st->tag, comm, &work.reqs[0]));
      }
      if (s.send) {
        HY_MPI_POST(name, "MPI_Isend", MPI_Isend(buf.raw_data(), cnt, dt, s.peer, st->tag, comm, &work.reqs[1]));
      }
    };
    post_step(*w);
    w->next_stage = [=](MpiWork& work) {
      if (st->steps[st->at].reduce) reduce_into(buf.raw_data(), st->tmp.raw_data(), buf.numel(), wire, op);
      if (++st->at == st->steps.size()) return false;
      post_step(work);
      return true;
    };
    return w;
  }

  // Large all-reduces run as a ring of point-to-point messages (reduce-scatter, then all-gather): MPI
  // libraries' non-blocking MPI_Iallreduce often uses slower algorithms than their blocking one, and a
  // ring moves the bandwidth-optimal 2 (n-1)/n of the data while staying pollable against the timeout.
  // Each segment is reduced on one rank and passed on, so every rank ends with identical bits.
  WorkPtr ring_all_reduce(const Tensor& t, const Tensor& buf, ReduceOp op) {
    const char* name = "all_reduce";
    struct Ring {
      int step = 0;
      int tag = 0;
      Tensor tmp;
    };
    auto ring = std::make_shared<Ring>();
    ring->tag = static_cast<int>(ring_seq_++ % 32768);  // distinct concurrent rings never match each other
    const int n = size_, r = rank_, next = (r + 1) % n, prev = (r + n - 1) % n;
    const int64_t numel = buf.numel(), item = buf.itemsize();
    auto seg_begin = [numel, n](int i) { return numel * i / n; };
    auto seg_len = [seg_begin](int i) { return seg_begin(i + 1) - seg_begin(i); };
    ring->tmp = Tensor::empty(Shape{seg_len(n - 1)}, buf.dtype());  // the last segment is the longest
    auto w = start(name, {buf, ring->tmp});
    w->reqs.assign(2, MPI_REQUEST_NULL);
    MPI_Datatype dt = mpi_datatype(buf.dtype());
    MPI_Comm comm = ring_comm_;
    char* base = static_cast<char*>(buf.raw_data());
    auto post_step = [=](MpiWork& work) {
      int s = ring->step, send_seg, recv_seg;
      void* recv_to;
      if (s < n - 1) {  // reduce-scatter: receive a partial segment into tmp
        send_seg = (r - s + 2 * n) % n;
        recv_seg = (r - s - 1 + 2 * n) % n;
        recv_to = ring->tmp.raw_data();
      } else {  // all-gather: receive a finished segment in place
        int k = s - (n - 1);
        send_seg = (r + 1 - k + 2 * n) % n;
        recv_seg = (r - k + 2 * n) % n;
        recv_to = base + seg_begin(recv_seg) * item;
      }
      HY_MPI_POST(name, "MPI_Irecv", MPI_Irecv(recv_to, static_cast<int>(seg_len(recv_seg)), dt, prev, ring->tag,
                                                comm, &work.reqs[0]));
      HY_MPI_POST(name, "MPI_Isend", MPI_Isend(base + seg_begin(send_seg) * item, static_cast<int>(seg_len(send_seg)),
                                                dt, next, ring->tag, comm, &work.reqs[1]));
    };
    post_step(*w);
    DType wire = buf.dtype();
    w->next_stage = [=](MpiWork& work) {
      int s = ring->step;
      if (s < n - 1) {
        int seg = (r - s - 1 + 2 * n) % n;
        reduce_into(base + seg_begin(seg) * item, ring->tmp.raw_data(), seg_len(seg), wire, op);
      }
      if (++ring->step == 2 * (n - 1)) return false;
      post_step(work);
      return true;
    };
    w->finish = [t, buf, op, n](MpiWork&) {
      if (op == ReduceOp::ReduceOp_Avg) divide_inplace(buf, n);
      unstage(t, buf);
    };
    return w;
  }

  WorkPtr broadcast(const Tensor& t, int root) override {
    const char* name = "broadcast";
    prologue(name, kBroadcast, &t, root, std::nullopt, [&] {
      check_rank(name, "src", root, size_);
      check_count(name, t.numel());
      if (rank_ != root) t.note_write();
    });
    Tensor buf = stage_in(t, t.dtype());
    auto w = start(name, {buf});
    HY_MPI_POST(name, "MPI_Ibcast", MPI_Ibcast(buf.raw_data(), count(buf), mpi_datatype(t.dtype()), root, comm_, &w->reqs[0]));
    if (rank_ != root) w->finish = [t, buf](MpiWork&) { unstage(t, buf); };
    return w;
  }

  WorkPtr reduce(const Tensor& t, int root, ReduceOp op) override {
    const char* name = "reduce";
    prologue(name, kReduce, &t, root, op, [&] {
      check_rank(name, "dst", root, size_);
      check_reduce_dtype(name, t.dtype(), op);
      check_count(name, t.numel());
      if (rank_ == root) t.note_write();
    });
    DType wire = reduce_wire_dtype(t.dtype());
    Tensor buf = stage_in(t, wire);
    auto w = start(name, {buf});
    bool at_root = rank_ == root;
    HY_MPI_POST(name, "MPI_Ireduce",
         MPI_Ireduce(at_root ? MPI_IN_PLACE : buf.raw_data(), at_root ? buf.raw_data() : nullptr, count(buf),
                     mpi_datatype(wire), mpi_op(op, wire), root, comm_, &w->reqs[0]));
    int n = size_;
    if (at_root) {
      w->finish = [t, buf, op, n](MpiWork&) {
        if (op == ReduceOp::ReduceOp_Avg) divide_inplace(buf, n);
        unstage(t, buf);
      };
    }
    return w;
  }

  WorkPtr all_gather(const std::vector<Tensor>& outs, const Tensor& in) override {
    const char* name = "all_gather";
    prologue(name, kAllGather, &in, -1, std::nullopt, [&] {
      check_list(name, "tensor_list", outs, static_cast<size_t>(size_), in);
      check_count(name, in.numel() * size_);
      note_writes(outs);
    });
    Tensor send = stage_in(in, in.dtype());
    Tensor recv = Tensor::empty(Shape{in.numel() * size_}, in.dtype());
    auto w = start(name, {send, recv});
    MPI_Datatype dt = mpi_datatype(in.dtype());
    HY_MPI_POST(name, "MPI_Iallgather",
         MPI_Iallgather(send.raw_data(), count(send), dt, recv.raw_data(), count(send), dt, comm_, &w->reqs[0]));
    w->finish = [outs, recv](MpiWork&) { unpack(outs, recv); };
    return w;
  }

  WorkPtr all_gather_into_tensor(const Tensor& out, const Tensor& in) override {
    const char* name = "all_gather_into_tensor";
    prologue(name, kAllGatherTensor, &in, -1, std::nullopt, [&] {
      check_pair(name, in, "input", out, "output", size_);
      check_count(name, out.numel());
      out.note_write();
    });
    Tensor send = stage_in(in, in.dtype());
    Tensor recv = stage_out(out, out.dtype());
    if (recv.shares_storage(send)) recv = Tensor::empty(out.shape(), out.dtype());  // MPI forbids aliasing
    auto w = start(name, {send, recv});
    MPI_Datatype dt = mpi_datatype(in.dtype());
    HY_MPI_POST(name, "MPI_Iallgather",
         MPI_Iallgather(send.raw_data(), count(send), dt, recv.raw_data(), count(send), dt, comm_, &w->reqs[0]));
    w->finish = [out, recv](MpiWork&) { unstage(out, recv); };
    return w;
  }

  WorkPtr gather(const std::vector<Tensor>& outs, const Tensor& in, int root) override {
    const char* name = "gather";
    prologue(name, kGather, &in, root, std::nullopt, [&] {
      check_rank(name, "dst", root, size_);
      if (rank_ == root) {
        check_list(name, "gather_list", outs, static_cast<size_t>(size_), in);
        note_writes(outs);
      }
      check_count(name, in.numel() * size_);
    });
    Tensor send = stage_in(in, in.dtype());
    Tensor recv = rank_ == root ? Tensor::empty(Shape{in.numel() * size_}, in.dtype()) : send;
    auto w = start(name, {send, recv});
    MPI_Datatype dt = mpi_datatype(in.dtype());
    HY_MPI_POST(name, "MPI_Igather",
         MPI_Igather(send.raw_data(), count(send), dt, rank_ == root ? recv.raw_data() : nullptr, count(send), dt, root,
                     comm_, &w->reqs[0]));
    if (rank_ == root) w->finish = [outs, recv](MpiWork&) { unpack(outs, recv); };
    return w;
  }

  WorkPtr scatter(const Tensor& out, const std::vector<Tensor>& ins, int root) override {
    const char* name = "scatter";
    prologue(name, kScatter, &out, root, std::nullopt, [&] {
      check_rank(name, "src", root, size_);
      if (rank_ == root) check_list(name, "scatter_list", ins, static_cast<size_t>(size_), out);
      check_count(name, out.numel() * size_);
      out.note_write();
    });
    Tensor send = rank_ == root ? pack(ins, out.dtype()) : Tensor();
    Tensor recv = stage_out(out, out.dtype());
    auto w = start(name, {send, recv});
    MPI_Datatype dt = mpi_datatype(out.dtype());
    HY_MPI_POST(name, "MPI_Iscatter",
         MPI_Iscatter(send.defined() ? send.raw_data() : nullptr, count(recv), dt, recv.raw_data(), count(recv), dt,
                      root, comm_, &w->reqs[0]));
    w->finish = [out, recv](MpiWork&) { unstage(out, recv); };
    return w;
  }

  WorkPtr reduce_scatter(const Tensor& out, const std::vector<Tensor>& ins, ReduceOp op) override {
    const char* name = "reduce_scatter";
    prologue(name, kReduceScatter, &out, -1, op, [&] {
      check_reduce_dtype(name, out.dtype(), op);
      check_list(name, "input_list", ins, static_cast<size_t>(size_), out);
      check_count(name, out.numel() * size_);
      out.note_write();
    });
    return post_reduce_scatter(name, out, pack(ins, reduce_wire_dtype(out.dtype())), op);
  }

  WorkPtr reduce_scatter_tensor(const Tensor& out, const Tensor& in, ReduceOp op) override {
    const char* name = "reduce_scatter_tensor";
    prologue(name, kReduceScatterTensor, &out, -1, op, [&] {
      check_reduce_dtype(name, out.dtype(), op);
      check_pair(name, out, "output", in, "input", size_);
      check_count(name, in.numel());
      out.note_write();
    });
    return post_reduce_scatter(name, out, stage_in(in, reduce_wire_dtype(out.dtype())), op);
  }

  WorkPtr all_to_all(const std::vector<Tensor>& outs, const std::vector<Tensor>& ins) override {
    const char* name = "all_to_all";
    // Sizes may differ per pair, so only the dtype takes part in the cross-rank check.
    const Tensor* first = ins.empty() ? nullptr : &ins[0];
    prologue(name, kAllToAll, first, -1, std::nullopt, [&] {
      HY_CHECK(outs.size() == static_cast<size_t>(size_) && ins.size() == static_cast<size_t>(size_), ValueError,
               name, ": output_list and input_list must hold ", size_, " tensors each (one per rank), got ",
               outs.size(), " and ", ins.size());
      check_same_dtype(name, "input_list", ins);
      check_same_dtype(name, "output_list", outs);
      HY_CHECK(outs[0].dtype() == ins[0].dtype(), TypeError, name, ": output_list holds ", dtype_name(outs[0].dtype()),
               " tensors but input_list holds ", dtype_name(ins[0].dtype()));
      int64_t total_in = 0, total_out = 0;
      for (auto& t : ins) total_in += t.numel();
      for (auto& t : outs) total_out += t.numel();
      check_count(name, std::max(total_in, total_out));
      note_writes(outs);
    }, /*shape_in_check=*/false);
    DType d = ins[0].dtype();
    Tensor send = pack(ins, d);
    int64_t total_out = 0;
    for (auto& t : outs) total_out += t.numel();
    Tensor recv = Tensor::empty(Shape{total_out}, d);
    auto w = start(name, {send, recv});
    w->counts.resize(4 * static_cast<size_t>(size_));
    int* sc = w->counts.data();
    int* sd = sc + size_;
    int* rc = sd + size_;
    int* rd = rc + size_;
    int64_t so = 0, ro = 0;
    for (int r = 0; r < size_; ++r) {
      sc[r] = static_cast<int>(ins[r].numel());
      sd[r] = static_cast<int>(so);
      so += ins[r].numel();
      rc[r] = static_cast<int>(outs[r].numel());
      rd[r] = static_cast<int>(ro);
      ro += outs[r].numel();
    }
    MPI_Datatype dt = mpi_datatype(d);
    HY_MPI_POST(name, "MPI_Ialltoallv",
         MPI_Ialltoallv(send.raw_data(), sc, sd, dt, recv.raw_data(), rc, rd, dt, comm_, &w->reqs[0]));
    w->finish = [outs, recv](MpiWork&) { unpack(outs, recv); };
    return w;
  }

  WorkPtr all_to_all_single(const Tensor& out, const Tensor& in) override {
    const char* name = "all_to_all_single";
    prologue(name, kAllToAllSingle, &in, -1, std::nullopt, [&] {
      check_pair(name, in, "input", out, "output", 1);
      HY_CHECK(in.numel() % size_ == 0, ValueError, name, ": input has ", in.numel(),
               " elements, which do not split into ", size_, " equal chunks");
      check_count(name, in.numel());
      out.note_write();
    });
    Tensor send = stage_in(in, in.dtype());
    Tensor recv = stage_out(out, out.dtype());
    if (recv.shares_storage(send)) recv = Tensor::empty(out.shape(), out.dtype());
    auto w = start(name, {send, recv});
    MPI_Datatype dt = mpi_datatype(in.dtype());
    int chunk = static_cast<int>(in.numel() / size_);
    HY_MPI_POST(name, "MPI_Ialltoall",
         MPI_Ialltoall(send.raw_data(), chunk, dt, recv.raw_data(), chunk, dt, comm_, &w->reqs[0]));
    w->finish = [out, recv](MpiWork&) { unstage(out, recv); };
    return w;
  }

  WorkPtr send(const Tensor& t, int dst, int tag) override {
    const char* name = "send";
    check_usable(name);
    check_rank(name, "dst", dst, size_);
    HY_CHECK(tag >= 0, ValueError, name, ": tag must be >= 0, got ", tag);
    check_count(name, t.numel());
    Tensor buf = stage_in(t, t.dtype());
    auto w = start(name, {buf});
    HY_MPI_POST(name, "MPI_Isend",
         MPI_Isend(buf.raw_data(), count(buf), mpi_datatype(t.dtype()), dst, tag, comm_, &w->reqs[0]));
    return w;
  }

  WorkPtr recv(const Tensor& t, int src, int tag) override {
    const char* name = "recv";
    check_usable(name);
    if (src != -1) check_rank(name, "src", src, size_);
    HY_CHECK(tag >= 0, ValueError, name, ": tag must be >= 0, got ", tag);
    check_count(name, t.numel());
    t.note_write();
    Tensor buf = stage_out(t, t.dtype());
    auto w = start(name, {buf});
    w->expect_recv = t.numel();
    w->recv_type = mpi_datatype(t.dtype());
    HY_MPI_POST(name, "MPI_Irecv",
         MPI_Irecv(buf.raw_data(), count(buf), w->recv_type, src == -1 ? MPI_ANY_SOURCE : src, tag, comm_,
                   &w->reqs[0]));
    w->finish = [t, buf](MpiWork&) { unstage(t, buf); };
    return w;
  }

  WorkPtr barrier() override {
    check_usable("barrier");
    auto w = start("barrier", {});
    HY_MPI_POST("barrier", "MPI_Ibarrier", MPI_Ibarrier(comm_, &w->reqs[0]));
    return w;
  }

  CommunicatorPtr split(int color, int key) override {
    // MPI_Comm_split blocks and cannot time out; a (time-limited) check first makes sure every rank is
    // alive and taking part.
    prologue("split", kSplit, nullptr, -1, std::nullopt, [] {}, true, /*always=*/true);
    MPI_Comm out = MPI_COMM_NULL;
    {
      MpiLock lock;
      check_rc(MPI_Comm_split(comm_, color < 0 ? MPI_UNDEFINED : color, key, &out), "split", "MPI_Comm_split");
    }
    if (out == MPI_COMM_NULL) return nullptr;
    return inherit(std::make_shared<MpiCommunicator>(out));
  }

  /// A private duplicate of this communicator's MPI_Comm (MPI_Comm_idup, so it can time out).
  MPI_Comm dup() const {
    check_usable("dup");
    MPI_Comm out = MPI_COMM_NULL;
    std::vector<MPI_Request> reqs(1, MPI_REQUEST_NULL);
    std::vector<MPI_Status> st;
    {
      MpiLock lock;
      check_rc(MPI_Comm_idup(comm_, &out, &reqs[0]), "dup", "MPI_Comm_idup");
    }
    poll_requests("dup", reqs, st, timeout_s_, {});
    return out;
  }

  CommunicatorPtr inherit(std::shared_ptr<MpiCommunicator> c) const {
    c->set_timeout(timeout());
    c->set_check_args(check_args());
    return c;
  }

 private:
  static int count(const Tensor& t) { return static_cast<int>(t.numel()); }

  std::shared_ptr<MpiWork> start(const char* op, std::vector<Tensor> keep) {
    auto w = std::make_shared<MpiWork>(shared_from_this(), op, timeout_s_);
    w->keep = std::move(keep);
    return w;
  }

  WorkPtr post_reduce_scatter(const char* name, const Tensor& out, const Tensor& send, ReduceOp op) {
    DType wire = send.dtype();
    Tensor recv = stage_out(out, wire);
    if (recv.shares_storage(send)) recv = Tensor::empty(out.shape(), wire);
    auto w = start(name, {send, recv});
    HY_MPI_POST(name, "MPI_Ireduce_scatter_block",
         MPI_Ireduce_scatter_block(send.raw_data(), recv.raw_data(), count(recv), mpi_datatype(wire), mpi_op(op, wire),
                                   comm_, &w->reqs[0]));
    int n = size_;
    w->finish = [out, recv, op, n](MpiWork&) {
      if (op == ReduceOp::ReduceOp_Avg) divide_inplace(recv, n);
      unstage(out, recv);
    };
    return w;
  }

  // Local argument checks, then (unless switched off) one tiny all-reduce that compares what every rank
  // passed: the collective, dtype, shape, root and reduce op, and whether its local checks failed. Every
  // rank then raises the same kind of error instead of some ranks hanging in a mismatched collective.
  template <class LocalChecks>
  void prologue(const char* op, CheckOp code, const Tensor* t, int root, std::optional<ReduceOp> rop,
                LocalChecks&& local_checks, bool shape_in_check = true, bool always = false) {
    check_usable(op);
    std::exception_ptr local;
    std::string local_msg;
    try {
      local_checks();
    } catch (const std::exception& e) {
      local = std::current_exception();
      local_msg = e.what();
    }
    if (!check_args_ && !always) {
      if (local) std::rethrow_exception(local);
      return;
    }
    constexpr int kFields = 7;
    int64_t sig[kFields] = {code,
                            t ? static_cast<int64_t>(t->dtype()) : -1,
                            (t && shape_in_check) ? t->numel() : -1,
                            (t && shape_in_check) ? shape_hash(t->shape()) : -1,
                            root,
                            rop ? static_cast<int64_t>(*rop) : -1,
                            local ? 1 : 0};
    Tensor buf = Tensor::empty(Shape{2 * kFields}, DType::Int64);
    int64_t* b = buf.data<int64_t>();
    for (int i = 0; i < kFields; ++i) {
      b[i] = sig[i];
      b[kFields + i] = -sig[i];  // max of -x is -min of x: one MPI_MAX gives both extremes
    }
    if (size_ > 1) doubling_all_reduce(op, buf, ReduceOp::ReduceOp_Max)->wait();
    if (local) std::rethrow_exception(local);
    auto differs = [&](int i) { return b[i] != -b[kFields + i]; };
    const char* hint = " (hyflow.distributed.set_check_args(False) skips this check)";
    if (b[6] > 0) throw ValueError(str(op, ": the arguments were invalid on another rank, which raised the reason"));
    if (differs(0)) throw ValueError(str(op, ": ranks entered different collectives at the same time; every rank "
                                         "must call the same collectives in the same order", hint));
    if (differs(1)) throw ValueError(str(op, ": tensors have different dtypes across ranks (this rank: ",
                                         dtype_name(t->dtype()), ")", hint));
    if (differs(2) || differs(3)) throw ValueError(str(op, ": tensors have different shapes across ranks (this rank: ",
                                                       t->shape(), ")", hint));
    if (differs(4)) throw ValueError(str(op, ": ranks passed different root ranks (this rank: ", root, ")", hint));
    if (differs(5)) throw ValueError(str(op, ": ranks passed different reduce ops (this rank: ",
                                         reduce_op_name(*rop), ")", hint));
  }

  static int64_t ring_min_bytes() {
    static const int64_t v = [] {
      const char* e = std::getenv("HYFLOW_DIST_RING_BYTES");
      return e && *e ? std::atoll(e) : int64_t{256} << 10;
    }();
    return v;
  }

  MPI_Comm comm_;
  MPI_Comm ring_comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  uint64_t ring_seq_ = 0;
};

}  // namespace

void mpi_init() {
  int inited = 0, finalized = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&finalized);
  HY_CHECK(!finalized, dist::DistError, "init: MPI was already finalized in this process; it cannot start again");
  if (!inited) {
    int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &g_thread_level);
    if (rc != MPI_SUCCESS) throw DistError(str("init: MPI_Init_thread failed: ", mpi_error_text(rc)));
    g_we_initialized = true;
  } else {
    MPI_Query_thread(&g_thread_level);
  }
}

bool mpi_is_active() {
  int inited = 0, finalized = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&finalized);
  return inited && !finalized;
}

bool mpi_finalize(double timeout_s) {
  if (!g_we_initialized || !mpi_is_active() || g_broken.load()) return false;
  // MPI_Finalize waits for every rank; a barrier that can time out first makes sure they all came.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  std::vector<MPI_Request> reqs(1, MPI_REQUEST_NULL);
  std::vector<MPI_Status> st;
  if (MPI_Ibarrier(MPI_COMM_WORLD, &reqs[0]) != MPI_SUCCESS) return false;
  try {
    poll_requests("finalize", reqs, st, timeout_s, {});
  } catch (const DistError&) {
    return false;
  }
  MPI_Finalize();
  return true;
}

bool mpi_any_broken() { return g_broken.load(); }

CommunicatorPtr mpi_world() {
  HY_CHECK(mpi_is_active(), dist::DistError, "init: MPI is not initialized");
  MPI_Comm out = MPI_COMM_NULL;
  check_rc(MPI_Comm_dup(MPI_COMM_WORLD, &out), "init", "MPI_Comm_dup(MPI_COMM_WORLD)");
  return std::make_shared<MpiCommunicator>(out);
}

CommunicatorPtr mpi_adopt(intptr_t handle) {
  HY_CHECK(mpi_is_active(), dist::DistError, "init: MPI is not initialized (mpi4py initializes it on import)");
  MPI_Comm c = handle_from_int<MPI_Comm>(handle);
  HY_CHECK(c != MPI_COMM_NULL, ValueError, "init: comm is MPI.COMM_NULL");
  int level = 0;
  MPI_Query_thread(&level);
  g_thread_level = level;
  MPI_Comm out = MPI_COMM_NULL;
  check_rc(MPI_Comm_dup(c, &out), "init", "MPI_Comm_dup");
  return std::make_shared<MpiCommunicator>(out);
}

intptr_t mpi_dup_handle(const CommunicatorPtr& c) {
  auto* m = dynamic_cast<MpiCommunicator*>(c.get());
  HY_CHECK(m != nullptr, TypeError, "get_mpi4py_comm: the process group uses the '", c->backend(),
           "' backend, not MPI");
  return handle_to_int(m->dup());
}

std::string mpi_library_version() {
  char buf[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(buf, &len);
  return std::string(buf, static_cast<size_t>(len));
}

}  // namespace hy::dist
