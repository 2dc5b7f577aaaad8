"""Coupled simulation + online training + inference, three ways, same run, same work:

  (a) hyflow    the climate example's Workflow (examples/climate), in memory, hyflow tensors throughout
  (b) files     NumPy simulation here, PyTorch ML in a subprocess, coupled by .npy files in a spool folder
                (atomic tmp + rename writes, polling reads with a sleep of --poll-ms between tries)
  (c) glue      NumPy simulation and PyTorch surrogate in one Python loop (torch.from_numpy per step)

Each does, per step: the wind forcing, one SSP-RK3 shallow-water step (float64), the states to the
trainer, train_iters AdamW steps of the surrogate every train_every steps, inference every step (its
tendency drives the next step from --switch-step on, together with its error against the exact
dissipation), and diagnostics every diag_every steps. Reported: throughput, the wall time per coupled
step (median over --repeats runs), also split into the steps before and after the switch; the
coupling's round-trip latency after the switch (state s produced -> its surrogate tendency in the
simulation's hands; median and p90 per step, timestamps taken in each variant); physics checks (mass
drift, field agreement).

    python benchmarks/coupling/bench_coupling.py --threads 2
    python benchmarks/coupling/bench_coupling.py --nx 64 --ny 64 --steps 3000 --switch-step 2000
"""
from __future__ import annotations

import dataclasses
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # benchmarks/_common.py

import numpy as np  # noqa: E402

from _common import parse_args, report, setup_threads  # noqa: E402

import hyflow_workflow  # noqa: E402  (puts examples/climate on sys.path)
import coupling  # noqa: E402
import numpy_shallow_water as nsw  # noqa: E402
import round_trip  # noqa: E402

LATENCY_TARGET_VS_FILES = 0.67   # (a) at least 67% lower than (b): checked for the round trip and per step
PRE_SWITCH_AGREEMENT = 1e-10     # max |h_a - h_c| before the switch: the same physics, round-off apart
LABELS = {"hyflow": "(a) hyflow", "files": "(b) files", "glue": "(c) glue"}


def add_flags(ap):
    ap.add_argument("--nx", type=int, default=32, help="grid cells along x")
    ap.add_argument("--ny", type=int, default=32, help="grid cells along y")
    ap.add_argument("--steps", type=int, default=600, help="coupled steps per run")
    ap.add_argument("--switch-step", type=int, default=400, help="the surrogate drives the model from this step")
    # left out: the example's own defaults (coupling.RunConfig)
    ap.add_argument("--train-every", type=int, help="train on the newest N states every N steps")
    ap.add_argument("--train-iters", type=int, help="AdamW steps per training")
    ap.add_argument("--batch-points", type=int, help="grid points sampled for each AdamW step")
    ap.add_argument("--diag-every", type=int, help="diagnostics every N steps")
    ap.add_argument("--hidden", type=int, help="surrogate MLP width")
    ap.add_argument("--poll-ms", type=float, default=1.0, help="(b): sleep between polls of the spool folder")
    ap.add_argument("--spool-dir", default=None, help="(b): where the spool folder goes (default: the temp dir)")
    ap.add_argument("--engine-threads", type=int, default=None,
                    help="(a): the workflow engine's worker threads (default: the engine's choice)")
    ap.add_argument("--trace", default=None, help="write the last hyflow run's Chrome trace here")
    ap.set_defaults(repeats=3)


def make_config(args) -> "coupling.RunConfig":
    if args.quick:
        args.nx, args.ny, args.steps, args.switch_step, args.repeats = 16, 16, 60, 40, 1
    chosen = {name: getattr(args, name) for name in ("train_every", "train_iters", "batch_points", "diag_every",
                                                       "hidden") if getattr(args, name) is not None}
    return coupling.RunConfig(nx=args.nx, ny=args.ny, steps=args.steps, switch_step=args.switch_step, **chosen)


