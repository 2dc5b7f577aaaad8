"""hyflow's plasma example: 1D-1V electrostatic particle-in-cell, coupled online to an ML field solver.

    python examples/plasma/plasma.py                        # Landau damping and two-stream, 2^17 particles each
    python examples/plasma/plasma.py --case two-stream --switch-step 400    # PIC only, no ML phase
    python examples/plasma/plasma.py --checkpoint-dir ckpt/plasma           # then again with --resume

Each case is a hyflow.workflow.Workflow of five tasks (field, train, infer, push, diagnostics; see
build_workflow and docs/plasma_example.md). The run prints a summary and PASS/FAIL checks against linear
theory and the conservation laws, and exits non-zero when one fails.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the example's modules sit beside it

import hyflow as hy  # noqa: E402

import rates  # noqa: E402
import plasma_coupling as coupling  # noqa: E402

LANDAU_GAMMA_TOLERANCE = 0.05      # relative, the acceptance bounds
LANDAU_OMEGA_TOLERANCE = 0.02
GROWTH_TOLERANCE = 0.10
# max |E_tot(t) - E_tot(0)| / E_tot(0). Leapfrog's error is O((omega_p dt)^2) of the energy exchanged with
# the field and does not drift; the momentum-conserving CIC scheme does not conserve energy exactly either
# (aliasing: the part that dominates here, halving dt barely changes it, doubling the cells halves it).
# Measured at the defaults: Landau ~1e-6 (the field holds 2e-4 of the energy), two-stream 3e-3 to 4.5e-3
# (35% of the energy passes through the field). The tolerances are 100x and 2x above those.
ENERGY_TOLERANCE = {"landau": 1e-4, "two-stream": 1e-2}
# max |P(t) - P(0)| / sum w |v|: the scheme conserves momentum exactly, so only round-off remains
# (~1e-16 measured; a few ulp per step summed over the particles and steps).
MOMENTUM_TOLERANCE = 1e-12
ML_ERROR_LIMIT = 0.05              # mean relative error of the model's field while it drives the particles


# ---- the workflow

def build_workflow(setup: coupling.Setup):
    """The task graph:

        field --[samples: block]--> train --[weights: latest, delay 1]--> infer
          |  ^                                                              |
          |  '-----------------[positions: latest, delay 1]------------.    |
          '--(direct)--> infer --(direct)--> push <--(direct)-- field   '-- push --(direct)--> diagnostics

    field deposits x^n and solves Poisson; infer gives the model's field from the switch step on (an empty
    dict before); push uses it, or the Poisson field, and sends x^{n+1} back to field for the next step.
    The weights channel is delayed so that train runs beside the next steps instead of holding them up.
    """
    from hyflow.workflow import Workflow

    config = setup.config
    wf = Workflow(f"plasma-{config.case}", seed=0)
    positions = wf.channel("positions", capacity=1, policy="latest", delay=1)
    samples = wf.channel("samples", capacity=2 * config.train_every, policy="block")
    weights = wf.channel("weights", capacity=1, policy="latest", delay=1)

    @wf.task(inputs=[positions], outputs=[samples])
    def field(ctx, latest_positions):
        return coupling.field_body(ctx.state, ctx.step, latest_positions, setup)

    @wf.task(inputs=[samples], every=config.train_every, offset=config.train_offset, outputs=[weights])
    def train(ctx, batch):
        return coupling.train_body(ctx.state, ctx.step, batch, setup)

    @wf.task(inputs=[field, weights])
    def infer(ctx, current, new_weights):
        return coupling.infer_body(ctx.state, ctx.step, current, new_weights, setup)

    @wf.task(inputs=[field, infer], outputs=[positions])
    def push(ctx, exact, predicted):
        return coupling.push_body(ctx.state, ctx.step, exact, predicted, setup)

    @wf.task(inputs=[push], every=config.diag_every)
    def diagnostics(ctx, current):
        coupling.diagnostics_body(ctx.state, ctx.step, current, setup)

    return wf


def workflow_available() -> bool:
    try:
        import hyflow.workflow  # noqa: F401
    except ImportError:
        return False
    return True


# ---- summary and checks

def fit_rates(history: dict, setup: coupling.Setup) -> dict:
    """The measured rates: Landau damping from the k mode's field energy, two-stream growth from its
    amplitude. A failed fit gives NaN (and a failed check) with the reason."""
    config = setup.config
    times, amplitude = history["time"], history["mode_amplitude"]
    try:
        if config.case == "landau":
            mode_energy = [setup.params.length * a * a / 4 for a in amplitude]   # int (a cos kx)^2 / 2 dx
            fit = rates.fit_damping(times, mode_energy, 0.0, config.fit_until)
            return {"gamma": fit["gamma"], "omega": fit["omega"], "peak_times": fit["peak_times"],
                    "peak_log_energy": fit["peak_log_energy"], "intercept": fit["intercept"]}
        low, high = config.growth_window
        fit = rates.fit_growth(times, amplitude, low, high)
        return {"gamma": fit["gamma"], "t_start": fit["t_start"], "t_stop": fit["t_stop"],
                "intercept": fit["intercept"]}
    except (ValueError, StopIteration) as e:
        return {"gamma": float("nan"), "omega": float("nan"), "fit_error": str(e)}


def summarize(task_states: dict, setup: coupling.Setup, wall_s: float, engine: str, task_seconds: dict,
              steps_run: int) -> dict:
    config = setup.config
    diag = task_states["diagnostics"]["history"]
    total = [w + k for w, k in zip(diag["field_energy"], diag["kinetic_energy"])]
    p0 = diag["momentum"][0]
    online = task_states["infer"].get("history", {"error": []})["error"]
    train = task_states["train"].get("history", {"loss": [], "validation_error": []})
    validation = [e for e in train["validation_error"] if not math.isnan(e)]
    if online:
        ml_error, ml_kind = sum(online) / len(online), "mean online error while driving the particles"
    elif validation:
        ml_error, ml_kind = validation[-1], "validation error on the last unseen sample"
    else:
        ml_error, ml_kind = float("nan"), "no error measured"
    push = task_states["push"]
    return {
        "case": config.case,
        "engine": engine,
        "particles": config.n_particles,
        "cells": config.n_cells,
        "steps": config.steps,
        "steps_run": steps_run,
        "dt": config.dt,
        "wall_s": wall_s,
        "ms_per_step": 1e3 * wall_s / max(steps_run, 1),
        "theory": setup.theory(),
        "fit": fit_rates(diag, setup),
        "energy_error": max(abs(e - total[0]) for e in total) / total[0],
        "field_energy_fraction": max(diag["field_energy"]) / total[0],
        "momentum_error": max(abs(p - p0) for p in diag["momentum"]) / task_states["diagnostics"]["momentum_scale"],
        "ml_steps": push["ml_steps"],
        "trainings": len(train["loss"]),
        "final_loss": train["loss"][-1] if train["loss"] else float("nan"),
        "ml_error": ml_error,
        "ml_error_kind": ml_kind,
        "ml_error_max": max(online) if online else float("nan"),
        "finite": bool(hy.isfinite(push["x"]).all().item() and hy.isfinite(push["v"]).all().item()),
        "task_seconds": task_seconds,
    }


def relative_deviation(measured: float, expected: float) -> float:
    return abs(measured / expected - 1) if math.isfinite(measured) else math.inf


def evaluate_checks(summary: dict, max_ml_error: float = ML_ERROR_LIMIT) -> list:
    """[(name, passed, detail)] for one case's acceptance checks."""
    theory, fit, case = summary["theory"], summary["fit"], summary["case"]
    checks = []
    if case == "landau":
        dg = relative_deviation(fit["gamma"], theory["gamma"])
        dw = relative_deviation(fit["omega"], theory["omega"])
        checks += [
            ("Landau damping rate", dg < LANDAU_GAMMA_TOLERANCE,
             f"gamma = {fit['gamma']:.4f} vs {theory['gamma']} "
             f"({100 * dg:.1f}% < {100 * LANDAU_GAMMA_TOLERANCE:.0f}%)"),
            ("Landau frequency", dw < LANDAU_OMEGA_TOLERANCE,
             f"omega = {fit['omega']:.4f} vs {theory['omega']} "
             f"({100 * dw:.2f}% < {100 * LANDAU_OMEGA_TOLERANCE:.0f}%)"),
        ]
    else:
        dg = relative_deviation(fit["gamma"], theory["gamma"])
        checks.append(("two-stream growth rate", dg < GROWTH_TOLERANCE,
                       f"gamma = {fit['gamma']:.4f} vs cold-beam theory {theory['gamma']:.4f} "
                       f"({100 * dg:.1f}% < {100 * GROWTH_TOLERANCE:.0f}%)"))
    if "fit_error" in fit:
        checks[-1] = (checks[-1][0], False, f"fit failed: {fit['fit_error']}")
    energy_limit = ENERGY_TOLERANCE[case]
    checks += [
        ("energy conserved", summary["energy_error"] < energy_limit,
         f"max |dE| / E0 = {summary['energy_error']:.2e} < {energy_limit:.0e}"),
        ("momentum conserved", summary["momentum_error"] < MOMENTUM_TOLERANCE,
         f"max |dP| / sum w|v| = {summary['momentum_error']:.2e} < {MOMENTUM_TOLERANCE:.0e}"),
        ("ML field solver", summary["ml_error"] < max_ml_error,
         f"{summary['ml_error_kind']} = {summary['ml_error']:.2e} < {max_ml_error}"),
        ("no NaN", summary["finite"], "all particles finite"),
    ]
    return checks


