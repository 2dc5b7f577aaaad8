"""The NCCL backend on N ranks, one GPU each: every collective x every dtype NCCL moves x contiguous/strided
against NumPy on every rank, point to point, groups, async handles, DDP against CPU training.
Launched by tests/python/cuda/test_nccl_multi.py under `mpirun -n N` (N <= the number of GPUs);
`dead_peer` as the first argument runs the timeout case instead. Prints 'RANK r OK n checks' per rank."""
import sys
import zlib

import numpy as np

import _harness
import hyflow as hy
import hyflow.distributed as dist
from _harness import DTYPES, FLOATS, Checks, gen, reduce_np, to_hy, to_np

WORLD = dist.init(backend="nccl")
R, N = dist.get_rank(), dist.get_world_size()
DEV = WORLD._comm.device  # this rank's GPU (local rank % GPUs)
C = Checks(R)
SHAPE = (3, 5)
# NCCL reduces 16-bit floats in their own precision, rounding at every hop (the MPI backend computes in
# float32 and rounds once): allow one rounding per rank.
_harness.RTOL.update({k: _harness.RTOL[k] * N for k in ("float16", "bfloat16")})


def seed(case, rank, *more):
    return zlib.crc32(repr((case, rank) + more).encode())


def cu(arr, dtype, contig=True):
    """arr on this rank's GPU; strided = a transposed view of device memory (or every other element)."""
    arr = np.asarray(arr)
    if contig:
        return to_hy(arr, dtype).to(DEV)
    if arr.ndim < 2:
        return to_hy(np.repeat(arr, 2), dtype).to(DEV)[::2]
    return to_hy(np.ascontiguousarray(arr.swapaxes(0, 1)), dtype).to(DEV).transpose(0, 1)


def zeros(shape, dtype, contig=True):
    return cu(np.zeros(shape, dtype=np.float32 if dtype == "bfloat16" else dtype), dtype, contig)


def host(t):
    return to_np(t.cpu())


def op_of(name):
    return getattr(dist.ReduceOp, name.upper())


def reduce_ops(dtype):
    return ["sum", "prod", "min", "max"] + (["avg"] if dtype in FLOATS else [])


