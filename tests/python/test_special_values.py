"""Every float unary and binary op of the op table on a grid of special values (signed zeros, the smallest
and largest denormals, FLT_MIN/DBL_MIN, +-1, large values, the largest finite value, infinities, NaN),
in float32 and float64, against a float64 NumPy reference (libm), with the op's documented tolerance
(docs/design.md, "Functions with two implementations"; docs/tensors.md, "Special values").

Each grid is evaluated tiled (values pass through the vectorized packet code) and element by element
(the scalar code at array ends): both must give the same bits, and both must match the reference.
test_every_cpu_variant reruns the file under each HYFLOW_CPU_CAPABILITY this CPU can run.
"""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import hyflow as hy

HERE = os.path.dirname(os.path.abspath(__file__))
KNOWN_VARIANTS = ("default", "avx2", "avx512")
DTYPES = {"float32": np.float32, "float64": np.float64}


def grid(np_dtype):
    fi = np.finfo(np_dtype)
    tiny_denormal = fi.smallest_subnormal
    largest_denormal = fi.tiny - fi.smallest_subnormal
    magnitudes = [0.0, tiny_denormal, largest_denormal, fi.tiny, 1e-30 if np_dtype == np.float32 else 1e-300,
                  1e-7, 0.5, 1.0, 2.0, 9.5, 20.0, 30.0, 88.5, 100.0, 710.0, 1e6, 1e30, fi.max, np.inf]
    values = [s * m for m in magnitudes for s in (1.0, -1.0)] + [np.nan]
    return np.array(values, dtype=np_dtype)


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _sigmoid(x):
    with np.errstate(over="ignore"):
        return np.where(x < 0, np.exp(x) / (1 + np.exp(x)), 1 / (1 + np.exp(-x)))


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def _softplus(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.log1p(np.exp(x * beta)) / beta)


# name -> (float64 reference, tolerance class, kwargs). "exact": correctly rounded operations (bit for
# bit, up to the reference's own rounding to the dtype); "trans": the documented transcendental tolerance.
UNARY = {
    "neg": (np.negative, "exact", {}),
    "abs": (np.abs, "exact", {}),
    "sign": (lambda x: np.nan_to_num(np.sign(x), nan=0.0), "exact", {}),
    "square": (np.square, "exact", {}),
    "relu": (lambda x: np.where(x < 0, 0.0, x), "exact", {}),
    "exp": (np.exp, "trans", {}),
    "expm1": (np.expm1, "trans", {}),
    "log": (np.log, "trans", {}),
    "log1p": (np.log1p, "trans", {}),
    "sqrt": (np.sqrt, "exact", {}),
    "rsqrt": (lambda x: 1.0 / np.sqrt(x), "trans", {}),
    "sin": (np.sin, "trans", {}),
    "cos": (np.cos, "trans", {}),
    "tan": (np.tan, "trans", {}),
    "tanh": (np.tanh, "trans", {}),
    "sigmoid": (_sigmoid, "trans", {}),
    "gelu": (lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))), "trans", {}),
    "gelu_tanh": (_gelu_tanh, "trans", {"approximate": "tanh"}),
    # x * sigmoid(x), as torch (silu(-inf) is NaN). Below -88 (float) sigmoid is a denormal whose rounding
    # x then scales: the documented error there is |x| (< 104) denormal spacings.
    "silu": (lambda x: x * _sigmoid(x), "trans_scaled_denormals", {}),
    "softplus": (_softplus, "trans", {}),
    "erf": (_erf, "trans", {}),
    "reciprocal": (lambda x: 1.0 / x, "exact", {}),
    "floor": (np.floor, "exact", {}),
    "ceil": (np.ceil, "exact", {}),
    "trunc": (np.trunc, "exact", {}),
    "round": (np.round, "exact", {}),
}

BINARY = {
    "add": (np.add, "exact"),
    "sub": (np.subtract, "exact"),
    "mul": (np.multiply, "exact"),
    "div": (np.divide, "exact"),
    "pow": (np.power, "trans"),
    "atan2": (np.arctan2, "trans"),
    "maximum": (np.maximum, "exact"),
    "minimum": (np.minimum, "exact"),
    # NumPy's float floor division and modulo, defined in the input's own precision (their rounding is part
    # of the definition: float32 2 // 1e-7 is 19999998 in NumPy and torch), so the reference is too.
    "remainder": (np.remainder, "same_dtype"),
    "floor_divide": (np.floor_divide, "same_dtype"),
}

