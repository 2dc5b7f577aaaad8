"""Delivery rules between placements, under `mpirun -n N`. argv: OUT CASE; every rank writes
OUT/rank-<r>.json: {"result": its tasks' states} or {"error": [type, message]}, then prints `RANK <r> DONE`.
    gather_first    SPMD producer on every rank, consumer on "first": items in rank order
    direct_subset   a task input from an SPMD task read on the last rank only: ValueError
    ambiguous       a channel from ranks [0, 1] to ranks [1, 2]: ValueError
"""
import json
import os
import sys

import hyflow.distributed as dist
from hyflow.workflow import Workflow

out, mode = sys.argv[1], sys.argv[2]
wf = Workflow(mode)
if mode == "gather_first":
    ch = wf.channel("ch", capacity=16)

    @wf.task(outputs=[ch])
    def produce(ctx):
        ctx.emit(ch, [ctx.rank, ctx.step, "a"])
        return [ctx.rank, ctx.step, "b"]

    @wf.task(ranks="first", inputs=[ch], every=2)
    def gather(ctx, batch):
        ctx.state["batches"] = ctx.state.get("batches", []) + [batch]
elif mode == "direct_subset":
    @wf.task
    def produce(ctx):
        return ctx.rank

    @wf.task(ranks="last", inputs=[produce])
    def reader(ctx, value):
        ctx.state["got"] = value
elif mode == "ambiguous":
    ch = wf.channel("ch")

    @wf.task(ranks="0:2", outputs=[ch])
    def produce(ctx):
        return 1

    @wf.task(ranks="1:3", inputs=[ch])
    def consume(ctx, items):
        pass
else:
    raise SystemExit(f"unknown mode {mode!r}")

try:
    result = wf.run(steps=4)
    entries = {"result": {k: dict(v) for k, v in result.state.items()}}
except Exception as e:  # noqa: BLE001 — reported to the test
    entries = {"error": [type(e).__name__, str(e)]}
with open(os.path.join(out, f"rank-{dist.get_rank()}.json"), "w") as f:
    json.dump(entries, f)
print(f"RANK {dist.get_rank()} DONE", flush=True)
