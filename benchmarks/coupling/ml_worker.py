"""Variant (b), the ML side: a separate PyTorch process coupled to the simulation through a spool folder.

    python ml_worker.py SPEC.json        (started by file_coupling.py; SPEC holds the run's settings)

For every step it polls for the simulation's state file, loads and deletes it, trains every train_every
steps on the states since the last training, and from infer_from on writes the predicted tendency back
for the simulation's next step. It writes `ml_ready` once PyTorch is imported and the model built,
and `ml_result.json` after the last step, with per-step timestamps for the round-trip latency:
when each state was loaded and when its prediction was ready (before the write back), from
time.monotonic_ns(), i.e. CLOCK_MONOTONIC, one clock for all processes on a Linux machine, so the
simulation process can compare them with its own. Imports neither hyflow nor the example.
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
import torch

import numpy_shallow_water as nsw
import spool
import torch_surrogate as ts


def fires(step: int, every: int, offset: int = 0) -> bool:
    return step >= offset and (step - offset) % every == 0


def main(spec_path: str) -> None:
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    torch.set_num_threads(spec["threads"])
    params = nsw.Params(**spec["params"])
    folder, poll_s = spec["spool"], spec["poll_s"]
    parent = os.getppid()

    def parent_alive():
        return os.getppid() == parent

    train = ts.Trainer(spec["seed"], spec["hidden"], spec["lr"], spec["train_iters"], spec["batch_points"], params)
    infer = ts.Inferrer(spec["seed"], spec["hidden"], spec["infer_from"], params)
    spool.write_text_atomic(spool.ready_path(folder), "ready\n")

    unread_states, weights = [], None
    loaded_ns, computed_ns = [], []   # per step: state file loaded; train (if due) + infer done
    for step in range(spec["steps"]):
        fields = spool.wait_and_take(spool.state_path(folder, step), poll_s, parent_alive)
        loaded_ns.append(time.monotonic_ns())
        state = (fields[0], fields[1], fields[2])
        unread_states.append(state)
        if fires(step, spec["train_every"], spec["train_offset"]):
            weights = train(step, unread_states)
            unread_states = []
        prediction = infer(step, state, weights)
        weights = None
        computed_ns.append(time.monotonic_ns())
        if prediction is not None:
            spool.write_atomic(spool.tendency_path(folder, step), np.stack(prediction))

    errors = infer.history["error"]
    result = {"final_loss": train.history["loss"][-1],
              "online_error": float(np.mean(errors)) if errors else float("nan"),
              "loaded_ns": loaded_ns, "computed_ns": computed_ns}
    spool.write_text_atomic(spool.result_path(folder), json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: ml_worker.py SPEC.json")
    main(sys.argv[1])
