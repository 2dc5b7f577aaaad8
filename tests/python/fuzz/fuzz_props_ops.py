"""Properties over the elementwise and reduction ops: binary ops across dtype pairs and Python
scalars with broadcasting, unary ops, reductions over any dims; edge values (INT_MIN, 0, +-inf, nan,
-0.0, the largest finite values) and non-contiguous layouts. Each case must give NumPy's value (at
hyflow's compute precision) or raise an allowed Python exception; run by test_fuzz_ops.py."""
import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import hyflow as hy
from fuzz_reference import (BINARY_OPS, COMPARE, LOGICAL, LOOSE_UNARY, REDUCE_OPS, UNARY_OPS, binary_reference,
                            binary_table_op, call_binary, call_reduce, declared_dtypes, reduce_reference,
                            result_type, unary_reference)
from fuzz_support import (DTYPES, FUZZ_SETTINGS, INT_EDGES, LAYOUTS, Expect, arrays, check, describe, elements,
                          is_float, log_case, make_tensor, pending)

SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)


@st.composite
def python_scalars(draw, tensor_dtype):
    kind = draw(st.sampled_from(["bool", "int", "float"]))
    if kind == "bool":
        return draw(st.booleans())
    if kind == "int":
        return draw(st.one_of(st.integers(-9, 9), st.sampled_from(INT_EDGES["int64"])))
    # A float the result dtype holds exactly, so rounding the scalar first or not gives one answer.
    return float(draw(elements(tensor_dtype if is_float(tensor_dtype) else "float32")))


@st.composite
def binary_cases(draw):
    op = draw(st.sampled_from(BINARY_OPS))
    da = draw(st.sampled_from(DTYPES))
    form = draw(st.sampled_from(["tensors", "tensors", "tensors", "scalar", "mismatch"]))
    if form == "mismatch":
        shape_a, shape_b = draw(SHAPES), draw(SHAPES)
    else:
        shape_a, shape_b = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4)).input_shapes
    a = draw(arrays(da, shape_a))
    case = {"op": op, "dtype_a": da, "a": a, "layout_a": draw(st.sampled_from(LAYOUTS))}
    if form == "scalar":
        case["b"] = draw(python_scalars(da))
    else:
        db = draw(st.sampled_from(DTYPES))
        case.update(dtype_b=db, b=draw(arrays(db, shape_b)), layout_b=draw(st.sampled_from(LAYOUTS)))
    return case


def _int_scalar_out_of_range(case, rtype):
    b = case["b"]
    if not isinstance(b, int) or isinstance(b, bool) or rtype != "int32":
        return False
    return not (-2**31 <= b < 2**31)


def _out_of_range_scalar_expect(op, a, b, expect):
    """A Python int the int32 operation cannot hold (docs/tensors.md, NEP 50): comparisons compare
    exactly, logical ops only look at its truth, everything else raises ValueError."""
    if op in COMPARE:
        exact = COMPARE[op](a.astype(object), b).astype(bool)
        return Expect(np.asarray(exact), "bool")
    if op in LOGICAL:
        expect.errors += (ValueError,)
        return expect
    return Expect.error(ValueError)


@given(binary_cases())
@FUZZ_SETTINGS
def prop_binary_ops(case):
    op, a, da = case["op"], case["a"], case["dtype_a"]
    scalar = "dtype_b" not in case
    b = case["b"]
    if scalar:
        rtype = result_type(("tensor", da, a.ndim), ("scalar", b))
        out_of_range = _int_scalar_out_of_range(case, rtype)
        assume(not (pending("int_scalar_out_of_range") and out_of_range))
    else:
        rtype = result_type(("tensor", da, a.ndim), ("tensor", case["dtype_b"], b.ndim))
    what = describe(**case)
    log_case(what)
    try:
        np.broadcast_shapes(a.shape, np.shape(b))
    except ValueError:
        expect = Expect.error(ValueError, TypeError)  # which check comes first is the op's choice
    else:
        expect, skip = binary_reference(op, a, np.asarray(b), rtype)
        assume(skip is None)
        if scalar and out_of_range:
            expect = _out_of_range_scalar_expect(op, a, b, expect)
        declared = declared_dtypes(binary_table_op(op))
        if da not in declared or (not scalar and case["dtype_b"] not in declared):
            expect.errors += (TypeError, NotImplementedError)
        if op in ("pow", "atan2") and is_float(rtype):
            expect.rtol = {"float32": 1e-5, "float64": 1e-12}.get(rtype)
    x = make_tensor(a, da, case["layout_a"])
    y = b if scalar else make_tensor(b, case["dtype_b"], case["layout_b"])
    check(lambda: call_binary(op, x, y), expect, what)


