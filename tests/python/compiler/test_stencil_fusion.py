"""Stencil fusion (passes/fusion.py with stencils=True, codegen/stencil_kernel.py): roll and the periodic
Laplacian read as index arithmetic inside fused loops, compared with eager (rolls bit for bit, the
Laplacian in eager's order to a few ulp) over shapes, dims, shifts, dtypes and layouts; shifted
intermediates; what stays eager; the climate example's step."""
import os
import sys
import warnings

import numpy as np
import pytest

import hyflow as hy
from hyflow.compiler import CompileWarning
from hyflow.testing import assert_close

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("HYFLOW_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "hyflow-stencil-cache"))
    monkeypatch.delenv("HYFLOW_CODEGEN", raising=False)
    monkeypatch.delenv("CXX", raising=False)


def _run(fn, *args):
    expected = fn(*args)
    compiled = hy.compile(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        compiled(*args)
        got = compiled(*args)
    gk = compiled.entries()[-1].kernels
    assert gk is not None and gk.error is None, gk and gk.error
    return got, expected, gk


def _stencil_kernels(gk):
    return [p for p in gk.plans if p.kind == "stencil" and p.spec is not None and id(p) in gk.kernels]


def _tensor(rng, shape, dtype, layout="contiguous"):
    if layout == "transposed":
        return _tensor(rng, shape[::-1], dtype).permute(*reversed(range(len(shape))))
    if layout == "sliced":
        return _tensor(rng, tuple(2 * n for n in shape), dtype)[tuple(slice(None, None, 2) for _ in shape)]
    if dtype.startswith("float"):
        return hy.tensor(np.asarray(rng.standard_normal(shape), dtype=dtype))
    return hy.tensor(rng.integers(-100, 100, size=shape).astype(dtype))


CASES = [(seed, dt, layout) for seed in range(4) for dt in ("float32", "float64", "int64")
         for layout in ("contiguous", "transposed", "sliced")]


@pytest.mark.parametrize("seed,dtype,layout", CASES, ids=[f"{s}-{d}-{l}" for s, d, l in CASES])
def test_rolls_in_a_chain_match_eager_exactly(seed, dtype, layout):
    rng = np.random.default_rng(seed)
    nd = 2 + seed % 2
    shape = tuple(int(n) for n in rng.integers(3, 12, size=nd))
    s1, s2 = int(rng.integers(-15, 15)), int(rng.integers(-3, 4))

    def fn(a, b):
        west = hy.roll(a, s1, 0)
        diag = hy.roll(b, (s2, 1), (-1, 0))
        both = hy.roll(a, [1, -1], [0, 1])
        return west * 2 + diag - both * b, a - hy.roll(b, -1, nd - 1)

    a, b = _tensor(rng, shape, dtype, layout), _tensor(rng, shape, dtype, layout)
    got, expected, gk = _run(fn, a, b)
    assert len(_stencil_kernels(gk)) == 2 and not any("replayed" in x for x in gk.report()), gk.report()
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape
        assert np.array_equal(g.numpy(), e.numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("grid", ["2d", "3d", "batched", "1d"])
def test_periodic_laplacian_matches_eager_exactly(dtype, grid):
    rng = np.random.default_rng(1)
    shape, kw = {"2d": ((9, 13), dict(dx=0.3, dy=0.7)), "3d": ((4, 5, 6), dict(dx=0.5, dz=0.25)),
                 "batched": ((3, 7, 8), dict(grid_dims=2, dx=0.1)), "1d": ((40,), dict(dx=2.0))}[grid]
    u, w = _tensor(rng, shape, dtype), _tensor(rng, shape, dtype)

    def fn(u, w):
        return 0.01 * hy.laplacian(u, **kw) - 0.5 * u * w + hy.laplacian(w, **kw)

    got, expected, gk = _run(fn, u, w)
    assert _stencil_kernels(gk), gk.report()
    # Eager's order of operations; eager's kernel may contract a*b+c into an FMA where the generated code
    # (-ffp-contract=off) rounds twice, so the results agree to a few ulp, not bit for bit.
    tol = 1e-5 if dtype == "float32" else 1e-13
    scale = np.abs(expected.numpy()).max()
    assert_close(got, expected, rtol=tol, atol=tol * scale)


def test_shifted_intermediate_is_written_then_read():
    # roll(a * 2) shifts a value computed in the graph: the multiply is one kernel (its result
    # materialized), the roll reads it in the next.
    def fn(a):
        m = a * 2 + 1
        return hy.roll(m, 1, 0) + m * a

    a = hy.randn(17, 9, dtype=hy.float64)
    got, expected, gk = _run(fn, a)
    kernels = [p for p in gk.plans if p.spec is not None]
    assert len(kernels) == 2 and all("roll" not in p.ops or "mul" not in p.ops[:p.ops.index("roll")]
                                     for p in kernels), gk.report()
    assert np.array_equal(got.numpy(), expected.numpy())


def test_what_stays_eager():
    a = hy.randn(8, 8, dtype=hy.float64)
    # roll over the flattened tensor, a Dirichlet Laplacian, and rolls alone (eager's copy is as fast)
    for fn in (lambda t: hy.roll(t, 3) * 2, lambda t: hy.laplacian(t, boundary="dirichlet") * 2,
               lambda t: hy.roll(t, 1, 0)):
        got, expected, gk = _run(fn, a)
        assert not _stencil_kernels(gk)
        assert np.array_equal(got.numpy(), expected.numpy())



def test_stencils_under_the_compiled_backward():
    # A region that requires grad runs its forward (and its backward: roll's gradient is a roll, the
    # Laplacian's a Laplacian) as generated code; gradients equal eager autograd's.
    x = hy.randn(6, 7, dtype=hy.float64, requires_grad=True)

    def fn(t):
        return hy.roll(t, 1, 0) * t + 0.1 * hy.laplacian(t * t, dx=0.5)

    got, expected, gk = _run(fn, x)
    assert _stencil_kernels(gk), gk.report()
    assert_close(got, expected, rtol=1e-13, atol=1e-13)
    got.sum().backward()
    g_compiled = x.grad.clone()
    x.grad = None
    fn(x).sum().backward()
    assert_close(g_compiled, x.grad, rtol=1e-12, atol=1e-12)


def test_explain_shows_stencil_groups():
    def fn(a):
        return hy.roll(a, 1, 0) - a

    text = str(hy.compiler.explain(fn, hy.randn(6, 7)))
    assert "stencil: roll -> sub: kernel hyk_0" in text, text


def test_shallow_water_step_compiles_to_stencil_kernels():
    sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "examples", "climate"))
    import shallow_water as sw
    params = sw.Params(nx=32, ny=24)
    rng = np.random.default_rng(0)
    state = sw.State(hy.tensor(1 + 0.1 * rng.random((32, 24))), hy.tensor(0.1 * rng.standard_normal((32, 24))),
                     hy.tensor(0.1 * rng.standard_normal((32, 24))))
    params = sw.with_stable_dt(params, state)

    def step(h, u, v):
        s = sw.step(sw.State(h, u, v), params)
        return s.h, s.u, s.v

    got, expected, gk = _run(step, state.h, state.u, state.v)
    assert len(_stencil_kernels(gk)) >= 3, gk.report()
    for g, e in zip(got, expected):
        assert_close(g, e, rtol=1e-13, atol=1e-15)
