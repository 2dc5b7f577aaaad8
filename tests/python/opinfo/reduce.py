"""Reductions, normalizations and scans (csrc/ops/table/reduce.yaml).

Samples cover dim=None, one dim, several dims, negative dims, keepdim, non-contiguous and transposed
inputs, 0-d, empty tensors and sizes large enough for the parallel and chunked paths of the engine.
References run in float64 (and int64) so float32 results are checked against the exact answer.
"""
import numpy as np

from . import ALL, COMPLEX, FLOAT, OpInfo, Sample, rand_array

# float32/float16 sums are compared with float64 references: allow accumulated rounding.
ACC_TOL = {"float16": (1e-3, 1e-3), "bfloat16": (1.6e-2, 1e-2), "float32": (2e-5, 1e-4), "float64": (1e-10, 1e-10),
           "complex64": (2e-5, 1e-4), "complex128": (1e-10, 1e-10)}


def _axis(a, dim):
    """NumPy axis for a hyflow dim: None/[] mean all dims; a 0-d tensor has nothing to reduce."""
    if dim is None or a.ndim == 0 or (isinstance(dim, (list, tuple)) and len(dim) == 0):
        return None
    return tuple(dim) if isinstance(dim, (list, tuple)) else dim


def _wide(a):
    return a.astype(np.float64) if a.dtype.kind == "f" else (a.astype(np.complex128) if a.dtype.kind == "c" else a)


def _count(a, axis):
    if axis is None:
        return a.size
    axes = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([a.shape[d] for d in axes]))


def _np_dtype(dtype):
    return None if dtype is None else np.dtype("float32" if dtype.name == "bfloat16" else dtype.name)


# ---- samples ----

def reduce_samples(low=-5.0, high=5.0, multi=True, empty_reduce=True, large=True):
    """Samples for ops taking (self, dim: int[]?, keepdim)."""
    def gen(dtype, rng):
        arr = lambda s, nc=False: rand_array(rng, s, dtype, low, high, nc)  # noqa: E731
        x = arr((3, 4, 5))
        yield Sample((x,), desc="dim=None")
        yield Sample((x,), {"dim": [1]}, desc="one dim")
        yield Sample((x,), {"dim": [-1], "keepdim": True}, desc="last dim, keepdim")
        yield Sample((x,), {"dim": [0]}, desc="outer dim")
        yield Sample((x,), {"keepdim": True}, desc="dim=None keepdim")
        if multi:
            yield Sample((x,), {"dim": [0, 2]}, desc="non-adjacent dims")
            yield Sample((x,), {"dim": [-2, 0], "keepdim": True}, desc="negative dims keepdim")
            yield Sample((x,), {"dim": [1, 2]}, desc="inner dims")
            yield Sample((x,), {"dim": []}, desc="dim=[] reduces all")
        yield Sample((arr((4, 6), True),), {"dim": [1]}, desc="non-contiguous")
        yield Sample((arr((5, 7)).T,), {"dim": [0]}, desc="transposed")
        yield Sample((arr((1, 3, 1, 4)),), {"dim": [0, 2]}, desc="size-1 dims")
        yield Sample((arr(()),), desc="0-d")
        yield Sample((arr(()),), {"dim": [0], "keepdim": True}, desc="0-d dim 0")
        yield Sample((arr((0, 3)),), {"dim": [1]}, desc="empty, non-empty reduction")
        if empty_reduce:
            yield Sample((arr((0, 3)),), {"dim": [0]}, desc="empty reduction")
            yield Sample((arr((0,)),), desc="empty full reduction")
        if large:
            yield Sample((arr((100000,)),), desc="large full (chunked)")
            yield Sample((arr((3, 40000)),), {"dim": [1]}, desc="few long rows")
            yield Sample((arr((50000, 3)),), {"dim": [0]}, desc="tall outer dim (split rows)")
            yield Sample((arr((300, 257)),), {"dim": [0]}, desc="outer dim, parallel columns")
            yield Sample((arr((257, 300)),), {"dim": [1]}, desc="many rows")
            yield Sample((arr((3, 2000, 5)),), {"dim": [1]}, desc="middle dim, cascade")
    return gen


def dtype_samples(dtype_arg):
    """A couple of samples passing dtype=dtype_arg on top of reduce_samples."""
    def gen(dtype, rng):
        yield from reduce_samples()(dtype, rng)
        import hyflow as hy
        x = rand_array(rng, (3, 4), dtype)
        yield Sample((x,), {"dim": [1], "dtype": getattr(hy, dtype_arg)}, desc=f"dtype={dtype_arg}")
    return gen


