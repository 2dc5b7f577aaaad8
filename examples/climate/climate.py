"""hyflow's main example: a shallow-water "climate" model coupled online to an ML surrogate of its dissipation.

    python examples/climate/climate.py                      # 64 x 64, 3000 steps, surrogate from step 2000
    python examples/climate/climate.py --nx 128 --ny 128 --steps 6000 --switch-step 4000
    python examples/climate/climate.py --checkpoint-dir ckpt/climate   # then again with --resume

The run is a hyflow.workflow.Workflow of five tasks joined by channels (see build_workflow and
docs/climate_example.md). It prints a summary and PASS/FAIL checks and exits non-zero when one fails.
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

import coupling  # noqa: E402
import shallow_water as sw  # noqa: E402

MASS_DRIFT_LIMIT = 1e-12       # relative; flux-form finite volumes conserve mass to round-off
SURROGATE_ERROR_LIMIT = 0.2    # mean relative error of the surrogate's tendency while it drives the model


# ---- the workflow

def build_workflow(setup: coupling.Setup):
    """The task graph:

        forcing --[wind]--> simulate --[states: block]--> train --[weights: latest]--> infer
                             ^  |  |                                                    ^  |
                             |  |  '--[latest_state: latest]----------------------------'  |
                             |  '--(direct)--> diagnostics                                 |
                             '-----------------[tendency: latest, delay 1]-----------------'

    simulate fires every step because `wind` always holds the forcing's item; `tendency` is empty (None)
    until infer's first prediction, so until then simulate uses the exact dissipation. The states
    channel holds two batches, so the simulation can run one batch ahead of a slower train.
    """
    from hyflow.workflow import Workflow

    config = setup.config
    wf = Workflow("climate", seed=config.seed)
    wind = wf.channel("wind", capacity=1, policy="latest")
    states = wf.channel("states", capacity=2 * config.train_every, policy="block")
    latest_state = wf.channel("latest_state", capacity=1, policy="latest")
    weights = wf.channel("weights", capacity=1, policy="latest")
    tendency = wf.channel("tendency", capacity=1, policy="latest", delay=1)

    @wf.task(outputs=[wind])
    def forcing(ctx):
        return coupling.forcing_body(ctx.step, setup)

    # compile=True: the solver step (setup.solver, the body's pure tensor code) runs as generated kernels.
    @wf.task(inputs=[wind, tendency], outputs=[states, latest_state], compile=config.compile)
    def simulate(ctx, forcing_now, surrogate_tendency):
        return coupling.simulate_body(ctx.state, ctx.step, forcing_now, surrogate_tendency, setup,
                                      ctx.compile(setup.solver))

    @wf.task(inputs=[states], every=config.train_every, offset=config.train_offset, outputs=[weights])
    def train(ctx, batch):
        return coupling.train_body(ctx.state, ctx.step, batch, setup)

    @wf.task(inputs=[latest_state, weights], outputs=[tendency])
    def infer(ctx, current, new_weights):
        return coupling.infer_body(ctx.state, ctx.step, current, new_weights, setup)

    @wf.task(inputs=[simulate], every=config.diag_every)
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

def summarize(task_states: dict, setup: coupling.Setup, wall_s: float, engine: str, task_seconds: dict,
              steps_run: int) -> dict:
    """The run's numbers; wall_s and task_seconds cover the `steps_run` steps this process ran (fewer
    than config.steps after a resume)."""
    config, params = setup.config, setup.params
    sim = task_states["simulate"]
    final = coupling.final_state(task_states)
    mass = sw.total_mass(final, params)
    energy = sw.total_energy(final, params)
    train = task_states["train"].get("history", {"loss": [], "validation_error": []})
    online = task_states["infer"].get("history", {"error": []})["error"]
    validation = [e for e in train["validation_error"] if not math.isnan(e)]
    if online:
        surrogate_error, error_kind = sum(online) / len(online), "mean online error while driving the model"
    elif validation:
        surrogate_error, error_kind = validation[-1], "validation error on the last unseen state"
    else:
        surrogate_error, error_kind = float("nan"), "no error measured"
    return {
        "engine": engine,
        "grid": [params.nx, params.ny],
        "steps": config.steps,
        "steps_run": steps_run,
        "dt": params.dt,
        "model_time": final.t,
        "wall_s": wall_s,
        "ms_per_step": 1e3 * wall_s / max(steps_run, 1),
        "mass_drift": (mass - sim["initial_mass"]) / sim["initial_mass"],
        "energy_ratio": energy / sim["initial_energy"],
        "surrogate_steps": sim["surrogate_steps"],
        "trainings": len(train["loss"]),
        "final_loss": train["loss"][-1] if train["loss"] else float("nan"),
        "surrogate_error": surrogate_error,
        "surrogate_error_kind": error_kind,
        "surrogate_error_max": max(online) if online else float("nan"),
        "finite": sw.is_finite(final),
        "max_courant": sw.max_courant(final, params),
        "task_seconds": task_seconds,
    }


def evaluate_checks(summary: dict, max_surrogate_error: float = SURROGATE_ERROR_LIMIT) -> list:
    """[(name, passed, detail)] for the run's acceptance checks."""
    return [
        ("mass conserved", abs(summary["mass_drift"]) < MASS_DRIFT_LIMIT,
         f"|drift| = {abs(summary['mass_drift']):.2e} < {MASS_DRIFT_LIMIT:.0e}"),
        ("surrogate learned", summary["surrogate_error"] < max_surrogate_error,
         f"{summary['surrogate_error_kind']} = {summary['surrogate_error']:.3f} < {max_surrogate_error}"),
        ("no NaN", summary["finite"], "all fields finite"),
    ]


