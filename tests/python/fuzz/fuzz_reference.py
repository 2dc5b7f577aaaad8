"""NumPy references for the fuzzed ops: PyTorch's type promotion (which hyflow follows), and each
binary, unary and reduction op computed the way docs/tensors.md says hyflow computes it (half types
in float32, then rounded), so a mismatch is a wrong value and not a precision choice.

Every reference returns an `Expect` (fuzz_support): the value, or the exceptions that must be raised.
"""
import math
import warnings

import numpy as np

import hyflow as hy
from fuzz_support import (ALLOWED_ERRORS, DTYPES, Expect, category, compute_dtype, is_float, pending,
                          to_dtype_values)

# --- type promotion (docs/tensors.md "Type promotion", PyTorch's result_type) --------------------

_FLOAT_RANK = {"float16": 0, "bfloat16": 0, "float32": 1, "float64": 2}


def promote_types(a, b):
    if a is None or a == b:
        return b
    if b is None:
        return a
    if category(a) != category(b):
        return a if category(a) > category(b) else b
    if category(a) == 1:
        return "int64"
    if {a, b} == {"float16", "bfloat16"}:
        return "float32"
    return a if _FLOAT_RANK[a] > _FLOAT_RANK[b] else b


def _combine_categories(higher, lower):
    if higher is None:
        return lower
    if lower is None or is_float(higher):
        return higher
    if higher == "bool" or is_float(lower):
        return promote_types(higher, lower)
    return higher


def result_type(*operands):
    """operands: ("tensor", dtype name, ndim) or ("scalar", python value). Dimensioned tensors decide;
    0-d tensors, then Python numbers, only lift the category."""
    dim = zero = wrapped = None
    for op in operands:
        if op[0] == "tensor":
            if op[2] > 0:
                dim = promote_types(dim, op[1])
            else:
                zero = promote_types(zero, op[1])
        else:
            v = op[1]
            kind = "bool" if isinstance(v, bool) else ("int64" if isinstance(v, int) else "float32")
            wrapped = promote_types(wrapped, kind)
    return _combine_categories(dim, _combine_categories(zero, wrapped))


# --- declared input dtypes (the op table's `dtypes` field) ---------------------------------------

def declared_dtypes(op):
    groups = {"all": DTYPES, "numeric": ["int32", "int64", "float32", "float64"],
              "float": ["float16", "bfloat16", "float32", "float64"], "int": ["int32", "int64"], "bool": ["bool"],
              "complex": ["complex64", "complex128"], "all_and_complex": DTYPES + ["complex64", "complex128"]}
    out = set()
    for part in hy.ops.schema(op)["dtypes"].split(","):
        out.update(groups.get(part.strip(), [part.strip()]))
    return out


# --- binary ops ----------------------------------------------------------------------------------

def _int_info(name):
    return np.iinfo(np.dtype(name))


def _as(x, dt):
    with np.errstate(all="ignore"):
        return np.asarray(x).astype(dt)


ARITH = {"add": np.add, "sub": np.subtract, "mul": np.multiply}
COMPARE = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
           "ge": np.greater_equal}
