"""Row-reduction fusion (passes/fusion.py partition_row_groups, codegen/row_kernel.py): softmax,
log-softmax, layer norm, mean/var and loss-style reductions compiled as one loop nest per row, compared
with eager over random shapes, dims, dtypes, layouts and keepdim; NaN propagation; what stays eager."""

import numpy as np
import pytest

import hyflow as hy
import hyflow.nn.functional as F
from hyflow.compiler.codegen import plan_graph
from hyflow.compiler.passes import partition_row_groups
from hyflow.testing import assert_close

from _fusion_testing import plans_of, private_cache_fixture, random_tensor, run_compiled_and_eager


_private_cache = private_cache_fixture("hyflow-row-cache")
_run = run_compiled_and_eager


def _row_plans(compiled):
    return plans_of(compiled, "row-reduction")


def _tensor(rng, shape, dtype, layout="contiguous"):
    return random_tensor(rng, shape, dtype, layout, scale=3)


# ---- the composed ops of the issue ---------------------------------------------------------------------
def softmax(x):
    m = x.amax(-1, keepdim=True)
    e = (x - m).exp()
    return e / e.sum(-1, keepdim=True)


def log_softmax(x):
    m = x.amax(-1, keepdim=True)
    s = x - m
    return s - s.exp().sum(-1, keepdim=True).log()


def layer_norm(x, w, b):
    # the layer_norm op (row: in the op table) expanded into the row loop with its producer; alone it
    # would run its own eager kernel (test_lone_layer_norm_runs_its_eager_kernel)
    return F.layer_norm(x * 0.5, (x.shape[-1],), w, b)


def composed_layer_norm(x, w, b):
    mu = x.mean(-1, keepdim=True)
    xc = x - mu
    return xc * ((xc * xc).mean(-1, keepdim=True) + 1e-5).rsqrt() * w + b


def mean_var(x):
    mu = x.mean(-1, keepdim=True)
    return mu, ((x - mu) * (x - mu)).mean(-1)


def mse_rows(a, b):
    d = a - b
    return (d * d).mean(-1)


def sum_squares_minmax(x):
    return (x * x).sum(-1, keepdim=True), (x.abs() + 1).amin(-1), x.amax(-1) * 2


CASES = [(seed, dt) for seed in range(6) for dt in ("float32", "float64")]


@pytest.mark.parametrize("seed,dtype", CASES, ids=[f"{s}-{d}" for s, d in CASES])
def test_softmax_family_matches_eager(seed, dtype):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 9)), int(rng.integers(2, 300)))
    if seed % 2:
        shape = (int(rng.integers(1, 4)),) + shape
    x = _tensor(rng, shape, dtype)
    for fn in (softmax, log_softmax):
        got, expected, compiled = _run(fn, x)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        plans = _row_plans(compiled)
        assert len(plans) == 1 and plans[0].spec is not None, [p.reason for p in plans]
        assert_close(got, expected)


@pytest.mark.parametrize("seed,dtype", CASES, ids=[f"{s}-{d}" for s, d in CASES])
def test_layer_norm_and_moments_match_eager(seed, dtype):
    rng = np.random.default_rng(100 + seed)
    rows, n = int(rng.integers(1, 40)), int(rng.integers(2, 500))
    x, w, b = _tensor(rng, (rows, n), dtype), _tensor(rng, (n,), dtype), _tensor(rng, (n,), dtype)
    got, expected, compiled = _run(layer_norm, x, w, b)
    assert [len(p.nodes) > 3 for p in _row_plans(compiled)] == [True]
    assert_close(got, expected)
    (mu, var), (emu, evar), compiled = _run(mean_var, x)
    assert mu.shape == emu.shape == (rows, 1) and var.shape == evar.shape == (rows,)
    assert _row_plans(compiled)[0].spec is not None
    assert_close(mu, emu)
    assert_close(var, evar)
    got, expected, compiled = _run(mse_rows, x, w)          # w broadcasts over the rows
    assert _row_plans(compiled)[0].spec is not None
    assert_close(got, expected)
    outs, expected, compiled = _run(sum_squares_minmax, x)
    for g, e in zip(outs, expected):
        assert g.shape == e.shape
        assert_close(g, e)


LAYOUTS = [(layout, dt) for layout in ("transposed", "sliced") for dt in ("float32", "float64")]


@pytest.mark.parametrize("layout,dtype", LAYOUTS, ids=[f"{l}-{d}" for l, d in LAYOUTS])
def test_non_contiguous_inputs(layout, dtype):
    rng = np.random.default_rng(7)
    x = _tensor(rng, (37, 45), dtype, layout)
    assert not x.is_contiguous()
    for fn in (softmax, log_softmax, lambda t: layer_norm(t, hy.ones(45, dtype=t.dtype), hy.zeros(45, dtype=t.dtype))):
        got, expected, compiled = _run(fn, x)
        assert _row_plans(compiled)[0].spec is not None
        assert_close(got, expected)


@pytest.mark.parametrize("keepdim", [True, False])
def test_reduction_over_two_trailing_dims(keepdim):
    rng = np.random.default_rng(3)
    x = _tensor(rng, (5, 6, 7), "float32")

    def fn(x):
        mu = x.mean([-2, -1], keepdim=True)
        d = x - mu
        return (d * d).sum([1, 2], keepdim=keepdim) + 1 if keepdim else (d * d).sum([1, 2], keepdim=keepdim)

    got, expected, compiled = _run(fn, x)
    assert got.shape == expected.shape
    assert _row_plans(compiled)[0].spec is not None
    assert_close(got, expected)