# (rtol, atol): rtol from docs/design.md (2e-6 float, 1e-13 double for the transcendentals; the OpInfo
# tables allow 4e-6 in float); atol is a few denormal spacings, so tiny results are compared too.
TOL = {
    ("float32", "trans"): (4e-6, 4 * np.finfo(np.float32).smallest_subnormal),
    ("float64", "trans"): (1e-13, 4 * np.finfo(np.float64).smallest_subnormal),
    ("float32", "trans_scaled_denormals"): (4e-6, 128 * np.finfo(np.float32).smallest_subnormal),
    ("float64", "trans_scaled_denormals"): (1e-13, 1024 * np.finfo(np.float64).smallest_subnormal),
    ("float32", "exact"): (0.0, 0.0),
    ("float64", "exact"): (0.0, 0.0),
}


def reference(fn, np_dtype, *args):
    with np.errstate(all="ignore"):
        r = fn(*[np.asarray(a, np.float64) for a in args])
        return np.asarray(r, np.float64).astype(np_dtype)


def mismatches(actual, expected, rtol, atol, inputs):
    """Indices and a readable list of the elements outside the tolerance (NaN must match NaN, inf its sign)."""
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    both_nan = np.isnan(a) & np.isnan(e)
    with np.errstate(invalid="ignore"):
        same = (a == e) | both_nan
        close = np.isfinite(a) & np.isfinite(e) & (np.abs(a - e) <= atol + rtol * np.abs(e))
    bad = ~(same | close)
    return [(tuple(np.asarray(x)[bad].tolist() for x in inputs), actual[bad].tolist(), expected[bad].tolist())]\
        if bad.any() else []


def run_unary(name, kwargs, x):
    op = "gelu" if name == "gelu_tanh" else name
    return getattr(hy, op)(hy.from_numpy(x), **kwargs).numpy()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNARY)
def test_unary_special_values(name, dtype):
    np_dtype = DTYPES[dtype]
    fn, kind, kwargs = UNARY[name]
    x = grid(np_dtype)
    expected = reference(lambda v: fn(v, **{k: v2 for k, v2 in kwargs.items() if k != "approximate"}), np_dtype, x)
    tiled = run_unary(name, kwargs, np.tile(x, 9))  # 9 copies: every value meets every packet lane position
    alone = np.concatenate([run_unary(name, kwargs, x[i:i + 1]) for i in range(len(x))])
    rtol, atol = TOL[(dtype, kind)]
    for copy in range(9):
        part = tiled[copy * len(x):(copy + 1) * len(x)]
        assert part.tobytes() == alone.tobytes(), f"{name}: packet and scalar paths differ"
    assert not mismatches(alone, expected, rtol, atol, (x,)), mismatches(alone, expected, rtol, atol, (x,))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", BINARY)
def test_binary_special_values(name, dtype):
    np_dtype = DTYPES[dtype]
    fn, kind = BINARY[name]
    g = grid(np_dtype)
    x, y = (a.ravel() for a in np.meshgrid(g, g, indexing="ij"))
    if kind == "same_dtype":
        with np.errstate(all="ignore"):
            expected, kind = fn(x, y), "exact"
    else:
        expected = reference(fn, np_dtype, x, y)
    actual = getattr(hy, name)(hy.from_numpy(x), hy.from_numpy(y)).numpy()
    rtol, atol = TOL[(dtype, kind)]
    bad = mismatches(actual, expected, rtol, atol, (x, y))
    assert not bad, bad


def _runnable_variants():
    info = hy.build_info()
    best = KNOWN_VARIANTS.index(info["cpu_capability"])
    return [v for v in info["cpu_variants"] if KNOWN_VARIANTS.index(v) < best]


@pytest.mark.skipif(os.environ.get("HYFLOW_CPU_CAPABILITY") is not None, reason="already the subprocess side")
@pytest.mark.parametrize("capability", KNOWN_VARIANTS)
def test_every_cpu_variant(capability):
    # The choice of variant is made once, at import: each lower variant reruns this file in a subprocess.
    if capability not in _runnable_variants():
        pytest.skip(f"{capability} is this process's own variant or not runnable on this CPU")
    env = dict(os.environ, HYFLOW_CPU_CAPABILITY=capability)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__], cwd=HERE,
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


# ---- named regressions (each failed before packet_math.h; run under every CPU variant like the sweep) ----

def tiled(values, np_dtype, copies=8):
    """The values repeated so they reach the packet code at every lane position."""
    return hy.from_numpy(np.tile(np.asarray(values, np_dtype), copies))


