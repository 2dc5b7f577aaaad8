"""Module-level member builders for the ensemble tests: worker processes (spawned pools, Dask workers,
MPI ranks) import them by name, so they cannot live inside the test functions.

Every member is a small workflow: `count` adds params["rate"] to a running total each step, and
`record` appends each step it ran to members/<id>/steps.log beside the member's checkpoints, which is
how the tests see which steps (and which members) really ran. Parameters drive failures:

    fail_at: step at which `count` raises ValueError ("boom at step N") ...
    fail_attempts: ... on this many attempts (counted in members/<id>/attempts.log); absent: always
    die_at: step at which the process dies (os._exit) on its first attempt
    placed: count on the first rank, record on the last (under MPI: the member's two ranks talk)
    interrupt: build raises KeyboardInterrupt on the member's first attempt (a Ctrl-C in the middle)
    sleep: seconds `count` sleeps each step (a member that runs long)
    build_fails_on_rank: build raises on this MPI world rank only
"""
import os
import time

import hyflow as hy
from hyflow.workflow import Workflow


def _member_dir(params):
    return params["dir"]


def _attempt_number(params):
    """How many attempts of this member started before this one (read once per attempt, at build),
    counted per MPI rank: under MPI every rank of the member's group builds it."""
    rank = os.environ.get("OMPI_COMM_WORLD_RANK", "-")
    path = os.path.join(_member_dir(params), "attempts.log")
    n = 0
    if os.path.exists(path):
        with open(path) as f:
            n = f.read().split().count(rank)
    with open(path, "a") as f:
        f.write(f"{rank}\n")
    return n


def build(params):
    os.makedirs(_member_dir(params), exist_ok=True)
    attempt = _attempt_number(params)
    with open(os.path.join(_member_dir(params), "pid"), "w") as f:
        f.write(str(os.getpid()))
    if str(params.get("build_fails_on_rank")) == os.environ.get("OMPI_COMM_WORLD_RANK"):
        raise RuntimeError(f"no input files on rank {os.environ.get('OMPI_COMM_WORLD_RANK')}")
    if params.get("interrupt") and attempt == 0:
        raise KeyboardInterrupt("interrupted while building member")
    wf = Workflow(f"member-{params.get('name', 'm')}", seed=params.get("seed", 0))
    totals = wf.channel("totals", capacity=1, policy="latest")

    # placed: count on the first rank, record on the last (MPI members: one value crosses ranks per step)
    placed = params.get("placed", False)

    @wf.task(outputs=[totals], ranks="first" if placed else None)
    def count(ctx):
        fails = params.get("fail_attempts")
        if ctx.step == params.get("fail_at") and (fails is None or attempt < fails):
            raise ValueError(f"boom at step {ctx.step}")
        if ctx.step == params.get("die_at") and attempt == 0:
            os._exit(3)
        time.sleep(params.get("sleep", 0))
        ctx.state["total"] = ctx.state.get("total", 0.0) + params["rate"]
        return ctx.state["total"]

    @wf.task(inputs=[totals], ranks="last" if placed else None)
    def record(ctx, total):
        with open(os.path.join(_member_dir(params), "steps.log"), "a") as f:
            f.write(f"{ctx.step} {ctx.rank} {ctx.world_size}\n")
        ctx.state["last"] = total

    return wf


def metrics(result, params):
    out = {"threads": hy.get_num_threads(), "pid": os.getpid()}
    if "count" in result.state:
        out["total"] = result.state["count"]["total"]
    if "record" in result.state:
        out["last"] = result.state["record"]["last"]
    return out


def steps_run(member_dir):
    """[(step, rank, world size)] every recorded step, in the order they ran."""
    path = os.path.join(member_dir, "steps.log")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [tuple(int(x) for x in line.split()) for line in f if line.strip()]


def member_pid(member_dir):
    """The process that built the member's last attempt."""
    with open(os.path.join(member_dir, "pid")) as f:
        return int(f.read())


def process_gone(pid, within=10.0):
    """Whether process `pid` has ended (or is a zombie waiting to be reaped) within `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
