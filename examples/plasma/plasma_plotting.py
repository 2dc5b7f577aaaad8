"""The plasma example's figure (matplotlib, Agg backend): one row per case with the final phase space, the
field energy on a log scale with the fitted rate, the ML model's error, and its learned kernel against the
exact Green's function. NumPy and matplotlib only touch finished results here, never the time loop.
"""
from __future__ import annotations

import math

import hyflow as hy

PHASE_SPACE_POINTS = 20000   # particles drawn in the phase-space panel (every k-th one)


def exact_kernel(setup):
    """The Poisson solver's response to a unit density at node 0: the kernel the model should learn."""
    unit = hy.zeros(setup.params.n_cells, dtype=hy.float64)
    unit[0] = 1.0
    return setup.solver(unit)


def plot_runs(results: list, path: str) -> str | None:
    """results: [(task_states, setup, summary)] per case. Saves the figure; returns the path, or None
    (with a message) without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plotting: matplotlib is not installed, skipping the figure (pip install matplotlib)")
        return None
    import numpy as np

    fig, axes = plt.subplots(len(results), 4, figsize=(20, 4.5 * len(results)), squeeze=False)
    for row, (task_states, setup, summary) in zip(axes, results):
        config, params = setup.config, setup.params
        switch_t = config.switch_step * params.dt
        push = task_states["push"]
        # an odd stride: the quiet start gives even and odd particles velocities of opposite sign
        stride = max(1, params.n_particles // PHASE_SPACE_POINTS) | 1
        x, v = push["x"].numpy()[::stride], push["v"].numpy()[::stride]
        ax = row[0]
        ax.plot(x, v, ",", alpha=0.5)
        ax.set_xlim(0, params.length)
        ax.set_title(f"{config.case}: phase space at t = {config.steps * params.dt:.0f}")
        ax.set_xlabel("x")
        ax.set_ylabel("v")

        diag = task_states["diagnostics"]["history"]
        t = np.asarray(diag["time"])
        fit, theory = summary["fit"], summary["theory"]
        ax = row[1]
        if config.case == "landau":
            mode_energy = params.length * np.asarray(diag["mode_amplitude"]) ** 2 / 4
            ax.semilogy(t, mode_energy, label="k = 0.5 mode's field energy")
            ax.semilogy(t, diag["field_energy"], alpha=0.4, label="total field energy")
            if "peak_times" in fit:
                tt = np.linspace(0, config.fit_until, 50)
                ax.semilogy(fit["peak_times"], np.exp(fit["peak_log_energy"]), "o", label="peaks fitted")
                ax.semilogy(tt, np.exp(fit["intercept"] + 2 * fit["gamma"] * tt), "k--",
                            label=f"fit: gamma = {fit['gamma']:.4f} (theory {theory['gamma']})")
            ax.set_title("field energy (log scale)")
        else:
            amplitude = np.asarray(diag["mode_amplitude"])
            ax.semilogy(t, amplitude, label="|E| of the k = 0.5 mode")
            if "t_start" in fit:
                tt = np.linspace(fit["t_start"], fit["t_stop"], 20)
                ax.semilogy(tt, np.exp(fit["intercept"] + fit["gamma"] * tt), "k--", linewidth=2,
                            label=f"fit: gamma = {fit['gamma']:.4f} (theory {theory['gamma']:.4f})")
            ax.set_title("mode amplitude (log scale)")
        ax.axvline(switch_t, color="k", linestyle=":", label="ML field from here")
        ax.set_xlabel("t")
        ax.legend(fontsize=8)

        ax = row[2]
        train = task_states["train"].get("history", {})
        if train.get("step"):
            steps = [s * params.dt for s, e in zip(train["step"], train["validation_error"]) if not math.isnan(e)]
            errors = [e for e in train["validation_error"] if not math.isnan(e)]
            ax.semilogy(steps, errors, ".", label="unseen sample, before training on it")
        infer = task_states["infer"].get("history", {})
        if infer.get("step"):
            ax.semilogy(np.asarray(infer["step"]) * params.dt, infer["error"], label="online, model driving")
        ax.axvline(switch_t, color="k", linestyle=":")
        ax.set_title("ML field relative error ||E_ml - E|| / ||E||")
        ax.set_xlabel("t")
        ax.legend(fontsize=8)

        ax = row[3]
        lag = np.arange(params.n_cells) * params.dx
        ax.plot(lag, exact_kernel(setup).numpy(), "k-", label="Poisson solve (exact)")
        model = task_states["train"].get("model")
        if model is not None:
            with hy.no_grad():
                ax.plot(lag, model.kernel().numpy(), "--", label="learned kernel")
        ax.set_title("field of a unit charge at x = 0")
        ax.set_xlabel("x")
        ax.legend(fontsize=8)

    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
