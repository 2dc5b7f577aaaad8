"""Task functions for workflow.yaml: a toy simulation (a decaying random field), a model that learns
its one-step map online, and a check that uses the model once it has trained for a while.

    hyflow run examples/yaml_workflow/workflow.yaml            # or: python -m hyflow run ...
"""
import hyflow as hy
import hyflow.nn as nn
import hyflow.optim as optim

N = 32


def simulate(ctx):
    u = ctx.state.setdefault("u", hy.randn(N, dtype=hy.float64))  # ctx.rng is the default generator here
    ctx.state["u"] = 0.95 * u + 0.1 * hy.randn(N, dtype=hy.float64)
    return {"before": u, "after": ctx.state["u"]}


def train(ctx, batch):
    model = ctx.state.setdefault("model", nn.Linear(N, N, dtype=hy.float64))
    opt = ctx.state.setdefault("opt", optim.Adam(model.parameters(), lr=1e-2))
    x = hy.stack([b["before"] for b in batch])
    y = hy.stack([b["after"] for b in batch])
    loss = nn.functional.mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    ctx.state["loss"] = float(loss)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def trained_enough(ctx):
    return ctx.step >= 100


def evaluate(ctx, weights, pair):
    model = ctx.state.setdefault("model", nn.Linear(N, N, dtype=hy.float64))
    if weights is not None:
        model.load_state_dict(weights)
    with hy.no_grad():
        err = float(((model(pair["before"]) - pair["after"]) ** 2).mean())
    ctx.state["error"] = err
