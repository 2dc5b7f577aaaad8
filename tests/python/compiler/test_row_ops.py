"""softmax / log_softmax (the op-table ops, ``row:`` in the table) planned as row-reduction groups that fuse
with their neighbours (codegen/row_ops.py): compiled vs eager over dtypes, layouts and shapes; what stays
eager; an expansion that cannot compile is undone (the op's own kernel runs); the compiled backward;
explain."""

import numpy as np
import pytest

import hyflow as hy
import hyflow.nn.functional as F
from hyflow.compiler.codegen import plan_graph
from hyflow.testing import assert_close

from _fusion_testing import plans_of, private_cache_fixture, random_tensor, run_compiled_and_eager


_private_cache = private_cache_fixture("hyflow-row-ops-cache")
_run = run_compiled_and_eager


def _row_plans(compiled):
    return plans_of(compiled, "row-reduction")


def _tensor(rng, shape, dtype, layout="contiguous"):
    return random_tensor(rng, shape, dtype, layout, scale=3)


def scaled_softmax(x):
    return hy.softmax(x * 0.125, -1)


def log_softmax_times(x, w):
    return hy.log_softmax(x, x.dim() - 1) * w + 1


def softmax_method(x):
    return (x - 1).softmax(-1).sqrt()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced"])
def test_row_ops_fuse_with_neighbours(dtype, layout):
    rng = np.random.default_rng(2)
    for shape in [(3, 2), (16, 1000), (2, 3, 70)]:
        x = _tensor(rng, shape, dtype, layout)
        w = _tensor(rng, shape[-1:], dtype)
        for fn, args, ops in [(scaled_softmax, (x,), ["mul", "amax", "sub", "exp", "sum", "reciprocal", "mul"]),
                              (log_softmax_times, (x, w), ["amax", "sub", "exp", "sum", "log", "sub", "mul", "add"]),
                              (softmax_method, (x,), ["sub", "amax", "sub", "exp", "sum", "reciprocal", "mul", "sqrt"])]:
            got, expected, compiled = _run(fn, *args)
            plans = _row_plans(compiled)
            assert len(plans) == 1 and plans[0].spec is not None and plans[0].ops == ops, \
                [(p.ops, p.reason) for p in plans]
            assert got.dtype == expected.dtype and tuple(got.shape) == tuple(expected.shape)
            assert_close(got, expected)


def test_extreme_values_match_eager():
    x = hy.tensor(np.array([[1e30, -1e30, 0.0, 5.0], [-np.inf, 0.0, 1.0, 2.0], [np.nan, 1.0, 2.0, 3.0],
                            [88.0, 89.0, 90.0, -200.0]], dtype=np.float32))
    for fn in (lambda t: hy.softmax(t * 0.5, -1), lambda t: hy.log_softmax(t * 0.5, -1)):
        got, expected, compiled = _run(fn, x)
        assert _row_plans(compiled)[0].spec is not None
        assert_close(got, expected, equal_nan=True)


def test_what_stays_eager():
    # Another dim than the last, a dtype= cast, a 1-d input and a lone op (nothing to fuse: the op's
    # own kernel is as fast) are not expanded; results are eager's.
    x = hy.randn(6, 8)
    cases = [lambda t: hy.softmax(t * 2, 0), lambda t: hy.softmax(t * 2, -1, dtype=hy.float64),
             lambda t: hy.log_softmax(t.reshape(-1) * 2, 0)]
    for fn in cases:
        got, expected, compiled = _run(fn, x)
        assert not any(p.spec is not None and "amax" in p.ops for p in _row_plans(compiled))
        assert_close(got, expected)
    got, expected, compiled = _run(lambda t: hy.softmax(t, -1), x)
    assert all(p.spec is None for p in _row_plans(compiled))
    order_ops = [n.op for kind, n in compiled.entries()[-1].kernels.order if kind == "node"]
    assert order_ops == ["softmax"]
    assert_close(got, expected)


def test_an_expansion_that_cannot_compile_is_undone():
    # The group {softmax, mul} would span x.add_(1), which writes its input: it cannot run as one step,
    # so the expansion is undone and softmax runs as its own eager kernel, in place.
    def fn(x):
        s = hy.softmax(x, -1)
        x.add_(1)
        return s * x

    x = hy.randn(5, 9)
    expected = fn(x.clone())
    compiled = hy.compile(fn)
    compiled(x.clone())
    got = compiled(x.clone())
    assert_close(got, expected)
    order = compiled.entries()[-1].kernels.order
    assert "softmax" in [n.op for kind, n in order if kind == "node"]
    assert not any(kind == "group" and "amax" in n.ops for kind, n in order)


def test_row_ops_under_the_compiled_backward():
    x = hy.randn(8, 33, dtype=hy.float64, requires_grad=True)
    w = hy.randn(33, dtype=hy.float64)
    y = hy.tensor(np.arange(8) % 33)
    for fn in (scaled_softmax, lambda t: F.cross_entropy(t * 2, y), lambda t: log_softmax_times(t, w)):
        got, expected, compiled = _run(fn, x)
        assert_close(got, expected)
        got.sum().backward()
        g_compiled = x.grad.clone()
        x.grad = None
        fn(x).sum().backward()
        assert_close(g_compiled, x.grad)
        x.grad = None