def single_dim_samples(low=-5.0, high=5.0, empty=True):
    """Samples for ops taking (self, dim: int, ...) that keep the shape or reduce one dim."""
    def gen(dtype, rng):
        arr = lambda s, nc=False: rand_array(rng, s, dtype, low, high, nc)  # noqa: E731
        x = arr((3, 4, 5))
        for d in (0, 1, 2, -1):
            yield Sample((x, d), desc=f"dim {d}")
        yield Sample((arr((4, 6), True), 1), desc="non-contiguous")
        yield Sample((arr((5, 7)).T, 0), desc="transposed")
        yield Sample((arr(()), 0), desc="0-d")
        yield Sample((arr((7,)), -1), desc="vector")
        if empty:
            yield Sample((arr((0, 3)), 1), desc="empty")
        yield Sample((arr((2, 50000)), 1), desc="few long rows (chunked)")
        yield Sample((arr((300, 200)), 0), desc="outer dim")
        yield Sample((arr((40000, 3)), 0), desc="tall outer dim, few columns")
        yield Sample((arr((400, 100)), 1), desc="many rows")
    return gen


def keepdim_variants(samples):
    """single_dim_samples plus the same with keepdim=True."""
    def gen(dtype, rng):
        for s in samples(dtype, rng):
            yield s
            if s.args[0].ndim >= 1:
                yield Sample(s.args, {"keepdim": True}, desc=s.desc + " keepdim")
    return gen


def argmax_samples(dtype, rng):
    x = rand_array(rng, (3, 4, 5), dtype)
    yield Sample((x,), desc="dim=None")
    yield Sample((x,), {"keepdim": True}, desc="dim=None keepdim")
    for d in (0, 1, -1):
        yield Sample((x,), {"dim": d}, desc=f"dim {d}")
    yield Sample((x,), {"dim": 1, "keepdim": True}, desc="keepdim")
    yield Sample((rand_array(rng, (4, 6), dtype, noncontig=True),), {"dim": 1}, desc="non-contiguous")
    yield Sample((rand_array(rng, (5, 7), dtype).T,), {"dim": 0}, desc="transposed")
    yield Sample((rand_array(rng, (), dtype),), desc="0-d")
    yield Sample((rand_array(rng, (0, 3), dtype),), {"dim": 1}, desc="empty, non-empty reduction")
    yield Sample((rand_array(rng, (100000,), dtype, -1000, 1000),), desc="large (chunked)")
    yield Sample((rand_array(rng, (50000, 3), dtype, -1000, 1000),), {"dim": 0}, desc="tall outer dim")
    yield Sample((rand_array(rng, (200, 300), dtype),), {"dim": 1}, desc="many rows")


def full_samples(dtype, rng):
    for shape in ((3, 4, 5), (7,), (), (100000,)):
        yield Sample((rand_array(rng, shape, dtype),), desc=f"shape {shape}")
    yield Sample((rand_array(rng, (4, 6), dtype, noncontig=True),), desc="non-contiguous")


def norm_samples(dtype, rng):
    x = rand_array(rng, (3, 4, 5), dtype)
    for p in (2, 1, 3, 0.5, 0, float("inf"), float("-inf"), -1.5):
        yield Sample((x, p), desc=f"p={p}")
        yield Sample((x, p), {"dim": [1], "keepdim": True}, desc=f"p={p} dim 1")
        yield Sample((x, p), {"dim": [0, 2]}, desc=f"p={p} dims (0, 2)")
    yield Sample((x,), desc="default p")
    yield Sample((rand_array(rng, (4, 6), dtype, noncontig=True), 2), {"dim": [1]}, desc="non-contiguous")
    yield Sample((rand_array(rng, (), dtype), 2), desc="0-d")
    yield Sample((rand_array(rng, (0, 3), dtype), 2), desc="empty, p=2")
    yield Sample((rand_array(rng, (100000,), dtype), 2), desc="large")
    yield Sample((rand_array(rng, (50000, 3), dtype), 1), {"dim": [0]}, desc="tall outer dim")


def var_samples(dtype, rng):
    for s in reduce_samples(low=10.0, high=20.0)(dtype, rng):
        yield s
    x = rand_array(rng, (6, 7), dtype)
    yield Sample((x,), {"dim": [1], "correction": 0.0}, desc="correction 0")
    yield Sample((x,), {"dim": [0], "correction": 2.0, "keepdim": True}, desc="correction 2")
    yield Sample((rand_array(rng, (3, 1), dtype),), {"dim": [1]}, desc="one element: 0/0")