def check_dtype_layout(dtype, contig):
    tag = f"{dtype}/{'contig' if contig else 'strided'}"

    def all_reduce():
        for i, op in enumerate(reduce_ops(dtype)):
            ins = [gen(seed("ar", r, i), SHAPE, dtype, op) for r in range(N)]
            t = cu(ins[R], dtype, contig)
            w = dist.all_reduce(t, op=op_of(op), async_op=True)
            w.wait()
            C.true(f"{tag} all_reduce {op} is_completed", w.is_completed())
            C.close(f"{tag} all_reduce {op}", host(t), reduce_np(ins, op, dtype), dtype)

    def broadcast_reduce():
        root = N - 1
        ins = [gen(seed("bc", r), SHAPE, dtype) for r in range(N)]
        t = cu(ins[R], dtype, contig)
        dist.broadcast(t, src=root)
        C.close(f"{tag} broadcast", host(t), ins[root], dtype)
        for i, op in enumerate(["sum", "max"]):
            ins = [gen(seed("rd", r, i), SHAPE, dtype, op) for r in range(N)]
            t = cu(ins[R], dtype, contig)
            dist.reduce(t, dst=0, op=op_of(op))
            want = reduce_np(ins, op, dtype) if R == 0 else ins[R]  # other ranks' tensors are left unchanged
            C.close(f"{tag} reduce {op}", host(t), want, dtype)

    def gathers():
        ins = [gen(seed("ag", r), SHAPE, dtype) for r in range(N)]
        outs = [zeros(SHAPE, dtype, contig) for _ in range(N)]
        dist.all_gather(outs, cu(ins[R], dtype, contig))
        for r in range(N):
            C.close(f"{tag} all_gather[{r}]", host(outs[r]), ins[r], dtype)
        out = zeros((N * SHAPE[0], SHAPE[1]), dtype, contig)
        dist.all_gather_into_tensor(out, cu(ins[R], dtype, contig))
        C.close(f"{tag} all_gather_into_tensor", host(out), np.concatenate(ins), dtype)
        root = N - 1
        outs = [zeros(SHAPE, dtype, contig) for _ in range(N)] if R == root else None
        dist.gather(cu(ins[R], dtype, contig), outs, dst=root)
        if R == root:
            for r in range(N):
                C.close(f"{tag} gather[{r}]", host(outs[r]), ins[r], dtype)
        chunks = [gen(seed("sc", r), SHAPE, dtype) for r in range(N)]
        out = zeros(SHAPE, dtype, contig)
        dist.scatter(out, [cu(c, dtype, contig) for c in chunks] if R == 0 else None, src=0)
        C.close(f"{tag} scatter", host(out), chunks[R], dtype)

    def reduce_scatters():
        op = "avg" if dtype in FLOATS else "max"
        ins = [[gen(seed("rs", r, j), SHAPE, dtype, op) for j in range(N)] for r in range(N)]
        out = zeros(SHAPE, dtype, contig)
        dist.reduce_scatter(out, [cu(a, dtype, contig) for a in ins[R]], op=op_of(op))
        C.close(f"{tag} reduce_scatter {op}", host(out), reduce_np([ins[r][R] for r in range(N)], op, dtype), dtype)
        ins = [gen(seed("rst", r), (N * SHAPE[0], SHAPE[1]), dtype) for r in range(N)]
        out = zeros(SHAPE, dtype, contig)
        dist.reduce_scatter_tensor(out, cu(ins[R], dtype, contig))
        mine = [a[R * SHAPE[0]:(R + 1) * SHAPE[0]] for a in ins]
        C.close(f"{tag} reduce_scatter_tensor", host(out), reduce_np(mine, "sum", dtype), dtype)

    def all_to_all():
        send = {(i, j): gen(seed("a2a", i, j), (i + j + 1,), dtype) for i in range(N) for j in range(N)}
        outs = [zeros((j + R + 1,), dtype, contig) for j in range(N)]
        dist.all_to_all(outs, [cu(send[(R, j)], dtype, contig) for j in range(N)])
        for j in range(N):
            C.close(f"{tag} all_to_all[{j}]", host(outs[j]), send[(j, R)], dtype)
        ins = [gen(seed("a2as", r), (2 * N, 3), dtype) for r in range(N)]
        out = zeros((2 * N, 3), dtype, contig)
        dist.all_to_all_single(out, cu(ins[R], dtype, contig))
        C.close(f"{tag} all_to_all_single", host(out), np.concatenate([ins[j][2 * R:2 * R + 2] for j in range(N)]),
                dtype)

    def send_recv():
        if N < 2:
            return  # a lone rank has no peer (NCCL runs a send and receive to itself only inside one group)
        nxt, prv = (R + 1) % N, (R - 1) % N
        mine = gen(seed("p2p", R), SHAPE, dtype)
        out = zeros(SHAPE, dtype, contig)
        # Even ranks send first, odd ranks receive first: blocking NCCL point to point in a ring.
        if R % 2 == 0:
            dist.send(cu(mine, dtype, contig), dst=nxt)
            src = dist.recv(out, src=prv)
        else:
            src = dist.recv(out, src=prv)
            dist.send(cu(mine, dtype, contig), dst=nxt)
        C.close(f"{tag} send/recv ring", host(out), gen(seed("p2p", prv), SHAPE, dtype), dtype)
        C.true(f"{tag} recv returns the sender {src} == {prv}", src == prv)

    for fn in (all_reduce, broadcast_reduce, gathers, reduce_scatters, all_to_all, send_recv):
        C.run(f"{tag} {fn.__name__}", fn)


