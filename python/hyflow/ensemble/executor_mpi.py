"""Members on sub-communicators of an MPI job: under ``mpirun -n 4`` with ranks_per_member=2, the world
splits (hyflow.distributed.split) into 2 groups of 2 ranks; each group runs its share of the members
one after the other (member i goes to group i mod groups), each member's workflow on the group's
communicator (Workflow.run(comm=group): its task placement counts the group's ranks, its checkpoints
go to members/<id>/checkpoints/rank-NNNNN/). World rank 0 plans the run (which members are finished),
and gathers the rows into the table; every rank returns the same table.

The ranks of a group agree that all of them built the member's workflow before any starts it, and on
each attempt's outcome (one small all-reduce each): if it failed on any of them the member failed, with
that rank's error, and the whole group retries it. Metrics are
computed on every rank of the group (each sees the tasks placed on it in result.state) and merged,
group rank 0's keys winning.

Every rank is its own process, so CPU hygiene is the launcher's: set OMP_NUM_THREADS to cores / ranks
(see docs/distributed.md). A rank that dies kills the MPI job (MPI cannot shrink a communicator); the
members finished before stay finished, and rerunning the job with resume=True continues.
"""
from .attempt import run_member_attempt
from .ensemble import next_attempt
from .table import EnsembleResult

__all__ = ["MPIExecutor"]

_TAG_PLAN, _TAG_ROW, _TAG_ROWS, _TAG_TABLE = 7101, 7102, 7103, 7104


class MPIExecutor:
    name = "mpi"

    def __init__(self, ranks_per_member=None):
        ranks_per_member = 1 if ranks_per_member is None else ranks_per_member
        if isinstance(ranks_per_member, bool) or not isinstance(ranks_per_member, int) or ranks_per_member < 1:
            raise ValueError(f"MPIExecutor: ranks_per_member must be an int >= 1, got {ranks_per_member!r}")
        self.ranks_per_member = ranks_per_member

    def run_ensemble(self, ens):
        from .. import distributed as dist
        from ..workflow import wire
        if not dist.is_initialized():
            dist.init()
        world, rank = dist.get_world_size(), dist.get_rank()
        per = self.ranks_per_member
        if world % per:
            raise ValueError(f"Ensemble(executor='mpi'): ranks_per_member={per} does not divide the world of "
                             f"{world} rank(s); launch with mpirun -n <a multiple of {per}>")
        groups, color = world // per, rank // per
        control = dist.new_group(list(range(world)))  # the ensemble's own messages, apart from the members'
        group = dist.split(color, key=rank)
        leader = color * per  # world rank of the group's rank 0

        plan = _share_from_rank0(control, rank, world, lambda: _plan(ens), wire)
        if "error" in plan:
            kind, message = plan["error"]["type"], plan["error"]["message"]
            raise _ERRORS[kind](message) if kind in _ERRORS else RuntimeError(f"{kind}: {message}")
        ens._ran = True
        mine = [m for i, m in enumerate(plan["pending"]) if i % groups == color]

        finished = []
        for member_id in mine:
            job = ens.job(member_id)
            while True:
                row = run_member_attempt(job, comm=group, write_row=False,
                                         agree_built=lambda built: _all(group, built))
                row = _agree(row, group, control, rank, leader, per, wire)
                retry = next_attempt(job, row, ens.retries, report=rank == leader)
                if retry is None:
                    break
                job = retry
            if rank == leader:
                ens.store.write_row(row)  # finished: a rerun of the job skips it even if a later one dies
                finished.append(row)

        if rank == 0:
            rows = dict(plan["reused"])
            rows.update({r["member"]: r for r in finished})
            for g in range(1, groups):
                rows.update({r["member"]: r for r in wire.recv_value(control, g * per, _TAG_ROWS)})
            table = EnsembleResult(rows.get(m) or ens.skipped_row(m) for m in ens.members)
            ens.store.write_table(table)
            for r in range(1, world):
                wire.send_value(control, r, _TAG_TABLE, list(table), "ensemble table")
            return table
        if rank == leader:
            wire.send_value(control, 0, _TAG_ROWS, finished, "ensemble rows")
        return EnsembleResult(wire.recv_value(control, 0, _TAG_TABLE))

    def __repr__(self):
        return f"MPIExecutor(ranks_per_member={self.ranks_per_member})"


_ERRORS = {"ValueError": ValueError, "TypeError": TypeError}


def _plan(ens):
    try:
        reused, pending = ens.plan()
    except Exception as e:  # noqa: BLE001 — every rank raises it (see _share_from_rank0)
        return {"error": {"type": type(e).__name__, "message": str(e)}}
    return {"reused": reused, "pending": [job.member_id for job in pending]}


def _share_from_rank0(control, rank, world, make, wire):
    """make() on world rank 0, its value sent to every other rank (an error included, so that every
    rank raises it instead of the others waiting for a plan that never comes)."""
    if rank == 0:
        value = make()
        for r in range(1, world):
            wire.send_value(control, r, _TAG_PLAN, value, "ensemble plan")
        return value
    return wire.recv_value(control, 0, _TAG_PLAN)


def _all(group, flag):
    """Whether `flag` is true on every rank of the group (collective)."""
    import hyflow as hy
    from .. import distributed as dist
    t = hy.tensor([1 if flag else 0], dtype=hy.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MIN, group=group)
    return bool(t.tolist()[0])


def _agree(row, group, control, rank, leader, per, wire):
    """The group's row for this attempt: failed if it failed on any rank (with the first such rank's
    error, the one that says why rather than "failed on another rank" where there is one), else the
    leader's with every rank's metrics merged."""
    failed = not _all(group, row["status"] == "ok")
    if rank != leader:
        wire.send_value(control, leader, _TAG_ROW, row, "ensemble member row")
        # Only the verdict matters here; the leader holds the row that goes into the table.
        return dict(row, status="failed" if failed else "ok")
    rows = [row] + [wire.recv_value(control, leader + i, _TAG_ROW) for i in range(1, per)]
    wall = max(r["wall_s"] for r in rows)
    if failed:
        bad_rows = [(i, r) for i, r in enumerate(rows) if r["status"] == "failed"]
        own = [(i, r) for i, r in bad_rows if (r["error"] or {}).get("type") != "BuildFailedElsewhere"]
        group_rank, bad = (own or bad_rows)[0]
        error = dict(bad["error"] or {}, rank=group_rank)
        return dict(bad, status="failed", wall_s=wall, error=error, metrics={})
    metrics = {}
    for r in reversed(rows):
        metrics.update(r["metrics"])
    return dict(row, wall_s=wall, metrics=metrics)
