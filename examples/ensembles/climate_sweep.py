"""A parameter sweep of the climate example as a hyflow.ensemble: viscosity x wind forcing.

    python examples/ensembles/climate_sweep.py                      # 3 x 3 members, local process pool
    python examples/ensembles/climate_sweep.py --executor dask      # the same on a Dask LocalCluster
    python examples/ensembles/climate_sweep.py --executor inprocess --steps 400
    mpirun -n 4 python examples/ensembles/climate_sweep.py --executor mpi   # 4 members at a time
    python examples/ensembles/climate_sweep.py --resume             # after a crash or Ctrl-C: only what is left

Each member is the full climate workflow (shallow-water model + online-trained surrogate, see
docs/climate_example.md) on a small grid, with its own checkpoints under <out>/members/<id>/. The
sweep prints the results table, writes results.json/.csv and a summary figure (energy kept and
surrogate error against viscosity, one line per forcing), and fails if a member failed or broke a
physics check. See docs/ensembles.md.
"""
import argparse
import functools
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CLIMATE = os.path.join(os.path.dirname(HERE), "climate")

VISCOSITIES = [5e-4, 1e-3, 4e-3]
FORCINGS = [0.0, 0.03, 0.06]


def _climate():
    """The climate example's modules. Imported inside the member functions, not at the top: a Dask
    worker receives these functions by value and must find the example's folder itself."""
    if CLIMATE not in sys.path:
        sys.path.insert(0, CLIMATE)
    import climate
    import coupling
    return climate, coupling


def member_config(base, params):
    _, coupling = _climate()
    return coupling.RunConfig(**base, viscosity=params["viscosity"], forcing_amplitude=params["forcing"])


def build_member(base, params):
    """One member: the climate workflow for these parameters (base: the settings all members share)."""
    climate, coupling = _climate()
    return climate.build_workflow(coupling.Setup(member_config(base, params)))


def member_metrics(base, max_surrogate_error, result, params):
    """The member's row in the table: the climate example's summary numbers and checks."""
    climate, coupling = _climate()
    setup = coupling.Setup(member_config(base, params))
    states = {name: dict(result.state[name]) for name in coupling.TASKS}
    seconds = {name: result.stats["tasks"][name]["total_s"] for name in coupling.TASKS}
    summary = climate.summarize(states, setup, result.stats["wall_s"], "workflow", seconds,
                                result.steps - result.start_step)
    checks = climate.evaluate_checks(summary, max_surrogate_error)
    return {"energy_ratio": summary["energy_ratio"], "mass_drift": summary["mass_drift"],
            "surrogate_error": summary["surrogate_error"], "final_loss": summary["final_loss"],
            "max_courant": summary["max_courant"], "dt": summary["dt"],
            "checks_passed": all(passed for _, passed, _ in checks)}


def plot_sweep(table, path):
    """Energy ratio and surrogate error against viscosity, one line per forcing; None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("climate_sweep.py: matplotlib is not installed; no figure")
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    forcings = sorted({row["params"]["forcing"] for row in table})
    viscosities = sorted({row["params"]["viscosity"] for row in table})
    for forcing in forcings:
        rows = sorted((r for r in table if r["params"]["forcing"] == forcing and r["status"] == "ok"),
                      key=lambda r: r["params"]["viscosity"])
        nus = [r["params"]["viscosity"] for r in rows]
        axes[0].plot(nus, [r["metrics"]["energy_ratio"] for r in rows], "o-", label=f"forcing {forcing:g}")
        axes[1].plot(nus, [r["metrics"]["surrogate_error"] for r in rows], "o-", label=f"forcing {forcing:g}")
    axes[0].set_ylabel("final energy / initial energy")
    axes[1].set_ylabel("surrogate error while driving the model")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xticks(viscosities, [f"{v:g}" for v in viscosities])
        ax.minorticks_off()
        ax.set_xlabel("viscosity nu")
        ax.grid(alpha=0.3)
        ax.legend()
    failed = [r["member"] for r in table if r["status"] != "ok"]
    fig.suptitle("climate ensemble: viscosity x forcing" + (f" (not ok: {', '.join(failed)})" if failed else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--executor", choices=("inprocess", "process", "dask", "mpi"), default="process")
    p.add_argument("--workers", type=int, default=2, help="pool processes or Dask workers")
    p.add_argument("--nx", type=int, default=32, help="grid cells per side")
    p.add_argument("--steps", type=int, default=1000, help="steps per member")
    p.add_argument("--switch-step", type=int, default=700, help="step from which the surrogate drives the model")
    p.add_argument("--viscosities", type=float, nargs="+", default=VISCOSITIES, help="the viscosity axis")
    p.add_argument("--forcings", type=float, nargs="+", default=FORCINGS, help="the forcing axis")
    p.add_argument("--max-surrogate-error", type=float, default=0.2, help="the surrogate check's threshold")
    p.add_argument("--retries", type=int, default=1, help="retries of a failed member (from its checkpoints)")
    p.add_argument("--out", default=os.path.join("out", "ensembles", "climate_sweep"), help="the ensemble folder")
    p.add_argument("--resume", action="store_true", help="continue the sweep in --out")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from hyflow.ensemble import Ensemble
    base = {"nx": args.nx, "ny": args.nx, "steps": args.steps, "switch_step": args.switch_step,
            "batch_points": 512, "train_iters": 8}
    options = {"max_workers": args.workers} if args.executor in ("process", "dask") else {}
    grid = {"viscosity": args.viscosities, "forcing": args.forcings}
    metrics = functools.partial(member_metrics, base, args.max_surrogate_error)
    ensemble = Ensemble(functools.partial(build_member, base), grid=grid, steps=args.steps, directory=args.out,
                        executor=args.executor, retries=args.retries, metrics=metrics, resume=args.resume, **options)
    table = ensemble.run()
    if args.executor == "mpi":
        import hyflow.distributed as dist
        if dist.get_rank() != 0:
            return 0
    print(table.format())
    for row in table:
        m = row["metrics"]
        if row["status"] == "ok":
            print(f"  {row['member']}: energy {m['energy_ratio']:.3f} x initial, surrogate error "
                  f"{m['surrogate_error']:.3f}, mass drift {m['mass_drift']:+.1e}, "
                  f"checks {'PASS' if m['checks_passed'] else 'FAIL'}")
    figure = plot_sweep(table, os.path.join(ensemble.directory, "climate_sweep.png"))
    print(f"table   {os.path.join(ensemble.directory, 'results.csv')}")
    if figure:
        print(f"figure  {figure}")
    ok = all(r["status"] == "ok" and r["metrics"]["checks_passed"] for r in table)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
