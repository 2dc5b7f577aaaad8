// Communicator over MPI. Every operation is posted as a non-blocking MPI call (MPI_I*, or the point-to-point
// all-reduces of mpi_allreduce.cpp) and completed by polling against a deadline (mpi_runtime.cpp), so that
// a dead peer becomes a DistTimeoutError on the survivors instead of a hang, and errors come back as
// exceptions (MPI_ERRORS_RETURN), never aborts.
#include "distributed/mpi/mpi_communicator.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <type_traits>

#include "distributed/mpi/mpi_internal.h"
#include "distributed/staging_internal.h"

namespace hy::dist {
namespace {

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
  kReduceScatterTensor, kAllToAll, kAllToAllSingle, kSplit, kDup, kRejected
};

int64_t shape_hash(const Shape& s) {
  uint64_t h = 1469598103934665603ull ^ s.size();
  for (int64_t d : s) h = (h ^ static_cast<uint64_t>(d)) * 1099511628211ull;
  return static_cast<int64_t>(h & 0x3fffffffffffffffull);  // non-negative, so that -h cannot overflow
}

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
    if (!mpi_any_broken() && mpi_is_active()) {
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
    auto local_checks = [&] {
      check_reduce_dtype(name, t.dtype(), op);
      check_count(name, t.numel());
      t.note_write();
    };
    DType wire = reduce_wire_dtype(t.dtype());
    int n = size_;
    if (check_args_ && size_ > 1 && t.numel() * dtype_itemsize(wire) <= kCheckSlotBytes) {
      // Small: the data rides in the argument check's own exchange, one round instead of two.
      Tensor buf = stage_in(t, wire);
      prologue(name, kAllReduce, &t, -1, op, local_checks, true, false, &buf);
      auto w = start(name, {buf});
      w->finish = [t, buf, op, n](MpiWork&) {
        if (op == ReduceOp::ReduceOp_Avg) divide_inplace(buf, n);
        unstage(t, buf);
      };
      return w;
    }
    prologue(name, kAllReduce, &t, -1, op, local_checks);
    Tensor buf = stage_in(t, wire);
    std::shared_ptr<MpiWork> w;
    if (size_ > 1 && buf.nbytes() >= ring_min_bytes() && buf.numel() >= size_) {
      w = ring_all_reduce(p2p(), name, buf, op);
    } else if (size_ > 1) {
      w = doubling_all_reduce(p2p(), name, buf, op);
    } else {
      w = start(name, {buf});
      HY_MPI_POST(name, "MPI_Iallreduce", MPI_Iallreduce(MPI_IN_PLACE, buf.raw_data(), count(buf), mpi_datatype(wire),
                                                         mpi_op(op, wire), comm_, &w->reqs[0]));
    }
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
    if (check_args_) check_all_to_all_sizes(outs, ins);
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
    w->scope.peer = dst;
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
    if (src == -1) w->scope = WaitScope{};  // from any rank: no single peer to watch
    else w->scope.peer = src;
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

  void reject(const std::string& op) override {
    // The same exchange as the real call's prologue (one check message of the same size, on the same
    // tag sequence), with this rank's "local checks failed" flag set: the peers' prologue sees the flag
    // and raises before posting anything, so nobody is left waiting and the communicator stays usable.
    // The signature's opcode does not matter: the flag is tested before any field is compared.
    const bool always = op == "split";
    try {
      prologue(op.c_str(), kRejected, nullptr, -1, std::nullopt, [] { throw ValueError("rejected"); }, true, always);
    } catch (const ValueError&) {
      // Our own placeholder: the caller raises the real reason.
    }
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
    poll_requests("dup", reqs, st, timeout_s_, {}, WaitScope{comm_});
    return out;
  }

  CommunicatorPtr inherit(std::shared_ptr<MpiCommunicator> c) const {
    c->set_timeout(timeout());
    c->set_check_args(check_args());
    return c;
  }

 private:
  static int count(const Tensor& t) { return static_cast<int>(t.numel()); }

  // The ring/doubling messages travel on ring_comm_, so they never match user send/recv; each operation
  // gets its own tag (ranks post operations in the same order), so concurrent ones never match either.
  P2pContext p2p() {
    return {shared_from_this(), ring_comm_, rank_, size_, static_cast<int>(ring_seq_++ % 32768), timeout_s_};
  }

  std::shared_ptr<MpiWork> start(const char* op, std::vector<Tensor> keep) {
    auto w = std::make_shared<MpiWork>(shared_from_this(), op, timeout_s_);
    w->keep = std::move(keep);
    w->scope = WaitScope{comm_};  // collectives need every rank; send/recv narrow it to their peer
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
  // Bytes of payload the check's exchange can carry (see all_reduce): every check message has this slot,
  // used or not, so ranks that disagree on sizes still exchange messages of one size.
  static constexpr int64_t kCheckSlotBytes = 256;

  template <class LocalChecks>
  void prologue(const char* op, CheckOp code, const Tensor* t, int root, std::optional<ReduceOp> rop,
                LocalChecks&& local_checks, bool shape_in_check = true, bool always = false,
                const Tensor* ride = nullptr) {
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
    constexpr int64_t kSlotWords = kCheckSlotBytes / 8;
    Tensor buf = Tensor::empty(Shape{2 * kFields + kSlotWords}, DType::Int64);
    int64_t* b = buf.data<int64_t>();
    std::memset(b, 0, static_cast<size_t>(buf.nbytes()));
    for (int i = 0; i < kFields; ++i) {
      b[i] = sig[i];
      b[kFields + i] = -sig[i];  // max of -x is -min of x: one MPI_MAX gives both extremes
    }
    char* slot = reinterpret_cast<char*>(b + 2 * kFields);
    if (ride) std::memcpy(slot, ride->raw_data(), static_cast<size_t>(ride->nbytes()));
    if (size_ > 1) {
      const int64_t ride_n = ride ? ride->numel() : 0;
      const DType ride_dtype = ride ? ride->dtype() : DType::Int64;
      const ReduceOp ride_op = rop.value_or(ReduceOp::ReduceOp_Sum);
      doubling_all_reduce(p2p(), op, buf, [=](void* acc, const void* in) {
        auto* a = static_cast<int64_t*>(acc);
        const auto* x = static_cast<const int64_t*>(in);
        for (int i = 0; i < 2 * kFields; ++i) a[i] = std::max(a[i], x[i]);
        // A peer that passed different arguments sent a different payload: combining it is harmless
        // (same slot size, any bits), and the signature makes every rank raise below.
        if (ride_n > 0) reduce_into(a + 2 * kFields, x + 2 * kFields, ride_n, ride_dtype, ride_op);
      })->wait();
    }
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
    if (ride) std::memcpy(ride->raw_data(), slot, static_cast<size_t>(ride->nbytes()));
  }

  // all_to_all's per-pair sizes: every rank learns what each peer sends it (one MPI_Ialltoall of counts)
  // and all agree (one tiny all-reduce) whether some output tensor has the wrong size, so that a
  // mismatch raises everywhere instead of truncating on one rank and passing silently on another.
  void check_all_to_all_sizes(const std::vector<Tensor>& outs, const std::vector<Tensor>& ins) {
    const char* name = "all_to_all";
    Tensor sent = Tensor::empty(Shape{size_}, DType::Int64), got = Tensor::empty(Shape{size_}, DType::Int64);
    for (int j = 0; j < size_; ++j) sent.data<int64_t>()[j] = ins[j].numel();
    std::vector<MPI_Request> reqs(1, MPI_REQUEST_NULL);
    std::vector<MPI_Status> st;
    HY_MPI_POST(name, "MPI_Ialltoall", MPI_Ialltoall(sent.raw_data(), 1, MPI_INT64_T, got.raw_data(), 1, MPI_INT64_T,
                                                     comm_, &reqs[0]));
    poll_requests(name, reqs, st, timeout_s_, {sent, got}, WaitScope{comm_});
    int bad = -1;
    for (int j = 0; j < size_ && bad < 0; ++j) {
      if (got.data<int64_t>()[j] != outs[j].numel()) bad = j;
    }
    Tensor flag = Tensor::empty(Shape{1}, DType::Int64);
    flag.data<int64_t>()[0] = bad >= 0 ? 1 : 0;
    if (size_ > 1) doubling_all_reduce(p2p(), name, flag, ReduceOp::ReduceOp_Max)->wait();
    HY_CHECK(bad < 0, ValueError, name, ": rank ", bad, " sends ", got.data<int64_t>()[bad < 0 ? 0 : bad],
             " elements to this rank but output_list[", bad, "] holds ", outs[bad < 0 ? 0 : bad].numel());
    HY_CHECK(flag.data<int64_t>()[0] == 0, ValueError, name,
             ": on another rank an output tensor's size does not match what its peer sends (that rank raised "
             "the details)");
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

CommunicatorPtr mpi_world() {
  HY_CHECK(mpi_is_active(), dist::DistError, "init: MPI is not initialized");
  MPI_Comm out = MPI_COMM_NULL;
  check_rc(MPI_Comm_dup(MPI_COMM_WORLD, &out), "init", "MPI_Comm_dup(MPI_COMM_WORLD)");
  note_node_occupancy(out);
  open_departure_notices();
  return std::make_shared<MpiCommunicator>(out);
}

CommunicatorPtr mpi_adopt(intptr_t handle) {
  HY_CHECK(mpi_is_active(), dist::DistError, "init: MPI is not initialized (mpi4py initializes it on import)");
  MPI_Comm c = handle_from_int<MPI_Comm>(handle);
  HY_CHECK(c != MPI_COMM_NULL, ValueError, "init: comm is MPI.COMM_NULL");
  int level = 0;
  MPI_Query_thread(&level);
  g_mpi_thread_level = level;
  MPI_Comm out = MPI_COMM_NULL;
  check_rc(MPI_Comm_dup(c, &out), "init", "MPI_Comm_dup");
  note_node_occupancy(out);
  return std::make_shared<MpiCommunicator>(out);
}

intptr_t mpi_dup_handle(const CommunicatorPtr& c) {
  auto* m = dynamic_cast<MpiCommunicator*>(c.get());
  HY_CHECK(m != nullptr, TypeError, "get_mpi4py_comm: the process group uses the '", c->backend(),
           "' backend, not MPI");
  return handle_to_int(m->dup());
}

}  // namespace hy::dist
