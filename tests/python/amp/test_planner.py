"""hy.amp.plan: the precision scheduler chooses per module under a measured error budget."""
import numpy as np
import pytest

import hyflow as hy

BUDGETS = [0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 1.0]


def mlp(seed=0):
    gen = hy.Generator(seed=seed)
    model = hy.nn.Sequential(hy.nn.Linear(16, 64), hy.nn.Tanh(), hy.nn.Linear(64, 64), hy.nn.Tanh(),
                             hy.nn.Linear(64, 4))
    with hy.no_grad():
        for p in model.parameters():
            p.copy_(hy.randn(*p.shape, generator=gen) * 0.3)
    return model


def batches(n, seed):
    gen = hy.Generator(seed=seed)
    return [hy.randn(32, 16, generator=gen) for _ in range(n)]


def rel_l2(model, plan, data):
    errs = []
    for x in data:
        with hy.no_grad():
            want = model(x).numpy().astype(np.float64)
            with hy.amp.apply(plan, model):
                got = model(x).numpy().astype(np.float64)
        errs.append(np.linalg.norm(got - want) / np.linalg.norm(want))
    return max(errs)


def test_budget_bounds_the_choice_and_a_tighter_budget_never_lowers_more():
    model, data = mlp(), batches(3, seed=1)
    previous = None
    for b in BUDGETS:
        p = hy.amp.plan(model, data, budget=b, speedups={hy.bfloat16: 2.0})
        assert p.measured_error <= b
        lowered = set(p.lowered())
        if previous is not None:
            assert previous <= lowered, f"budget {b} dropped {previous - lowered}"
        previous = lowered
    assert hy.amp.plan(model, data, budget=0.0, speedups={hy.bfloat16: 2.0}).lowered() == []
    assert len(hy.amp.plan(model, data, budget=1.0, speedups={hy.bfloat16: 2.0}).lowered()) == 3


def test_applied_plan_stays_within_budget_on_held_out_batches():
    model = mlp()
    p = hy.amp.plan(model, batches(4, seed=1), budget=1e-2, speedups={hy.bfloat16: 2.0})
    assert p.lowered(), "a 1e-2 budget should lower some bfloat16 layer of this MLP"
    assert rel_l2(model, p, batches(4, seed=99)) <= 1e-2


def test_plan_is_deterministic_serializable_and_printable():
    model, data = mlp(), batches(2, seed=1)
    a = hy.amp.plan(model, data, budget=3e-3, speedups={hy.bfloat16: 2.0})
    b = hy.amp.plan(model, data, budget=3e-3, speedups={hy.bfloat16: 2.0})
    assert a == b
    back = hy.amp.Plan.from_json(a.to_json())
    assert back == a and back.assignments == a.assignments
    text = repr(a)
    assert "budget 0.003" in text and "0" in text and "2" in text


def test_apply_forms_agree_and_restore_the_model():
    model, data = mlp(), batches(2, seed=1)
    p = hy.amp.plan(model, data, budget=1.0, speedups={hy.bfloat16: 2.0})
    x = data[0]
    with hy.no_grad():
        plain = model(x).numpy()
        with hy.amp.apply(p, model):
            scoped = model(x).numpy()
        assert np.array_equal(model(x).numpy(), plain), "the scope must restore full precision"
        p.apply(model)
        permanent = model(x).numpy()
    assert np.array_equal(scoped, permanent) and not np.array_equal(scoped, plain)
    assert model(x).dtype == hy.float32, "planned units cast their outputs back"


def test_plan_that_no_longer_fits_raises():
    model, data = mlp(), batches(1, seed=1)
    p = hy.amp.plan(model, data, budget=1.0, speedups={hy.bfloat16: 2.0})
    other = hy.nn.Sequential(hy.nn.Linear(16, 8), hy.nn.Tanh(), hy.nn.Linear(8, 4))
    with pytest.raises(ValueError, match="does not fit"):
        p.apply(other)
    with pytest.raises(ValueError, match="does not fit"):
        with hy.amp.apply(p, hy.nn.Sequential(hy.nn.Linear(4, 4))):
            pass


def test_measured_timings_and_training_and_custom_metric():
    model, data = mlp(), batches(2, seed=1)
    p = hy.amp.plan(model, data, budget=1e-2, repeats=2)
    assert all(e["time_fp32"] > 0 and e["time_low"] > 0 for e in p.entries)
    assert p.measured_error <= 1e-2

    def loss_fn(out, x):
        return out.square().mean()
    q = hy.amp.plan(model, data, budget=1e-2, loss_fn=loss_fn, speedups={hy.bfloat16: 2.0})
    assert q.measured_error <= 1e-2
    assert all(p.grad is None or p.grad.dtype == hy.float32 for p in model.parameters())

    def mean_drift(got, want):  # a conservation-style metric: the mean must not move
        return abs(float(got.mean() - want.mean()))
    r = hy.amp.plan(model, data, budget=1e-3, metric=mean_drift, speedups={hy.bfloat16: 2.0})
    assert r.metric == "mean_drift" and r.measured_error <= 1e-3


def test_bad_arguments():
    model, data = mlp(), batches(1, seed=1)
    with pytest.raises(TypeError, match="model"):
        hy.amp.plan(42, data)
    with pytest.raises(ValueError, match="no op call"):
        hy.amp.plan(lambda x: x, data)   # a function: nothing in it to plan
    with pytest.raises(ValueError, match="budget"):
        hy.amp.plan(model, data, budget=-1)
    with pytest.raises(ValueError, match="metric"):
        hy.amp.plan(model, data, metric="l7")
    with pytest.raises(ValueError, match="calib_batches"):
        hy.amp.plan(model, [])
    with pytest.raises(ValueError, match="candidates"):
        hy.amp.plan(model, data, candidates=[hy.float32])
    with pytest.raises(ValueError, match="no leaf module"):
        hy.amp.plan(hy.nn.Sequential(hy.nn.ReLU()), data)
    with pytest.raises(ValueError, match="not a"):
        hy.amp.Plan.from_json("{}")
