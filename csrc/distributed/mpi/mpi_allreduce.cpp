// All-reduce over point-to-point messages. MPI libraries progress their non-blocking MPI_Iallreduce with
// generic algorithms that are often much slower than their blocking MPI_Allreduce; these run at MPI's
// point-to-point speed and stay pollable against the timeout like every other operation.
#include "distributed/mpi/mpi_internal.h"
#include "distributed/staging_internal.h"

namespace hy::dist {

// Small all-reduces: recursive doubling over point-to-point messages, log2(n) exchange rounds. It has
// a fraction of the latency of MPI_Iallreduce in common MPI libraries, and stays pollable. With n not
// a power of two, the ranks above the largest power of two p first fold their data into rank r - p
// and get the result back at the end. Partners combine the same two values (commutative ops), so
// every rank ends with identical bits.
std::shared_ptr<MpiWork> doubling_all_reduce(const P2pContext& c, const char* name, const Tensor& buf, ReduceOp op) {
  const int64_t numel = buf.numel();
  const DType wire = buf.dtype();
  return doubling_all_reduce(c, name, buf, [numel, wire, op](void* acc, const void* in) {
    reduce_into(acc, in, numel, wire, op);
  });
}

std::shared_ptr<MpiWork> doubling_all_reduce(const P2pContext& c, const char* name, const Tensor& buf,
                                             std::function<void(void*, const void*)> combine) {
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
  st->tag = c.tag;
  const int n = c.size, r = c.rank;
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
  auto w = std::make_shared<MpiWork>(c.owner, name, c.timeout_s);
  w->scope = WaitScope{c.comm};
  w->keep = {buf, st->tmp};
  w->reqs.assign(2, MPI_REQUEST_NULL);
  MPI_Datatype dt = mpi_datatype(buf.dtype());
  MPI_Comm comm = c.comm;
  const int cnt = static_cast<int>(buf.numel());
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
    if (st->steps[st->at].reduce) combine(buf.raw_data(), st->tmp.raw_data());
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
std::shared_ptr<MpiWork> ring_all_reduce(const P2pContext& c, const char* name, const Tensor& buf, ReduceOp op) {
  struct Ring {
    int step = 0;
    int tag = 0;
    Tensor tmp;
  };
  auto ring = std::make_shared<Ring>();
  ring->tag = c.tag;
  const int n = c.size, r = c.rank, next = (r + 1) % n, prev = (r + n - 1) % n;
  const int64_t numel = buf.numel(), item = buf.itemsize();
  auto seg_begin = [numel, n](int i) { return numel * i / n; };
  auto seg_len = [seg_begin](int i) { return seg_begin(i + 1) - seg_begin(i); };
  ring->tmp = Tensor::empty(Shape{seg_len(n - 1)}, buf.dtype());  // the last segment is the longest
  auto w = std::make_shared<MpiWork>(c.owner, name, c.timeout_s);
  w->scope = WaitScope{c.comm};
  w->keep = {buf, ring->tmp};
  w->reqs.assign(2, MPI_REQUEST_NULL);
  MPI_Datatype dt = mpi_datatype(buf.dtype());
  MPI_Comm comm = c.comm;
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
  return w;
}

}  // namespace hy::dist
