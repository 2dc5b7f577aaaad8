"""Capture: the dispatcher's hook records outermost op calls; the tracer turns them into an SSA graph."""
import numpy as np
import pytest

import hyflow as hy
from hyflow import _C
from hyflow.compiler import trace


def t(*shape, seed=0, dtype=hy.float32):
    return hy.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32)).to(dtype)


def test_session_records_outermost_calls_with_results():
    x, y = t(3), t(3, seed=1)
    s = _C._compiler.CaptureSession()
    s.begin()
    try:
        z = hy.ops.mul(hy.ops.add(x, y), y)
    finally:
        s.end()
    calls = s.calls()
    assert [c[0] for c in calls] == ["add", "mul"]
    name, args, results, grad = calls[1]
    assert args[1] is y and results[0] is z and grad is True
    assert not s.active and s.break_reason is None


def test_nested_calls_of_a_kernel_are_not_recorded():
    # An overlapping out= makes the front function copy the input through ops::clone and call itself
    # again: only the user's one call may be recorded.
    x = t(4)
    s = _C._compiler.CaptureSession()
    s.begin()
    try:
        hy.ops.neg(x[:3], out=x[1:])
    finally:
        s.end()
    assert [c[0] for c in s.calls()] == ["slice", "slice", "neg"]


def test_no_capture_after_end_and_ops_unaffected():
    s = _C._compiler.CaptureSession()
    s.begin()
    s.end()
    hy.ones(2) + 1
    assert s.calls() == []


def test_graph_inputs_captured_and_outputs():
    w = t(3, seed=2)

    def f(x, pair):
        a, b = pair
        return {"sum": x * w + a, "b": b}

    x, a, b = t(3), t(3, seed=3), t(3, seed=4)
    tr = trace(f, (x, (a, b)), {})
    g = tr.graph
    assert len(g.inputs) == 3
    assert [n.op for n in g.nodes] == ["mul", "add"]
    assert [v.tensor for v in g.captured] == [w]          # by reference, not a copy
    assert g.outputs["b"] is g.inputs[2]
    assert g.outputs["sum"] is g.nodes[1].results[0]
    np.testing.assert_allclose(tr.result["sum"].numpy(), (x * w + a).numpy())
    text = g.format()
    assert "mul(%in0, %cap3)" in text and "[elementwise]" in text


def test_inplace_op_makes_a_new_ssa_value():
    def f(x):
        y = x * 2
        y.add_(1)
        return y * 3

    g = trace(f, (t(3),), {}).graph
    mul1, add_, mul2 = g.nodes
    assert add_.op == "add" and add_.arg("out") is mul1.results[0]
    assert mul2.args[0] is add_.results[0]            # read after the write: the new value
    assert add_.written_values() == [mul1.results[0]]


def test_node_carries_op_table_metadata():
    g = trace(lambda x: (x.exp().sum(), x @ x), (t(3),), {}).graph
    assert [n.lowering for n in g.nodes] == ["elementwise", "reduction", "gemm"]
    assert g.nodes[0].entry["backward"] != "null"
    assert g.nodes[0].entry["dtype_rule"] == "promote_float"


def test_python_numbers_are_literal_constants():
    g = trace(lambda x: x * 2.5, (t(3),), {}).graph
    (lit,) = g.captured
    assert lit.is_literal_number() and lit.tensor.item() == 2.5
    assert "mul(%in0, 2.5)" in g.format()


@pytest.mark.parametrize("read", [lambda y: y.sum().item(), lambda y: bool(y.sum() > 0),
                                  lambda y: y.tolist(), lambda y: float(y.sum()), lambda y: y.numpy(),
                                  lambda y: repr(y), lambda y: np.asarray(y)])
def test_data_dependent_reads_break_the_graph(read):
    def f(x):
        y = x + 1
        read(y)
        return y * 2

    x = t(3)
    tr = trace(f, (x,), {})
    assert tr.graph is None and "read in Python" in tr.break_reason
    np.testing.assert_allclose(tr.result.numpy(), ((x + 1) * 2).numpy())  # the call still completed


def test_detach_and_backward_break_the_graph():
    x = t(3).requires_grad_()
    assert "detach" in trace(lambda a: a.detach() * 2, (x,), {}).break_reason

    def train(a):
        (a * a).sum().backward()
        return a.grad
    assert "backward" in trace(train, (x,), {}).break_reason


def test_grad_mode_is_recorded_per_node():
    def f(x):
        with hy.no_grad():
            y = x * 2
        return x * y

    g = trace(f, (t(3).requires_grad_(),), {}).graph
    assert [n.grad_enabled for n in g.nodes] == [False, True]
    assert "# no_grad" in g.format()


def test_user_defined_op_is_one_opaque_node():
    name = "capture_test_scale"
    if name not in hy.ops.list_ops():
        hy.ops.define(f"{name}(Tensor x, float a) -> Tensor")

        @hy.ops.impl(name, "cpu")
        def _scale(x, a):
            return x * a + 0  # ops inside a user kernel are its own business: not recorded

    g = trace(lambda x: getattr(hy.ops, name)(x, 3.0).exp(), (t(3),), {}).graph
    assert [n.op for n in g.nodes] == [name, "exp"]
    assert g.nodes[0].lowering == "opaque"


def test_exception_in_traced_code_propagates_and_uninstalls_the_hook():
    def f(x):
        x + 1
        raise KeyError("boom")

    with pytest.raises(KeyError):
        trace(f, (t(3),), {})
    s = _C._compiler.CaptureSession()  # a fresh session sees nothing from the failed trace
    assert s.calls() == []
    (hy.ones(2) * 2).sum()  # eager still works
