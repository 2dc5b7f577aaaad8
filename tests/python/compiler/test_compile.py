"""hy.compile on the eager backend: caching, guards and retraces, fallbacks, modules, explain."""
import os
import sys
import warnings

import numpy as np
import pytest

import hyflow as hy
from hyflow import nn
from hyflow.compiler import CompileWarning


def t(*shape, seed=0, dtype=hy.float32):
    return hy.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32)).to(dtype)


def counted(fn):
    """fn wrapped so its Python body counts how often it really runs (trace or eager), not replays."""
    calls = []

    def body(*a, **k):
        calls.append(1)
        return fn(*a, **k)
    return body, calls


def test_first_call_traces_later_calls_replay():
    body, calls = counted(lambda x, y: (x * y + 1).exp())
    f = hy.compile(body)
    x, y = t(4), t(4, seed=1)
    r1, r2 = f(x, y), f(x, y)
    assert len(calls) == 1 and len(f.entries()) == 1
    np.testing.assert_allclose(r2.numpy(), ((x * y + 1).exp()).numpy(), rtol=1e-6)
    x2 = t(4, seed=5)  # same guards, new values: replayed with the new data
    np.testing.assert_allclose(f(x2, y).numpy(), ((x2 * y + 1).exp()).numpy(), rtol=1e-6)
    assert len(calls) == 1


@pytest.mark.parametrize("change", [
    lambda x: t(5),                              # sizes
    lambda x: x.to(hy.float64),                  # dtype
    lambda x: t(8)[::2],                         # strides
    lambda x: t(4).requires_grad_(),             # requires_grad
    lambda x: t(4).reshape(2, 2),                # rank
])
def test_a_failed_guard_retraces(change):
    body, calls = counted(lambda x: x.sin() * 2)
    f = hy.compile(body)
    x = t(4)
    f(x)
    x2 = change(x)
    r = f(x2)
    assert len(calls) == 2 and len(f.recompiles) == 1
    np.testing.assert_allclose(r.detach().numpy(), (x2.sin() * 2).detach().numpy(), rtol=1e-6)
    f(x2)
    assert len(calls) == 2  # the new entry is cached beside the first
    f(x)
    assert len(calls) == 2


def test_python_number_arguments_are_guarded_by_value():
    body, calls = counted(lambda x, dt: x + dt * x)
    f = hy.compile(body)
    x = t(3)
    np.testing.assert_allclose(f(x, 0.5).numpy(), (x + 0.5 * x).numpy())
    np.testing.assert_allclose(f(x, 0.25).numpy(), (x + 0.25 * x).numpy())
    assert len(calls) == 2
    assert "0.5 -> 0.25" in f.recompiles[0]


def test_shapes_are_guarded_by_value_and_returned_as_sizes():
    # x.shape is a new hy.Size per read: keyed by its sizes (no retrace per call), and a shape the traced
    # function returns comes back a Size, as from the eager function
    body, calls = counted(lambda x, s: (x.reshape(s) * 2, x.shape))
    f = hy.compile(body)
    for _ in range(3):
        y, s = f(t(6), t(6).reshape(2, 3).shape)
    assert len(calls) == 1 and type(s) is hy.Size and s == (6,) and y.shape == (2, 3)
    f(t(6), hy.Size([3, 2]))
    assert len(calls) == 2


def test_aliased_arguments_are_part_of_the_guard():
    def g(a, b):
        a.mul_(2)
        return a + b
    body, calls = counted(g)
    f = hy.compile(body)
    x, y = t(3), t(3, seed=1)
    f(x.clone(), y)
    z = t(3)
    expect = z * 2 + z * 2
    np.testing.assert_allclose(f(z, z).numpy(), expect.numpy())
    assert len(calls) == 2


