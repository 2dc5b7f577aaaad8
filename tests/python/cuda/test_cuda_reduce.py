"""CUDA reductions, scans, dot/mv/outer and flip/pad/repeat/tile beyond the OpInfo differential
(test_cuda_ops.py): sizes that split rows into pieces and cross block boundaries, first-index ties and
NaN across pieces, non-contiguous and high-rank inputs, integer wrapping, empty tensors and the CPU's
error types and messages. Each test compares with the CPU."""
import math

import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import assert_close

ops = hy.ops


def exact(gpu, cpu):
    assert gpu.device == "cuda:0"
    assert gpu.dtype == cpu.dtype
    assert gpu.shape == cpu.shape
    assert gpu.cpu().tolist() == cpu.tolist()


def same_error(fn, *args, **kwargs):
    """fn raises the same exception type and message on the CPU and on CUDA."""
    with pytest.raises(Exception) as cpu_err:
        fn(*args, **kwargs)
    moved = [a.cuda() if isinstance(a, hy.Tensor) else a for a in args]
    with pytest.raises(type(cpu_err.value)) as gpu_err:
        fn(*moved, **kwargs)
    assert str(gpu_err.value) == str(cpu_err.value)


def rand(shape, dtype=hy.float32, seed=0, low=-1.0, high=1.0):
    rng = np.random.default_rng(seed)
    return hy.from_numpy(rng.uniform(low, high, shape)).to(dtype)


# ---- reductions ------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [32767, 32768, 100001, 3_000_017])
def test_full_reductions_of_long_rows_split_into_pieces(n):
    x = rand((n,), hy.float64, seed=n)
    g = x.cuda()
    for name in ("sum", "mean", "amax", "amin", "var", "std", "norm", "logsumexp"):
        fn = getattr(ops, name)
        args = ([0],) if name == "logsumexp" else ()
        assert_close(fn(g, *args).cpu(), fn(x, *args), rtol=1e-10, atol=1e-10)
    exact(ops.argmax(g), ops.argmax(x))
    exact(ops.argmin(g), ops.argmin(x))
    exact(ops.max(g), ops.max(x))
    xi = hy.from_numpy(np.random.default_rng(1).integers(-3, 4, n))
    exact(ops.sum(xi.cuda()), ops.sum(xi))
    exact(ops.prod(xi.cuda()), ops.prod(xi))  # wraps modulo 2^64 like the CPU


def test_first_index_wins_across_pieces_and_threads():
    n = 2_000_003
    x = hy.zeros(n)
    for i in (1_500_000, 77, 999_999):
        x[i] = 1.0
    exact(ops.argmax(x.cuda()), ops.argmax(x))
    assert ops.argmax(x.cuda()).item() == 77
    assert ops.argmin((-x).cuda()).item() == 77
    # every element ties: index 0
    assert ops.argmax(hy.ones(n).cuda()).item() == 0
    # rows (a warp per row) and columns (the layout copy) with ties
    m = hy.from_numpy(np.random.default_rng(2).integers(0, 3, (700, 300)).astype(np.float32))
    for dim in (0, 1):
        for keepdim in (False, True):
            v, i = ops.max_dim(m.cuda(), dim, keepdim)
            wv, wi = ops.max_dim(m, dim, keepdim)
            exact(v, wv)
            exact(i, wi)
            v, i = ops.min_dim(m.cuda(), dim, keepdim)
            wv, wi = ops.min_dim(m, dim, keepdim)
            exact(v, wv)
            exact(i, wi)


def test_nan_propagates_and_its_first_index_wins():
    n = 1_900_001
    x = rand((n,), seed=3)
    x[1_800_000] = float("nan")
    x[700_000] = float("nan")
    g = x.cuda()
    assert math.isnan(ops.max(g).item()) and math.isnan(ops.min(g).item())
    assert math.isnan(ops.amax(g).item())
    assert ops.argmax(g).item() == 700_000
    assert ops.argmin(g).item() == 700_000  # NaN counts as the smallest too
    assert math.isnan(ops.norm(g, float("inf")).item())
    m = rand((40, 50), seed=4)
    m[3, 7] = m[3, 20] = m[10, 0] = float("nan")
    for dim in (0, 1):
        v, i = ops.max_dim(m.cuda(), dim)
        wv, wi = ops.max_dim(m, dim)
        assert_close(v.cpu(), wv, equal_nan=True)
        exact(i, wi)


