"""Binary elementwise ops (csrc/ops/table/binary.yaml)."""
import numpy as np

from . import ALL, COMPLEX, FLOAT, INT, NUMERIC, OpInfo, Sample, rand_array


def binary_samples(low=-5.0, high=5.0, nonzero_rhs=False, positive_lhs=False, floats=True):
    def gen(dtype, rng):
        def arr(shape, nc=False, lo=low, hi=high):
            a = rand_array(rng, shape, dtype, lo, hi, nc)
            if nonzero_rhs and dtype != "bool":
                a = np.where(a == 0, 1, a).astype(a.dtype)
            return a
        lhs = lambda s, nc=False: rand_array(rng, s, dtype, 0.5 if positive_lhs else low, high, nc)  # noqa: E731
        yield Sample((lhs((3, 4)), arr((3, 4))), desc="same shape")
        yield Sample((lhs((3, 4), True), arr((3, 4), True)), desc="non-contiguous")
        yield Sample((lhs((2, 1, 4)), arr((3, 1))), desc="broadcast both")
        yield Sample((lhs((5,)), arr(())), desc="tensor with 0-d")
        yield Sample((lhs(()), arr(())), desc="0-d with 0-d")
        yield Sample((lhs((0, 3)), arr((3,))), desc="empty")
        yield Sample((lhs((40000,)), arr((40000,))), desc="large (parallel)")
        if dtype != "bool":
            yield Sample((lhs((4,)), 2), desc="python int")
        if floats:
            yield Sample((lhs((4,)), 1.5 if not nonzero_rhs else 2.5), desc="python float")
    return gen


def ref_relu_backward(g, r):
    g, r = np.broadcast_arrays(np.asarray(g, dtype=np.float64), np.asarray(r, dtype=np.float64))
    return np.where(r > 0, g, 0.0)


def ref_gelu_backward(g, x):
    from math import erf
    x64 = np.asarray(x, dtype=np.float64)
    cdf = 0.5 * (1.0 + np.vectorize(erf)(x64 / np.sqrt(2.0))) if x64.size else x64
    return np.asarray(g, dtype=np.float64) * (cdf + x64 * np.exp(-0.5 * x64 * x64) / np.sqrt(2.0 * np.pi))


def _widen_bools(*args):
    """NumPy computes bool pow/arctan2 in int8/float16; hyflow in int64/float32. Compare against exact values."""
    return [np.asarray(a, np.int64) if isinstance(a, np.ndarray) and a.dtype == bool else a for a in args]


def ref_pow(a, b):
    r = np.power(*_widen_bools(a, b))
    both_bool = all(isinstance(v, np.ndarray) and v.dtype == bool for v in (a, b))
    return r.astype(bool) if both_bool else r


def ref_atan2(a, b):
    return np.arctan2(*[np.asarray(v, np.float64) for v in _widen_bools(a, b)]) if any(
        isinstance(v, np.ndarray) and v.dtype == bool for v in (a, b)) else np.arctan2(a, b)


def np_floor_divide(a, b):
    return np.floor_divide(a, b)


def ref_div(a, b):
    r = np.true_divide(a, b)
    return r


OPS = [
    OpInfo("add", np.add, binary_samples(), ALL + COMPLEX),
    OpInfo("sub", np.subtract, binary_samples(), NUMERIC + COMPLEX),
    OpInfo("mul", np.multiply, binary_samples(), ALL + COMPLEX),
    OpInfo("div", ref_div, binary_samples(nonzero_rhs=True), ALL + COMPLEX, check_dtype_rule=True,
           tol={"float16": (2e-3, 1e-3), "bfloat16": (1.6e-2, 1e-2)}),
    OpInfo("floor_divide", np_floor_divide, binary_samples(nonzero_rhs=True), NUMERIC,
           tol={"float16": (1e-2, 1.0), "bfloat16": (1e-1, 1.0)}),
    OpInfo("remainder", np.remainder, binary_samples(nonzero_rhs=True), NUMERIC,
           tol={"float16": (1e-2, 1e-2), "bfloat16": (1e-1, 1e-1), "float32": (1e-5, 1e-5)}),
    OpInfo("pow", ref_pow, binary_samples(low=0.0, high=3.0, positive_lhs=True), ALL,
           tol={"float16": (2e-3, 1e-2), "bfloat16": (2e-2, 1e-1), "float32": (1e-5, 1e-5)}),
    OpInfo("maximum", np.maximum, binary_samples(), ALL),
    OpInfo("minimum", np.minimum, binary_samples(), ALL),
    OpInfo("atan2", ref_atan2, binary_samples(), ALL, tol={"bfloat16": (2e-2, 1e-2)}),
    OpInfo("gelu_backward", ref_gelu_backward, binary_samples(floats=False), ALL,
           tol={"bfloat16": (2e-2, 2e-2), "float16": (2e-3, 2e-3)}),
    OpInfo("relu_backward", ref_relu_backward, binary_samples(floats=False), ALL),
    OpInfo("eq", np.equal, binary_samples(), ALL + COMPLEX),
    OpInfo("ne", np.not_equal, binary_samples(), ALL + COMPLEX),
    OpInfo("lt", np.less, binary_samples(), ALL),
    OpInfo("le", np.less_equal, binary_samples(), ALL),
    OpInfo("gt", np.greater, binary_samples(), ALL),
    OpInfo("ge", np.greater_equal, binary_samples(), ALL),
    OpInfo("logical_and", np.logical_and, binary_samples(), ALL),
    OpInfo("logical_or", np.logical_or, binary_samples(), ALL),
    OpInfo("logical_xor", np.logical_xor, binary_samples(), ALL),
    OpInfo("bitwise_and", np.bitwise_and, binary_samples(floats=False), ("bool",) + INT),
    OpInfo("bitwise_or", np.bitwise_or, binary_samples(floats=False), ("bool",) + INT),
    OpInfo("bitwise_xor", np.bitwise_xor, binary_samples(floats=False), ("bool",) + INT),
]