def logsumexp_samples(dtype, rng):
    for s in reduce_samples()(dtype, rng):
        dim = s.kwargs.get("dim", list(range(s.args[0].ndim)))
        yield Sample(s.args, dict(s.kwargs, dim=dim), desc=s.desc)


def bool_samples(dtype, rng):
    for s in reduce_samples()(dtype, rng):
        yield s
    z = np.zeros((4, 5), dtype="float32" if dtype == "bfloat16" else dtype)
    z[1, 2] = 1
    yield Sample((z,), {"dim": [1]}, desc="mostly zeros")
    yield Sample((np.ones((40000,), dtype="float32" if dtype == "bfloat16" else dtype),), desc="large ones")


def prod_samples(dtype, rng):
    low, high = (-2.0, 2.0) if dtype in ("int32", "int64", "bool") else (0.8, 1.2)
    yield from reduce_samples(low, high, large=False)(dtype, rng)
    yield Sample((rand_array(rng, (3, 60), dtype, low, high),), {"dim": [1]}, desc="longer rows")
    yield Sample((rand_array(rng, (60, 3), dtype, low, high),), {"dim": [0]}, desc="outer dim")


def scan_samples(dtype, rng):
    yield from single_dim_samples()(dtype, rng)
    import hyflow as hy
    if dtype in ("int32", "bool", "float32"):
        yield Sample((rand_array(rng, (3, 4), dtype), 1), {"dtype": hy.float64}, desc="dtype=float64")


def cumprod_samples(dtype, rng):
    low, high = (-2.0, 2.0) if dtype in ("int32", "int64", "bool") else (0.8, 1.2)
    x = rand_array(rng, (3, 4, 5), dtype, low, high)
    for d in (0, 1, -1):
        yield Sample((x, d), desc=f"dim {d}")
    z = rand_array(rng, (2, 5), dtype, low, high)
    z[0, 1] = z[1, 2] = z[1, 4] = 0  # one zero, and two (the gradient has PyTorch's zero handling)
    yield Sample((z, 1), desc="with zeros")
    yield Sample((rand_array(rng, (4, 6), dtype, low, high, True), 1), desc="non-contiguous")
    yield Sample((rand_array(rng, (), dtype, low, high), 0), desc="0-d")
    yield Sample((rand_array(rng, (0, 3), dtype, low, high), 1), desc="empty")
    yield Sample((rand_array(rng, (2, 40), dtype, low, high), 1), desc="longer rows")


# ---- references ----

def ref_sum(a, dim=None, keepdim=False, dtype=None):
    if dtype is not None:
        a = a.astype(_np_dtype(dtype))
    r = np.sum(_wide(a), axis=_axis(a, dim), keepdims=keepdim and a.ndim > 0)
    return r.astype(np.int64) if r.dtype.kind in "biu" else r


def ref_mean(a, dim=None, keepdim=False, dtype=None):
    a = _wide(a.astype(_np_dtype(dtype))) if dtype is not None else _wide(a)
    axis = _axis(a, dim)
    return np.sum(a, axis=axis, keepdims=keepdim and a.ndim > 0) / np.float64(_count(a, axis))


def ref_prod(a, dim=None, keepdim=False, dtype=None):
    a = a.astype(np.int64) if a.dtype.kind in "biu" else _wide(a)
    return np.prod(a, axis=_axis(a, dim), keepdims=keepdim and a.ndim > 0)


def ref_amax(a, dim=None, keepdim=False):
    return np.amax(a, axis=_axis(a, dim), keepdims=keepdim and a.ndim > 0)


def ref_amin(a, dim=None, keepdim=False):
    return np.amin(a, axis=_axis(a, dim), keepdims=keepdim and a.ndim > 0)


def ref_max_dim(a, dim, keepdim=False):
    axis, kd = _axis(a, dim), keepdim and a.ndim > 0
    return np.amax(a, axis=axis, keepdims=kd), np.argmax(a, axis=axis, keepdims=kd)


def ref_min_dim(a, dim, keepdim=False):
    axis, kd = _axis(a, dim), keepdim and a.ndim > 0
    return np.amin(a, axis=axis, keepdims=kd), np.argmin(a, axis=axis, keepdims=kd)