@st.composite
def unary_cases(draw):
    op = draw(st.sampled_from(UNARY_OPS))
    dtype = draw(st.sampled_from(DTYPES))
    return {"op": op, "dtype": dtype, "a": draw(arrays(dtype, draw(SHAPES))), "layout": draw(st.sampled_from(LAYOUTS))}


@given(unary_cases())
@FUZZ_SETTINGS
def prop_unary_ops(case):
    op, a, dtype = case["op"], case["a"], case["dtype"]
    what = describe(**case)
    log_case(what)
    expect = unary_reference(op, a, dtype)
    if dtype not in declared_dtypes(op):
        expect.errors += (TypeError, NotImplementedError)
    if op in LOOSE_UNARY and expect.dtype in ("float32", "float64"):
        expect.rtol, expect.atol = {"float32": (1e-5, 1e-6), "float64": (1e-12, 1e-15)}[expect.dtype]
    x = make_tensor(a, dtype, case["layout"])
    check(lambda: getattr(hy, op)(x), expect, what)


_PROD_VALUES = {"float": st.sampled_from([-2.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.0, float("inf"), float("nan")]),
                "int": st.integers(-2, 2)}


@st.composite
def reduce_cases(draw):
    op = draw(st.sampled_from(REDUCE_OPS))
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(SHAPES)
    if op in ("prod", "cumprod") and dtype != "bool":
        # Small factors: a product that overflows part-way and then meets a 0 depends on the order.
        elems = _PROD_VALUES["float" if is_float(dtype) else "int"]
        a = draw(hnp.arrays(np.float32 if dtype == "bfloat16" else np.dtype(dtype), shape, elements=elems))
    else:
        a = draw(arrays(dtype, shape, moderate=True))
    ndim = a.ndim
    if op in ("cumsum", "cumprod", "argmax", "argmin") or (op == "logsumexp" and ndim > 0 and draw(st.booleans())):
        dims = draw(st.integers(-ndim - 1, ndim)) if ndim else (None if op in ("argmax", "argmin") else 0)
    elif ndim and draw(st.booleans()):
        dims = tuple(draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim,
                                   unique_by=lambda d: d % ndim)))
    else:
        dims = None
    if op == "logsumexp" and dims is None:
        dims = tuple(range(ndim))
    keepdim = draw(st.booleans()) and dims is not None
    return {"op": op, "dtype": dtype, "a": a, "dims": dims, "keepdim": keepdim,
            "layout": draw(st.sampled_from(LAYOUTS))}


@given(reduce_cases())
@FUZZ_SETTINGS
def prop_reductions(case):
    op, a, dtype, dims, keepdim = case["op"], case["a"], case["dtype"], case["dims"], case["keepdim"]
    what = describe(**case)
    log_case(what)
    if a.ndim == 0 and op in ("cumsum", "cumprod"):
        assume(False)  # 0-d scans: NumPy has no axis 0 to compare with
    if isinstance(dims, int) and not -max(a.ndim, 1) <= dims < max(a.ndim, 1):
        expect = Expect.error(IndexError, ValueError)
    else:
        norm = dims if dims is None or isinstance(dims, int) else tuple(d % a.ndim for d in dims)
        if isinstance(norm, int) and a.ndim:
            norm %= a.ndim
        expect = reduce_reference(op, a, dtype, norm, keepdim)
        if dtype not in declared_dtypes(op):
            expect.errors += (TypeError, NotImplementedError)
    x = make_tensor(a, dtype, case["layout"])
    check(lambda: call_reduce(op, x, dims, keepdim), expect, what)


PROPERTIES = {"binary_ops": prop_binary_ops, "unary_ops": prop_unary_ops, "reductions": prop_reductions}
