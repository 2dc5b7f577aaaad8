"""Every collective x every dtype x contiguous/non-contiguous, checked against NumPy on every rank.
Launched by test_mpi.py under `mpirun -n N`; prints one 'RANK r OK n checks' line per rank."""
import sys
import zlib

import numpy as np

import hyflow as hy
import hyflow.distributed as dist
from _harness import DTYPES, FLOATS, Checks, empty_like_layout, gen, reduce_np, to_hy, to_np

dist.init()
R, N = dist.get_rank(), dist.get_world_size()
C = Checks(R)
SHAPE = (3, 5)


def seed(case, rank, *more):
    return zlib.crc32(repr((case, rank) + more).encode())  # str hashes differ between processes


def reduce_ops(dtype):
    ops = ["sum", "prod", "min", "max"]
    return ops + ["avg"] if dtype in FLOATS else ops


def op_of(name):
    return getattr(dist.ReduceOp, name.upper())


def check_dtype_layout(dtype, contig):
    tag = f"{dtype}/{'contig' if contig else 'strided'}"

    def all_reduce():
        for i, op in enumerate(reduce_ops(dtype)):
            ins = [gen(seed("ar", r, i), SHAPE, dtype, op) for r in range(N)]
            t = to_hy(ins[R], dtype, contig)
            if i == 0:  # one async variant per dtype/layout
                w = dist.all_reduce(t, op=op_of(op), async_op=True)
                w.wait()
                C.true(f"{tag} all_reduce async is_completed", w.is_completed())
            else:
                dist.all_reduce(t, op=op_of(op))
            C.close(f"{tag} all_reduce {op}", to_np(t), reduce_np(ins, op, dtype), dtype)

    def broadcast():
        root = N - 1
        ins = [gen(seed("bc", r), SHAPE, dtype) for r in range(N)]
        t = to_hy(ins[R], dtype, contig)
        dist.broadcast(t, src=root)
        C.close(f"{tag} broadcast", to_np(t), ins[root], dtype)

    def reduce():
        for i, op in enumerate(["sum", "max"]):
            ins = [gen(seed("rd", r, i), SHAPE, dtype, op) for r in range(N)]
            t = to_hy(ins[R], dtype, contig)
            dist.reduce(t, dst=0, op=op_of(op))
            want = reduce_np(ins, op, dtype) if R == 0 else ins[R]
            C.close(f"{tag} reduce {op}", to_np(t), want, dtype)

    def all_gather():
        ins = [gen(seed("ag", r), SHAPE, dtype) for r in range(N)]
        outs = [empty_like_layout(SHAPE, dtype, contig) for _ in range(N)]
        dist.all_gather(outs, to_hy(ins[R], dtype, contig))
        for r in range(N):
            C.close(f"{tag} all_gather[{r}]", to_np(outs[r]), ins[r], dtype)
        out = empty_like_layout((N * SHAPE[0], SHAPE[1]), dtype, contig)
        dist.all_gather_into_tensor(out, to_hy(ins[R], dtype, contig))
        C.close(f"{tag} all_gather_into_tensor", to_np(out), np.concatenate(ins), dtype)

    def gather_scatter():
        root = N - 1
        ins = [gen(seed("ga", r), SHAPE, dtype) for r in range(N)]
        outs = [empty_like_layout(SHAPE, dtype, contig) for _ in range(N)] if R == root else None
        dist.gather(to_hy(ins[R], dtype, contig), outs, dst=root)
        if R == root:
            for r in range(N):
                C.close(f"{tag} gather[{r}]", to_np(outs[r]), ins[r], dtype)
        chunks = [gen(seed("sc", r), SHAPE, dtype) for r in range(N)]
        out = empty_like_layout(SHAPE, dtype, contig)
        dist.scatter(out, [to_hy(c, dtype, contig) for c in chunks] if R == 0 else None, src=0)
        C.close(f"{tag} scatter", to_np(out), chunks[R], dtype)

    def reduce_scatter():
        ops = ["sum", "avg"] if dtype in FLOATS else ["sum", "max"]
        for i, op in enumerate(ops):
            ins = [[gen(seed("rs", r, j, i), SHAPE, dtype, op) for j in range(N)] for r in range(N)]
            out = empty_like_layout(SHAPE, dtype, contig)
            dist.reduce_scatter(out, [to_hy(a, dtype, contig) for a in ins[R]], op=op_of(op))
            C.close(f"{tag} reduce_scatter {op}", to_np(out), reduce_np([ins[r][R] for r in range(N)], op, dtype),
                    dtype)
        ins = [gen(seed("rst", r), (N * SHAPE[0], SHAPE[1]), dtype) for r in range(N)]
        out = empty_like_layout(SHAPE, dtype, contig)
        dist.reduce_scatter_tensor(out, to_hy(ins[R], dtype, contig))
        mine = [a[R * SHAPE[0]:(R + 1) * SHAPE[0]] for a in ins]
        C.close(f"{tag} reduce_scatter_tensor", to_np(out), reduce_np(mine, "sum", dtype), dtype)

    def all_to_all():
        # Rank i sends i + j + 1 elements to rank j: sizes differ per pair.
        send = {(i, j): gen(seed("a2a", i, j), (i + j + 1,), dtype) for i in range(N) for j in range(N)}
        outs = [empty_like_layout((j + R + 1,), dtype, contig) for j in range(N)]
        dist.all_to_all(outs, [to_hy(send[(R, j)], dtype, contig) for j in range(N)])
        for j in range(N):
            C.close(f"{tag} all_to_all[{j}]", to_np(outs[j]), send[(j, R)], dtype)
        ins = [gen(seed("a2as", r), (2 * N, 3), dtype) for r in range(N)]
        out = empty_like_layout((2 * N, 3), dtype, contig)
        dist.all_to_all_single(out, to_hy(ins[R], dtype, contig))
        want = np.concatenate([ins[j][2 * R:2 * R + 2] for j in range(N)])
        C.close(f"{tag} all_to_all_single", to_np(out), want, dtype)

    def send_recv():
        nxt, prv = (R + 1) % N, (R - 1) % N
        mine = gen(seed("p2p", R), SHAPE, dtype)
        out = empty_like_layout(SHAPE, dtype, contig)
        rw = dist.irecv(out, src=prv, tag=7)
        sw = dist.isend(to_hy(mine, dtype, contig), dst=nxt, tag=7)
        sw.wait()
        rw.wait()
        C.close(f"{tag} isend/irecv ring", to_np(out), gen(seed("p2p", prv), SHAPE, dtype), dtype)
        C.true(f"{tag} irecv source", rw.source == prv)

    for fn in (all_reduce, broadcast, reduce, all_gather, gather_scatter, reduce_scatter, all_to_all, send_recv):
        C.run(f"{tag} {fn.__name__}", fn)


