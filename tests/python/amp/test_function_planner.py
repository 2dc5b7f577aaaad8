"""hy.amp.plan on plain functions: the precision of each op call of a traced function (a simulation step)."""
import os
import sys

import numpy as np
import pytest

import hyflow as hy

BUDGETS = [0.0, 1e-4, 1e-3, 3e-3, 1e-2, 1e-1, 1.0]
FAST = {hy.bfloat16: 2.0}   # plan for a machine where bfloat16 runs twice as fast (no timing in tests)


def field(x, w):
    """A few elementwise ops, a reduction and a softmax: each op call is a unit."""
    a = (x * w).tanh()
    b = a * 3.0 + x
    return b.softmax(dim=1), b.sum(dim=1)


def inputs(n, seed):
    gen = hy.Generator(seed=seed)
    return [(hy.randn(64, 32, generator=gen), hy.randn(64, 32, generator=gen)) for _ in range(n)]


def flat(out):
    return np.concatenate([np.asarray(t.to(hy.float64).numpy()).ravel() for t in out])


def rel_l2(got, want):
    return np.linalg.norm(got - want) / np.linalg.norm(want)


def test_units_are_the_op_calls_with_their_call_sites():
    p = hy.amp.plan(field, inputs(1, seed=1), budget=1.0, speedups=FAST)
    ops = [e["unit"].split(" @ ")[0].split(":")[1] for e in p.entries]
    assert ops == ["mul", "tanh", "mul", "add", "softmax", "sum"]
    assert all(os.path.basename(__file__) in e["unit"] for e in p.entries)
    assert p.is_function_plan and len(p.lowered()) == 6


def test_tighter_budget_never_lowers_more_and_measured_error_is_within_budget():
    data = inputs(3, seed=1)
    previous = None
    for b in BUDGETS:
        p = hy.amp.plan(field, data, budget=b, speedups=FAST)
        assert p.measured_error <= b
        lowered = set(p.lowered())
        if previous is not None:
            assert previous <= lowered, f"budget {b} dropped {previous - lowered}"
        previous = lowered
    assert hy.amp.plan(field, data, budget=0.0, speedups=FAST).lowered() == []


def test_planned_function_stays_within_budget_on_held_out_inputs():
    budget = 3e-3
    p = hy.amp.plan(field, inputs(3, seed=1), budget=budget, speedups=FAST)
    assert 0 < len(p.lowered()) < len(p.entries), p
    planned = p.apply(field)
    for args in inputs(4, seed=77):
        got, want = flat(planned(*args)), flat(field(*args))
        assert 0 < rel_l2(got, want) <= budget
    # Lowered calls return the traced dtypes: the planned function is a drop-in replacement.
    out = planned(*inputs(1, seed=5)[0])
    assert [t.dtype for t in out] == [hy.float32, hy.float32]


def test_plan_round_trips_through_json_and_refuses_another_function():
    data = inputs(2, seed=1)
    p = hy.amp.plan(field, data, budget=1e-2, speedups=FAST)
    q = hy.amp.Plan.from_json(p.to_json())
    assert q == p and q.is_function_plan
    args = data[0]
    np.testing.assert_array_equal(flat(q.apply(field)(*args)), flat(p.apply(field)(*args)))
    assert "hy.amp plan of field" in repr(p)

    def other(x, w):
        return (x + w).exp(), x.sum(dim=1)
    with pytest.raises(ValueError, match="does not fit other"):
        p.apply(other)(*args)
    with pytest.raises(ValueError, match="does not fit field"):
        p.apply(field)(hy.randn(8, 32), hy.randn(8, 32))     # traced on other shapes than planned
    planned = p.apply(field)
    planned(*args)
    with pytest.raises(ValueError, match="traced with"):
        planned(hy.randn(8, 32), hy.randn(8, 32))             # a replay checks every call's tensors
    with pytest.raises(TypeError, match="plan.apply"):
        with hy.amp.apply(p, hy.nn.Linear(2, 2)):
            pass


def test_bad_function_arguments():
    def reads_data(x):
        return x * float(x.sum())      # a graph break: the plan cannot replay it
    with pytest.raises(ValueError, match="graph break"):
        hy.amp.plan(reads_data, [hy.randn(4)])
    with pytest.raises(ValueError, match="traced with"):
        hy.amp.plan(field, [inputs(1, seed=1)[0], (hy.randn(3, 32), hy.randn(3, 32))])
    with pytest.raises(ValueError, match="loss_fn"):
        hy.amp.plan(field, inputs(1, seed=1), loss_fn=lambda out, *a: out[1].sum())


# ---- a simulation step: the climate example's shallow-water model, with a conservation metric

CLIMATE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "climate")


@pytest.fixture(scope="module")
def sw():
    sys.path.insert(0, os.path.abspath(CLIMATE))
    try:
        import shallow_water
    finally:
        sys.path.pop(0)
    return shallow_water


def test_shallow_water_step_planned_under_a_mass_conservation_budget(sw):
    params = sw.Params(nx=8, ny=8)
    params = sw.with_stable_dt(params, sw.initial_state(params, seed=0))
    n = params.nx * params.ny

    def sw_step(h, u, v):
        s = sw.step(sw.State(h, u, v), params)
        return s.h, s.u, s.v

    def mass_error(got, want):    # outputs flattened in order h, u, v: the first n values are h
        return abs(got[:n].sum() - want[:n].sum()) / abs(want[:n].sum())

    def states(*seeds):
        return [sw.initial_state(params, seed=s).fields() for s in seeds]

    budget = 1e-6
    p = hy.amp.plan(sw_step, states(0), budget=budget, metric=mass_error, speedups=FAST)
    assert p.measured_error <= budget
    lowered, kept = p.lowered(), [e["unit"] for e in p.entries if e["dtype"] == "traced"]
    assert lowered and kept, p
    # The last update of h (h + w (new - old) of the final RK stage) must stay float64 for mass to be
    # conserved to 1e-6; the dissipation, which only changes momentum, can all be lowered.
    assert any("add" in u for u in kept)
    planned = p.apply(sw_step)
    for args in states(3, 4):
        got, want = flat(planned(*args)), flat(sw_step(*args))
        assert mass_error(got, want) <= budget
        assert [t.dtype for t in planned(*args)] == [hy.float64] * 3
