"""float16/bfloat16 reductions, scans, softmax and clamp read their 16-bit inputs in blocks (no float32 copy
of the tensor: kernels/cpu/reduce_lowp.h) and must give, bit for bit, what "widen to float32, run the
float32 op, round once" gives — on odd lengths that end inside a block or a chunk, on every layout the
reduction engine distinguishes (rows, outer dims, several dims, transposed, sliced with an offset,
strided), and with NaN and infinities in the data.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import hyflow as hy

LOWP = [hy.bfloat16, hy.float16]


def data(shape, dtype, seed=0, special=False, scale=1.0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * scale).astype(np.float32)
    if special and x.size >= 8:
        flat = x.reshape(-1)
        idx = rng.choice(flat.size, size=max(3, flat.size // 50), replace=False)
        flat[idx[0::3]] = np.nan
        flat[idx[1::3]] = np.inf
        flat[idx[2::3]] = -np.inf
    return hy.from_numpy(x).to(dtype)


def assert_bits_equal(got, want):
    assert got.dtype == want.dtype and tuple(got.shape) == tuple(want.shape)
    if not got.dtype.is_floating_point:
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        return
    g = np.ascontiguousarray(got.to(hy.float32).numpy())   # widening is exact: equal bits stay equal
    w = np.ascontiguousarray(want.to(hy.float32).numpy())
    nan = np.isnan(w)
    np.testing.assert_array_equal(np.isnan(g), nan)
    np.testing.assert_array_equal(g.view(np.uint32)[~nan], w.view(np.uint32)[~nan])


def widened(op, x, *args, **kwargs):
    """The reference: op on the float32 widening of x, each floating result rounded once to x's dtype."""
    out = op(x.float(), *args, **kwargs)
    if isinstance(out, tuple):
        return tuple(o.to(x.dtype) if o.dtype == hy.float32 else o for o in out)
    return out.to(x.dtype) if out.dtype == hy.float32 else out


REDUCTIONS = {
    "sum": lambda x, d: hy.sum(x, dim=d),
    "mean": lambda x, d: hy.mean(x, dim=d),
    "prod": lambda x, d: hy.prod(x, dim=d),
    "var": lambda x, d: hy.var(x, dim=d),
    "std": lambda x, d: hy.std(x, dim=d, correction=0),
    "norm2": lambda x, d: hy.norm(x, p=2, dim=d),
    "norm1": lambda x, d: hy.norm(x, p=1, dim=d),
    "norm3": lambda x, d: hy.norm(x, p=3, dim=d),
    "norm_inf": lambda x, d: hy.norm(x, p=float("inf"), dim=d),
    "logsumexp": lambda x, d: hy.logsumexp(x, dim=d if d is not None else list(range(x.dim()))),
    "amax": lambda x, d: hy.amax(x, dim=d),
    "amin": lambda x, d: hy.amin(x, dim=d),
}

# (shape, dims): rows (Q == 1), an outer dim (Q > 1), a tall narrow matrix (folded rows), several dims,
# everything, and lengths ending inside a 256-element block, a 4096 leaf and a 32768 chunk.
LAYOUTS = [
    ((7,), None), ((257,), None), ((4097,), None), ((40001,), None),
    ((3, 1001), [1]), ((1001, 3), [0]), ((33, 65), [0]), ((5, 6, 7), [0, 2]), ((4, 5, 300), [1]),
    ((2, 70000), [1]),
]


@pytest.mark.parametrize("dtype", LOWP)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("shape,dims", LAYOUTS)
def test_reduction_equals_float32_rounded_once(dtype, name, shape, dims):
    op = REDUCTIONS[name]
    x = data(shape, dtype, seed=len(shape) + shape[-1])
    assert_bits_equal(op(x, dims), widened(lambda t: op(t, dims), x))


