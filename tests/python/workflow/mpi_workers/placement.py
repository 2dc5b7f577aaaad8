"""A workflow placed across MPI ranks, run under `mpirun -n N` (or as one plain process).

simulate runs SPMD on ranks "0:-1" and sends its states through a block channel gathered on the
"last" rank, where train reads them every 2 steps; train's result is a task input of `apply` on
"0:-1" (a broadcast). argv: OUT MODE ...; every rank writes OUT/rank-<r>.json: "result" (its tasks'
final states) and whatever the mode adds, and prints `RANK <r> OK` at the end. Modes:
    run STEPS           one run
    resume DIR STEPS    train fails at step 6 on the last rank (checkpoints every 3 steps): "failed" is
                        [task, message] of each rank's WorkflowError; then resume=True to STEPS
                        ("start": the step it resumed from)
    subgroup STEPS      world ranks 1.. run the workflow on their own process group (comm=); "ranks"
                        is [group rank, world rank]
"""
import json
import os
import sys

import hyflow as hy
from hyflow.workflow import Workflow, WorkflowError


def build(fail_at=None):
    wf = Workflow("placed", seed=4)
    states = wf.channel("states", capacity=8)

    @wf.task(ranks="0:-1", outputs=[states])
    def simulate(ctx):
        u = ctx.state.setdefault("u", hy.full([3], float(ctx.rank)))
        ctx.state["u"] = u + 1 + hy.randn(3) * 0   # draws from ctx.rng; values stay exact
        ctx.state["where"] = [ctx.rank, ctx.world_size]
        return {"rank": ctx.rank, "step": ctx.step, "u": ctx.state["u"]}

    @wf.task(ranks="last", inputs=[states], every=2)
    def train(ctx, batch):
        if ctx.step == fail_at:
            raise RuntimeError("train broke")
        ctx.state["batches"] = ctx.state.get("batches", []) + [[[b["step"], b["rank"]] for b in batch]]
        mine = [b["u"] for b in batch if b["rank"] == 0]                   # the same in every layout
        w = ctx.state.setdefault("w", hy.zeros(3))
        ctx.state["w"] = w + sum(mine[1:], mine[0]) if mine else w
        ctx.state["where"] = [ctx.rank, ctx.world_size]
        return {"step": ctx.step, "w": ctx.state["w"]}

    @wf.task(ranks="0:-1", inputs=[train])
    def apply(ctx, result):
        assert result["step"] == ctx.step
        ctx.state["seen"] = ctx.state.get("seen", []) + [[ctx.step, result["w"].tolist()]]

    return wf


def plain(value):
    if isinstance(value, hy.Tensor):
        return value.tolist()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def save(out, rank, **entries):
    with open(os.path.join(out, f"rank-{rank}.json"), "w") as f:
        json.dump(entries, f, sort_keys=True)


def states(result):
    return {task: plain(dict(state)) for task, state in result.state.items()}


out, mode = sys.argv[1], sys.argv[2]
if mode == "run":
    result = build().run(steps=int(sys.argv[3]))
    rank = result.rank
    save(out, rank, result=states(result))
elif mode == "subgroup":
    import hyflow.distributed as dist
    dist.init()
    group = dist.new_group(list(range(1, dist.get_world_size())))  # every rank takes part in making it
    rank = dist.get_rank()
    if rank > 0:
        result = build().run(steps=int(sys.argv[3]), comm=group)
        save(out, rank, result=states(result), ranks=[result.rank, rank])
elif mode == "resume":
    ckpt, steps = sys.argv[3], int(sys.argv[4])
    try:
        build(fail_at=6).run(steps=steps, checkpoint_every=3, checkpoint_dir=ckpt)
        raise AssertionError("the first run did not fail")
    except WorkflowError as e:
        failed = [e.task, str(e)]
    result = build().run(steps=steps, checkpoint_every=3, checkpoint_dir=ckpt, resume=True)
    rank = result.rank
    save(out, rank, result=states(result), failed=failed, start=result.start_step)
else:
    raise SystemExit(f"unknown mode {mode!r}")
print(f"RANK {rank} OK", flush=True)