def make_spec(setup) -> dict:
    """What the NumPy/PyTorch variants need, taken from the example's set-up so all three start equal."""
    config, params = setup.config, setup.params
    return {"params": dataclasses.asdict(nsw.params_from_example(params)),
            "initial": [a.numpy().copy() for a in setup.initial.fields()],
            "forcing_pattern": [a.numpy().copy() for a in setup.forcing_pattern],
            "forcing_factors": [setup.forcing.factor(step * params.dt) for step in range(config.steps)],
            "steps": config.steps, "switch_step": config.switch_step, "infer_from": config.infer_from,
            "train_every": config.train_every, "train_offset": config.train_offset,
            "train_iters": config.train_iters, "batch_points": config.batch_points,
            "diag_every": config.diag_every, "seed": config.seed, "hidden": config.hidden, "lr": config.lr}


def max_abs_diff(a, b):
    return float(np.abs(a - b).max())


def measure(setup, threads: int, repeats: int, poll_s: float, spool_dir=None, engine_threads=None) -> dict:
    """Run every variant `repeats` times (interleaved, so a burst of load hits all alike); returns
    {"runs": {variant: [run results]}, "pre_switch_h": {variant: h after step switch_step - 1}}."""
    import file_coupling
    import in_process

    spec = make_spec(setup)
    spec["threads"] = threads
    # (a) stopped right before the switch gives its pre-switch field (and warms hyflow up); torch is warmed
    # up by a short (c) run, so neither in-process variant pays first-call costs in its timed runs.
    pre_switch_a = hyflow_workflow.run(setup, steps=setup.config.switch_step, engine_threads=engine_threads)["h"]
    in_process.run(dict(spec, steps=min(spec["steps"], spec["switch_step"] + 2 * spec["train_every"])))
    runs = {"hyflow": [], "files": [], "glue": []}
    for _ in range(repeats):
        runs["hyflow"].append(hyflow_workflow.run(setup, engine_threads=engine_threads))
        runs["files"].append(file_coupling.run(spec, poll_s=poll_s, spool_root=spool_dir))
        runs["glue"].append(in_process.run(spec))
    pre_switch = {"hyflow": pre_switch_a, "files": runs["files"][-1]["h_before_switch"],
                  "glue": runs["glue"][-1]["h_before_switch"]}
    return {"runs": runs, "pre_switch_h": pre_switch}


def summarize(measured: dict, config: "coupling.RunConfig") -> list:
    """One row per variant: throughput (median ms per coupled step: all, before and after the switch), the
    coupling's round-trip latency after the switch (pooled over the repeats) and the checks."""
    runs, pre_switch = measured["runs"], measured["pre_switch_h"]
    steps, switch_step = config.steps, config.switch_step
    glue = runs["glue"][-1]

    def median_ms(variant_runs, seconds, n):
        return 1e3 * statistics.median(seconds(r) for r in variant_runs) / max(n, 1)

    def train_fires(step):
        return coupling.fires(step, config.train_every, config.train_offset)

    rows = []
    for key, variant_runs in runs.items():
        last = variant_runs[-1]
        row = {"variant": LABELS[key],
               "ms_per_step": median_ms(variant_runs, lambda r: r["wall_s"], steps),
               "ms_per_step_runs": [1e3 * r["wall_s"] / steps for r in variant_runs],
               "pre_switch_ms_per_step": median_ms(variant_runs, lambda r: r["pre_switch_s"], switch_step),
               "post_switch_ms_per_step": median_ms(variant_runs, lambda r: r["wall_s"] - r["pre_switch_s"],
                                                    steps - switch_step),
               "page_faults_per_step": statistics.median(r["page_faults"] for r in variant_runs) / steps,
               "mass_drift": last["mass_drift"], "surrogate_error": last["online_error"],
               "final_loss": last["final_loss"],
               "h_diff_glue_pre_switch": max_abs_diff(pre_switch[key], pre_switch["glue"]),
               "h_diff_glue_final": max_abs_diff(last["h"], glue["h"])}
        trips = round_trip.pool([r["round_trips"] for r in variant_runs])
        row.update({f"round_trip_{name}": value
                    for name, value in round_trip.summary(trips, train_steps=train_fires).items()})
        if key == "hyflow":
            row["handoff_ms"] = statistics.median(hyflow_workflow.handoff_ms(r["result"], switch_step, steps)
                                                  for r in variant_runs)
        if key == "files":
            row["startup_s"] = statistics.median(r["startup_s"] for r in variant_runs)
            for part in ("to_ml", "back"):
                row[f"round_trip_{part}_p50_ms"] = round_trip.median_ms(
                    [value for r in variant_runs for value in r["round_trips"][f"{part}_s"]])
        rows.append(row)
    for row in rows:
        row["ms_per_step_vs_hyflow"] = row["ms_per_step"] / rows[0]["ms_per_step"]
        row["round_trip_vs_hyflow"] = row["round_trip_p50_ms"] / rows[0]["round_trip_p50_ms"]
    return rows