def print_report(summary: dict, checks: list) -> None:
    print(f"plasma example, {summary['case']} ({summary['engine']}): {summary['particles']} particles, "
          f"{summary['cells']} cells, {summary['steps']} steps of dt = {summary['dt']}")
    resumed = "" if summary["steps_run"] == summary["steps"] else f", {summary['steps_run']} steps after resuming"
    print(f"  wall time            {summary['wall_s']:.2f} s  ({summary['ms_per_step']:.2f} ms per step{resumed})")
    print(f"  energy error         {summary['energy_error']:.2e} (field energy up to "
          f"{summary['field_energy_fraction']:.2e} of the total)")
    print(f"  momentum error       {summary['momentum_error']:.2e}")
    print(f"  ML field solver      {summary['trainings']} trainings, final loss {summary['final_loss']:.2e}, "
          f"drove {summary['ml_steps']} steps; error {summary['ml_error']:.2e} "
          f"(max {summary['ml_error_max']:.2e})")
    busy = ", ".join(f"{name} {secs:.2f}" for name, secs in summary["task_seconds"].items())
    print(f"  seconds in tasks     {busy}")
    for name, passed, detail in checks:
        print(f"  {'PASS' if passed else 'FAIL'}  {name}: {detail}")


# ---- command line

def parse_args(argv=None) -> argparse.Namespace:
    defaults = coupling.RunConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--case", choices=coupling.CASES + ("both",), default="both", help="which physics case(s)")
    p.add_argument("--particles", type=int, default=defaults.n_particles, help="number of particles")
    p.add_argument("--cells", type=int, default=defaults.n_cells, help="grid cells (even)")
    p.add_argument("--steps", type=int, default=None, help="time steps (default: landau 300, two-stream 400)")
    p.add_argument("--dt", type=float, default=defaults.dt, help="time step (1 / omega_p)")
    p.add_argument("--amplitude", type=float, default=None,
                   help="initial density perturbation (default: landau 0.01, two-stream 1e-4)")
    p.add_argument("--switch-step", type=int, default=defaults.switch_step,
                   help="from this step on the ML model's field drives the particles (>= steps: never)")
    p.add_argument("--train-every", type=int, default=defaults.train_every, help="train every N steps")
    p.add_argument("--train-iters", type=int, default=defaults.train_iters, help="Adam steps per training")
    p.add_argument("--lr", type=float, default=defaults.lr, help="Adam learning rate")
    p.add_argument("--fit-until", type=float, default=defaults.fit_until,
                   help="landau: fit the field-energy peaks with t <= this")
    p.add_argument("--out", default=os.path.join("out", "plasma"), help="folder for the figure and summaries")
    p.add_argument("--checkpoint-dir", default=None, help="write workflow checkpoints here (one folder per case)")
    p.add_argument("--checkpoint-every", type=int, default=100, help="steps between checkpoints")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --checkpoint-dir")
    p.add_argument("--engine", choices=("workflow", "loop"), default="workflow",
                   help="run the tasks on hyflow.workflow or in a plain Python loop (the reference)")
    p.add_argument("--max-ml-error", type=float, default=ML_ERROR_LIMIT, help="the ML check's threshold")
    p.add_argument("--no-plot", action="store_true", help="skip the matplotlib figure")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.resume and not args.checkpoint_dir:
        p.error("--resume needs --checkpoint-dir")
    return args