@pytest.mark.parametrize("dtype", [hy.float16, hy.bfloat16, hy.int32, hy.bool])
def test_small_dtypes_over_pieces(dtype):
    x = rand((3, 50_000), hy.float32, seed=5, low=-4, high=4).to(dtype)
    g = x.cuda()
    exact(ops.amax(g, [1]), ops.amax(x, [1]))
    exact(ops.argmax(g, 1), ops.argmax(x, 1))
    exact(ops.all(g, [1]), ops.all(x, [1]))
    exact(ops.any(g, [0]), ops.any(x, [0]))
    want = ops.sum(x, [1])
    assert_close(ops.sum(g, [1]).cpu().to(hy.float64), want.to(hy.float64), rtol=1e-2, atol=1)


def test_non_contiguous_and_permuted_inputs():
    x = rand((6, 5, 4, 7), seed=6).permute([2, 0, 3, 1])[:, ::2, 1:, :]  # (4, 3, 6, 5), strided
    g = x.cuda()
    for dims in ([0, 2], [1], [3, 0], None):
        for name in ("sum", "mean", "prod", "amax", "var", "norm"):
            fn = getattr(ops, name)
            assert_close(fn(g, dim=dims, keepdim=True).cpu(), fn(x, dim=dims, keepdim=True), rtol=1e-5, atol=1e-6)
        exact(ops.all(g > 0, dims, True), ops.all(x > 0, dims, True))
        exact(ops.any(g > 0.9, dims), ops.any(x > 0.9, dims))
        assert_close(ops.logsumexp(g, dims or []).cpu(), ops.logsumexp(x, dims or []), rtol=1e-5, atol=1e-6)
    for d in range(4):
        exact(ops.argmax(g, d), ops.argmax(x, d))
        assert_close(ops.cumsum(g, d).cpu(), ops.cumsum(x, d), rtol=1e-6, atol=1e-6)


def test_ten_dims():
    x = rand((2,) * 10, seed=7)
    for dims in ([9], [5, 6, 7, 8, 9], None):
        assert_close(ops.sum(x.cuda(), dims).cpu(), ops.sum(x, dims), rtol=1e-6, atol=1e-6)
        exact(ops.amax(x.cuda(), dims), ops.amax(x, dims))


def test_sum_and_prod_dtype_rules_match_the_cpu():
    x = rand((5, 9), seed=8, low=-3, high=3)
    for dtype in (hy.int64, hy.int32, hy.bool):  # each element is truncated first, as on the CPU
        exact(ops.sum(x.cuda(), [1], dtype=dtype), ops.sum(x, [1], dtype=dtype))
    for dtype in (hy.float64, hy.float16):
        got = ops.sum(x.cuda(), [1], dtype=dtype)
        assert got.dtype == dtype
        assert_close(got.cpu(), ops.sum(x, [1], dtype=dtype), rtol=1e-3, atol=1e-3)
    xi = hy.from_numpy(np.arange(-20, 25, dtype=np.int32).reshape(5, 9))
    exact(ops.sum(xi.cuda(), [0]), ops.sum(xi, [0]))
    assert_close(ops.mean(xi.cuda(), [1], dtype=hy.float32).cpu(), ops.mean(xi, [1], dtype=hy.float32))
    big = hy.full((70,), 3, dtype=hy.int64)
    exact(ops.prod(big.cuda()), ops.prod(big))  # 3^70 wraps


def test_empty_inputs():
    e = hy.zeros(0, 3)
    for name in ("sum", "mean", "prod", "var", "std"):
        fn = getattr(ops, name)
        assert_close(fn(e.cuda(), [0]).cpu(), fn(e, [0]), equal_nan=True)
    exact(ops.all(e.cuda(), [0]), ops.all(e, [0]))
    exact(ops.any(e.cuda(), [0]), ops.any(e, [0]))
    assert_close(ops.logsumexp(e.cuda(), [0]).cpu(), ops.logsumexp(e, [0]))
    for p in (0, 1, 2, 0.5, -1.5):
        assert_close(ops.norm(e.cuda(), p, [0]).cpu(), ops.norm(e, p, [0]))
    exact(ops.amax(e.cuda(), [1]), ops.amax(e, [1]))  # no outputs: nothing to reduce, no error
    assert ops.cumsum(e.cuda(), 0).shape == (0, 3)