def task_breakdown(measured: dict, steps: int) -> dict:
    """ms per coupled step in each task body, for (a) from the workflow's statistics and for (c) from
    timers around its calls (last run of each)."""
    hy_result = measured["runs"]["hyflow"][-1]["result"]
    glue = measured["runs"]["glue"][-1]
    glue_ms = {name: 1e3 * s / steps for name, s in glue["task_seconds"].items()}
    glue_ms["engine"] = 1e3 * glue["wall_s"] / steps - sum(glue_ms.values())
    return {"hyflow": hyflow_workflow.task_breakdown(hy_result, steps), "glue": glue_ms}


def print_breakdown(breakdown: dict) -> None:
    print("\nms per coupled step in each task body (last run); 'engine' = wall - sum of bodies (for (a) "
          "negative when bodies overlap: a body's time includes waiting for the GIL; for (c) the loop itself)")
    names = list(breakdown["hyflow"])
    print(f"{'':12s}" + "".join(f"{n:>12s}" for n in names))
    for key in ("hyflow", "glue"):
        print(f"{LABELS[key]:12s}" + "".join(f"{breakdown[key].get(n, float('nan')):12.3f}" for n in names))


def target_line(metric: str, values: dict) -> str:
    """'(a) <metric> X% lower than (b)' against its target, and (c)/(a) against >= 1."""
    lower_than_files = 1 - values["hyflow"] / values["files"]
    files_target = "met" if lower_than_files >= LATENCY_TARGET_VS_FILES else "MISSED"
    glue_target = "met" if values["glue"] >= values["hyflow"] else "MISSED"
    return (f"{metric}: (a) {100 * lower_than_files:.0f}% lower than (b) (target >= "
            f"{100 * LATENCY_TARGET_VS_FILES:.0f}%: {files_target}); (c)/(a) = "
            f"{values['glue'] / values['hyflow']:.2f}x (target >= 1: {glue_target})")


def make_notes(rows, breakdown, config, args) -> list:
    by_key = dict(zip(LABELS, rows))
    post = {key: row["post_switch_ms_per_step"] for key, row in by_key.items()}
    files, hyflow = by_key["files"], by_key["hyflow"]
    pre_switch_diff = rows[0]["h_diff_glue_pre_switch"]
    return [
        f"grid {config.nx}x{config.ny}, {config.steps} steps, surrogate drives from step {config.switch_step}, "
        f"train {config.train_iters} AdamW steps of {config.batch_points} points every {config.train_every} steps, "
        f"hidden {config.hidden}, threads {args.threads} (hy.set_num_threads, torch.set_num_threads, also in "
        f"(b)'s ML process), engine threads {args.engine_threads or 'default'}, median of {args.repeats} runs",
        "THROUGHPUT 'thru ms/step' = wall time per coupled step, training included (most of it); 'pre'/'post': "
        "steps before the first surrogate tendency is in hand and after; 'thru x hy' = variant / hyflow "
        "(> 1: hyflow is faster); 'faults/step': minor page faults of this process (for (b) the simulation's only)",
        "ROUND TRIP 'RT' = the coupling's latency per step s >= switch: from the simulation having produced state "
        "s to it having the surrogate's tendency for s in hand, strictly: (a) simulate's body returns at s -> "
        "simulate's body starts at s+1 (infer's output crosses the delay-1 channel); (b) state file renamed into "
        "place -> tendency file loaded by the simulation; (c) the step returns -> infer returns the tendency "
        "converted back to NumPy. p50/p90 over all samples of all runs "
        f"({rows[0]['round_trip_samples']} per variant); 'RT x hy' = variant p50 / hyflow p50; 'RT-ML' = median "
        "of round trip minus the ML bodies inside it (train when it fires at s, infer): what the coupling adds",
        f"every {config.train_every}th round trip holds a training, so p90 sits near that edge; their median: "
        + ", ".join(f"{LABELS[key]} {row['round_trip_train_steps_p50_ms']:.2f} ms" for key, row in by_key.items()),
        f"(b)'s round trip, medians of its parts: state file -> loaded by the ML process "
        f"{files['round_trip_to_ml_p50_ms']:.3f} ms, ML {files['round_trip_ml_p50_ms']:.3f} ms, prediction -> "
        f"tendency loaded back {files['round_trip_back_p50_ms']:.3f} ms (stamps from time.monotonic_ns = "
        f"CLOCK_MONOTONIC, one clock for both processes on Linux); (a): ML {hyflow['round_trip_ml_p50_ms']:.3f} "
        f"ms, engine hand-offs simulate -> infer -> simulate from its trace {hyflow['handoff_ms']:.3f} ms",
        f"(b) polls every {args.poll_ms:g} ms; spool in {args.spool_dir or 'the temp dir'}; ML process startup "
        f"(python + torch import, {files['startup_s']:.2f} s) is not in its time",
        f"throughput difference after the switch: (b) - (c) = {post['files'] - post['glue']:+.3f} ms per step",
        target_line("round-trip latency p50", {key: row["round_trip_p50_ms"] for key, row in by_key.items()}),
        target_line("throughput ms/step", {key: row["ms_per_step"] for key, row in by_key.items()}),
        f"physics: |h_a - h_c| before the switch {pre_switch_diff:.1e} "
        f"({'ok' if pre_switch_diff <= PRE_SWITCH_AGREEMENT else 'TOO LARGE'}, limit {PRE_SWITCH_AGREEMENT:.0e}); "
        "after it the hyflow and torch surrogates (different initial weights and float32 kernels) drive the "
        "fields apart, so (a) vs (c) final is not expected to be small; (b) vs (c) runs the same code and "
        "should agree",
    ]