def config_from_args(args, case: str) -> coupling.RunConfig:
    return coupling.RunConfig.for_case(case, n_particles=args.particles, n_cells=args.cells, steps=args.steps,
                                       dt=args.dt, amplitude=args.amplitude, switch_step=args.switch_step,
                                       train_every=args.train_every, train_iters=args.train_iters, lr=args.lr,
                                       fit_until=args.fit_until)


def run_case(args, case: str) -> tuple:
    """Run one case as `args` says; returns (task_states, setup, summary, checks)."""
    try:
        config = config_from_args(args, case)
    except (TypeError, ValueError) as e:
        raise SystemExit(f"plasma.py: {e}") from None
    setup = coupling.Setup(config)
    engine = args.engine
    if engine == "workflow" and not workflow_available():
        print("plasma.py: hyflow.workflow is not available in this build; running the plain loop")
        engine = "loop"
    out = os.path.join(args.out, case)
    os.makedirs(out, exist_ok=True)
    start = time.perf_counter()
    if engine == "workflow":
        wf = build_workflow(setup)
        ckpt = os.path.join(args.checkpoint_dir, case) if args.checkpoint_dir else None
        result = wf.run(config.steps, checkpoint_every=args.checkpoint_every if ckpt else None,
                        checkpoint_dir=ckpt, resume=args.resume,
                        progress=False if args.no_progress else None)
        task_states = {name: dict(result.state[name]) for name in coupling.TASKS}
        task_seconds = {name: result.stats["tasks"][name]["total_s"] for name in coupling.TASKS}
        steps_run = result.steps - result.start_step
        wf.to_dot(os.path.join(out, "workflow.dot"))
        wf.trace(os.path.join(out, "trace.json"))
    else:
        if args.checkpoint_dir:
            print("plasma.py: --checkpoint-dir/--resume need the workflow engine; the loop ignores them")
        task_seconds = {}
        task_states = coupling.run_loop(setup, progress=not args.no_progress, task_seconds=task_seconds)
        steps_run = config.steps
    wall = time.perf_counter() - start
    summary = summarize(task_states, setup, wall, engine, task_seconds, steps_run)
    checks = evaluate_checks(summary, args.max_ml_error)
    summary["checks"] = {name: passed for name, passed, _ in checks}
    with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    model = task_states["train"].get("model")
    if model is not None:
        hy.save(dict(model.state_dict()), os.path.join(out, "field_model.safetensors"))
    return task_states, setup, summary, checks


def main(argv=None) -> int:
    args = parse_args(argv)
    cases = coupling.CASES if args.case == "both" else (args.case,)
    results, ok = [], True
    for case in cases:
        task_states, setup, summary, checks = run_case(args, case)
        print_report(summary, checks)
        ok = ok and all(passed for _, passed, _ in checks)
        results.append((task_states, setup, summary))
    if not args.no_plot:
        from plasma_plotting import plot_runs
        path = plot_runs(results, os.path.join(args.out, "plasma.png"))
        if path:
            print(f"  figure               {path}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