def groups_and_async():
    evens = list(range(0, N, 2))
    g = dist.new_group(evens)
    if R in evens:
        t = hy.tensor([float(R)], device=DEV)
        dist.all_reduce(t, group=g)
        C.true("new_group all_reduce", t.tolist() == [float(sum(evens))])
        C.true("new_group rank/size", (dist.get_rank(g), dist.get_world_size(g)) == (evens.index(R), len(evens)))
        b = hy.tensor([float(R)], device=DEV)
        dist.broadcast(b, src=evens[-1], group=g)
        C.true("new_group broadcast src=world rank", b.tolist() == [float(evens[-1])])
    else:
        C.true("new_group non-member", g is dist.GroupMember.NON_GROUP_MEMBER)
    s = dist.split(R % 2, key=-R)
    members = sorted([r for r in range(N) if r % 2 == R % 2], reverse=True)
    C.true(f"split ranks {s.ranks} == {members}", s.ranks == members)
    t = hy.tensor([R], dtype=hy.int64, device=DEV)
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=s)
    C.true("split all_reduce", t.tolist() == [max(members)])
    dist.barrier()
    w = dist.barrier(async_op=True)
    w.wait()
    C.true("barrier async", w.is_completed())
    # Several posted at once, waited in reverse order.
    ts = [hy.full((1 << 16,), float(R + i), device=DEV) for i in range(4)]
    works = [dist.all_reduce(t, async_op=True) for t in ts]
    for w in reversed(works):
        w.wait()
    for i, t in enumerate(ts):
        C.true(f"overlapped all_reduce {i}", float(t[0].item()) == float(sum(r + i for r in range(N))))
    # A kernel on a side stream writes the input, the all-reduce posted from that stream must see it.
    side = hy.cuda.Stream(DEV)
    a = hy.full((2048, 2048), 1.0, device=DEV)
    with hy.cuda.stream(side):
        # Every element 2048 (R + 1), written by a long kernel queued on `side`.
        x = ((a @ a)[0] if hy.build_info()["cublas"] else a.sum(0)) * (R + 1)
        w = dist.all_reduce(x, async_op=True)
    w.wait()
    C.true("all_reduce after a kernel of the current stream", float(x.min().item()) == float(x.max().item())
           == 2048.0 * sum(r + 1 for r in range(N)))


def ddp_vs_cpu():
    """DDP over NCCL, 5 SGD steps on each rank's shard, against one CPU model on the whole batch."""
    hy.manual_seed(0)
    ref = hy.nn.Sequential(hy.nn.Linear(6, 16), hy.nn.Tanh(), hy.nn.Linear(16, 3))
    model = hy.nn.Sequential(hy.nn.Linear(6, 16), hy.nn.Tanh(), hy.nn.Linear(16, 3))
    model.load_state_dict(ref.state_dict())
    model = model.to(DEV)
    ddp = dist.DistributedDataParallel(model)
    opt = hy.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ref_opt = hy.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    per_rank = 4
    for step in range(5):
        rng = np.random.default_rng(step)
        xb = rng.standard_normal((N * per_rank, 6)).astype(np.float32)
        yb = rng.standard_normal((N * per_rank, 3)).astype(np.float32)
        mine = slice(R * per_rank, (R + 1) * per_rank)
        loss = ((ddp(hy.tensor(xb[mine]).to(DEV)) - hy.tensor(yb[mine]).to(DEV)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        ref_loss = ((ref(hy.tensor(xb)) - hy.tensor(yb)) ** 2).mean()
        ref_opt.zero_grad()
        ref_loss.backward()
        ref_opt.step()
        for (name, p), q in zip(model.named_parameters(), ref.parameters()):
            C.close(f"ddp step {step} {name}", p.detach().cpu().numpy(), q.detach().numpy(), "float32")


def dead_peer():
    """The last rank never joins an all-reduce: the others raise DistTimeoutError within the timeout, and
    their communicator refuses later calls (it was aborted) instead of hanging."""
    dist.set_timeout(3)
    if R != N - 1:
        t = hy.ones(4, device=DEV)
        try:
            dist.all_reduce(t)
            C.true("all_reduce with a missing peer returned", False)
        except dist.DistTimeoutError:
            C.true("timeout", True)
        C.raises("later call on the aborted communicator", dist.DistError, "aborted", lambda: dist.all_reduce(t))


if len(sys.argv) > 1 and sys.argv[1] == "dead_peer":
    C.run("dead_peer", dead_peer)
else:
    for dtype in DTYPES:
        for contig in (True, False):
            check_dtype_layout(dtype, contig)
    C.run("groups_and_async", groups_and_async)
    C.run("ddp_vs_cpu", ddp_vs_cpu)
sys.exit(C.report())