def test_recompile_limit_warns_once_and_runs_eagerly(monkeypatch):
    monkeypatch.setattr(hy.compiler.api, "cache_size_limit", 2)
    body, calls = counted(lambda x: x + 1)
    f = hy.compile(body, dynamic=False)   # every size is a new signature (no symbolic sizes)
    for n in (1, 2):
        f(t(n))
    with pytest.warns(CompileWarning, match="recompiled 2 times"):
        r = f(t(3))
    np.testing.assert_allclose(r.numpy(), (t(3) + 1).numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f(t(4))  # eager again, no second warning
    assert len(f.entries()) == 2


def test_graph_break_runs_eagerly_without_error_and_is_cached():
    def g(x):
        if x.sum().item() > 0:  # data-dependent control flow
            return x * 2
        return x * 3
    body, calls = counted(g)
    f = hy.compile(body)
    pos, neg = hy.ones(3), -hy.ones(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f(pos).tolist() == [2.0] * 3
        assert f(neg).tolist() == [-3.0] * 3   # eager: the branch follows the data
    (entry,) = f.entries()
    assert entry.program is None and "graph break" in entry.eager_reason
    assert len(calls) == 2


def test_compile_disabled_by_environment(monkeypatch):
    body, calls = counted(lambda x: x + 1)
    f = hy.compile(body)
    monkeypatch.setenv("HYFLOW_COMPILE", "0")
    f(t(2))
    f(t(2))
    assert len(calls) == 2 and f.entries() == []


def test_compile_switch_is_read_at_every_call(monkeypatch):
    # HYFLOW_COMPILE is read through os.environ's own data (a fast path): setting and removing it
    # between calls of an already compiled function must still take effect at once.
    body, calls = counted(lambda x: x * 2)
    f = hy.compile(body)
    f(t(2))
    f(t(2))
    traced = len(calls)
    monkeypatch.setenv("HYFLOW_COMPILE", "0")
    f(t(2))
    assert len(calls) == traced + 1          # ran the original
    monkeypatch.delenv("HYFLOW_COMPILE")
    f(t(2))
    assert len(calls) == traced + 1          # replayed again
    monkeypatch.setenv("HYFLOW_COMPILE", "1")
    f(t(2))
    assert len(calls) == traced + 1


def test_compiler_failure_falls_back_with_one_warning(monkeypatch):
    def broken(graph, timings=None):
        raise RuntimeError("pass exploded")
    monkeypatch.setattr(hy.compiler.api, "optimize", broken)
    f = hy.compile(lambda x: x + 1)
    with pytest.warns(CompileWarning, match="pass exploded"):
        r = f(t(2))
    np.testing.assert_allclose(r.numpy(), (t(2) + 1).numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f(t(2))


def test_user_exceptions_propagate():
    f = hy.compile(lambda x: x + hy.ones(5))
    with pytest.raises(ValueError):
        f(t(3))


def test_decorator_forms_and_argument_checks():
    @hy.compile
    def a(x):
        return x + 1

    @hy.compile(mode="max-autotune", dynamic=False)
    def b(x):
        return x + 2

    assert a(hy.zeros(1)).tolist() == [1.0] and b(hy.zeros(1)).tolist() == [2.0]
    assert a.__name__ == "a"
    with pytest.raises(ValueError, match="mode"):
        hy.compile(lambda x: x, mode="fast")
    with pytest.raises(TypeError, match="dynamic"):
        hy.compile(lambda x: x, dynamic="yes")
    with pytest.raises(TypeError, match="function or an nn.Module"):
        hy.compile(42)


def test_nested_compiled_functions_inline():
    inner = hy.compile(lambda x: x * 2)
    outer = hy.compile(lambda x: inner(x) + 1)
    x = t(3)
    outer(x)
    np.testing.assert_allclose(outer(x).numpy(), (x * 2 + 1).numpy())
    assert [n.op for n in outer.entries()[0].graph.nodes] == ["mul", "add"]


def test_rng_ops_draw_fresh_numbers_each_call():
    f = hy.compile(lambda x: x + hy.rand(3))
    x = hy.zeros(3)
    a, b = f(x), f(x)
    assert a.tolist() != b.tolist()


def test_inplace_on_inputs_is_replayed():
    def g(x, y):
        x.add_(y)
        return x.sum()
    f = hy.compile(g)
    x, y = hy.zeros(3), hy.ones(3)
    f(x, y)
    f(x, y)
    assert x.tolist() == [2.0] * 3


def test_replay_records_autograd():
    f = hy.compile(lambda x, w: ((x @ w).tanh() * 3).sum())
    x, w = t(4, 3), t(3, 2, seed=1).requires_grad_()
    f(x, w)
    loss = f(x, w)
    loss.backward()
    w2 = w.detach().clone().requires_grad_()
    ((x @ w2).tanh() * 3).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), w2.grad.numpy(), rtol=1e-5)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2 = nn.Linear(8, 16), nn.Linear(16, 4)

    def forward(self, x):
        return self.l2(self.l1(x).relu())


def test_compiled_mlp_trains_like_eager():
    hy.manual_seed(0)
    eager = MLP()
    hy.manual_seed(0)
    model = MLP()
    compiled = hy.compile(model)
    assert isinstance(compiled, nn.Module)
    opt_e = hy.optim.SGD(eager.parameters(), lr=0.1)
    opt_c = hy.optim.SGD(compiled.parameters(), lr=0.1)
    x, target = t(5, 8), t(5, 4, seed=1)
    for _ in range(4):
        for m, opt in ((eager, opt_e), (compiled, opt_c)):
            opt.zero_grad()
            loss = (m(x) - target).square().mean()
            loss.backward()
            opt.step()
    for pe, pc in zip(eager.parameters(), model.parameters()):
        np.testing.assert_allclose(pc.detach().numpy(), pe.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert len(compiled._compiled.entries()) == 1  # parameters changed in place: no retrace


def test_compiled_module_retraces_on_train_eval_and_replaced_parameter():
    model = MLP()
    compiled = hy.compile(model)
    x = t(2, 8)
    compiled(x)
    compiled.eval()
    compiled(x)
    assert len(compiled._compiled.entries()) == 2
    model.l2.weight = nn.Parameter(hy.zeros(4, 16))
    model.l2.bias = nn.Parameter(hy.zeros(4))
    assert compiled(x).abs().sum().item() == 0.0


def test_explain_grad_mode_line_reports_the_captured_calls_mode():
    # The key's thread state is a (grad mode, autocast dtype) pair: a non-empty tuple, so the line read
    # "on" under no_grad too before it looked at the pair's first item.
    x = t(4)
    with hy.no_grad():
        off = hy.compiler.explain(lambda a: a * 2 + 1, x).guards
    on = hy.compiler.explain(lambda a: a * 2 + 1, x).guards
    assert off[0] == "grad mode is off" and on[0] == "grad mode is on"
    assert not any("autocast" in g for g in on)
    with hy.autocast("cpu", dtype=hy.bfloat16):
        inside = hy.compiler.explain(lambda a: a * 2 + 1, x).guards
    assert "inside an autocast region computing in bfloat16" in inside


def test_explain_reports_graph_guards_groups_and_timings():
    f = hy.compile(lambda x, y: ((x * y).exp() + 1).sum(), dynamic=False)
    x, y = t(4), t(4, seed=1)
    f(x, y)
    f(t(5), t(5))
    ex = hy.compiler.explain(f, x, y)
    text = ex.format()
    assert "optimized graph:" in text and "exp(" in text
    assert "sizes (4,)" in text and "requires_grad=False" in text
    assert len(ex.fusion_groups) == 1 and ex.fusion_groups[0].kind == "reduction"
    assert [n.op for n in ex.fusion_groups[0].nodes] == ["mul", "exp", "add", "sum"]
    assert "recompiles:" in text and "sizes" in ex.recompiles[0]
    assert ex.timings["trace"] > 0
    brk = hy.compiler.explain(lambda x: x * x.sum().item(), x)
    assert brk.graph is None and "item()" in brk.break_reasons[0]


EXAMPLE_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "climate")


def test_climate_step_compiles_and_matches_eager():
    sys.path.insert(0, os.path.abspath(EXAMPLE_DIR))
    try:
        import shallow_water as sw
    finally:
        sys.path.pop(0)
    params = sw.Params(nx=16, ny=12)
    state = sw.initial_state(params, seed=0)
    params = sw.with_stable_dt(params, state)

    def step(h, u, v):
        return sw.step(sw.State(h, u, v, 0.0), params).fields()

    f = hy.compile(step)
    eager = step(*state.fields())
    f(*state.fields())
    got = f(*state.fields())
    for a, b in zip(got, eager):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-14)
    entry = f.entries()[0]
    assert entry.program is not None and len(entry.graph.nodes) > 50
    assert "roll" in entry.graph.op_counts()
    groups = hy.compiler.passes.partition_fusion_groups(entry.graph)
    assert groups and all(len(g.nodes) >= 2 for g in groups)