for dtype in DTYPES:
    for contig in (True, False):
        check_dtype_layout(dtype, contig)


def groups():
    # new_group of the even world ranks; odd ranks are not members.
    evens = list(range(0, N, 2))
    g = dist.new_group(evens)
    if R in evens:
        t = hy.tensor([float(R)])
        dist.all_reduce(t, group=g)
        C.true("new_group all_reduce", t.tolist() == [float(sum(evens))])
        C.true("new_group rank/size", (dist.get_rank(g), dist.get_world_size(g)) == (evens.index(R), len(evens)))
        b = hy.tensor([float(R)])
        dist.broadcast(b, src=evens[-1], group=g)  # src is a world rank
        C.true("new_group broadcast src=world rank", b.tolist() == [float(evens[-1])])
    else:
        C.true("new_group non-member", g is dist.GroupMember.NON_GROUP_MEMBER)
    # split by parity, reversed order within each half.
    s = dist.split(R % 2, key=-R)
    members = sorted([r for r in range(N) if r % 2 == R % 2], reverse=True)
    C.true(f"split ranks {s.ranks} == {members}", s.ranks == members)
    t = hy.tensor([R], dtype=hy.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=s)
    C.true("split all_reduce", t.tolist() == [max(members)])
    C.true("split none", dist.split(None) is None)
    dist.barrier()
    w = dist.barrier(async_op=True)
    w.wait()
    C.true("barrier async", w.is_completed())
    # Async ops overlap: post several, then wait in reverse order.
    ts = [hy.full((1000,), float(R + i)) for i in range(4)]
    works = [dist.all_reduce(t, async_op=True) for t in ts]
    for w in reversed(works):
        w.wait()
    for i, t in enumerate(ts):
        C.true(f"overlapped all_reduce {i}", float(t[0].item()) == float(sum(r + i for r in range(N))))


def any_source_and_gil():
    # recv(src=None) takes messages from any rank and returns the sender.
    if R == 0:
        senders = set()
        for _ in range(N - 1):
            buf = hy.zeros(2, dtype=hy.int64)
            src = dist.recv(buf, src=None, tag=11)
            senders.add(src)
            C.true(f"recv any source from {src}", buf.tolist() == [src, src])
        C.true("recv any source senders", senders == set(range(1, N)))
    else:
        dist.send(hy.full((2,), R, dtype=hy.int64), dst=0, tag=11)
    # The GIL is released while waiting: a Python thread keeps running while rank > 0 waits for rank 0.
    if N > 1:
        import threading
        import time

        count, stop = [0], threading.Event()

        def spin():
            while not stop.is_set():
                count[0] += 1

        th = threading.Thread(target=spin)
        th.start()
        if R == 0:
            time.sleep(0.3)
        before = count[0]
        dist.all_reduce(hy.ones(4))
        after = count[0]
        stop.set()
        th.join()
        if R > 0:
            C.true(f"GIL released during all_reduce (thread advanced {after - before})", after - before > 1000)


def launch_env():
    from hyflow.distributed import _launch

    launch = _launch.detect()
    C.true(f"launcher detected: {launch}", launch is not None and launch.is_mpi and (launch.rank, launch.size) == (R, N))
    C.true("build_info mpi", hy.build_info()["mpi"] is True and dist.get_backend() == "mpi")


C.run("groups", groups)
C.run("launch_env", launch_env)
C.run("any_source_and_gil", any_source_and_gil)
sys.exit(C.report())
