"""Variant (c): NumPy simulation and PyTorch surrogate glued in one Python loop, one process.

The loop is the example's coupling.run_loop with NumPy/PyTorch bodies: forcing, simulate, train every
train_every steps on the states since the last training, infer (its prediction drives the next step
from the switch on), diagnostics every diag_every steps. States cross into PyTorch with
torch.from_numpy (plus the float32 cast) and predictions come back with .numpy().

Round trip of step s (time.perf_counter()): from the simulation step's return to infer's return with
the tendency converted back to NumPy (train runs in between when it fires at s). The glue adds almost
nothing between the bodies (a list append): its conversions to and from PyTorch are inside the ML time.
"""
from __future__ import annotations

import resource
import time

import numpy as np

import numpy_shallow_water as nsw
import round_trip
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

    seconds = dict.fromkeys(("forcing", "simulate", "train", "infer", "diagnostics"), 0.0)
    # per step: the state returned by the step; its tendency back in NumPy; the train + infer time between
    produced, in_hand, ml = {}, {}, {}
    clock = time.perf_counter
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = switched = clock()
    for step in range(spec["steps"]):
        if step == spec["switch_step"]:
            switched = clock()
        t0 = clock()
        forcing = (fu * factors[step], fv)
        t1 = clock()
        h, u, v = nsw.step(h, u, v, params, momentum_tendency=next_tendency, forcing=forcing)
        produced[step] = clock()
        if step == spec["switch_step"] - 1:
            before_switch = h.copy()
        unread_states.append((h, u, v))
        t2 = clock()
        if fires(step, spec["train_every"], spec["train_offset"]):
            unread_weights = train(step, unread_states)
            unread_states = []
        t3 = clock()
        next_tendency = infer(step, (h, u, v), unread_weights)
        unread_weights = None
        t4 = in_hand[step] = clock()
        ml[step] = t4 - t2
        if fires(step, spec["diag_every"]):
            nsw.diagnostics(diagnostics, step, (step + 1) * params.dt, h, u, v, params)
        t5 = clock()
        for name, begin, end in (("forcing", t0, t1), ("simulate", t1, t2), ("train", t2, t3), ("infer", t3, t4),
                                 ("diagnostics", t4, t5)):
            seconds[name] += end - begin
    wall = time.perf_counter() - start
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults

    return {"wall_s": wall, "page_faults": faults, "pre_switch_s": switched - start, "task_seconds": seconds,
            "round_trips": round_trip.samples(produced, in_hand, ml, spec["switch_step"], spec["steps"]),
            "h": h, "h_before_switch": before_switch,
            "mass_drift": (nsw.total_mass(h, params) - initial_mass) / initial_mass,
            "final_loss": train.history["loss"][-1], "online_error": _mean(infer.history["error"])}


def _mean(values):
    return float(np.mean(values)) if values else float("nan")