def ref_argmax(a, dim=None, keepdim=False):
    return np.argmax(a, axis=_axis(a, dim), keepdims=keepdim and a.ndim > 0)


def ref_argmin(a, dim=None, keepdim=False):
    return np.argmin(a, axis=_axis(a, dim), keepdims=keepdim and a.ndim > 0)


def ref_var(a, dim=None, correction=1.0, keepdim=False):
    a = _wide(a)
    axis = _axis(a, dim)
    n = _count(a, axis)
    mean = np.sum(a, axis=axis, keepdims=True) / np.float64(n)
    ss = np.sum((a - mean) ** 2, axis=axis, keepdims=keepdim and a.ndim > 0)
    return ss / np.float64(max(0.0, n - correction))


def ref_std(a, dim=None, correction=1.0, keepdim=False):
    return np.sqrt(ref_var(a, dim, correction, keepdim))


def ref_norm(a, p=2, dim=None, keepdim=False):
    x = np.abs(_wide(a))
    axis, kd = _axis(a, dim), keepdim and a.ndim > 0
    if p == float("inf"):
        return np.amax(x, axis=axis, keepdims=kd)
    if p == float("-inf"):
        return np.amin(x, axis=axis, keepdims=kd)
    if p == 0:
        return np.sum(x != 0, axis=axis, keepdims=kd).astype(np.float64)
    return np.sum(x ** p, axis=axis, keepdims=kd) ** (1.0 / p)


def ref_all(a, dim=None, keepdim=False):
    return np.all(a, axis=_axis(a, dim), keepdims=keepdim and a.ndim > 0)


def ref_any(a, dim=None, keepdim=False):
    return np.any(a, axis=_axis(a, dim), keepdims=keepdim and a.ndim > 0)


def ref_logsumexp(a, dim, keepdim=False):
    x = a.astype(np.float64)
    axis = _axis(a, dim)
    if _count(x, axis) == 0:
        shape = np.sum(x, axis=axis, keepdims=keepdim and a.ndim > 0).shape
        return np.full(shape, -np.inf)
    m = np.amax(x, axis=axis, keepdims=True)
    m = np.where(np.isinf(m), 0.0, m)
    r = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    if not (keepdim and a.ndim > 0):
        r = np.squeeze(r, axis=axis) if axis is not None else r.reshape(())
    return r


def ref_softmax(a, dim, dtype=None):
    x = _wide(a.astype(_np_dtype(dtype)) if dtype is not None else a)
    axis = _axis(a, dim)
    e = np.exp(x - np.amax(x, axis=axis, keepdims=True)) if x.size else x
    return e / np.sum(e, axis=axis, keepdims=True) if x.size else x


