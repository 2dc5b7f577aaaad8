"""Runs with the same seed are bit-identical although tasks run concurrently: every task draws from its
own generator (ctx.rng), installed as the default while it runs, so hy.randn without a generator,
nn.Linear initialisation and dropout inside a task are reproducible; the caller's generator is left
alone."""
import numpy as np

import hyflow as hy
import hyflow.nn as nn
from hyflow.workflow import Workflow


def build(seed):
    wf = Workflow("surrogate", seed=seed)
    states = wf.channel("states", capacity=4)
    noise = wf.channel("noise", capacity=3, policy="drop_oldest")

    @wf.task(outputs=[states])
    def simulate(ctx):
        u = ctx.state.setdefault("u", hy.randn(8))          # default generator = this task's
        ctx.state["u"] = u * 0.9 + 0.1 * hy.randn(8)
        return ctx.state["u"]

    @wf.task(outputs=[noise])
    def perturb(ctx):                                      # draws at the same time as simulate
        return hy.rand(8) + hy.randn(8, generator=ctx.rng)

    @wf.task(inputs=[states, noise], every=3)
    def train(ctx, batch, extra):
        model = ctx.state.setdefault("model", nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.3), nn.Linear(16, 8)))
        opt = ctx.state.setdefault("opt", hy.optim.Adam(model.parameters(), lr=1e-2))
        model.train()
        for u in batch + extra:
            loss = ((model(u.reshape(1, 8)) - u) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        ctx.state["losses"] = ctx.state.get("losses", []) + [float(loss.item())]

    @wf.task(inputs=[simulate], every=2)
    def sample(ctx, u):
        return hy.randn(2) + u[:2]

    return wf


def snapshot(result):
    out = {"u": result.state["simulate"]["u"].numpy(), "losses": np.array(result.state["train"]["losses"])}
    for name, p in result.state["train"]["model"].named_parameters():
        out["param:" + name] = p.detach().numpy()
    for i, group in enumerate(result.state["train"]["opt"].state_dict()["state"].values()):
        for key, value in group.items():
            out[f"opt:{i}:{key}"] = value.numpy() if isinstance(value, hy.Tensor) else np.asarray(value)
    return out


def assert_identical(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key


def test_two_runs_with_the_same_seed_are_bit_identical():
    first = snapshot(build(seed=7).run(steps=12, threads=3))
    second = snapshot(build(seed=7).run(steps=12, threads=2))
    assert_identical(first, second)
    assert len(first["losses"]) == 4


def test_the_same_workflow_object_runs_again_identically():
    wf = build(seed=7)
    assert_identical(snapshot(wf.run(steps=9)), snapshot(wf.run(steps=9)))


def test_a_different_seed_gives_different_numbers():
    a, b = snapshot(build(seed=1).run(steps=6)), snapshot(build(seed=2).run(steps=6))
    assert not np.array_equal(a["u"], b["u"])
    assert not np.array_equal(a["param:0.weight"], b["param:0.weight"])


def test_inside_a_task_the_default_generator_is_ctx_rng():
    wf = Workflow("default-is-ctx-rng", seed=3)

    @wf.task
    def draw(ctx):
        state = ctx.rng.get_state()
        implicit = hy.randn(5)
        ctx.rng.set_state(state)
        explicit = hy.randn(5, generator=ctx.rng)
        assert np.array_equal(implicit.numpy(), explicit.numpy())
        ctx.state.setdefault("draws", []).append(explicit.numpy())

    draws = wf.run(steps=3).state["draw"]["draws"]
    assert not np.array_equal(draws[0], draws[1])  # the generator moves on from step to step


def test_a_run_leaves_the_callers_generator_alone():
    hy.manual_seed(123)
    expected = hy.randn(4).numpy()
    hy.manual_seed(123)
    build(seed=0).run(steps=4)
    assert np.array_equal(hy.randn(4).numpy(), expected)
