"""Bad input across ranks: every rank must raise a clear error (not hang), and the communicator must
stay usable afterwards. Run with 2+ ranks."""
import sys

import hyflow as hy
import hyflow.distributed as dist
from _harness import Checks

dist.init()
R, N = dist.get_rank(), dist.get_world_size()
C = Checks(R)


raises = C.raises


def still_works(what):
    t = hy.ones(3)
    dist.all_reduce(t)
    C.true(f"after {what}: all_reduce still works", t.tolist() == [float(N)] * 3)


raises("shape mismatch", ValueError, "different shapes", lambda: dist.all_reduce(hy.ones(3 + (R == 1))))
still_works("shape mismatch")
raises("dtype mismatch", ValueError, "different dtypes",
       lambda: dist.all_reduce(hy.ones(3, dtype=hy.float64 if R == 0 else hy.float32)))
raises("root mismatch", ValueError, "different root", lambda: dist.broadcast(hy.ones(2), src=R % 2))
raises("op mismatch", ValueError, "different reduce ops",
       lambda: dist.all_reduce(hy.ones(2), op=dist.ReduceOp.MAX if R == 0 else dist.ReduceOp.MIN))
raises("collective mismatch", ValueError, "different collectives",
       lambda: dist.all_reduce(hy.ones(2)) if R == 0 else dist.broadcast(hy.ones(2), src=0))
still_works("mismatches")
# A local error on one rank (AVG of an int tensor) is reported on every rank.
if R == 1:
    raises("local error, own rank", TypeError, "AVG needs a floating-point",
           lambda: dist.all_reduce(hy.ones(2, dtype=hy.int64), op=dist.ReduceOp.AVG))
else:
    raises("local error, other rank", ValueError, "invalid on another rank",
           lambda: dist.all_reduce(hy.ones(2, dtype=hy.int64)))
raises("wrong list length", ValueError, "must hold", lambda: dist.all_gather([hy.ones(2)] * (N + 1), hy.ones(2)))
raises("bad src", ValueError, "not a member", lambda: dist.broadcast(hy.ones(2), src=N + 5))
# all_to_all: rank 0 expects one element more from rank 1 than rank 1 sends.
outs = [hy.zeros(2 + (R == 0 and j == 1)) for j in range(N)]
if R == 0:
    raises("all_to_all sizes, receiving rank", ValueError, "rank 1 sends 2 elements",
           lambda: dist.all_to_all(outs, [hy.ones(2) for _ in range(N)]))
else:
    raises("all_to_all sizes, other rank", ValueError, "on another rank",
           lambda: dist.all_to_all(outs, [hy.ones(2) for _ in range(N)]))
still_works("local errors")
# The check can be switched off; matching collectives still work.
dist.set_check_args(False)
still_works("set_check_args(False)")
dist.set_check_args(True)
# MPI errors become exceptions: a message longer than the receive tensor, and a shorter one.
if R == 0:
    dist.send(hy.ones(10), dst=1, tag=3)
    dist.send(hy.ones(3), dst=1, tag=4)
elif R == 1:
    raises("truncated recv", dist.DistError, "larger than the receive tensor", lambda: dist.recv(hy.zeros(5), src=0, tag=3))
    raises("short recv", ValueError, "sent 3 elements", lambda: dist.recv(hy.zeros(5), src=0, tag=4))
still_works("MPI errors")
sys.exit(C.report())