def test_exp_float32_just_below_overflow_is_finite():
    # Eigen's AVX-512 exp returned inf for x in (88.38, 88.72] where exp(x) < FLT_MAX.
    x = np.float32(np.linspace(88.3, 88.7228, 64))
    got = hy.exp(hy.from_numpy(x)).numpy()
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, np.exp(x.astype(np.float64)), rtol=4e-6)
    assert np.isinf(hy.exp(tiled([88.73, 89.0, 1e30], np.float32)).numpy()).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_gives_denormal_results_and_zero_at_minus_inf(dtype):
    # Below -87.3 (float) / -708.4 (double) exp is denormal: Eigen returned 0 or a clamped 2.9e-39 /
    # 5.6e-309, and exp(-inf) was 2.9e-39 on the default and AVX2 variants.
    np_dtype = DTYPES[dtype]
    xs = [-87.5, -90.0, -100.0, -103.0, -104.0, -np.inf] if dtype == "float32" else \
        [-709.0, -720.0, -740.0, -745.0, -746.0, -np.inf]
    got = hy.exp(tiled(xs, np_dtype)).numpy()[:len(xs)]
    want = np.exp(np.array(xs, np.float64)).astype(np_dtype)
    spacing = np.finfo(np_dtype).smallest_subnormal
    np.testing.assert_allclose(got, want, rtol=4e-6, atol=2 * spacing)
    assert got[-1] == 0.0 and got[0] > 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_of_denormals(dtype):
    # Eigen raised denormal arguments to FLT_MIN first: log(1e-40) was log(FLT_MIN) = -87.34.
    np_dtype = DTYPES[dtype]
    fi = np.finfo(np_dtype)
    xs = np.array([fi.smallest_subnormal, 3 * fi.smallest_subnormal, fi.tiny / 1000, fi.tiny / 2,
                   fi.tiny - fi.smallest_subnormal], np_dtype)
    got = hy.log(tiled(xs, np_dtype)).numpy()[:len(xs)]
    np.testing.assert_allclose(got, np.log(xs.astype(np.float64)), rtol=4e-6 if dtype == "float32" else 1e-13)


def test_sigmoid_at_minus_inf_and_small_results():
    # sigmoid(-inf) was 2.9e-39 (default/AVX2); below -9 the float result was exp(x) (1e-4 relative) and
    # above it a rational fit of sigmoid - 0.5 (7e-5 relative at -9.5).
    xs = np.array([-np.inf, -100.0, -50.0, -20.0, -9.5, -5.0], np.float32)
    got = hy.sigmoid(tiled(xs, np.float32)).numpy()[:len(xs)]
    x64 = xs.astype(np.float64)
    want = np.exp(x64) / (1.0 + np.exp(x64))
    np.testing.assert_allclose(got, want.astype(np.float32), rtol=4e-6, atol=2 * np.finfo(np.float32).smallest_subnormal)
    assert got[0] == 0.0


def test_softplus_and_silu_far_left():
    # softplus(-inf) was 2.9e-39 (exp(-inf) through log1p); silu(-100) was -0.0 instead of -3.7e-42.
    sp = hy.softplus(tiled([-np.inf, -100.0], np.float32)).numpy()
    assert sp[0] == 0.0 and sp[1] == np.float32(np.exp(-100.0))
    si = hy.silu(tiled([-100.0, -np.inf], np.float32)).numpy()
    np.testing.assert_allclose(si[0], -100.0 * np.exp(-100.0), atol=128 * np.finfo(np.float32).smallest_subnormal)
    assert si[0] < 0
    assert np.isnan(si[1])  # -inf * sigmoid(-inf) = -inf * 0, as torch


def test_softmax_of_masked_entries_is_exactly_zero():
    # Attention masks: exp(-inf - max) was 2.9e-39, so masked probabilities were not 0 (default/AVX2).
    x = np.tile(np.array([[0.0, -np.inf, 1.0, -np.inf]], np.float32), (40, 1))
    for dim, arr in ((1, x), (0, np.ascontiguousarray(x.T))):
        sm = hy.softmax(hy.from_numpy(arr), dim).numpy()
        masked = np.isinf(arr)
        assert (sm[masked] == 0.0).all()
        assert np.isneginf(hy.log_softmax(hy.from_numpy(arr), dim).numpy()[masked]).all()


@pytest.mark.parametrize("name", ["exp", "expm1", "log", "log1p", "sin", "tanh", "sigmoid", "gelu", "softplus"])
def test_elementwise_results_do_not_depend_on_position_or_thread_count(name):
    # Eigen runs a functor's scalar form at array ends and where it peels to an aligned address; it used
    # to differ from the packet form in the last bit, so an element's value depended on where the thread
    # chunks of ElementwisePlan started (exp at 3 threads differed from 1 thread) and on its position.
    x = np.random.default_rng(0).uniform(0.01, 5.0, 100_003).astype(np.float32)
    t = hy.from_numpy(x)
    alone = np.array([getattr(hy, name)(t[i:i + 1]).item() for i in range(40)], np.float32)
    before = hy.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3, 5):
            hy.set_num_threads(n)
            results.append(getattr(hy, name)(t).numpy())
    finally:
        hy.set_num_threads(before)
    for r in results[1:]:
        assert r.tobytes() == results[0].tobytes()
    assert results[0][:40].tobytes() == alone.tobytes()