def print_report(summary: dict, checks: list) -> None:
    print(f"climate example ({summary['engine']}): grid {summary['grid'][0]} x {summary['grid'][1]}, "
          f"{summary['steps']} steps of dt = {summary['dt']:.4g} (model time {summary['model_time']:.2f})")
    resumed = "" if summary["steps_run"] == summary["steps"] else f", {summary['steps_run']} steps after resuming"
    print(f"  wall time            {summary['wall_s']:.2f} s  ({summary['ms_per_step']:.2f} ms per coupled step"
          f"{resumed})")
    print(f"  mass drift           {summary['mass_drift']:+.2e} (relative)")
    print(f"  energy               {summary['energy_ratio']:.3f} x initial")
    print(f"  surrogate            {summary['trainings']} trainings, final loss {summary['final_loss']:.3e}, "
          f"drove {summary['surrogate_steps']} steps")
    print(f"  surrogate error      {summary['surrogate_error']:.4f} ({summary['surrogate_error_kind']}; "
          f"max {summary['surrogate_error_max']:.4f})")
    busy = ", ".join(f"{name} {secs:.2f}" for name, secs in summary["task_seconds"].items())
    print(f"  seconds in tasks     {busy}")
    for name, passed, detail in checks:
        print(f"  {'PASS' if passed else 'FAIL'}  {name}: {detail}")


# ---- command line

def parse_args(argv=None) -> argparse.Namespace:
    defaults = coupling.RunConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--nx", type=int, default=defaults.nx, help="grid cells along x")
    p.add_argument("--ny", type=int, default=defaults.ny, help="grid cells along y")
    p.add_argument("--steps", type=int, default=defaults.steps, help="time steps to run")
    p.add_argument("--train-every", type=int, default=defaults.train_every,
                   help="train the surrogate every N steps on the N newest states")
    p.add_argument("--train-iters", type=int, default=defaults.train_iters, help="AdamW steps per training")
    p.add_argument("--batch-points", type=int, default=defaults.batch_points,
                   help="grid points sampled for each AdamW step")
    p.add_argument("--switch-step", type=int, default=defaults.switch_step,
                   help="from this step on, the surrogate's tendency replaces the exact dissipation")
    p.add_argument("--diag-every", type=int, default=defaults.diag_every, help="diagnostics every N steps")
    p.add_argument("--seed", type=int, default=defaults.seed, help="seed of the initial perturbation and weights")
    p.add_argument("--hidden", type=int, default=defaults.hidden, help="surrogate MLP width")
    p.add_argument("--lr", type=float, default=defaults.lr, help="AdamW learning rate")
    p.add_argument("--forcing", type=float, default=defaults.forcing_amplitude, help="wind forcing amplitude")
    p.add_argument("--viscosity", type=float, default=defaults.viscosity, help="harmonic viscosity nu")
    p.add_argument("--out", default=os.path.join("out", "climate"), help="folder for the figure and summary")
    p.add_argument("--checkpoint-dir", default=None, help="write workflow checkpoints here")
    p.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --checkpoint-dir")
    p.add_argument("--engine", choices=("workflow", "loop"), default="workflow",
                   help="run the tasks on hyflow.workflow or in a plain Python loop (the reference)")
    p.add_argument("--max-surrogate-error", type=float, default=SURROGATE_ERROR_LIMIT,
                   help="the surrogate check's threshold")
    p.add_argument("--surrogate-runtime", choices=("eager", "ort"), default="eager",
                   help="run the surrogate's inference in hyflow (eager) or, exported after each training, in "
                        "ONNX Runtime (ort: needs pip install onnx onnxruntime); ort also writes surrogate.onnx")
    p.add_argument("--no-compile", action="store_true", help="run the solver step eagerly (not hy.compile)")
    p.add_argument("--no-plot", action="store_true", help="skip the matplotlib figure")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.resume and not args.checkpoint_dir:
        p.error("--resume needs --checkpoint-dir")
    return args


