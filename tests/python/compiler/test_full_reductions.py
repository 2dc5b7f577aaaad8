"""Full reductions (sum/mean/amax/amin over every dim) fused with their elementwise producers
(codegen/full_reduction_kernel.py): compiled vs eager over dtypes, layouts and keepdim, blocks across
threads with a result independent of the thread count, NaN propagation, what stays eager, the compiled
backward, explain."""

import numpy as np
import pytest

import hyflow as hy
from hyflow.compiler.codegen.full_reduction_kernel import BLOCK
from hyflow.testing import assert_close

from _fusion_testing import plans_of, private_cache_fixture, random_tensor, run_compiled_and_eager


_private_cache = private_cache_fixture("hyflow-full-reduction-cache")
_run = run_compiled_and_eager


def _full_plans(compiled):
    return plans_of(compiled, "full-reduction")


def _tensor(rng, shape, dtype, layout="contiguous"):
    return random_tensor(rng, shape, dtype, layout)


def mse(a, b):
    return ((a - b) ** 2).mean()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_chain_into_full_reduction_matches_eager(dtype, op, keepdim):
    rng = np.random.default_rng(3)
    # Sizes that are not a multiple of the block, a single partial block, and several dims.
    for shape in [(7,), (BLOCK * 3 + 17,), (33, 129), (5, 6, 700)]:
        a, b = _tensor(rng, shape, dtype), _tensor(rng, shape, dtype)

        def fn(a, b):
            return getattr((a * 2 - b).relu() + 0.25, op)(dim=None, keepdim=keepdim) \
                if op in ("sum", "mean") else getattr((a * 2 - b).relu() + 0.25, op)(keepdim=keepdim)

        got, expected, compiled = _run(fn, a, b)
        plans = _full_plans(compiled)
        assert len(plans) == 1 and plans[0].spec is not None, [(p.ops, p.reason) for p in plans]
        assert got.dtype == expected.dtype and tuple(got.shape) == tuple(expected.shape)
        assert_close(got, expected)