LOGICAL = {"logical_and": np.logical_and, "logical_or": np.logical_or, "logical_xor": np.logical_xor}
BITWISE = {"bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or, "bitwise_xor": np.bitwise_xor}
BINARY_OPS = (list(ARITH) + ["div", "div_trunc", "div_floor", "floor_divide", "remainder", "pow", "maximum",
                             "minimum", "atan2"] + list(COMPARE) + list(LOGICAL) + list(BITWISE))


def binary_reference(op, a, b, rtype, unrounded=False):
    """Expected outcome of `op` on NumPy operands a, b (values of their hyflow dtypes, already
    broadcast-compatible) whose promoted dtype is `rtype`. Returns (Expect, skip_reason or None).
    unrounded=True: floating results stay in the compute dtype (float32 for half types), as a kernel
    writing straight into a wider out= may leave them."""
    finish = (lambda r, name: _as(r, compute_dtype(name))) if unrounded else to_dtype_values
    with np.errstate(all="ignore"):
        return _binary_reference(op, a, b, rtype, finish)


def _binary_reference(op, a, b, rtype, finish):
    if op in LOGICAL:
        return Expect(LOGICAL[op](_truth(a), _truth(b)), "bool"), None
    if op in BITWISE:
        if is_float(rtype):
            return Expect.error(TypeError), None
        return Expect(BITWISE[op](_as(a, rtype), _as(b, rtype)), rtype), None
    if op in COMPARE:
        c = compute_dtype(rtype) if is_float(rtype) else rtype
        return Expect(COMPARE[op](_as(a, c), _as(b, c)), "bool"), None
    if op in ("div", "atan2"):
        ftype = rtype if is_float(rtype) else "float32"
        c = compute_dtype(ftype)
        fn = np.divide if op == "div" else np.arctan2
        return Expect(finish(fn(_as(a, c), _as(b, c)), ftype), ftype), None
    if rtype == "bool":
        if op == "sub":
            return Expect.error(TypeError), None
        fn = {"add": np.logical_or, "mul": np.logical_and, "maximum": np.logical_or, "minimum": np.logical_and,
              "pow": lambda x, y: x | ~y}.get(op)
        if fn is None:  # rounding division and remainder of bools: refused, or computed as integers
            expect, skip = _int_binary(op, _as(a, np.int64), _as(b, np.int64), "int64")
            if expect.value is not None:
                expect = Expect(expect.value.astype(bool), "bool", errors=expect.errors)
            expect.errors += (TypeError, NotImplementedError)
            return expect, skip
        return Expect(fn(_as(a, bool), _as(b, bool)), "bool", errors=(TypeError,)), None
    if not is_float(rtype):
        return _int_binary(op, _as(a, rtype), _as(b, rtype), rtype)
    c = compute_dtype(rtype)
    x, y = _as(a, c), _as(b, c)
    if op in ARITH:
        r = ARITH[op](x, y)
    elif op == "div_trunc":
        r = np.trunc(x / y)
    elif op in ("div_floor", "floor_divide"):
        if pending("floor_divide_inf") and np.any(np.isinf(x) & np.isfinite(y)):
            return None, "floor_divide_inf"
        if pending("floor_divide_by_inf") and np.any(np.isfinite(x) & np.isinf(y)):
            return None, "floor_divide_by_inf"
        r = np.floor_divide(x, y)
    elif op == "remainder":
        r = np.remainder(x, y)
    elif op == "pow":
        r = np.power(x, y)
    elif op == "maximum":
        r = np.maximum(x, y)
    elif op == "minimum":
        r = np.minimum(x, y)
    else:
        raise KeyError(op)
    return Expect(finish(r, rtype), rtype), None


def _truth(x):
    return np.asarray(x) != 0  # nan is true, as in C and NumPy


def _int_binary(op, x, y, rtype):
    if op in ARITH:
        return Expect(ARITH[op](x, y), rtype), None
    if op == "maximum":
        return Expect(np.maximum(x, y), rtype), None
    if op == "minimum":
        return Expect(np.minimum(x, y), rtype), None
    if op == "pow":
        if np.any(y < 0):
            return Expect.error(ValueError), None
        return Expect(np.power(x, y), rtype), None
    # Integer division: by zero raises (docs/tensors.md); INT_MIN / -1 wraps as NumPy or raises.
    if np.any(y == 0):
        return Expect.error(ValueError), None
    overflow = np.any((x == _int_info(rtype).min) & (y == -1))
    if overflow and pending("int_division_overflow"):
        return None, "int_division_overflow"
    if op in ("div_floor", "floor_divide"):
        r = np.floor_divide(x, y)
    elif op == "remainder":
        r = np.remainder(x, y)
    elif op == "div_trunc":
        q = np.floor_divide(x, y)
        r = np.where((np.remainder(x, y) != 0) & ((x < 0) != (y < 0)), q + 1, q).astype(rtype)
    else:
        raise KeyError(op)
    return Expect(r, rtype, errors=(ValueError,) if overflow else ()), None


def call_binary(op, x, y):
    if op == "div_trunc":
        return hy.div(x, y, rounding_mode="trunc")
    if op == "div_floor":
        return hy.div(x, y, rounding_mode="floor")
    return getattr(hy, op)(x, y)


def binary_table_op(op):
    return {"div_trunc": "div", "div_floor": "div"}.get(op, op)


# --- unary ops -----------------------------------------------------------------------------------

def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


FLOAT_UNARY = {  # promote_float ops: ints and bool compute in float32
    "sqrt": np.sqrt, "rsqrt": lambda x: 1.0 / np.sqrt(x), "exp": np.exp, "expm1": np.expm1, "log": np.log,
    "log1p": np.log1p, "sin": np.sin, "cos": np.cos, "tan": np.tan, "tanh": np.tanh, "sigmoid": _sigmoid,
    "erf": _erf, "reciprocal": lambda x: 1.0 / x, "silu": lambda x: x * _sigmoid(x),
    "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),
}
SAME_UNARY = {  # dtype-preserving ops
    "abs": np.abs, "neg": np.negative, "sign": lambda x: np.nan_to_num(np.sign(x), nan=0.0),  # sign(NaN) is 0, as torch
    "floor": np.floor, "ceil": np.ceil, "round": np.round,
    "trunc": np.trunc, "relu": lambda x: np.maximum(x, np.zeros((), x.dtype)), "square": lambda x: x * x,
}
BOOL_UNARY = {"logical_not": lambda x: ~_truth(x), "isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite}
UNARY_OPS = list(FLOAT_UNARY) + list(SAME_UNARY) + list(BOOL_UNARY) + ["bitwise_not"]
# Transcendental kernels are vectorized approximations: a few ulps, and an absolute error near zeros.
LOOSE_UNARY = {"exp", "expm1", "log", "log1p", "sin", "cos", "tan", "tanh", "sigmoid", "erf", "silu", "gelu"}


def unary_reference(op, a, dtype, unrounded=False):
    """Expected outcome of unary `op` on NumPy array a of hyflow dtype `dtype` (unrounded: as in
    binary_reference)."""
    finish = (lambda r, name: _as(r, compute_dtype(name))) if unrounded else to_dtype_values
    with np.errstate(all="ignore"):
        if op in BOOL_UNARY:
            x = a if dtype == "bool" or op == "logical_not" else _as(a, compute_dtype(dtype))
            return Expect(np.asarray(BOOL_UNARY[op](x)), "bool")
        if op == "bitwise_not":
            if is_float(dtype):
                return Expect.error(TypeError)
            return Expect(~_as(a, dtype), dtype)
        if op in FLOAT_UNARY:
            ftype = dtype if is_float(dtype) else "float32"
            # Inputs convert to the compute dtype first (int32 2**31-1 becomes 2**31 in float32); the op
            # then runs in float64, exact enough to round once to the compute dtype.
            r = FLOAT_UNARY[op](_as(_as(a, compute_dtype(ftype)), np.float64))
            return Expect(finish(_as(r, compute_dtype(ftype)), ftype), ftype)
        if dtype == "bool":
            if op in ("abs", "sign", "square"):
                return Expect(np.asarray(a, dtype=bool), "bool", errors=(TypeError,))
            return Expect.error(TypeError, NotImplementedError)
        if not is_float(dtype):
            x = _as(a, dtype)
            if op in ("floor", "ceil", "round", "trunc"):
                return Expect(x, dtype)
            return Expect(SAME_UNARY[op](x), dtype)
        return Expect(finish(SAME_UNARY[op](_as(a, compute_dtype(dtype))), dtype), dtype)


# --- reductions ----------------------------------------------------------------------------------

REDUCE_OPS = ["sum", "prod", "mean", "amax", "amin", "argmax", "argmin", "all", "any", "std", "var",
              "logsumexp", "norm", "cumsum", "cumprod"]


def reduce_reference(op, a, dtype, dims, keepdim):
    """dims: None (all), an int or a tuple of ints (already valid for a.ndim)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "degrees of freedom <= 0": the nan is expected
        return _reduce_reference(op, a, dtype, dims, keepdim)


def _reduce_reference(op, a, dtype, dims, keepdim):
    axis = dims if dims is None or isinstance(dims, int) else tuple(dims)
    x64 = _as(a, np.float64)
    count = a.size if axis is None else int(np.prod([a.shape[d] for d in np.atleast_1d(axis)]))
    float_in = is_float(dtype)
    if op in ("all", "any"):
        fn = np.all if op == "all" else np.any
        return Expect(fn(_truth(a), axis=axis, keepdims=keepdim), "bool")
    if op in ("sum", "prod", "cumsum", "cumprod"):
        rtype = dtype if float_in else "int64"
        if not float_in:
            x = _as(a, np.int64)
            fn = {"sum": np.sum, "prod": np.prod, "cumsum": np.cumsum, "cumprod": np.cumprod}[op]
            r = fn(x, axis=axis, keepdims=keepdim) if op in ("sum", "prod") else fn(x, axis=axis)
            return Expect(np.asarray(r, dtype=np.int64), "int64")
        if op in ("sum", "prod"):
            fn = np.sum if op == "sum" else np.prod
            r = fn(x64, axis=axis, keepdims=keepdim)
            scale = np.sum(np.abs(x64), axis=axis, keepdims=keepdim) if op == "sum" else np.abs(r)
        else:
            r = (np.cumsum if op == "cumsum" else np.cumprod)(x64, axis=axis)
            scale = np.cumsum(np.abs(x64), axis=axis) if op == "cumsum" else np.abs(r)
        return _float_result(r, rtype, scale)
    if op in ("amax", "amin", "argmax", "argmin"):
        if count == 0:
            return Expect.error(ValueError, IndexError)
        if op in ("amax", "amin"):
            fn = np.max if op == "amax" else np.min
            if dtype == "bool":
                return Expect(fn(a, axis=axis, keepdims=keepdim), "bool")
            r = fn(_as(a, compute_dtype(dtype)), axis=axis, keepdims=keepdim)
            return Expect(to_dtype_values(r, dtype), dtype)
        fn = np.argmax if op == "argmax" else np.argmin
        r = fn(_as(a, compute_dtype(dtype)) if dtype != "bool" else a, axis=axis, keepdims=keepdim)
        return Expect(np.asarray(r, dtype=np.int64), "int64")
    if op == "logsumexp":  # declared for all dtypes: integers and bools compute in float32
        rtype = dtype if float_in else "float32"
        if count == 0:
            r = np.log(np.sum(np.exp(x64), axis=axis, keepdims=keepdim))
        else:
            m = np.max(x64, axis=axis, keepdims=True)
            m_safe = np.where(np.isfinite(m), m, 0.0)
            r = np.log(np.sum(np.exp(x64 - m_safe), axis=axis, keepdims=True)) + m_safe
            if not keepdim:
                r = np.squeeze(r, axis=axis)
        return _float_result(r, rtype, np.abs(r) + 1.0)
    if not float_in:  # mean, std, var and norm are declared for floating inputs only
        return Expect.error(TypeError, NotImplementedError)
    if op == "mean":
        r = np.mean(x64, axis=axis, keepdims=keepdim)
        scale = np.mean(np.abs(x64), axis=axis, keepdims=keepdim)
        return _float_result(r, dtype, scale)
    if op in ("std", "var"):
        fn = np.std if op == "std" else np.var
        r = fn(x64, axis=axis, keepdims=keepdim, ddof=1)
        if count <= 1:
            r = np.full_like(r, np.nan)  # correction=1 over one element: nan, as PyTorch
        scale = np.max(np.abs(x64)) ** (1 if op == "std" else 2) if a.size else 0.0
        return _float_result(r, dtype, np.full_like(r, scale), rtol_scale=8)
    if op == "norm":
        r = np.sqrt(np.sum(x64 * x64, axis=axis, keepdims=keepdim))
        return _float_result(r, dtype, np.abs(r))
    raise KeyError(op)


def _float_result(r, rtype, scale, rtol_scale=2):
    """A float reduction's expected value: the order of accumulation may differ from NumPy's, so the
    tolerance is relative to the sum of magnitudes, not to the (possibly cancelled) result."""
    from fuzz_support import default_tolerance
    rtol, _ = default_tolerance(rtype)
    r = to_dtype_values(_as(r, compute_dtype(rtype)), rtype)
    atol = rtol_scale * rtol * np.nan_to_num(np.asarray(scale, dtype=np.float64), nan=0.0, posinf=0.0)
    return Expect(r, rtype, rtol=rtol_scale * rtol, atol=atol + 1e-30)


def call_reduce(op, t, dims, keepdim):
    if op in ("cumsum", "cumprod"):
        return getattr(hy, op)(t, dims)
    if op in ("argmax", "argmin"):
        return getattr(hy, op)(t, dims, keepdim)
    if op == "logsumexp":
        return hy.logsumexp(t, list(dims) if not isinstance(dims, int) else [dims], keepdim)
    if op == "norm":
        return hy.norm(t, 2, dims, keepdim)
    if op in ("std", "var"):
        return getattr(hy, op)(t, dims, keepdim=keepdim)
    return getattr(hy, op)(t, dims, keepdim)


__all__ = ["ALLOWED_ERRORS", "result_type", "promote_types", "declared_dtypes", "binary_reference", "call_binary",
           "BINARY_OPS", "UNARY_OPS", "unary_reference", "REDUCE_OPS", "reduce_reference", "call_reduce",
           "LOOSE_UNARY", "binary_table_op"]