def ref_log_softmax(a, dim, dtype=None):
    x = _wide(a.astype(_np_dtype(dtype)) if dtype is not None else a)
    if x.size == 0:
        return x
    axis = _axis(a, dim)
    s = x - np.amax(x, axis=axis, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def ref_layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(out, mean, rstd) as torch's native_layer_norm, computed in float64."""
    x = _wide(x)
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    rstd = 1.0 / np.sqrt(((x - mean) ** 2).mean(axis=axes, keepdims=True) + eps)
    out = (x - mean) * rstd
    if weight is not None:
        out = out * _wide(weight)
    if bias is not None:
        out = out + _wide(bias)
    return out, mean, rstd


def layer_norm_samples(dtype, rng):
    """(input, normalized_shape, weight, bias, eps): one or two normalized dims, weight/bias each optional,
    non-contiguous and transposed inputs, rows long enough for the vectorized path, many rows (parallel)."""
    arr = lambda s, nc=False: rand_array(rng, s, dtype, -3.0, 3.0, nc)  # noqa: E731
    x = arr((3, 4, 5))
    yield Sample((x, [5], arr((5,)), arr((5,))), desc="last dim, weight and bias")
    yield Sample((x, [5], None, None), desc="no weight, no bias")
    yield Sample((x, [5], arr((5,)), None), desc="weight only")
    yield Sample((x, [5], None, arr((5,))), desc="bias only")
    yield Sample((x, [4, 5], arr((4, 5)), arr((4, 5)), 1e-3), desc="two trailing dims, eps 1e-3")
    yield Sample((arr((7,)), [7], arr((7,)), arr((7,))), desc="vector (one row)")
    yield Sample((arr((4, 6), True), [6], arr((6,)), arr((6,))), desc="non-contiguous")
    yield Sample((arr((6, 5)).T, [6], arr((6,)), None), desc="transposed")
    yield Sample((arr((0, 3)), [3], arr((3,)), arr((3,))), desc="no rows")
    yield Sample((arr((300, 130)), [130], arr((130,)), arr((130,))), desc="many rows (parallel)")
    yield Sample((arr((2, 5000)), [5000], None, arr((5000,))), desc="long rows")


def _scan(fn, a, dim, dtype):
    if dtype is not None:
        a = a.astype(_np_dtype(dtype))
    a = a.astype(np.int64) if a.dtype.kind in "biu" else _wide(a)
    return a.copy() if a.ndim == 0 else fn(a, axis=dim)


def ref_cumsum(a, dim, dtype=None):
    return _scan(np.cumsum, a, dim, dtype)


def ref_cumprod(a, dim, dtype=None):
    return _scan(np.cumprod, a, dim, dtype)


SOFTMAX_TOL = {"float16": (2e-3, 1e-4), "bfloat16": (1.6e-2, 1e-3), "float32": (1e-5, 1e-6)}
# out is rounded once to 16 bits from float32 math; mean/rstd are float32 for 16-bit inputs.
LAYER_NORM_TOL = {"float16": (2e-3, 2e-3), "bfloat16": (1.6e-2, 1e-2), "float32": (1e-5, 1e-5)}
SCAN_TOL = {"float16": (2e-3, 1e-2), "bfloat16": (1.6e-2, 5e-1), "float32": (2e-5, 2e-4)}

def _finite_var(sample):
    """One-element reductions divide by N - correction = 0: no finite gradient to check there."""
    return not sample.desc.startswith(("0-d", "size-1", "one element"))


OPS = [
    OpInfo("sum", ref_sum, dtype_samples("float64"), ALL, tol=ACC_TOL),
    OpInfo("sum", ref_sum, dtype_samples("complex128"), COMPLEX, tol=ACC_TOL),
    OpInfo("mean", ref_mean, reduce_samples(), FLOAT + COMPLEX, tol=ACC_TOL),
    OpInfo("prod", ref_prod, prod_samples, ALL, tol=ACC_TOL),
    OpInfo("amax", ref_amax, reduce_samples(empty_reduce=False), ALL),
    OpInfo("amin", ref_amin, reduce_samples(empty_reduce=False), ALL),
    OpInfo("max", lambda a: np.amax(a), full_samples, ALL),
    OpInfo("min", lambda a: np.amin(a), full_samples, ALL),
    OpInfo("max_dim", ref_max_dim, keepdim_variants(single_dim_samples(empty=False)), ALL),
    OpInfo("min_dim", ref_min_dim, keepdim_variants(single_dim_samples(empty=False)), ALL),
    OpInfo("argmax", ref_argmax, argmax_samples, ALL),
    OpInfo("argmin", ref_argmin, argmax_samples, ALL),
    OpInfo("var", ref_var, var_samples, FLOAT, tol=ACC_TOL, grad_filter=_finite_var),
    OpInfo("std", ref_std, var_samples, FLOAT, tol=ACC_TOL, grad_filter=_finite_var),
    OpInfo("norm", ref_norm, norm_samples, FLOAT, tol=ACC_TOL),
    OpInfo("all", ref_all, bool_samples, ALL),
    OpInfo("any", ref_any, bool_samples, ALL),
    OpInfo("logsumexp", ref_logsumexp, logsumexp_samples, ALL,
           tol=dict(ACC_TOL, int32=(1.3e-6, 1e-5), int64=(1.3e-6, 1e-5), bool=(1.3e-6, 1e-5))),
    OpInfo("softmax", ref_softmax, single_dim_samples(), FLOAT, tol=SOFTMAX_TOL),
    OpInfo("log_softmax", ref_log_softmax, single_dim_samples(), FLOAT, tol=SOFTMAX_TOL),
    # grad=False: mean and rstd carry no gradient (as torch's native_layer_norm); F.layer_norm, which
    # returns out only, is gradchecked in tests/python/nn/test_layer_norm.py
    OpInfo("layer_norm", ref_layer_norm, layer_norm_samples, FLOAT, tol=LAYER_NORM_TOL, grad=False),
    OpInfo("cumsum", ref_cumsum, scan_samples, ALL, tol=SCAN_TOL),
    OpInfo("cumprod", ref_cumprod, cumprod_samples, ALL, tol=SCAN_TOL),
]