@pytest.mark.parametrize("dtype", LOWP)
@pytest.mark.parametrize("name", ["sum", "mean", "var", "norm2", "amax", "logsumexp", "prod"])
def test_non_contiguous_inputs(dtype, name):
    op = REDUCTIONS[name]
    base = data((40, 300), dtype, seed=3)
    views = {
        "transposed": base.t(),                 # read in memory order
        "offset": base[1:, 3:],                 # a view whose first element is not 64-byte aligned
        "strided": base[::3, ::2],
        "row_offset": base.reshape(-1)[5:5 + 4099],
    }
    for label, v in views.items():
        for dims in ([0], [1], None) if v.dim() == 2 else ([0], None):
            assert_bits_equal(op(v, dims), widened(lambda t: op(t, dims), v)), (label, dims)


@pytest.mark.parametrize("dtype", LOWP)
def test_nan_and_inf_propagate_like_float32(dtype):
    for name, op in REDUCTIONS.items():
        for shape, dims in [((300,), None), ((9, 130), [1]), ((130, 9), [0])]:
            x = data(shape, dtype, seed=11, special=True)
            assert_bits_equal(op(x, dims), widened(lambda t: op(t, dims), x))
    x = data((9, 130), dtype, seed=12, special=True)
    assert_bits_equal(hy.sum(x), widened(hy.sum, x))
    assert np.isnan(hy.sum(x).float().item())


@pytest.mark.parametrize("dtype", LOWP)
@pytest.mark.parametrize("shape,dim", [((5, 257), 1), ((257, 5), 0), ((3, 4, 33), 1), ((40000,), 0), ((2, 3000), -1)])
def test_arg_and_value_extremes(dtype, shape, dim):
    x = data(shape, dtype, seed=5, special=shape[0] == 5)
    for op in (hy.argmax, hy.argmin):
        assert_bits_equal(op(x, dim=dim), op(x.float(), dim=dim))
        assert_bits_equal(op(x), op(x.float()))
    for op in (hy.max, hy.min):
        v, i = op(x, dim=dim)
        wv, wi = op(x.float(), dim=dim)
        assert_bits_equal(v, wv.to(dtype))
        assert_bits_equal(i, wi)
        assert_bits_equal(op(x), op(x.float()).to(dtype))


@pytest.mark.parametrize("dtype", LOWP)
@pytest.mark.parametrize("shape,dim", [((7, 257), 1), ((257, 7), 0), ((3, 5, 40), 1), ((40001,), 0), ((1, 1), 0)])
def test_scans(dtype, shape, dim):
    x = data(shape, dtype, seed=6, special=shape == (7, 257), scale=0.1)
    assert_bits_equal(hy.cumsum(x, dim), widened(hy.cumsum, x, dim))
    y = x * 0.01 + 1.0
    assert_bits_equal(hy.cumprod(y, dim), widened(hy.cumprod, y, dim))


@pytest.mark.parametrize("dtype", LOWP)
@pytest.mark.parametrize("shape,dim", [((9, 257), 1), ((4, 3, 31), -1), ((1, 5000), 1), ((257, 9), 0),
                                       ((3, 40000), 1), ((6, 1), 1)])
def test_softmax_and_log_softmax(dtype, shape, dim):
    x = data(shape, dtype, seed=7, scale=3.0)
    for op in (hy.softmax, hy.log_softmax):
        assert_bits_equal(op(x, dim), widened(op, x, dim))
        # dtype=float32 reads the 16-bit input and writes float32 (no rounding)
        assert_bits_equal(op(x, dim, dtype=hy.float32), op(x.float(), dim))
    t = x.t() if x.dim() == 2 else x
    assert_bits_equal(hy.softmax(t, dim), widened(hy.softmax, t, dim))


@pytest.mark.parametrize("dtype", LOWP)
def test_softmax_rows_with_nan_and_inf(dtype):
    x = data((12, 300), dtype, seed=8, special=True)
    x[3] = float("-inf")                      # a row of -inf gives NaN, as in float32 and torch
    x[4, 7] = float("inf")
    for op in (hy.softmax, hy.log_softmax):
        assert_bits_equal(op(x, 1), widened(op, x, 1))


