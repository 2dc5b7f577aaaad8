// The NCCL backend of Communicator (docs/cuda.md, "NCCL"): collectives on CUDA tensors of one GPU per
// rank. Each communicator owns a stream; a call orders it after the work queued on the caller's current
// stream (an event), posts the NCCL call, and returns a Work that waits for a second event. wait()
// polls that event so the communicator's timeout and NCCL's asynchronous errors are seen; after a
// timeout the NCCL communicator is aborted, as a dead peer would otherwise hang every later call.
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/device_backend.h"
#include "distributed/communicator.h"
#include "hyflow/build_config.h"
#include "hyflow/ops/ops_generated.h"

namespace hy::dist {
namespace {

#define HY_NCCL_CHECK(expr)                                                                           \
  do {                                                                                                \
    ncclResult_t hy_nccl_res_ = (expr);                                                               \
    if (hy_nccl_res_ != ncclSuccess)                                                                  \
      throw DistError(str("NCCL error in ", #expr, ": ", ncclGetErrorString(hy_nccl_res_)));         \
  } while (0)
#define HY_CUDART_CHECK(expr)                                                                         \
  do {                                                                                                \
    cudaError_t hy_cuda_res_ = (expr);                                                                \
    if (hy_cuda_res_ != cudaSuccess) {                                                                \
      (void)cudaGetLastError(); /* reported here: not again by the next kernel launch's check */    \
      throw DistError(str("CUDA error in ", #expr, ": ", cudaGetErrorString(hy_cuda_res_)));         \
    }                                                                                                 \
  } while (0)

ncclDataType_t nccl_dtype(DType d, const char* op) {
  switch (d) {
    case DType::Float32: return ncclFloat32;
    case DType::Float64: return ncclFloat64;
    case DType::Float16: return ncclFloat16;
    case DType::BFloat16: return ncclBfloat16;
    case DType::Int32: return ncclInt32;
    case DType::Int64: return ncclInt64;
    case DType::Bool: return ncclUint8;  // bytes 0/1: max is "any", min is "all" (nccl_op)
    default: break;
  }
  throw TypeError(str(op, ": NCCL has no type for dtype ", dtype_name(d)));
}

// The other backends' rules (docs/distributed.md): AVG needs a floating dtype (NCCL would divide integers
// silently), and on bool SUM/MAX are "any", PROD/MIN "all" (a byte-wise sum of bools would leave 0/1).
ncclRedOp_t nccl_op(ReduceOp op, DType d, const char* what) {
  HY_CHECK(op != ReduceOp::ReduceOp_Avg || dtype_is_floating(d), TypeError, what,
           ": ReduceOp.AVG needs a floating-point tensor, got ", dtype_name(d));
  if (d == DType::Bool)
    return op == ReduceOp::ReduceOp_Sum || op == ReduceOp::ReduceOp_Max ? ncclMax : ncclMin;
  switch (op) {
    case ReduceOp::ReduceOp_Sum: return ncclSum;
    case ReduceOp::ReduceOp_Prod: return ncclProd;
    case ReduceOp::ReduceOp_Min: return ncclMin;
    case ReduceOp::ReduceOp_Max: return ncclMax;
    case ReduceOp::ReduceOp_Avg: return ncclAvg;
  }
  throw ValueError(str(what, ": unknown reduce op"));
}

// A posted NCCL call: done once `done` fired; then the staged outputs are copied back.
class NcclWork final : public Work {
 public:
  NcclWork(cudaEvent_t done, ncclComm_t comm, std::shared_ptr<std::atomic<bool>> aborted, double timeout_s,
           std::vector<std::function<void()>> finish, int source)
      : done_(done), comm_(comm), aborted_(std::move(aborted)), timeout_s_(timeout_s), finish_(std::move(finish)),
        source_(source) {}
  ~NcclWork() override { cudaEventDestroy(done_); }

  void wait() override {
    const auto start = std::chrono::steady_clock::now();
    while (!poll()) {
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (timeout_s_ > 0 && waited > timeout_s_) {
        // A peer is gone: unblock this rank's stream for good (the communicator then skips its destroy).
        if (!aborted_->exchange(true)) ncclCommAbort(comm_);
        throw DistTimeoutError(str("NCCL operation did not complete within ", timeout_s_, " s (a peer is gone or "
                                   "stuck); the NCCL communicator was aborted"));
      }
      // Spin (yielding the core) for the first 200 us: a small all-reduce over NVLink completes in 10-20 us,
      // which a fixed sleep per poll would double. Longer waits sleep between polls.
      if (waited < 200e-6) std::this_thread::yield();
      else std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
    finish();
  }
  bool is_completed() override {
    if (!poll()) return false;
    finish();
    return true;
  }
  int source() const override { return source_; }

 private:
  bool poll() {
    if (aborted_->load()) throw DistError("the NCCL communicator was aborted after an earlier timeout");
    cudaError_t e = cudaEventQuery(done_);
    if (e == cudaSuccess) return true;
    if (e != cudaErrorNotReady) HY_CUDART_CHECK(e);
    (void)cudaGetLastError();
    ncclResult_t async = ncclSuccess;
    HY_NCCL_CHECK(ncclCommGetAsyncError(comm_, &async));
    HY_NCCL_CHECK(async);
    return false;
  }
  void finish() {
    for (auto& f : finish_) f();
    finish_.clear();
  }
  cudaEvent_t done_;
  ncclComm_t comm_;
  std::shared_ptr<std::atomic<bool>> aborted_;
  double timeout_s_;
  std::vector<std::function<void()>> finish_;
  int source_;  // recv: its (always explicit) source rank; -1 otherwise
};

// ncclGroupStart/End as a scope: a call that throws between them (a failed ncclSend) still closes the
// thread's group, which would otherwise defer every later NCCL call on this thread.
class NcclGroup {
 public:
  NcclGroup() { HY_NCCL_CHECK(ncclGroupStart()); }
  ~NcclGroup() {
    if (open_) ncclGroupEnd();
  }
  NcclGroup(const NcclGroup&) = delete;
  NcclGroup& operator=(const NcclGroup&) = delete;
  void end() {
    open_ = false;
    HY_NCCL_CHECK(ncclGroupEnd());
  }

 private:
  bool open_ = true;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(ncclComm_t comm, int rank, int size, int device)
      : comm_(comm), rank_(rank), size_(size), device_(device) {
    HY_CUDART_CHECK(cudaSetDevice(device_));
    HY_CUDART_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  // The stream is never destroyed: tensors NCCL used are recorded on it (Call::post) and may be freed
  // after the communicator, when the caching allocator records an event on this stream (as torch keeps
  // its NCCL streams in a pool for the process's life). One stream per communicator.
  ~NcclCommunicator() override {
    if (!aborted_->load()) ncclCommDestroy(comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }
  std::string device() const override { return device_str(Device{DeviceType::DeviceType_CUDA, device_}); }

  // The peer hyflow's all_reduce is measured against (benchmarks/bench_nccl.py): what nccl-tests times, on
  // this communicator's NCCL handle and stream and the caller's buffer, with none of all_reduce's per-call
  // work (stream ordering events, staging, the Work and its completion event).
  double raw_all_reduce_seconds(const Tensor& t, int iters, int warmup) {
    const Device gpu{DeviceType::DeviceType_CUDA, device_};
    HY_CHECK(t.device() == gpu, ValueError, "raw all_reduce: the tensor must be on ", device_str(gpu));
    HY_CHECK(t.dtype() == DType::Float32 && t.is_contiguous(), ValueError,
             "raw all_reduce: the tensor must be a contiguous float32 one, got ", t.describe());
    HY_CHECK(!aborted_->load(), dist::DistError, "the NCCL communicator was aborted after an earlier timeout");
    HY_CUDART_CHECK(cudaSetDevice(device_));
    HY_CUDART_CHECK(cudaDeviceSynchronize());  // whatever made `t` is done before the clock starts
    auto post = [&] {
      HY_NCCL_CHECK(ncclAllReduce(t.raw_data(), t.raw_data(), t.numel(), ncclFloat32, ncclSum, comm_, stream_));
    };
    for (int i = 0; i < warmup; ++i) post();
    HY_CUDART_CHECK(cudaStreamSynchronize(stream_));
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) post();
    HY_CUDART_CHECK(cudaStreamSynchronize(stream_));
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iters;
  }

  WorkPtr all_reduce(const Tensor& t, ReduceOp op) override {
    const ncclRedOp_t rop = nccl_op(op, t.dtype(), "all_reduce");
    Call c = begin("all_reduce", {&t});
    Tensor buf = c.stage_inout(t);
    c.post();
    HY_NCCL_CHECK(ncclAllReduce(buf.raw_data(), buf.raw_data(), buf.numel(), nccl_dtype(t.dtype(), "all_reduce"),
                                rop, comm_, stream_));
    return c.end();
  }
  WorkPtr broadcast(const Tensor& t, int root) override {
    check_rank(root, "broadcast", "root");
    Call c = begin("broadcast", {&t});
    Tensor buf = c.stage_inout(t);
    c.post();
    HY_NCCL_CHECK(ncclBroadcast(buf.raw_data(), buf.raw_data(), buf.numel(), nccl_dtype(t.dtype(), "broadcast"),
                                root, comm_, stream_));
    return c.end();
  }
  WorkPtr reduce(const Tensor& t, int root, ReduceOp op) override {
    check_rank(root, "reduce", "root");
    const ncclRedOp_t rop = nccl_op(op, t.dtype(), "reduce");
    Call c = begin("reduce", {&t});
    Tensor buf = c.stage_inout(t);
    c.post();
    HY_NCCL_CHECK(ncclReduce(buf.raw_data(), buf.raw_data(), buf.numel(), nccl_dtype(t.dtype(), "reduce"),
                             rop, root, comm_, stream_));
    return c.end();
  }
  WorkPtr all_gather_into_tensor(const Tensor& out, const Tensor& in) override {
    HY_CHECK(out.numel() == in.numel() * size_, ValueError, "all_gather_into_tensor: out has ", out.numel(),
             " elements, expected ", in.numel() * size_, " (world size x input)");
    check_same_dtype("all_gather_into_tensor", out, in);
    Call c = begin("all_gather_into_tensor", {&out, &in});
    Tensor src = c.stage_in(in), dst = c.stage_out(out);
    c.post();
    HY_NCCL_CHECK(ncclAllGather(src.raw_data(), dst.raw_data(), in.numel(), nccl_dtype(in.dtype(), "all_gather"),
                                comm_, stream_));
    return c.end();
  }
  WorkPtr all_gather(const std::vector<Tensor>& outs, const Tensor& in) override {
    HY_CHECK(static_cast<int>(outs.size()) == size_, ValueError, "all_gather: expected ", size_, " outputs, got ",
             outs.size());
    Tensor flat = Tensor::empty({in.numel() * size_}, in.dtype(), in.device());
    WorkPtr w = all_gather_into_tensor(flat, in);
    return then(w, [outs, flat, n = in.numel()] {
      for (size_t r = 0; r < outs.size(); ++r)
        ops::copy_(outs[r], ops::reshape(ops::slice(flat, 0, r * n, (r + 1) * n, 1), outs[r].shape()));
    });
  }
  WorkPtr reduce_scatter_tensor(const Tensor& out, const Tensor& in, ReduceOp op) override {
    HY_CHECK(in.numel() == out.numel() * size_, ValueError, "reduce_scatter_tensor: in has ", in.numel(),
             " elements, expected ", out.numel() * size_, " (world size x output)");
    check_same_dtype("reduce_scatter_tensor", out, in);
    const ncclRedOp_t rop = nccl_op(op, in.dtype(), "reduce_scatter");
    Call c = begin("reduce_scatter_tensor", {&out, &in});
    Tensor src = c.stage_in(in), dst = c.stage_out(out);
    c.post();
    HY_NCCL_CHECK(ncclReduceScatter(src.raw_data(), dst.raw_data(), out.numel(),
                                    nccl_dtype(in.dtype(), "reduce_scatter"), rop,
                                    comm_, stream_));
    return c.end();
  }
  WorkPtr reduce_scatter(const Tensor& out, const std::vector<Tensor>& ins, ReduceOp op) override {
    HY_CHECK(static_cast<int>(ins.size()) == size_, ValueError, "reduce_scatter: expected ", size_, " inputs, got ",
             ins.size());
    std::vector<Tensor> flat;
    for (const Tensor& t : ins) flat.push_back(ops::reshape(t, {t.numel()}));
    return reduce_scatter_tensor(out, ops::cat(flat, 0), op);
  }
  WorkPtr gather(const std::vector<Tensor>& outs, const Tensor& in, int root) override {
    check_rank(root, "gather", "root");
    std::vector<const Tensor*> all{&in};
    if (rank_ == root) {
      HY_CHECK(static_cast<int>(outs.size()) == size_, ValueError, "gather: root needs ", size_, " outputs");
      for (const Tensor& t : outs) {
        check_same_dtype("gather", t, in);
        HY_CHECK(t.numel() == in.numel(), ValueError, "gather: an output has ", t.numel(), " elements, the input ",
                 in.numel());
        all.push_back(&t);
      }
    }
    Call c = begin("gather", all);
    Tensor src = c.stage_in(in);
    std::vector<Tensor> dst;
    if (rank_ == root)
      for (int r = 0; r < size_; ++r) dst.push_back(c.stage_out(outs[r]));
    c.post();
    NcclGroup group;
    for (size_t r = 0; r < dst.size(); ++r)
      HY_NCCL_CHECK(ncclRecv(dst[r].raw_data(), in.numel(), nccl_dtype(in.dtype(), "gather"), static_cast<int>(r),
                             comm_, stream_));
    HY_NCCL_CHECK(ncclSend(src.raw_data(), in.numel(), nccl_dtype(in.dtype(), "gather"), root, comm_, stream_));
    group.end();
    return c.end();
  }
  WorkPtr scatter(const Tensor& out, const std::vector<Tensor>& ins, int root) override {
    check_rank(root, "scatter", "root");
    std::vector<const Tensor*> all{&out};
    if (rank_ == root) {
      HY_CHECK(static_cast<int>(ins.size()) == size_, ValueError, "scatter: root needs ", size_, " inputs");
      for (const Tensor& t : ins) {
        check_same_dtype("scatter", out, t);
        HY_CHECK(t.numel() == out.numel(), ValueError, "scatter: an input has ", t.numel(), " elements, the output ",
                 out.numel());
        all.push_back(&t);
      }
    }
    Call c = begin("scatter", all);
    Tensor dst = c.stage_out(out);
    std::vector<Tensor> src;
    if (rank_ == root)
      for (int r = 0; r < size_; ++r) src.push_back(c.stage_in(ins[r]));
    c.post();
    NcclGroup group;
    for (size_t r = 0; r < src.size(); ++r)
      HY_NCCL_CHECK(ncclSend(src[r].raw_data(), out.numel(), nccl_dtype(out.dtype(), "scatter"), static_cast<int>(r),
                             comm_, stream_));
    HY_NCCL_CHECK(ncclRecv(dst.raw_data(), out.numel(), nccl_dtype(out.dtype(), "scatter"), root, comm_, stream_));
    group.end();
    return c.end();
  }
  WorkPtr all_to_all(const std::vector<Tensor>& outs, const std::vector<Tensor>& ins) override {
    HY_CHECK(static_cast<int>(outs.size()) == size_ && static_cast<int>(ins.size()) == size_, ValueError,
             "all_to_all: expected ", size_, " inputs and outputs");
    std::vector<const Tensor*> all;
    for (int r = 0; r < size_; ++r) {
      check_same_dtype("all_to_all", outs[r], ins[r]);
      all.insert(all.end(), {&ins[r], &outs[r]});
    }
    Call c = begin("all_to_all", all);
    std::vector<Tensor> src, dst;
    for (int r = 0; r < size_; ++r) {
      src.push_back(c.stage_in(ins[r]));
      dst.push_back(c.stage_out(outs[r]));
    }
    c.post();
    NcclGroup group;
    for (int r = 0; r < size_; ++r) {
      HY_NCCL_CHECK(ncclSend(src[r].raw_data(), src[r].numel(), nccl_dtype(src[r].dtype(), "all_to_all"), r, comm_,
                             stream_));
      HY_NCCL_CHECK(ncclRecv(dst[r].raw_data(), dst[r].numel(), nccl_dtype(dst[r].dtype(), "all_to_all"), r, comm_,
                             stream_));
    }
    group.end();
    return c.end();
  }
  WorkPtr all_to_all_single(const Tensor& out, const Tensor& in) override {
    HY_CHECK(in.numel() % size_ == 0 && out.numel() == in.numel(), ValueError,
             "all_to_all_single: in and out need the same number of elements, divisible by the world size");
    check_same_dtype("all_to_all_single", out, in);
    const int64_t chunk = in.numel() / size_;
    Call c = begin("all_to_all_single", {&out, &in});
    Tensor src = c.stage_in(in), dst = c.stage_out(out);
    const int64_t bytes = chunk * in.itemsize();
    c.post();
    NcclGroup group;
    for (int r = 0; r < size_; ++r) {
      HY_NCCL_CHECK(ncclSend(static_cast<char*>(src.raw_data()) + r * bytes, chunk, nccl_dtype(in.dtype(), "all_to_all"),
                             r, comm_, stream_));
      HY_NCCL_CHECK(ncclRecv(static_cast<char*>(dst.raw_data()) + r * bytes, chunk, nccl_dtype(in.dtype(), "all_to_all"),
                             r, comm_, stream_));
    }
    group.end();
    return c.end();
  }
  WorkPtr send(const Tensor& t, int dst, int tag) override {
    check_rank(dst, "send", "dst");
    Call c = begin("send", {&t});
    Tensor src = c.stage_in(t);
    c.post();
    HY_NCCL_CHECK(ncclSend(src.raw_data(), t.numel(), nccl_dtype(t.dtype(), "send"), dst, comm_, stream_));
    return c.end();
  }
  WorkPtr recv(const Tensor& t, int src, int tag) override {
    HY_CHECK(src >= 0, ValueError, "recv: the NCCL backend needs an explicit source rank (no receive from any rank)");
    check_rank(src, "recv", "src");
    Call c = begin("recv", {&t});
    Tensor dst = c.stage_out(t);
    c.post();
    HY_NCCL_CHECK(ncclRecv(dst.raw_data(), t.numel(), nccl_dtype(t.dtype(), "recv"), src, comm_, stream_));
    return c.end(src);  // Work.source: hyflow.distributed.recv() returns the sender's rank from it
  }
  WorkPtr barrier() override {
    Tensor one = Tensor::empty({1}, DType::Float32, Device{DeviceType::DeviceType_CUDA, device_});
    ops::fill_(one, Scalar(1.0));
    return all_reduce(one, ReduceOp::ReduceOp_Sum);
  }
  std::shared_ptr<Communicator> split(int color, int key) override {
    HY_CHECK(!aborted_->load(), dist::DistError, "split: the NCCL communicator was aborted after an earlier timeout");
    ncclComm_t sub = nullptr;
    HY_NCCL_CHECK(ncclCommSplit(comm_, color < 0 ? NCCL_SPLIT_NOCOLOR : color, key, &sub, nullptr));
    if (color < 0) return nullptr;
    int r = 0, n = 0;
    HY_NCCL_CHECK(ncclCommUserRank(sub, &r));
    HY_NCCL_CHECK(ncclCommCount(sub, &n));
    auto c = std::make_shared<NcclCommunicator>(sub, r, n, device_);
    c->set_timeout(timeout());
    return c;
  }
  void reject(const std::string&) override {}  // no cross-rank argument check runs over NCCL

 private:
  // One call: stages non-contiguous tensors (copies queued on the caller's current stream), then post()
  // orders the communicator's stream after everything queued there so far (the inputs' producers and
  // the staging copies) and marks every buffer as used by the communicator's stream, and end() records the
  // completion event. post() comes after the last stage_*() and before the first NCCL call.
  struct Call {
    NcclCommunicator* self;
    std::vector<std::function<void()>> finish;
    std::vector<Tensor> buffers;  // what the NCCL calls read or write
    Tensor use(Tensor t) {
      buffers.push_back(t);
      return t;
    }
    Tensor stage_in(const Tensor& t) { return use(t.is_contiguous() ? t : ops::contiguous(t)); }
    Tensor stage_out(const Tensor& t) {
      if (t.is_contiguous()) return use(t);
      Tensor tmp = Tensor::empty(t.shape(), t.dtype(), t.device());
      finish.push_back([t, tmp] { ops::copy_(t, tmp); });
      return use(tmp);
    }
    Tensor stage_inout(const Tensor& t) {
      if (t.is_contiguous()) return use(t);
      Tensor tmp = ops::contiguous(t);
      finish.push_back([t, tmp] { ops::copy_(t, tmp); });
      return use(tmp);
    }
    void post() {
      DeviceBackend& b = device_backend(DeviceType::DeviceType_CUDA);
      // Whatever the caller queued on its current stream (the producers, the staging copies) runs first.
      HY_CUDART_CHECK(cudaSetDevice(self->device_));
      auto current = reinterpret_cast<cudaStream_t>(b.current_stream(self->device_));
      cudaEvent_t ready = nullptr;
      HY_CUDART_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
      const cudaError_t recorded = cudaEventRecord(ready, current);
      const cudaError_t waited = recorded == cudaSuccess ? cudaStreamWaitEvent(self->stream_, ready, 0) : recorded;
      cudaEventDestroy(ready);  // released once the recorded work completes
      HY_CUDART_CHECK(waited);
      // The buffers were allocated in the current stream's order: without this, one freed (a staging
      // temporary at the end of the call, or a caller's tensor dropped before wait()) would be reused by
      // the next allocation on that stream while NCCL still reads or writes it.
      for (const Tensor& t : buffers)
        if (t.numel() > 0) b.record_stream(t.storage()->data(), reinterpret_cast<StreamHandle>(self->stream_));
    }
    WorkPtr end(int source = -1) {
      cudaEvent_t done = nullptr;
      HY_CUDART_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
      HY_CUDART_CHECK(cudaEventRecord(done, self->stream_));
      return std::make_shared<NcclWork>(done, self->comm_, self->aborted_, self->timeout(), std::move(finish),
                                        source);
    }
  };

  // Every check that can refuse the call runs here, before post() makes NCCL's stream wait and before a
  // group is opened (an exception inside ncclGroupStart/End would leave the thread's group open).
  Call begin(const char* op, const std::vector<const Tensor*>& tensors) {
    HY_CHECK(!aborted_->load(), dist::DistError, op, ": the NCCL communicator was aborted after an earlier timeout");
    const Device here{DeviceType::DeviceType_CUDA, device_};
    for (const Tensor* t : tensors) {
      HY_CHECK(t->device() == here, ValueError, op, ": the NCCL backend needs tensors on ", device_str(here),
               " (this rank's GPU), got ", t->describe(), " on ", device_str(t->device()));
      (void)nccl_dtype(t->dtype(), op);  // TypeError for a dtype NCCL cannot move
    }
    HY_CUDART_CHECK(cudaSetDevice(device_));
    return Call{this, {}, {}};
  }
  // NCCL moves one dtype per call: an output of another dtype (item size) would be under- or overrun.
  static void check_same_dtype(const char* op, const Tensor& out, const Tensor& in) {
    HY_CHECK(out.dtype() == in.dtype(), TypeError, op, ": the NCCL backend needs outputs of the input's dtype (",
             dtype_name(in.dtype()), "), got ", dtype_name(out.dtype()));
  }
  void check_rank(int r, const char* op, const char* arg) const {
    HY_CHECK(r >= 0 && r < size_, ValueError, op, ": ", arg, " ", r, " is not a rank of this communicator (size ",
             size_, ")");
  }
  WorkPtr then(WorkPtr w, std::function<void()> after) {
    struct Then final : Work {
      WorkPtr inner;
      std::function<void()> after;
      void wait() override {
        inner->wait();
        if (after) std::exchange(after, nullptr)();
      }
      bool is_completed() override {
        if (!inner->is_completed()) return false;
        if (after) std::exchange(after, nullptr)();
        return true;
      }
    };
    auto t = std::make_shared<Then>();
    t->inner = std::move(w);
    t->after = std::move(after);
    return t;
  }

  ncclComm_t comm_;
  int rank_, size_, device_;
  cudaStream_t stream_ = nullptr;
  std::shared_ptr<std::atomic<bool>> aborted_ = std::make_shared<std::atomic<bool>>(false);
};

// The GPU of this rank: its rank among the processes of its node (from the launcher) modulo the GPUs.
int local_device(int rank) {
  int count = 0;
  HY_CUDART_CHECK(cudaGetDeviceCount(&count));
  if (count <= 0) throw DistError("the NCCL backend found no GPU");
  for (const char* var : {"LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"})
    if (const char* v = std::getenv(var)) return std::atoi(v) % count;
  return rank % count;
}

}  // namespace
}  // namespace hy::dist

namespace {
std::string g_error;
}

extern "C" __attribute__((visibility("default"))) const char* hyflow_nccl_world(hy::dist::Communicator* bootstrap,
                                                                                hy::dist::CommunicatorPtr* out,
                                                                                const char*) {
  using namespace hy;
  using namespace hy::dist;
  if (!bootstrap) return HYFLOW_VERSION;  // the loader's probe
  try {
    const int rank = bootstrap->rank(), size = bootstrap->size();
    const int device = local_device(rank);
    HY_CUDART_CHECK(cudaSetDevice(device));
    // Rank 0 makes the unique id; the bootstrap communicator (MPI, or the local world) carries it.
    Tensor id = Tensor::empty({static_cast<int64_t>(sizeof(ncclUniqueId))}, DType::Bool);
    ncclUniqueId uid{};
    if (rank == 0) HY_NCCL_CHECK(ncclGetUniqueId(&uid));
    std::memcpy(id.raw_data(), &uid, sizeof(uid));
    bootstrap->broadcast(id, 0)->wait();
    std::memcpy(&uid, id.raw_data(), sizeof(uid));
    ncclComm_t comm = nullptr;
    HY_NCCL_CHECK(ncclCommInitRank(&comm, size, uid, rank));
    auto c = std::make_shared<NcclCommunicator>(comm, rank, size, device);
    c->set_timeout(bootstrap->timeout());
    *out = c;
    return nullptr;
  } catch (const std::exception& e) {
    g_error = e.what();
    return g_error.c_str();
  }
}

extern "C" __attribute__((visibility("default"))) const char* hyflow_nccl_raw_all_reduce(
    hy::dist::Communicator* comm, const hy::Tensor* t, int iters, int warmup, double* seconds) {
  try {
    auto* nccl = dynamic_cast<hy::dist::NcclCommunicator*>(comm);
    if (!nccl) throw hy::ValueError("raw all_reduce: the communicator is not one of libhyflow_nccl's");
    *seconds = nccl->raw_all_reduce_seconds(*t, iters, warmup);
    return nullptr;
  } catch (const std::exception& e) {
    g_error = e.what();
    return g_error.c_str();
  }
}