def test_errors_match_the_cpu():
    e = hy.zeros(0, 3)
    same_error(ops.max, e)
    same_error(ops.amin, e, [0])
    same_error(ops.argmax, e)
    same_error(ops.max_dim, e, 0)
    same_error(ops.norm, e, float("inf"))
    same_error(ops.norm, hy.ones(3), float("nan"))
    same_error(ops.var, hy.ones(3, dtype=hy.int32))
    same_error(ops.mean, hy.ones(3, dtype=hy.int32))
    same_error(ops.sum, hy.ones(2, 3), [0, -2])
    same_error(ops.sum, hy.ones(2, 3), [2])
    same_error(ops.argmax, hy.ones(2, 3), 5)
    same_error(ops.cumsum, hy.ones(2, 3), 2)


# ---- scans -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,dim", [((3_000_001,), 0), ((50_000, 7), 0), ((50_000, 7), 1), ((3, 40_000), 1),
                                       ((4, 5, 6), 1)])
def test_scans_of_any_shape(shape, dim):
    x = rand(shape, hy.float32, seed=9)
    assert_close(ops.cumsum(x.cuda(), dim).cpu(), ops.cumsum(x, dim), rtol=1e-5, atol=1e-4)
    xi = hy.from_numpy(np.random.default_rng(10).integers(-1000, 1000, shape).astype(np.int32))
    exact(ops.cumsum(xi.cuda(), dim), ops.cumsum(xi, dim))
    p = rand(shape, hy.float64, seed=11, low=0.999, high=1.001)
    assert_close(ops.cumprod(p.cuda(), dim).cpu(), ops.cumprod(p, dim), rtol=1e-9, atol=1e-12)


def test_scan_dtypes_and_wrapping():
    x = hy.full((100,), 7, dtype=hy.int64)
    exact(ops.cumprod(x.cuda(), 0), ops.cumprod(x, 0))  # wraps modulo 2^64
    h = rand((4, 300), hy.float16, seed=12)
    exact(ops.cumsum(h.cuda(), 1), ops.cumsum(h, 1))  # float64 accumulation, rounded as on the CPU
    b = hy.from_numpy(np.random.default_rng(13).integers(0, 2, (6, 9)).astype(bool))
    exact(ops.cumsum(b.cuda(), 0), ops.cumsum(b, 0))
    exact(ops.cumsum(b.cuda(), 1, dtype=hy.int32), ops.cumsum(b, 1, dtype=hy.int32))
    f = rand((5, 6), seed=14)
    got = ops.cumsum(f.cuda(), 1, dtype=hy.float16)
    assert got.dtype == hy.float16
    assert_close(got.cpu(), ops.cumsum(f, 1, dtype=hy.float16), rtol=1e-3, atol=1e-3)
    exact(ops.cumsum(hy.tensor(2.5).cuda(), 0), ops.cumsum(hy.tensor(2.5), 0))


# ---- dot, mv, outer --------------------------------------------------------------------------------

def test_dot_and_mv_read_strided_operands():
    a = rand((3_000_000,), hy.float64, seed=15)
    b = rand((6_000_000,), hy.float64, seed=16)[::2]
    assert_close(ops.dot(a.cuda(), b.cuda()).cpu(), ops.dot(a, b), rtol=1e-10, atol=1e-10)
    m = rand((300, 500), seed=17)
    v = rand((1000,), seed=18)[::2]
    for mat in (m, m.T.contiguous().T, rand((500, 300), seed=19).T, m[:, :0]):
        vec = v[: mat.shape[1]]
        assert_close(ops.mv(mat.cuda(), vec.cuda()).cpu(), ops.mv(mat, vec), rtol=1e-5, atol=1e-5)
    assert ops.mv(hy.zeros(0, 4).cuda(), hy.ones(4).cuda()).shape == (0,)
    exact(ops.dot(hy.zeros(0).cuda(), hy.zeros(0).cuda()), ops.dot(hy.zeros(0), hy.zeros(0)))


def test_integer_dot_and_mv_wrap_like_the_cpu():
    a = hy.full((1000,), 2**20, dtype=hy.int32)
    exact(ops.dot(a.cuda(), a.cuda()), ops.dot(a, a))
    m = hy.full((3, 1000), 2**31 - 1, dtype=hy.int32)
    exact(ops.mv(m.cuda(), a.cuda()), ops.mv(m, a))
    b = hy.full((100,), 2**40, dtype=hy.int64)
    exact(ops.dot(b.cuda(), b.cuda()), ops.dot(b, b))


