// The world of one process. It exists so that code written for N ranks runs unchanged on a laptop
// without MPI: each collective reduces to a local copy, with the same argument checks as MPI.
#include "distributed/communicator.h"
#include "distributed/staging_internal.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::dist {
namespace {

class DoneWork : public Work {
 public:
  explicit DoneWork(int source = -1) : source_(source) {}
  void wait() override {}
  bool is_completed() override { return true; }
  int source() const override { return source_; }

 private:
  int source_;
};

WorkPtr done() { return std::make_shared<DoneWork>(); }

class LocalCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "local"; }

  WorkPtr all_reduce(const Tensor& t, ReduceOp op) override {
    check_reduce_dtype("all_reduce", t.dtype(), op);
    t.note_write();
    return done();
  }
  WorkPtr broadcast(const Tensor& t, int root) override {
    check_rank("broadcast", "src", root, 1);
    return done();
  }
  WorkPtr reduce(const Tensor& t, int root, ReduceOp op) override {
    check_rank("reduce", "dst", root, 1);
    check_reduce_dtype("reduce", t.dtype(), op);
    return done();
  }
  WorkPtr all_gather(const std::vector<Tensor>& outs, const Tensor& in) override {
    check_list("all_gather", "tensor_list", outs, 1, in);
    note_writes(outs);
    unstage(outs[0], in);
    return done();
  }
  WorkPtr all_gather_into_tensor(const Tensor& out, const Tensor& in) override {
    check_pair("all_gather_into_tensor", in, "input", out, "output", 1);
    out.note_write();
    unstage(out, cpu::contiguous(in));
    return done();
  }
  WorkPtr gather(const std::vector<Tensor>& outs, const Tensor& in, int root) override {
    check_rank("gather", "dst", root, 1);
    check_list("gather", "gather_list", outs, 1, in);
    note_writes(outs);
    unstage(outs[0], in);
    return done();
  }
  WorkPtr scatter(const Tensor& out, const std::vector<Tensor>& ins, int root) override {
    check_rank("scatter", "src", root, 1);
    check_list("scatter", "scatter_list", ins, 1, out);
    out.note_write();
    unstage(out, cpu::contiguous(ins[0]));
    return done();
  }
  WorkPtr reduce_scatter(const Tensor& out, const std::vector<Tensor>& ins, ReduceOp op) override {
    check_reduce_dtype("reduce_scatter", out.dtype(), op);
    check_list("reduce_scatter", "input_list", ins, 1, out);
    out.note_write();
    unstage(out, cpu::contiguous(ins[0]));
    return done();
  }
  WorkPtr reduce_scatter_tensor(const Tensor& out, const Tensor& in, ReduceOp op) override {
    check_reduce_dtype("reduce_scatter_tensor", out.dtype(), op);
    check_pair("reduce_scatter_tensor", out, "output", in, "input", 1);
    out.note_write();
    unstage(out, cpu::contiguous(in));
    return done();
  }
  WorkPtr all_to_all(const std::vector<Tensor>& outs, const std::vector<Tensor>& ins) override {
    HY_CHECK(outs.size() == 1 && ins.size() == 1, ValueError,
             "all_to_all: output_list and input_list must hold 1 tensor each (one per rank), got ",
             outs.size(), " and ", ins.size());
    check_pair("all_to_all", ins[0], "input_list[0]", outs[0], "output_list[0]", 1);
    note_writes(outs);
    unstage(outs[0], cpu::contiguous(ins[0]));
    return done();
  }
  WorkPtr all_to_all_single(const Tensor& out, const Tensor& in) override {
    check_pair("all_to_all_single", in, "input", out, "output", 1);
    out.note_write();
    unstage(out, cpu::contiguous(in));
    return done();
  }
  WorkPtr send(const Tensor& t, int dst, int tag) override {
    throw ValueError("send: a world of one process has no peer to send to (dst must differ from rank 0)");
  }
  WorkPtr recv(const Tensor& t, int src, int tag) override {
    throw ValueError("recv: a world of one process has no peer to receive from");
  }
  WorkPtr barrier() override { return done(); }
  CommunicatorPtr split(int color, int key) override {
    if (color < 0) return nullptr;
    auto c = std::make_shared<LocalCommunicator>();
    c->set_timeout(timeout());
    c->set_check_args(check_args());
    return c;
  }
  void reject(const std::string&) override {}  // no peer waits for this process
};

}  // namespace

CommunicatorPtr local_world() { return std::make_shared<LocalCommunicator>(); }

}  // namespace hy::dist
