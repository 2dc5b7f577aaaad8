"""Variant (c): NumPy simulation and PyTorch surrogate glued in one Python loop, one process.

The loop is the example's coupling.run_loop with NumPy/PyTorch bodies: forcing, simulate, train every
train_every steps on the states since the last training, infer (its prediction drives the next step
from the switch on), diagnostics every diag_every steps. States cross into PyTorch with
torch.from_numpy (plus the float32 cast) and predictions come back with .numpy().
"""
from __future__ import annotations

import time

import numpy as np

import numpy_shallow_water as nsw
import torch_surrogate as ts


def fires(step: int, every: int, offset: int = 0) -> bool:
    return step >= offset and (step - offset) % every == 0


def run(spec: dict) -> dict:
    """Run the coupled loop described by `spec` (see bench_coupling.make_spec); returns timings and fields."""
    params = nsw.Params(**spec["params"])
    h, u, v = (np.array(a) for a in spec["initial"])
    fu, fv = spec["forcing_pattern"]
    factors = spec["forcing_factors"]
    train = ts.Trainer(spec["seed"], spec["hidden"], spec["lr"], spec["train_iters"], spec["batch_points"], params)
    infer = ts.Inferrer(spec["seed"], spec["hidden"], spec["infer_from"], params)
    diagnostics = {}
    initial_mass = nsw.total_mass(h, params)
    unread_states, unread_weights, next_tendency = [], None, None
    before_switch = None

    start = time.perf_counter()
    for step in range(spec["steps"]):
        forcing = (fu * factors[step], fv)
        h, u, v = nsw.step(h, u, v, params, momentum_tendency=next_tendency, forcing=forcing)
        if step == spec["switch_step"] - 1:
            before_switch = h.copy()
        unread_states.append((h, u, v))
        if fires(step, spec["train_every"], spec["train_offset"]):
            unread_weights = train(step, unread_states)
            unread_states = []
        next_tendency = infer(step, (h, u, v), unread_weights)
        unread_weights = None
        if fires(step, spec["diag_every"]):
            nsw.diagnostics(diagnostics, step, (step + 1) * params.dt, h, u, v, params)
    wall = time.perf_counter() - start

    return {"wall_s": wall, "h": h, "h_before_switch": before_switch,
            "mass_drift": (nsw.total_mass(h, params) - initial_mass) / initial_mass,
            "final_loss": train.history["loss"][-1], "online_error": _mean(infer.history["error"])}


def _mean(values):
    return float(np.mean(values)) if values else float("nan")
