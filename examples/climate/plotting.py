"""The climate example's figure: final fields, training loss and surrogate error (matplotlib, Agg backend).

NumPy and matplotlib only touch finished results here, never the time loop.
"""
from __future__ import annotations

import math

import shallow_water as sw


def plot_run(task_states: dict, setup, path: str) -> str | None:
    """Save a 2 x 3 figure to `path`; returns the path, or None (with a message) without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plotting: matplotlib is not installed, skipping the figure (pip install matplotlib)")
        return None
    import numpy as np

    params = setup.params
    sim = task_states["simulate"]
    final = sw.State(sim["h"], sim["u"], sim["v"], sim["t"])
    extent = (0, params.lx, 0, params.ly)
    fig, axes = plt.subplots(2, 3, figsize=(15, 9))

    def field(ax, values, title, cmap, symmetric=False):
        data = np.asarray(values.numpy()).T            # arrays are [x, y]; imshow wants rows = y
        limit = float(np.abs(data).max()) if symmetric else None
        image = ax.imshow(data, origin="lower", extent=extent, cmap=cmap,
                          vmin=-limit if symmetric else None, vmax=limit)
        fig.colorbar(image, ax=ax, shrink=0.8)
        ax.set_title(title)
        ax.set_xlabel("x")
        ax.set_ylabel("y")

    field(axes[0, 0], final.h, f"layer depth h at t = {final.t:.1f}", "viridis")
    field(axes[0, 1], sw.relative_vorticity(final, params), "relative vorticity", "RdBu_r", symmetric=True)
    field(axes[0, 2], sw.cell_speed(final), "speed |u|", "magma")

    train = task_states["train"].get("history", {})
    ax = axes[1, 0]
    if train.get("step"):
        ax.semilogy(train["step"], train["loss"])
    ax.set_title("training loss (normalised MSE, last AdamW step)")
    ax.set_xlabel("model step")
    ax.axvline(setup.config.switch_step, color="k", linestyle=":", label="surrogate takes over")
    ax.legend()

    ax = axes[1, 1]
    if train.get("step"):
        steps = [s for s, e in zip(train["step"], train["validation_error"]) if not math.isnan(e)]
        errors = [e for e in train["validation_error"] if not math.isnan(e)]
        ax.semilogy(steps, errors, ".", markersize=3, label="unseen state, before training on it")
    infer = task_states["infer"].get("history", {})
    if infer.get("step"):
        ax.semilogy(infer["step"], infer["error"], label="online, surrogate driving the model")
    ax.axvline(setup.config.switch_step, color="k", linestyle=":")
    ax.set_title("surrogate relative error  ||pred - exact|| / ||exact||")
    ax.set_xlabel("model step")
    ax.legend()

    diag = task_states["diagnostics"].get("history", {})
    ax = axes[1, 2]
    if diag.get("step"):
        energy = np.asarray(diag["energy"])
        mass = np.asarray(diag["mass"])
        ax.plot(diag["step"], energy / energy[0], label="energy / initial")
        ax2 = ax.twinx()
        ax2.plot(diag["step"], (mass - mass[0]) / mass[0], color="tab:red", label="mass drift")
        ax2.set_ylabel("relative mass drift", color="tab:red")
        ax2.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    ax.axvline(setup.config.switch_step, color="k", linestyle=":")
    ax.set_title("conservation")
    ax.set_xlabel("model step")
    ax.legend(loc="upper left")

    fig.suptitle(f"shallow water {params.nx} x {params.ny}, {setup.config.steps} steps, "
                 f"surrogate from step {setup.config.switch_step}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
