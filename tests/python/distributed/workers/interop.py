"""mpi4py interop both ways. Usage: interop.py {mpi4py-first,hyflow-first}"""
import sys

import numpy as np

mode = sys.argv[1]
if mode == "mpi4py-first":
    from mpi4py import MPI  # initializes MPI

import hyflow as hy  # noqa: E402
import hyflow.distributed as dist  # noqa: E402
from _harness import Checks  # noqa: E402

if mode == "mpi4py-first":
    world = MPI.COMM_WORLD
    R, N = world.Get_rank(), world.Get_size()
    C = Checks(R)
    dist.init(comm=world)
    C.true("adopted rank/size", (dist.get_rank(), dist.get_world_size()) == (R, N))
    t = hy.full((4,), float(R))
    dist.all_reduce(t)
    C.true("all_reduce on adopted comm", t.tolist() == [float(sum(range(N)))] * 4)
    # Adopt a sub-communicator made by mpi4py.
    dist.destroy_process_group()
    sub = world.Split(R % 2, R)
    dist.init(comm=sub)
    C.true("adopted split size", dist.get_world_size() == sub.Get_size())
    t = hy.tensor([R], dtype=hy.int64)
    dist.all_reduce(t)
    C.true("all_reduce on adopted split", t.tolist() == [sum(r for r in range(N) if r % 2 == R % 2)])
    dist.destroy_process_group()
    sub.Free()
    dist.init(comm=world)
else:
    dist.init()
    R, N = dist.get_rank(), dist.get_world_size()
    C = Checks(R)
    from mpi4py import MPI  # MPI is already up: mpi4py uses it as is

# hyflow -> mpi4py: a communicator over the same processes, usable on NumPy views of hyflow tensors.
comm = dist.get_mpi4py_comm()
C.true("mpi4py comm size", comm.Get_size() == N and comm.Get_rank() == R)
C.true("mpi4py allreduce", comm.allreduce(R) == sum(range(N)))
t = hy.full((5,), float(R + 1))
arr = t.numpy()  # shares memory with t
comm.Allreduce(MPI.IN_PLACE, arr)
C.true("mpi4py Allreduce on hyflow memory", np.allclose(t.numpy(), sum(range(1, N + 1))))
comm.Free()
# hyflow and mpi4py traffic interleave without interfering (separate communicators).
t = hy.ones(3)
w = dist.all_reduce(t, async_op=True)
C.true("mpi4py bcast during hyflow async op", MPI.COMM_WORLD.bcast(R * 10, root=N - 1) == (N - 1) * 10)
w.wait()
C.true("hyflow async op after mpi4py traffic", t.tolist() == [float(N)] * 3)
# mpi4py's lowercase (pickle-based) collectives carry hyflow objects (issue 14: comm.bcast(t) raised on the root
# and left the other ranks waiting).
world = MPI.COMM_WORLD
payload = None
if R == 0:
    import hyflow.nn as nn  # noqa: E402
    payload = {"t": hy.arange(6.0).reshape(2, 3)[:, 1:], "p": nn.Parameter(hy.ones(2, dtype=hy.float64)),
               "g": hy.Generator(seed=5), "i": hy.tensor([R + 7], dtype=hy.int32)}
got = world.bcast(payload, root=0)
C.true("bcast tensor view", got["t"].tolist() == [[1.0, 2.0], [4.0, 5.0]] and got["t"].is_contiguous())
C.true("bcast Parameter", type(got["p"]).__name__ == "Parameter" and got["p"].requires_grad
       and got["p"].dtype == hy.float64)
C.true("bcast Generator", hy.rand(2, generator=got["g"]).tolist() == hy.rand(2, generator=hy.Generator(seed=5)).tolist())
C.true("bcast int32", got["i"].dtype == hy.int32 and got["i"].tolist() == [7])
gathered = world.allgather(hy.full((2,), float(R)))
C.true("allgather tensors", [t.tolist() for t in gathered] == [[float(r)] * 2 for r in range(N)])
sys.exit(C.report())