PHYSICS_COLUMNS = [("variant", "variant", None), ("mass_drift", "mass drift", "{:+.1e}"),
                   ("surrogate_error", "surr. error", "{:.3f}"), ("h_diff_glue_pre_switch", "|h-h_c| pre", "{:.1e}"),
                   ("h_diff_glue_final", "|h-h_c| final", "{:.1e}")]
TIMING_COLUMNS = [("variant", "variant", None), ("ms_per_step", "thru ms/step", "{:.3f}"),
                  ("pre_switch_ms_per_step", "pre ms/step", "{:.3f}"),
                  ("post_switch_ms_per_step", "post ms/step", "{:.3f}"),
                  ("ms_per_step_vs_hyflow", "thru x hy", "{:.2f}x"),
                  ("round_trip_p50_ms", "RT p50 ms", "{:.3f}"), ("round_trip_p90_ms", "RT p90 ms", "{:.3f}"),
                  ("round_trip_vs_hyflow", "RT x hy", "{:.2f}x"),
                  ("round_trip_minus_ml_p50_ms", "RT-ML p50 ms", "{:.3f}"),
                  ("page_faults_per_step", "faults/step", "{:.0f}")]


def print_physics(rows) -> None:
    print("\nphysics (last run of each)")
    print("  ".join(f"{header:>13s}" for _, header, _ in PHYSICS_COLUMNS))
    for row in rows:
        print("  ".join(f"{fmt.format(row[key]) if fmt else row[key]:>13s}" for key, _, fmt in PHYSICS_COLUMNS))


def main():
    args = parse_args(__doc__, add_flags)
    setup_threads(args.threads)
    import torch  # the baselines need it; hyflow never does
    torch.set_num_threads(args.threads)

    setup = coupling.Setup(make_config(args))
    config = setup.config
    measured = measure(setup, args.threads, args.repeats, args.poll_ms / 1e3, args.spool_dir, args.engine_threads)
    if args.trace:
        measured["runs"]["hyflow"][-1]["result"].trace(args.trace)
    rows = summarize(measured, config)
    breakdown = task_breakdown(measured, config.steps)
    rows[0]["task_ms_per_step"], rows[2]["task_ms_per_step"] = breakdown["hyflow"], breakdown["glue"]
    print_breakdown(breakdown)
    print_physics(rows)

    notes = make_notes(rows, breakdown, config, args)
    report("coupling", rows, TIMING_COLUMNS, args, notes=notes)


if __name__ == "__main__":
    main()