def test_explain_shows_the_expanded_op():
    text = str(hy.compiler.explain(scaled_softmax, hy.randn(4, 50)))
    assert "row-reduction: mul -> amax -> sub -> exp -> sum -> reciprocal -> mul: kernel hyk_r0" in text


def test_plan_graph_leaves_the_graph_unchanged():
    ex = hy.compiler.explain(scaled_softmax, hy.randn(4, 50))
    before = [n.op for n in ex.graph.nodes]
    result = ex.graph.output_values()[0]
    producer = result.producer
    plans, _, order = plan_graph(ex.graph)
    assert [n.op for n in ex.graph.nodes] == before and result.producer is producer
    assert [kind for kind, _ in order] == ["group"]


def test_lone_op_compiles_with_codegen_all(monkeypatch):
    monkeypatch.setenv("HYFLOW_CODEGEN", "all")
    x = hy.randn(7, 40, dtype=hy.float64)
    got, expected, compiled = _run(lambda t: hy.log_softmax(t, -1), x)
    assert _row_plans(compiled)[0].spec is not None
    assert_close(got, expected)


# ---- layer_norm (row: {kind: layer_norm}) -------------------------------------------------------------
def residual_layer_norm(x, r, w, b):
    return F.layer_norm(x + r, (x.shape[-1],), w, b)


def layer_norm_gelu(x):
    # over the last two dims when there is a row dim left, else the last one
    return F.gelu(F.layer_norm(x, x.shape[-2:] if x.dim() > 2 else x.shape[-1:]))


LN_OPS = ["add", "mean", "sub", "mul", "mean", "add", "rsqrt", "mul", "mul", "add"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced"])
def test_layer_norm_fuses_with_neighbours(dtype, layout):
    rng = np.random.default_rng(4)
    for shape in [(3, 2), (16, 1000), (2, 3, 70)]:
        x, r = _tensor(rng, shape, dtype, layout), _tensor(rng, shape, dtype)
        w, b = _tensor(rng, shape[-1:], dtype), _tensor(rng, shape[-1:], dtype)
        got, expected, compiled = _run(residual_layer_norm, x, r, w, b)
        plans = _row_plans(compiled)
        assert len(plans) == 1 and plans[0].spec is not None and plans[0].ops == LN_OPS, \
            [(p.ops, p.reason) for p in plans]
        assert got.dtype == expected.dtype and tuple(got.shape) == tuple(expected.shape)
        assert_close(got, expected)
        # two normalized dims, no weight and bias, an elementwise consumer
        # (a permuted input whose two normalized dims are not one stride stays eager, as any row group)
        got, expected, compiled = _run(layer_norm_gelu, x)
        if layout == "contiguous" or x.dim() == 2:
            assert _row_plans(compiled)[0].spec is not None
        assert_close(got, expected)


def test_lone_layer_norm_runs_its_eager_kernel():
    x, w = hy.randn(6, 8), hy.randn(8)
    got, expected, compiled = _run(lambda t: F.layer_norm(t, (8,), w), x)
    assert all(p.spec is None for p in _row_plans(compiled))
    assert [n.op for kind, n in compiled.entries()[-1].kernels.order if kind == "node"] == ["layer_norm"]
    assert_close(got, expected)


def test_layer_norm_with_a_float32_weight_on_bfloat16_stays_eager():
    x, w = hy.randn(4, 16).to(hy.bfloat16), hy.randn(16)
    got, expected, compiled = _run(lambda t: F.layer_norm(t * 2, (16,), w), x)
    assert not any(p.spec is not None and "rsqrt" in p.ops for p in _row_plans(compiled))
    assert_close(got, expected)


def test_layer_norm_under_the_compiled_backward():
    # Parameters that require grad keep layer_norm one autograd node (its one-pass backward kernel runs);
    # gradients through hy.compile equal eager's and pass gradcheck.
    rng = np.random.default_rng(8)
    x = hy.tensor(rng.standard_normal((5, 12)), requires_grad=True)
    w = hy.tensor(rng.standard_normal(12), requires_grad=True)
    b = hy.tensor(rng.standard_normal(12), requires_grad=True)
    r = hy.tensor(rng.standard_normal((5, 12)))
    fn = lambda x, w, b: residual_layer_norm(x, r, w, b) * 3  # noqa: E731
    compiled = hy.compile(fn)
    got = compiled(x, w, b)
    expected = fn(x, w, b)
    assert_close(got, expected)
    gc = hy.autograd.grad(got.sum(), [x, w, b])
    ge = hy.autograd.grad(expected.sum(), [x, w, b])
    for a, e in zip(gc, ge):
        assert_close(a, e)
    assert hy.testing.gradcheck(compiled, (x, w, b))


def test_explain_shows_the_expanded_layer_norm():
    text = str(hy.compiler.explain(residual_layer_norm, hy.randn(4, 50), hy.randn(4, 50), hy.randn(50),
                                   hy.randn(50)))
    assert "row-reduction: " + " -> ".join(LN_OPS) + ": kernel hyk_r0" in text