@pytest.mark.parametrize("dtype", LOWP)
def test_clamp_reads_and_writes_16_bits(dtype):
    x = data((7, 301), dtype, seed=9, special=True)
    bound = data((301,), dtype, seed=10) * 0.1
    cases = [
        lambda t: hy.clamp(t, -0.3, 0.7),
        lambda t: hy.clamp(t, min=0.1),
        lambda t: hy.clamp(t, max=-0.2),
        lambda t: hy.clamp(t, 0.3, -0.3),                        # min > max: max everywhere
        lambda t: hy.clamp(t, min=float("nan")),                 # a NaN bound propagates
    ]
    for op in cases:
        assert_bits_equal(op(x), widened(op, x))
        assert_bits_equal(op(x.t()), widened(op, x.t()))
        assert_bits_equal(op(x[:, 1::3]), widened(op, x[:, 1::3]))
    got = x.clamp(min=bound, max=bound + 0.5)
    want = x.float().clamp(min=bound.float(), max=(bound + 0.5).float()).to(dtype)
    assert_bits_equal(got, want)
    assert_bits_equal(x.clamp(max=bound), x.float().clamp(max=bound.float()).to(dtype))
    # a float32 0-d bound keeps its float32 value (not rounded to the 16-bit dtype first)
    lo = hy.tensor(0.1234567, dtype=hy.float32)
    assert_bits_equal(x.clamp(min=lo), x.float().clamp(min=lo).to(dtype))
    out = hy.empty(7, 301, dtype=dtype)
    hy.clamp(x, -0.5, 0.5, out=out)
    assert_bits_equal(out, widened(lambda t: hy.clamp(t, -0.5, 0.5), x))


@pytest.mark.parametrize("dtype", LOWP)
def test_reductions_are_close_to_float64(dtype):
    # Accumulation is float32 whatever the input: a long bf16 sum is as accurate as a float32 one.
    x = data((200000,), dtype, seed=13)
    exact = np.asarray(x.to(hy.float64).numpy()).sum()
    assert abs(hy.sum(x, dtype=hy.float32).item() - exact) <= 1e-5 * np.abs(x.float().numpy()).sum()
    assert hy.sum(x).dtype == dtype and hy.mean(x).dtype == dtype


_VARIANT_SCRIPT = """
import sys, hyflow as hy
sys.path.insert(0, {here!r})
import test_lowp_reduce as t
for dtype in t.LOWP:
    for name in ("sum", "var", "logsumexp", "prod", "amax", "norm3"):
        for shape, dims in [((4097,), None), ((3, 1001), [1]), ((33, 65), [0]), ((2, 70000), [1])]:
            t.test_reduction_equals_float32_rounded_once(dtype, name, shape, dims)
    t.test_softmax_and_log_softmax(dtype, (9, 257), 1)
    t.test_scans(dtype, (7, 257), 1)
    t.test_clamp_reads_and_writes_16_bits(dtype)
print(hy.backends.cpu.get_cpu_capability())
"""


def _variants():
    """The variants built into hyflow that this CPU can run (as in test_lowp_elementwise.py)."""
    known = ("default", "avx2", "avx512")
    info = hy.build_info()
    best = known.index(info["cpu_capability"])
    return [v for v in info["cpu_variants"] if known.index(v) <= best]


@pytest.mark.parametrize("variant", _variants())
def test_every_cpu_variant_is_bit_exact(variant):
    """Eigen's vector width (and so where its sums peel to an aligned address) differs per CPU variant
    (HYFLOW_CPU_CAPABILITY): the widened spans must match the float32 path in each."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, HYFLOW_CPU_CAPABILITY=variant, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    r = subprocess.run([sys.executable, "-c", _VARIANT_SCRIPT.format(here=here)], env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == variant