def test_linalg_errors_match_the_cpu():
    same_error(ops.dot, hy.ones(3), hy.ones(3, dtype=hy.float64))
    same_error(ops.dot, hy.ones(3, dtype=hy.bool), hy.ones(3, dtype=hy.bool))
    same_error(ops.dot, hy.ones(3), hy.ones(4))
    same_error(ops.mv, hy.ones(3, 4), hy.ones(3))
    same_error(ops.mv, hy.ones(4), hy.ones(4))
    same_error(ops.outer, hy.ones(2, 2), hy.ones(3))


def test_outer_promotes_like_mul():
    a = hy.from_numpy(np.array([1, 0, 3], dtype=np.int32))
    b = rand((4,), seed=20)
    exact(ops.outer(a.cuda(), b.cuda()), ops.outer(a, b))
    t = hy.from_numpy(np.array([True, False, True]))
    exact(ops.outer(t.cuda(), t.cuda()), ops.outer(t, t))
    assert ops.outer(hy.zeros(0).cuda(), b.cuda()).shape == (0, 4)


# ---- flip, pad, repeat, tile -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [hy.float32, hy.int64, hy.bool, hy.float16, hy.complex64, hy.complex128])
def test_flip_any_layout_and_dtype(dtype):
    rng = np.random.default_rng(21)
    a = rng.uniform(-3, 3, (6, 5, 4))
    if dtype in (hy.complex64, hy.complex128):
        x = hy.from_numpy((a + 1j * rng.uniform(-3, 3, a.shape)).astype(str(dtype).split(".")[-1]))
    else:
        x = hy.from_numpy(a).to(dtype)
    for v in (x, x.permute([2, 0, 1]), x[::2, 1:]):
        for dims in ([0], [-1], [0, 2], [1, 2, 0], []):
            exact(ops.flip(v.cuda(), dims), ops.flip(v, dims))
    exact(ops.flip(hy.tensor(3.0).cuda(), [0]), ops.flip(hy.tensor(3.0), [0]))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_modes_on_strided_inputs(mode):
    x = rand((3, 7, 8, 6), seed=22).permute([0, 3, 1, 2])[:, ::2]  # (3, 3, 7, 8), strided
    pads = [[2, 3], [1, 0, 0, 2], [3, 3, 2, 1, 1, 1], [0, 0, 4, 5]]
    if mode == "constant":
        pads += [[-1, 2, 0, -3], [-3, -4]]
    for p in pads:
        want = ops.pad(x, p, mode, 1.5)
        exact(ops.pad(x.cuda(), p, mode, 1.5), want)
    xi = hy.from_numpy(np.arange(24, dtype=np.int32).reshape(2, 3, 4))
    exact(ops.pad(xi.cuda(), [1, 2, 2, 1], mode, 9.0), ops.pad(xi, [1, 2, 2, 1], mode, 9.0))


def test_pad_errors_match_the_cpu():
    x = hy.ones(2, 3)
    same_error(ops.pad, x, [1, 2], "wrap")
    same_error(ops.pad, x, [1, 2, 3])
    same_error(ops.pad, x, [1, 1, 1, 1, 1, 1])
    same_error(ops.pad, x, [-2, -2])
    same_error(ops.pad, x, [3, 0], "reflect")
    same_error(ops.pad, x, [4, 0], "circular")
    same_error(ops.pad, x, [-1, 0], "replicate")
    same_error(ops.pad, hy.ones(2, 0), [1, 1], "replicate")
    same_error(ops.pad, hy.ones(2, 3, dtype=hy.int32), [1, 1], "constant", float("nan"))


def test_repeat_and_tile():
    x = rand((2, 3, 1, 2, 2), seed=23)  # five dims: ten in the CPU's broadcast view
    exact(x.cuda().repeat([2, 1, 3, 4, 1, 2]), x.repeat([2, 1, 3, 4, 1, 2]))
    s = rand((4, 6), seed=24)[:, ::2]
    exact(s.cuda().repeat([3, 2]), s.repeat([3, 2]))
    exact(s.cuda().repeat([0, 2]), s.repeat([0, 2]))
    exact(ops.tile(s.cuda(), [2]), ops.tile(s, [2]))
    exact(ops.tile(s.cuda(), [2, 1, 3]), ops.tile(s, [2, 1, 3]))
    same_error(lambda t: t.repeat([2]), s)
    same_error(lambda t: t.repeat([2, -1]), s)
