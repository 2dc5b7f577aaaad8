"""Variant (a): the climate example's hyflow Workflow, unchanged (examples/climate/climate.py's
build_workflow): forcing -> simulate -> states channel -> train every train_every -> weights -> infer,
infer's tendency fed back to simulate from the switch on, diagnostics every diag_every. In memory, one
process, hyflow tensors end to end.
"""
from __future__ import annotations

import os
import sys
import time

EXAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
                           "examples", "climate")
sys.path.insert(0, os.path.normpath(EXAMPLE_DIR))

import climate  # noqa: E402
import coupling  # noqa: E402
import shallow_water as sw  # noqa: E402


def run(setup: "coupling.Setup", steps: int | None = None) -> dict:
    """Run the example's workflow for `steps` (default: the config's) and time it."""
    steps = setup.config.steps if steps is None else steps
    wf = climate.build_workflow(setup)
    start = time.perf_counter()
    result = wf.run(steps, progress=False)
    wall = time.perf_counter() - start
    states = {name: dict(result.state[name]) for name in result.state}
    final = coupling.final_state(states)
    sim = states["simulate"]
    online = states["infer"].get("history", {"error": []})["error"]
    losses = states["train"].get("history", {"loss": []})["loss"]
    return {"wall_s": wall, "h": final.h.numpy().copy(), "result": result,
            "mass_drift": (sw.total_mass(final, setup.params) - sim["initial_mass"]) / sim["initial_mass"],
            "final_loss": losses[-1] if losses else float("nan"),
            "online_error": sum(online) / len(online) if online else float("nan")}
