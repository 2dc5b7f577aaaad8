"""The compiled replay (hyflow/compiler/replay.py): a Python function generated from a Program's steps
runs every call after the first; it must do exactly what the step interpreter does."""
import numpy as np
import pytest

import hyflow as hy
import hyflow.nn as nn
from hyflow.compiler import replay


def _mixed(x, w):
    # fused elementwise groups, a GEMM, a list result (chunk), a node recorded under no_grad, kwargs
    a = (x * 2.0 + 1.0).relu()
    b = a @ w
    lo, hi = b.chunk(2, dim=1)
    with hy.no_grad():
        scale = hi.abs().amax()
    return lo.sum(dim=1, keepdim=True) * scale, hi.softmax(-1)


def _program(cfn):
    return cfn.entries()[0].program


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if x is None or y is None:
            assert x is None and y is None
        else:
            np.testing.assert_array_equal(np.asarray(x.detach()), np.asarray(y.detach()))


def test_generated_code_computes_every_slot_as_the_interpreter_does():
    x, w = hy.randn(6, 8), hy.randn(8, 10)
    cfn = hy.compile(_mixed)
    expected = _mixed(x, w)
    cfn(x, w)   # the first call traces (and runs the traced ops); later ones replay
    for got, want in zip(cfn(x, w), expected):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    prog = _program(cfn)
    assert prog._fast is not None and prog._fast is not prog._interpret
    inputs = [x, w]
    _assert_same(prog.execute(inputs), prog._interpret(inputs))
    source = prog._fast.source
    assert source.startswith("def replay(inputs, syms):")
    assert "for " not in source.replace("for n in", "")  # straight-line: no loop over the steps


def test_generated_code_sets_and_restores_grad_mode_per_node():
    # A node traced under no_grad runs under no_grad even when the caller has grad on, and the
    # caller's mode is back afterwards, whether the node succeeds or not.
    x = hy.randn(4, 8, requires_grad=True)
    w = hy.randn(8, 10)
    cfn = hy.compile(_mixed)
    out, _ = cfn(x, w)
    out.sum().backward()
    assert hy.is_grad_enabled()
    with hy.no_grad():
        cfn(x.detach(), w)
    assert hy.is_grad_enabled()


@pytest.mark.usefixtures("compiled_backward_always")
def test_a_module_trains_through_the_generated_replay():
    hy.manual_seed(0)
    eager = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    model.load_state_dict(eager.state_dict())
    compiled = hy.compile(model)
    x = hy.randn(5, 8)
    for m in (eager, compiled):
        for _ in range(3):
            m(x).square().mean().backward()
    for pe, pc in zip(eager.parameters(), model.parameters()):
        np.testing.assert_allclose(pc.grad.numpy(), pe.grad.numpy(), rtol=1e-5, atol=1e-6)
    fwd = compiled._compiled.entries()[0].autograd
    assert fwd.forward._fast is not None and fwd.backward._fast is not None


def test_a_failure_to_generate_falls_back_to_the_interpreter(monkeypatch):
    def broken(prog):
        raise SyntaxError("simulated")
    monkeypatch.setattr(replay, "_generate", broken)
    x, w = hy.randn(6, 8), hy.randn(8, 10)
    cfn = hy.compile(_mixed)
    cfn(x, w)
    for got, want in zip(cfn(x, w), _mixed(x, w)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    prog = _program(cfn)
    assert prog._fast == prog._interpret


@pytest.mark.parametrize("shape", [(3, 5), (7, 5)])
def test_symbolic_sizes_go_through_the_generated_code(shape):
    def f(x):
        return (x * 3.0).exp().sum(-1)
    cfn = hy.compile(f, dynamic=True)
    x = hy.randn(*shape)
    np.testing.assert_allclose(cfn(x).numpy(), f(x).numpy(), rtol=1e-5)
    np.testing.assert_allclose(cfn(hy.randn(11, 5)).numpy().shape, (11,))


def test_the_replay_allocator_refuses_a_negative_size():
    with pytest.raises(ValueError, match="negative size"):
        hy._C._compiler.empty((2, -1), hy.float32)


def test_output_trees_are_rebuilt_as_the_function_returned_them():
    def f(x):
        y = x * 2.0
        return {"a": (y,), "b": [y + 1.0, (y - 1.0, 3)], "c": None}
    cfn = hy.compile(f)
    x = hy.randn(4)
    cfn(x)
    got, want = cfn(x), f(x)
    assert set(got) == {"a", "b", "c"} and got["c"] is None
    assert isinstance(got["a"], tuple) and len(got["a"]) == 1
    assert isinstance(got["b"], list) and isinstance(got["b"][1], tuple) and got["b"][1][1] == 3
    np.testing.assert_array_equal(got["b"][1][0].numpy(), want["b"][1][0].numpy())
    np.testing.assert_array_equal(got["a"][0].numpy(), want["a"][0].numpy())


def test_a_copy_with_its_own_steps_regenerates_instead_of_reusing_the_original_code():
    # hy.amp's planner copies a program and swaps calls in a new step list: after the original ran
    # (and generated its code), the copy must run its own steps, not the original's code.
    import copy

    def f(x, w):
        return (x @ w).sum()

    x, w = hy.randn(3, 4), hy.randn(4, 5)
    cfn = hy.compile(f)
    cfn(x, w)
    cfn(x, w)
    prog = _program(cfn)
    assert prog._fast is not None
    clone = copy.copy(prog)
    clone.steps = list(prog.steps)
    k = next(i for i, s in enumerate(clone.steps) if s[0] is not None and getattr(s[0], "__name__", "") == "sum")
    fn, pos, kw, outs, grad = clone.steps[k]
    clone.steps[k] = (lambda *a, **kw_: fn(*a, **kw_) * 2.0, pos, kw, outs, grad)
    base = prog.run([x, w]).item()
    assert clone.run([x, w]).item() == pytest.approx(2.0 * base, rel=1e-6)
    assert prog.run([x, w]).item() == base
