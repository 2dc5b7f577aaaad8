"""A bad root or peer rank passed on ONE rank only: that rank raises the real reason, every other rank
raises "invalid on another rank" (instead of waiting until the timeout for a rank that never posts), and
the communicator stays usable. Run with 2+ ranks (the sub-group cases need 3)."""
import sys

import hyflow as hy
import hyflow.distributed as dist
from _harness import Checks

dist.init()
R, N = dist.get_rank(), dist.get_world_size()
C = Checks(R)


raises = C.raises


def one_rank_bad(what, call, bad_value, good_value, exc=ValueError, text="not a member", group=None, bad=1):
    """call(value) on every rank of group; rank `bad` passes bad_value. Then a collective must still work."""
    if R == bad:
        raises(f"{what}, rank passing {bad_value!r}", exc, text, lambda: call(bad_value))
    else:
        raises(f"{what}, other rank", ValueError, "invalid on another rank", lambda: call(good_value))
    t = hy.ones(3)
    dist.all_reduce(t, group=group)
    n = dist.get_world_size(group)
    C.true(f"after {what}: all_reduce still works", t.tolist() == [float(n)] * 3)


gl = [hy.zeros(2) for _ in range(N)]
sl = [hy.ones(2) for _ in range(N)]
for bad in (N, N + 5, -1, 2**40):
    one_rank_bad(f"broadcast src={bad}", lambda s: dist.broadcast(hy.ones(2), src=s), bad, 0)
    one_rank_bad(f"reduce dst={bad}", lambda d: dist.reduce(hy.ones(2), dst=d), bad, 0)
    one_rank_bad(f"gather dst={bad}", lambda d: dist.gather(hy.ones(2), gl if R == d else None, dst=d), bad, 0)
    one_rank_bad(f"scatter src={bad}", lambda s: dist.scatter(hy.zeros(2), sl if R == s else None, src=s), bad, 0)
# Async calls too: the error comes from the call itself, before any Work exists.
one_rank_bad("broadcast async_op", lambda s: dist.broadcast(hy.ones(2), src=s, async_op=True).wait(), N, 0)
# Not an int at all.
one_rank_bad("broadcast src=1.5", lambda s: dist.broadcast(hy.ones(2), src=s), 1.5, 0, TypeError, "must be an int")
one_rank_bad("reduce dst=None", lambda d: dist.reduce(hy.ones(2), dst=d), None, 0, TypeError, "must be an int")

# The world's ranks are all right, but src names a rank outside a sub-group.
if N >= 3:
    g = dist.new_group([0, 2])
    if R in (0, 2):
        one_rank_bad("sub-group broadcast src=non-member", lambda s: dist.broadcast(hy.ones(2), src=s, group=g),
                     1, 0, group=g, bad=2)
        t = hy.ones(2) * R
        dist.broadcast(t, src=2, group=g)
        C.true("sub-group still works", t.tolist() == [2.0, 2.0])
    dist.barrier()

# Group creation: a bad rank list on one rank, different lists, a bad split color on one rank.
one_rank_bad("new_group ranks", lambda rs: dist.new_group(rs), [0, N], list(range(N)), ValueError,
             "not in the world")
one_rank_bad("new_group ranks type", lambda rs: dist.new_group(rs), [0, "x"], list(range(N)), TypeError,
             "must be ints")
raises("new_group different lists", ValueError, "different lists of ranks",
       lambda: dist.new_group([0] if R == 0 else [0, 1]))
t = hy.ones(3)
dist.all_reduce(t)
C.true("after new_group different lists: all_reduce works", t.tolist() == [float(N)] * 3)
one_rank_bad("split color", lambda c: dist.split(c), "red", 0, TypeError, "must be ints")
one_rank_bad("split color range", lambda c: dist.split(c), 2**40, 0, ValueError, "does not fit")
sub = dist.split(R % 2)
C.true("split still works", sub is not None and sub.size() == len(range(R % 2, N, 2)))
# Point to point: a bad peer raises on the caller before anything is posted (nothing is left pending).
raises("send dst out of range", ValueError, "not a member", lambda: dist.send(hy.ones(2), dst=N + 1))
raises("recv src out of range", ValueError, "not a member", lambda: dist.recv(hy.ones(2), src=-3))
t = hy.ones(3)
dist.all_reduce(t)
C.true("after bad peers: all_reduce works", t.tolist() == [float(N)] * 3)
sys.exit(C.report())
