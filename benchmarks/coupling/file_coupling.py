"""Variant (b), the simulation side: NumPy shallow water in this process, coupled by files to ml_worker.py.

Every step the simulation writes its state as .npy into the spool folder (atomically: tmp + rename)
and goes on; the ML process (a subprocess) picks the files up, trains and infers. From the switch on,
the simulation needs the surrogate's tendency of the previous step before it can take the next one, so
it polls the spool for it (sleeping poll_s between tries). Before the switch nothing comes back and
the two processes overlap freely.

The timer starts once the ML process reports ready (its PyTorch import and model set-up, reported
separately as startup) and stops when its results file appears after the last step.
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
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = switched = time.perf_counter()
        for step in range(spec["steps"]):
            tendency = None
            if step - 1 >= spec["infer_from"]:
                pair = spool.wait_and_take(spool.tendency_path(folder, step - 1), poll_s, worker_alive)
                tendency = (pair[0], pair[1])
            if step == spec["switch_step"]:   # the first surrogate tendency is here: the ML backlog is done
                switched = time.perf_counter()
            h, u, v = nsw.step(h, u, v, params, momentum_tendency=tendency, forcing=(fu * factors[step], fv))
            spool.write_atomic(spool.state_path(folder, step), np.stack([h, u, v]))
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
            "h": h, "h_before_switch": before_switch,
            "mass_drift": (nsw.total_mass(h, params) - initial_mass) / initial_mass,
            "final_loss": ml["final_loss"], "online_error": ml["online_error"]}
