"""Unary elementwise ops (csrc/ops/table/unary.yaml).

References compute in float64 (so a float32 result is compared with the correctly rounded value), and
integer/bool inputs of the transcendental ops are promoted the way hyflow promotes them.
"""
import math

import numpy as np

from . import ALL, COMPLEX, FLOAT, INT, NUMERIC, OpInfo, Sample, rand_array, standard_shapes

SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, np.inf, -np.inf, np.nan]


def unary_samples(low=-5.0, high=5.0, special=True, **kwargs):
    """Standard shapes (0-d, empty, strided ...), large contiguous and strided inputs (parallel paths) and,
    for float dtypes, inf/NaN/signed zeros. kwargs are passed to every call."""
    def gen(dtype, rng):
        for shape, nc in standard_shapes():
            yield Sample((rand_array(rng, shape, dtype, low, high, nc),), dict(kwargs),
                         desc=f"{shape}{' non-contiguous' if nc else ''}")
        yield Sample((rand_array(rng, (50000,), dtype, low, high),), dict(kwargs), desc="large (parallel)")
        yield Sample((rand_array(rng, (250, 200), dtype, low, high, True),), dict(kwargs),
                     desc="large non-contiguous (parallel, gathered)")
        if special and dtype in FLOAT:
            # Tiled so the values also pass through the vectorized (packet) code, not only the tail.
            special_values = np.tile(np.array(SPECIAL, dtype=np.float32 if dtype == "bfloat16" else dtype), 8)
            yield Sample((special_values,), dict(kwargs), desc="inf, nan, signed zeros")
    return gen


def f64(fn):
    """fn evaluated in float64 (bool and int inputs too, as they promote to float)."""
    def ref(a, *args, **kwargs):
        return fn(np.asarray(a).astype(np.float64), *args, **kwargs)
    return ref


def keep_ints(fn):
    """fn on floats; integers and bools are returned unchanged (floor/ceil/trunc/round of an int)."""
    def ref(a, *args, **kwargs):
        return a.copy() if a.dtype.kind in "biu" else fn(a.astype(np.float64), *args, **kwargs)
    return ref


_erf = np.vectorize(math.erf, otypes=[np.float64])


def ref_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def ref_gelu(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def ref_softplus(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.log1p(np.exp(x * beta)) / beta)


def ref_sign(a):
    if a.dtype == bool:
        return a.copy()
    return np.nan_to_num(np.sign(a), nan=0.0).astype(a.dtype)  # sign(NaN) is 0, as in PyTorch


def ref_square(a):
    return np.logical_and(a, a) if a.dtype == bool else a * a


def ref_relu(a):
    return np.where(a < 0, np.zeros((), a.dtype), a)  # keeps NaN


def ref_round(a, decimals=0):
    if a.dtype.kind in "iu":
        return np.round(a, decimals)
    # NumPy scales in the input's own precision; hyflow computes float16/bfloat16 in float32.
    return np.round(a.astype(np.float32) if a.dtype == np.float16 else a, decimals)


# Transcendental functions: Eigen's vectorized float32 versions are within a few ulp, and the
# reduced-precision types round a float32 result.
LOW_TOL = {"float16": (2e-3, 1e-3), "bfloat16": (1.6e-2, 1e-2)}
TRANS_TOL = {**LOW_TOL, "float32": (4e-6, 1e-6), "bool": (4e-6, 1e-6), "int32": (4e-6, 1e-6),
             "int64": (4e-6, 1e-6)}

OPS = [
    OpInfo("neg", np.negative, unary_samples(), NUMERIC + COMPLEX),
    OpInfo("abs", np.abs, unary_samples(), ALL),
    OpInfo("sign", ref_sign, unary_samples(), ALL),
    OpInfo("square", ref_square, unary_samples(), ALL, tol=LOW_TOL),
    OpInfo("relu", ref_relu, unary_samples(), NUMERIC),
    OpInfo("exp", f64(np.exp), unary_samples(), ALL, tol=TRANS_TOL),
    OpInfo("expm1", f64(np.expm1), unary_samples(), ALL, tol=TRANS_TOL),
    OpInfo("log", f64(np.log), unary_samples(0.05, 10.0), ALL, tol=TRANS_TOL),
    OpInfo("log1p", f64(np.log1p), unary_samples(-0.95, 10.0), ALL, tol=TRANS_TOL),
    OpInfo("sqrt", f64(np.sqrt), unary_samples(0.0, 10.0), ALL, tol=TRANS_TOL),
    OpInfo("rsqrt", f64(lambda x: 1.0 / np.sqrt(x)), unary_samples(0.05, 10.0), ALL, tol=TRANS_TOL),
    OpInfo("sin", f64(np.sin), unary_samples(-10.0, 10.0), ALL, tol=TRANS_TOL),
    OpInfo("cos", f64(np.cos), unary_samples(-10.0, 10.0), ALL, tol=TRANS_TOL),
    OpInfo("tan", f64(np.tan), unary_samples(-1.4, 1.4), ALL, tol=TRANS_TOL),
    OpInfo("tanh", f64(np.tanh), unary_samples(), ALL, tol=TRANS_TOL),
    OpInfo("sigmoid", f64(ref_sigmoid), unary_samples(-10.0, 10.0), ALL, tol=TRANS_TOL),
    OpInfo("gelu", f64(ref_gelu), unary_samples(), ALL, tol=TRANS_TOL),
    OpInfo("gelu", f64(ref_gelu), unary_samples(approximate="tanh"), FLOAT, tol=TRANS_TOL),
    OpInfo("silu", f64(lambda x: x * ref_sigmoid(x)), unary_samples(-10.0, 10.0), ALL, tol=TRANS_TOL),
    OpInfo("softplus", f64(ref_softplus), unary_samples(-25.0, 25.0), ALL, tol=TRANS_TOL),
    OpInfo("softplus", f64(ref_softplus), unary_samples(-4.0, 4.0, beta=2.0, threshold=3.0), FLOAT + INT,
           tol=TRANS_TOL),
    OpInfo("erf", f64(_erf), unary_samples(-4.0, 4.0), ALL, tol=TRANS_TOL),
    OpInfo("reciprocal", f64(lambda x: 1.0 / x), unary_samples(0.1, 10.0), ALL, tol=TRANS_TOL),
    OpInfo("reciprocal", f64(lambda x: 1.0 / x), unary_samples(-10.0, -0.1, special=False), FLOAT + INT,
           tol=TRANS_TOL),
    OpInfo("floor", keep_ints(np.floor), unary_samples(), NUMERIC),
    OpInfo("ceil", keep_ints(np.ceil), unary_samples(), NUMERIC),
    OpInfo("trunc", keep_ints(np.trunc), unary_samples(), NUMERIC),
    OpInfo("round", ref_round, unary_samples(), NUMERIC),
    OpInfo("round", ref_round, unary_samples(-100.0, 100.0, decimals=2), FLOAT),
    OpInfo("round", ref_round, unary_samples(-1000.0, 1000.0, decimals=-1), NUMERIC),
    OpInfo("isnan", np.isnan, unary_samples(), ALL),
    OpInfo("isinf", np.isinf, unary_samples(), ALL),
    OpInfo("isfinite", np.isfinite, unary_samples(), ALL),
    OpInfo("logical_not", np.logical_not, unary_samples(), ALL),
    OpInfo("bitwise_not", np.invert, unary_samples(), ("bool",) + INT),
]
