"""Variant (b), the simulation side: NumPy shallow water in this process, coupled by files to ml_worker.py.

Every step the simulation writes its state as .npy into the spool folder (atomically: tmp + rename)
and goes on; the ML process (a subprocess) picks the files up, trains and infers. From the switch on,
the simulation needs the surrogate's tendency of the previous step before it can take the next one, so
it polls the spool for it (sleeping poll_s between tries). Before the switch nothing comes back and
the two processes overlap freely.

The timer starts once the ML process reports ready (its PyTorch import and model set-up, reported
separately as startup) and stops when its results file appears after the last step.

Round trip of step s: from the state file's rename into place to the simulation having loaded the
tendency file for s (strictly: np.load returned, the file deleted). Both ends are in this process; the
ML process adds when it loaded the state and when its prediction was ready, so the round trip splits
into the way to the ML process, the ML time and the way back. All these stamps are time.monotonic_ns()
(CLOCK_MONOTONIC, which on Linux is one clock for every process on the machine).
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

import numpy_shallow_water as nsw
import round_trip
import spool

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ml_worker.py")


def run(spec: dict, poll_s: float, spool_root: str | None = None) -> dict:
    params = nsw.Params(**spec["params"])
    h, u, v = (np.array(a) for a in spec["initial"])
    fu, fv = spec["forcing_pattern"]
    factors = spec["forcing_factors"]
    folder = tempfile.mkdtemp(prefix="coupling-spool-", dir=spool_root)
    worker_spec = {key: spec[key] for key in ("params", "steps", "train_every", "train_offset", "train_iters",
                                              "batch_points", "infer_from", "seed", "hidden", "lr", "threads")}
    worker_spec.update(spool=folder, poll_s=poll_s)
    spec_path = os.path.join(folder, "spec.json")
    with open(spec_path, "w", encoding="utf-8") as f:
        json.dump(worker_spec, f)

    env = dict(os.environ, OMP_NUM_THREADS=str(spec["threads"]))
    launched = time.perf_counter()
    stderr_path = os.path.join(folder, "ml_stderr.txt")
    with open(stderr_path, "w", encoding="utf-8") as stderr_file:
        proc = subprocess.Popen([sys.executable, WORKER, spec_path], env=env, stderr=stderr_file)
    try:
        def worker_alive():
            return proc.poll() is None

        spool.wait_for_file(spool.ready_path(folder), poll_s, worker_alive)
        startup = time.perf_counter() - launched

        diagnostics = {}
        initial_mass = nsw.total_mass(h, params)
        before_switch = None
        written_ns, in_hand_ns = {}, {}   # per step: state file in place; its tendency loaded back
        clock_ns = time.monotonic_ns
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = switched = time.perf_counter()
        for step in range(spec["steps"]):
            tendency = None
            if step - 1 >= spec["infer_from"]:
                pair = spool.wait_and_take(spool.tendency_path(folder, step - 1), poll_s, worker_alive)
                in_hand_ns[step - 1] = clock_ns()
                tendency = (pair[0], pair[1])
            if step == spec["switch_step"]:   # the first surrogate tendency is here: the ML backlog is done
                switched = time.perf_counter()
            h, u, v = nsw.step(h, u, v, params, momentum_tendency=tendency, forcing=(fu * factors[step], fv))
            spool.write_atomic(spool.state_path(folder, step), np.stack([h, u, v]))
            written_ns[step] = clock_ns()
            if step == spec["switch_step"] - 1:
                before_switch = h.copy()
            if step % spec["diag_every"] == 0:
                nsw.diagnostics(diagnostics, step, (step + 1) * params.dt, h, u, v, params)
        spool.wait_for_file(spool.result_path(folder), poll_s, worker_alive)
        wall = time.perf_counter() - start
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
        with open(spool.result_path(folder), encoding="utf-8") as f:
            ml = json.load(f)
        proc.wait(timeout=60)
    except Exception as error:
        with open(stderr_path, encoding="utf-8", errors="replace") as f:
            worker_stderr = f.read()[-3000:]
        raise RuntimeError(f"file coupling failed: {error}\nML process stderr:\n{worker_stderr}") from error
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)

    return {"wall_s": wall, "page_faults": faults, "pre_switch_s": switched - start, "startup_s": startup,
            "round_trips": _round_trips(written_ns, in_hand_ns, ml, spec),
            "h": h, "h_before_switch": before_switch,
            "mass_drift": (nsw.total_mass(h, params) - initial_mass) / initial_mass,
            "final_loss": ml["final_loss"], "online_error": ml["online_error"]}


def _round_trips(written_ns: dict, in_hand_ns: dict, ml: dict, spec: dict) -> dict:
    """Round-trip samples (see round_trip.samples) plus, aligned with them, "to_ml_s" (state written ->
    loaded by the ML process) and "back_s" (prediction ready -> tendency loaded here)."""
    loaded, computed = ml["loaded_ns"], ml["computed_ns"]
    seconds = 1e-9
    samples = round_trip.samples({s: t * seconds for s, t in written_ns.items()},
                                 {s: t * seconds for s, t in in_hand_ns.items()},
                                 {s: (computed[s] - loaded[s]) * seconds for s in range(len(loaded))},
                                 spec["switch_step"], spec["steps"])
    samples["to_ml_s"] = [(loaded[s] - written_ns[s]) * seconds for s in samples["steps"]]
    samples["back_s"] = [(in_hand_ns[s] - computed[s]) * seconds for s in samples["steps"]]
    return samples