def test_long_rows_sum_accuracy():
    # Rows longer than a block (4096) are reduced block by block; the result stays within tolerance.
    rng = np.random.default_rng(5)
    x = _tensor(rng, (3, 20000), "float32") + 10
    got, expected, compiled = _run(lambda t: (t * 0.5).sum(-1) / 3, x)
    assert _row_plans(compiled)[0].spec is not None
    assert_close(got, expected, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(got.numpy(), (x.numpy().astype(np.float64) * 0.5).sum(-1) / 3, rtol=1e-5)


def test_nan_and_inf_propagate_like_eager():
    x = hy.tensor(np.array([[1.0, np.nan, 3.0, 0.5], [1.0, 2.0, 3.0, 4.0], [-np.inf, 0.0, 1.0, np.inf],
                            [np.nan] * 4], dtype=np.float32))
    for fn in (softmax, log_softmax, lambda t: (t.amax(-1, keepdim=True) + t).amin(-1, keepdim=True) * 2):
        got, expected, compiled = _run(fn, x)
        assert _row_plans(compiled)[0].spec is not None
        assert_close(got, expected, equal_nan=True)


def test_what_stays_eager():
    x = hy.randn(6, 8)
    # A reduction over a leading dim, a full reduction, and an integer sum are not row kernels; a lone
    # reduction gains nothing from fusion. Results are eager's.
    for fn in (lambda t: (t * 2).sum(0), lambda t: (t * 2).sum(), lambda t: t.sum(-1)):
        got, expected, compiled = _run(fn, x)
        assert all(p.spec is None for p in _row_plans(compiled))
        assert_close(got, expected)
    xi = hy.tensor(np.arange(48, dtype=np.int64).reshape(6, 8))
    got, expected, compiled = _run(lambda t: (t * 2).sum(-1), xi)
    assert not _row_plans(compiled)
    assert_close(got, expected)


def test_row_groups_under_the_compiled_backward():
    # A region that requires grad is one autograd node whose forward runs with grad mode off: its row
    # groups compile, and the gradient equals eager autograd's.
    x = hy.randn(4, 9, dtype=hy.float64, requires_grad=True)
    w = hy.randn(4, 9, dtype=hy.float64)
    got, expected, compiled = _run(softmax, x)
    assert _row_plans(compiled)[0].spec is not None
    assert_close(got, expected)
    (got * w).sum().backward()
    g_compiled = x.grad.clone()
    x.grad = None
    (softmax(x) * w).sum().backward()
    assert_close(g_compiled, x.grad)


def test_partition_row_groups_keeps_flat_reductions_last():
    # x.sum(-1) without keepdim cannot feed an elementwise member (its dims do not line up with F).
    def fn(x):
        s = (x * 2).sum(-1)
        return s * 3, (x * 2).amax(-1, keepdim=True) - 1

    x = hy.randn(5, 7)
    ex = hy.compiler.explain(fn, x)
    plans, _, _ = plan_graph(ex.graph)
    rows = [p for p in plans if p.kind == "row-reduction"]
    assert rows and all("sum" not in p.ops or "mul" not in p.ops[p.ops.index("sum"):] for p in rows)
    got, expected, _ = _run(fn, x)
    for g, e in zip(got, expected):
        assert_close(g, e)


def test_explain_shows_row_reduction_groups():
    text = str(hy.compiler.explain(softmax, hy.randn(3, 10)))
    assert "row-reduction: amax -> sub -> exp -> sum -> div: kernel hyk_r0" in text
    assert "#pragma omp simd reduction(max:" in text


def test_partition_row_groups_unit():
    ex = hy.compiler.explain(composed_layer_norm, hy.randn(4, 6), hy.randn(6), hy.randn(6))
    groups = partition_row_groups(ex.graph,
                                  lambda n: (tuple(n.arg("self").meta.shape), 1, bool(n.arg("keepdim")))
                                  if n.op == "mean" else None,
                                  lambda n: n.lowering == "elementwise")
    assert len(groups) == 1 and groups[0].kind == "row-reduction"
    assert [n.op for n in groups[0].nodes].count("mean") == 2


def test_softmax_keeps_exp_in_a_scratch_row_unless_the_row_is_long():
    # exp(x - max) is computed once per element and kept for the final division when the row fits the
    # kernel's stack budget (128 KiB); longer rows recompute it. Both match eager.
    rng = np.random.default_rng(11)
    for cols, stashed in ((100, True), (40000, False)):
        x = _tensor(rng, (3, cols), "float32")
        got, expected, compiled = _run(softmax, x)
        source = compiled.entries()[-1].kernels.source
        assert ("scratch row" in source) == stashed, source
        assert_close(got, expected)


def test_explain_lists_a_refused_reduction_under_its_own_heading():
    # An integer row sum is not a generated row kernel (they reduce float32/float64 into the same
    # dtype): explain() names it under "reductions left to eager", not among the elementwise refusals.
    def fn(x):
        return (x + 1).sum(-1)

    text = str(hy.compiler.explain(fn, hy.arange(12, dtype=hy.int32).reshape(3, 4)))
    head, _, tail = text.partition("reductions left to eager:")
    assert tail, text
    assert "row kernels reduce float32/float64" in tail.split("left to eager:")[0], text
    elementwise = head.partition("elementwise nodes left to eager:")[2]
    assert "row kernels" not in elementwise, text
