"""Variant (a): the climate example's hyflow Workflow, unchanged (examples/climate/climate.py's
build_workflow): forcing -> simulate -> states channel -> train every train_every -> weights -> infer,
infer's tendency fed back to simulate from the switch on, diagnostics every diag_every. In memory, one
process, hyflow tensors end to end.

For the round-trip latency the example's simulate, train and infer bodies are wrapped while the workflow
runs (the tasks call them through the `coupling` module), so each records time.perf_counter() at its
start and end: state s is produced when simulate's body returns at step s, and its tendency is in hand,
strictly, when simulate's body starts at step s + 1 (infer's step-s output reaches it through the
`tendency` channel, delay 1).
"""
from __future__ import annotations

import contextlib
import os
import resource
import statistics
import sys
import time

EXAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
                           "examples", "climate")
sys.path.insert(0, os.path.normpath(EXAMPLE_DIR))

import climate  # noqa: E402
import coupling  # noqa: E402
import shallow_water as sw  # noqa: E402

import round_trip  # noqa: E402

TIMED_BODIES = ("simulate_body", "train_body", "infer_body")


def run(setup: "coupling.Setup", steps: int | None = None, engine_threads: int | None = None) -> dict:
    """Run the example's workflow for `steps` (default: the config's) and time it. engine_threads: the
    engine's worker threads (wf.run's `threads`; None: its default)."""
    steps = setup.config.steps if steps is None else steps
    stamps = {}
    with _timestamped_bodies(stamps):
        wf = climate.build_workflow(setup)
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        result = wf.run(steps, progress=False, threads=engine_threads)
        wall = time.perf_counter() - start
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    states = {name: dict(result.state[name]) for name in result.state}
    final = coupling.final_state(states)
    sim = states["simulate"]
    online = states["infer"].get("history", {"error": []})["error"]
    losses = states["train"].get("history", {"loss": []})["loss"]
    return {"wall_s": wall, "page_faults": faults, "pre_switch_s": _switch_time(result, setup.config.switch_step),
            "h": final.h.numpy().copy(), "result": result,
            "round_trips": _round_trips(stamps, setup.config.switch_step, steps),
            "mass_drift": (sw.total_mass(final, setup.params) - sim["initial_mass"]) / sim["initial_mass"],
            "final_loss": losses[-1] if losses else float("nan"),
            "online_error": sum(online) / len(online) if online else float("nan")}


@contextlib.contextmanager
def _timestamped_bodies(stamps: dict):
    """While inside, the example's simulate/train/infer bodies record perf_counter() at their start and
    end into stamps["<body>"] = ({step: start}, {step: end}); the work they do is unchanged."""
    originals = {name: getattr(coupling, name) for name in TIMED_BODIES}

    def timed(body, starts, ends):
        clock = time.perf_counter

        def stamped(state, step, *args):
            starts[step] = clock()
            value = body(state, step, *args)
            ends[step] = clock()
            return value
        return stamped

    for name, body in originals.items():
        stamps[name] = ({}, {})
        setattr(coupling, name, timed(body, *stamps[name]))
    try:
        yield stamps
    finally:
        for name, body in originals.items():
            setattr(coupling, name, body)


def _round_trips(stamps: dict, switch_step: int, steps: int) -> dict:
    """Per step s >= switch_step: simulate's body end at s -> its body start at s + 1; the ML time inside
    is infer's body at s plus train's when it fired at s."""
    sim_start, sim_end = stamps["simulate_body"]
    in_hand = {step - 1: at for step, at in sim_start.items()}
    ml = {}
    for name in ("train_body", "infer_body"):
        starts, ends = stamps[name]
        for step, end in ends.items():
            ml[step] = ml.get(step, 0.0) + end - starts[step]
    return round_trip.samples(sim_end, in_hand, ml, switch_step, steps)


def _switch_time(result, switch_step: int) -> float:
    """Seconds from the engine's start to simulate's start at switch_step (the first step that waits for
    a surrogate tendency); the whole run when it never gets there."""
    for event in result.events:
        if event["task"] == "simulate" and event["step"] == switch_step:
            return event["start_us"] / 1e6
    return result.stats["wall_s"]


def task_breakdown(result, steps: int) -> dict:
    """Per task: milliseconds of body time per coupled step, from the run's statistics; plus 'engine',
    the wall time not covered by any task body (scheduling, hand-offs, idle threads) per step."""
    tasks = result.stats["tasks"]
    per_step = {name: 1e3 * info["total_s"] / steps for name, info in tasks.items()}
    per_step["engine"] = 1e3 * result.stats["wall_s"] / steps - sum(per_step.values())
    return per_step


def handoff_ms(result, first_step: int, end_step: int) -> float:
    """Median engine hand-off time per step on the simulate -> infer -> simulate loop (the critical path
    once the surrogate drives the model): from simulate's end to infer's start plus from infer's end to
    the next simulate's start, over steps [first_step, end_step - 1)."""
    spans = {(e["task"], e["step"]): (e["start_us"], e["end_us"]) for e in result.events}
    gaps = []
    for step in range(first_step, end_step - 1):
        try:
            sim, inf, nxt = spans["simulate", step], spans["infer", step], spans["simulate", step + 1]
        except KeyError:
            continue
        gaps.append((inf[0] - sim[1]) + (nxt[0] - inf[1]))
    return statistics.median(gaps) / 1e3 if gaps else float("nan")