def config_from_args(args) -> coupling.RunConfig:
    return coupling.RunConfig(nx=args.nx, ny=args.ny, steps=args.steps, train_every=args.train_every,
                              train_iters=args.train_iters, batch_points=args.batch_points,
                              switch_step=args.switch_step,
                              diag_every=args.diag_every, seed=args.seed, hidden=args.hidden, lr=args.lr,
                              forcing_amplitude=args.forcing, viscosity=args.viscosity,
                              surrogate_runtime=args.surrogate_runtime,
                              compile=not args.no_compile)


def run(args) -> tuple:
    """Run as `args` says; returns (task_states, setup, summary, checks)."""
    try:
        config = config_from_args(args)
    except (TypeError, ValueError) as e:
        raise SystemExit(f"climate.py: {e}") from None
    setup = coupling.Setup(config)
    engine = args.engine
    if engine == "workflow" and not workflow_available():
        print("climate.py: hyflow.workflow is not available in this build; running the plain loop")
        engine = "loop"
    os.makedirs(args.out, exist_ok=True)

    start = time.perf_counter()
    if engine == "workflow":
        wf = build_workflow(setup)
        result = wf.run(config.steps, checkpoint_every=args.checkpoint_every if args.checkpoint_dir else None,
                        checkpoint_dir=args.checkpoint_dir, resume=args.resume,
                        progress=False if args.no_progress else None)  # None: a bar only on a terminal
        task_states = {name: dict(result.state[name]) for name in coupling.TASKS}
        task_seconds = {name: result.stats["tasks"][name]["total_s"] for name in coupling.TASKS}
        steps_run = result.steps - result.start_step
        wf.to_dot(os.path.join(args.out, "workflow.dot"))
        wf.trace(os.path.join(args.out, "trace.json"))
    else:
        if args.checkpoint_dir:
            print("climate.py: --checkpoint-dir/--resume need the workflow engine; the loop ignores them")
        task_seconds = {}
        task_states = coupling.run_loop(setup, progress=not args.no_progress, task_seconds=task_seconds)
        steps_run = config.steps
    wall = time.perf_counter() - start

    summary = summarize(task_states, setup, wall, engine, task_seconds, steps_run)
    summary["surrogate_runtime"] = config.surrogate_runtime
    checks = evaluate_checks(summary, args.max_surrogate_error)
    summary["checks"] = {name: passed for name, passed, _ in checks}
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    model = task_states["train"].get("model")
    if model is not None:
        hy.save(dict(model.state_dict()), os.path.join(args.out, "surrogate.safetensors"))
        if config.surrogate_runtime == "ort":  # the trained surrogate, for another code to run
            import surrogate_ort
            surrogate_ort.OrtSurrogate(model).save(os.path.join(args.out, "surrogate.onnx"))
            summary["onnx_model"] = os.path.join(args.out, "surrogate.onnx")
    if not args.no_plot:
        from plotting import plot_run
        path = plot_run(task_states, setup, os.path.join(args.out, "climate.png"))
        if path:
            summary["figure"] = path
    return task_states, setup, summary, checks


def main(argv=None) -> int:
    args = parse_args(argv)
    _, _, summary, checks = run(args)
    print_report(summary, checks)
    if "figure" in summary:
        print(f"  figure               {summary['figure']}")
    ok = all(passed for _, passed, _ in checks)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