@pytest.mark.parametrize("layout", ["transposed", "sliced"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_contiguous_and_broadcast_operands(layout, dtype):
    rng = np.random.default_rng(5)
    a = _tensor(rng, (40, 300), dtype, layout)
    b = _tensor(rng, (300,), dtype)          # broadcast over the rows
    got, expected, compiled = _run(lambda a, b: (a * b - 1).square().sum(), a, b)
    assert _full_plans(compiled)[0].spec is not None
    assert_close(got, expected)
    got, expected, compiled = _run(mse, a, a.transpose(0, 1).contiguous().transpose(0, 1))
    assert _full_plans(compiled)[0].spec is not None
    assert_close(got, expected)


def test_intermediates_read_outside_are_stored():
    # A value of the chain that is also returned is written by the same pass.
    def fn(a, b):
        d = a - b
        return (d * d).mean(), d

    a, b = hy.randn(64, 513), hy.randn(64, 513)
    got, expected, compiled = _run(fn, a, b)
    plan = _full_plans(compiled)[0]
    assert plan.spec is not None and len(plan.spec.outputs) == 2
    assert_close(got[0], expected[0])
    assert_close(got[1], expected[1], rtol=0, atol=0)


def test_result_does_not_depend_on_the_thread_count():
    # Fixed blocks and a fixed combine tree: bit for bit the same at 1 and 2 threads, and call to call.
    x = hy.randn(BLOCK * 40 + 3)
    compiled = hy.compile(lambda x: (x * 1.5 + 0.5).square().sum())
    compiled(x)   # the tracing call: its result is eager's (record-and-execute)
    before = hy.get_num_threads()
    try:
        hy.set_num_threads(1)
        one = compiled(x).item()
        hy.set_num_threads(2)
        two = [compiled(x).item() for _ in range(3)]
    finally:
        hy.set_num_threads(before)
    assert _full_plans(compiled)[0].spec is not None
    assert two == [one] * 3
    ref = float(((x.numpy().astype(np.float64) * 1.5 + 0.5) ** 2).sum())
    assert abs(one - ref) <= 1e-5 * abs(ref)


def test_long_sum_accuracy():
    # 4M float32 values: per-lane block sums and a pairwise combine keep the error near eager's.
    x = hy.tensor(np.random.default_rng(1).random(1 << 22, dtype=np.float32))
    got, expected, _ = _run(lambda x: (x + 1).mean(), x)
    ref = float((x.numpy().astype(np.float64) + 1).mean())
    assert abs(got.item() - ref) <= 1e-6 * ref
    assert_close(got, expected)


def test_nan_and_inf_propagate_like_eager():
    x = hy.tensor(np.array([1.0, np.nan, 3.0] + [0.5] * 5000, dtype=np.float32))
    y = hy.tensor(np.array([1.0, -np.inf, 3.0] + [0.5] * 5000, dtype=np.float32))
    for fn in (lambda t: (t * 2).amax(), lambda t: (t * 2).amin(), lambda t: (t * 2).sum(),
               lambda t: (t - 1).mean()):
        for t in (x, y):
            got, expected, compiled = _run(fn, t)
            assert _full_plans(compiled)[0].spec is not None
            assert_close(got, expected, equal_nan=True)


def test_what_stays_eager():
    # A lone reduction (eager's kernel is already parallel and vectorized), an integer sum (int64
    # result), a dtype= cast and an empty tensor run eagerly; results are eager's.
    x = hy.randn(6, 8)
    got, expected, compiled = _run(lambda t: t.sum(), x)
    assert all(p.spec is None for p in _full_plans(compiled))
    assert_close(got, expected)
    xi = hy.tensor(np.arange(48, dtype=np.int64).reshape(6, 8))
    got, expected, compiled = _run(lambda t: (t * 2).sum(), xi)
    assert not _full_plans(compiled)
    assert_close(got, expected)
    got, expected, compiled = _run(lambda t: (t * 2).sum(dtype=hy.float64), x)
    assert not _full_plans(compiled)
    assert_close(got, expected)
    e = hy.randn(0, 4)
    got, expected, compiled = _run(lambda t: (t * 2).sum(), e)
    assert not _full_plans(compiled)
    assert_close(got, expected)


def test_lone_reduction_compiles_with_codegen_all(monkeypatch):
    monkeypatch.setenv("HYFLOW_CODEGEN", "all")
    x = hy.randn(30, 41, dtype=hy.float64)[:, 1:]
    got, expected, compiled = _run(lambda t: t.amax(), x)
    assert _full_plans(compiled)[0].spec is not None
    assert_close(got, expected)


def test_full_reduction_under_the_compiled_backward():
    # The loss of a region that requires grad: its forward runs the fused kernel, gradients are eager's.
    a = hy.randn(50, 70, dtype=hy.float64, requires_grad=True)
    b = hy.randn(50, 70, dtype=hy.float64)
    got, expected, compiled = _run(mse, a, b)
    assert_close(got, expected)
    got.backward()
    g_compiled = a.grad.clone()
    a.grad = None
    mse(a, b).backward()
    assert_close(g_compiled, a.grad)
    text = str(hy.compiler.explain(mse, a, b))
    assert "full-reduction: sub -> pow -> mean: kernel" in text


def test_explain_shows_full_reduction_groups():
    text = str(hy.compiler.explain(mse, hy.randn(100, 100), hy.randn(100, 100)))
    assert "full-reduction: sub -> pow -> mean: kernel hyk_f0" in text
    assert "hyk_f0_final" in text and "#pragma omp simd reduction(+:c)" in text


def test_group_with_a_smaller_value_read_outside_stays_eager():
    # A per-row value of the chain that is also returned cannot be stored from the element loop.
    def fn(x, r):
        s = r * 2                  # (n, 1): broadcast into the chain, and returned
        return (x * s).sum(), s

    x, r = hy.randn(50, 60), hy.randn(50, 1)
    got, expected, compiled = _run(fn, x, r)
    plans = _full_plans(compiled)
    assert all(p.spec is None for p in plans if "mul" in p.ops and len(p.ops) == 3)
    assert_close(got[0], expected[0])
    assert_close(got[1], expected[1])


# ---- reductions over leading dims (codegen/column_reduction_kernel.py) ----------------------------------
def _column_plans(compiled):
    gk = compiled.entries()[-1].kernels
    assert gk is not None and gk.error is None, gk and gk.error
    return [p for p in gk.plans if p.kind in ("column-reduction", "gemm-epilogue")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_chain_into_leading_dim_reduction_matches_eager(dtype, op, keepdim):
    rng = np.random.default_rng(8)
    for shape, dims, layout in [((300, 7), 0, "contiguous"), ((40, 600), 0, "transposed"),
                                ((3, 20, 9), (0, 1), "sliced"), ((2, 3, 4, 300), (0, 1), "contiguous")]:
        a = _tensor(rng, shape, dtype, layout)
        b = _tensor(rng, shape[1 if dims == 0 else len(dims):], dtype)   # broadcast over the reduced dims

        def fn(a, b):
            return getattr((a * b - 0.5).abs() + 1, op)(dims, keepdim=keepdim)

        got, expected, compiled = _run(fn, a, b)
        plans = _column_plans(compiled)
        assert len(plans) == 1 and plans[0].spec is not None, [(p.ops, p.reason) for p in plans]
        assert got.dtype == expected.dtype and tuple(got.shape) == tuple(expected.shape)
        assert_close(got, expected)


def test_leading_dim_reduction_with_kept_dims_of_two_strides_stays_eager():
    # (2, 3, 4, 300) reduced over (0, 1) with a (300,) operand: the kept dims (4, 300) are not one
    # regular stride in that operand, so the group runs eagerly (its reason says so).
    a, b = hy.randn(2, 3, 4, 300), hy.randn(300)
    got, expected, compiled = _run(lambda a, b: (a * b).sum((0, 1)), a, b)
    plans = _column_plans(compiled)
    assert plans and all(p.spec is None and "regular stride" in p.reason for p in plans)
    assert_close(got, expected)


def test_leading_dim_reduction_same_bits_at_any_thread_count_and_nan():
    x = hy.randn(2000, 1000)
    compiled = hy.compile(lambda x: (x * 3).sum(0))
    compiled(x)
    before = hy.get_num_threads()
    try:
        hy.set_num_threads(1)
        one = compiled(x).numpy().copy()
        hy.set_num_threads(2)
        two = compiled(x).numpy()
    finally:
        hy.set_num_threads(before)
    assert _column_plans(compiled)[0].spec is not None
    np.testing.assert_array_equal(one, two)
    y = hy.tensor(np.array([[1.0, 2.0], [np.nan, 0.0], [3.0, -np.inf]], dtype=np.float32))
    for fn in (lambda t: (t * 2).amax(0), lambda t: (t * 2).amin(0), lambda t: (t * 2).sum(0)):
        got, expected, compiled = _run(fn, y)
        assert _column_plans(compiled)[0].spec is not None
        assert_close(got, expected, equal_nan=True)


@pytest.mark.usefixtures("compiled_backward_always")
def test_bias_gradient_fuses_into_the_backward_epilogue():
    # Linear layers' backward: mm -> relu-gradient -> sum(0) (the bias gradient) as one launch; the
    # gradients equal eager autograd's.
    import hyflow.nn as nn
    import hyflow.nn.functional as F
    hy.manual_seed(1)
    model = nn.Sequential(nn.Linear(12, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(), nn.Linear(40, 3))
    x, y = hy.randn(32, 12), hy.tensor(np.arange(32) % 3)
    compiled = hy.compile(model)
    F.cross_entropy(compiled(x), y).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    for g, p in zip(grads, model.parameters()):
        assert_close(g, p.grad)
    text = str(hy.compiler.explain(compiled, x))
    assert "gemm-epilogue: mm -> relu -> relu_backward -> sum: kernel hyk_c" in text
