"""Properties over the paths that write into existing memory: in-place ops (`x.add_(y)`) and `out=`,
with the destination contiguous, transposed, strided or expanded (stride 0) and the operand
independent, the destination itself, or a view overlapping it (`x.add_(x.T)`, `x[1:].add_(x[:-1])`).
The rule (docs/tensors.md): the result is what NumPy computes from the old values, an expanded
destination raises, a result of a higher category than the destination raises TypeError.
Run by test_fuzz_ops.py."""
import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

import hyflow as hy
from fuzz_reference import binary_reference, result_type, unary_reference
from fuzz_support import (FUZZ_SETTINGS, Expect, arrays, category, check, describe, hy_dtype, is_float, log_case,
                          make_tensor, pending, to_dtype_values)

WRITE_DTYPES = ["bool", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
INPLACE_BINARY = ["add", "sub", "mul", "div", "remainder", "floor_divide", "pow"]
INPLACE_UNARY = ["neg", "abs", "exp", "sqrt", "floor", "square"]

# (destination view, operand view) of one n x m buffer `x`, and how the two share memory.
PAIRS = {
    ("whole", "independent"): "none", ("transposed", "independent"): "none", ("rows", "independent"): "none",
    ("strided", "independent"): "none", ("whole", "whole"): "exact", ("transposed", "transposed"): "exact",
    ("whole", "transposed"): "partial", ("rows", "rows_shifted"): "partial", ("cols", "cols_shifted"): "partial",
    ("whole", "first_row"): "partial", ("expanded", "independent"): "expanded",
}


def view(x, kind):
    """The same view of a NumPy array or a hyflow tensor (both index alike)."""
    if kind == "whole":
        return x
    if kind == "transposed":
        return x.T
    if kind == "rows":
        return x[1:]
    if kind == "rows_shifted":
        return x[:-1]
    if kind == "cols":
        return x[:, 1:]
    if kind == "cols_shifted":
        return x[:, :-1]
    if kind == "strided":
        return x[:, ::2]
    if kind == "first_row":
        return x[0]
    raise KeyError(kind)


def _category_ok(result_dtype, dest_dtype):
    return category(result_dtype) <= category(dest_dtype)


@st.composite
def inplace_cases(draw):
    dtype = draw(st.sampled_from(WRITE_DTYPES))
    dest, operand = draw(st.sampled_from(sorted(PAIRS)))
    n = draw(st.integers(2, 4))
    m = n if (dest, operand) in (("whole", "transposed"), ("transposed", "transposed"),
                                 ("transposed", "independent")) else draw(st.integers(2, 4))
    x = draw(arrays(dtype, (n, m)))
    case = {"op": draw(st.sampled_from(INPLACE_BINARY + INPLACE_UNARY)), "dtype": dtype, "x": x, "dest": dest,
            "operand": operand}
    if operand == "independent":
        dest_shape = (n, m) if dest in ("whole", "transposed", "expanded") else view(x, dest).shape
        odt = draw(st.sampled_from(WRITE_DTYPES))
        shape = draw(st.sampled_from([dest_shape, dest_shape[1:], (1,) + dest_shape[1:], ()]))
        case.update(other_dtype=odt, other=draw(arrays(odt, shape)))
    return case


def _expected_inplace(case):
    """(Expect for the whole buffer x afterwards, the destination's dtype rule broken or not)."""
    op, dtype, x = case["op"], case["dtype"], case["x"]
    before = x.copy()
    dest = view(before, case["dest"]) if case["dest"] != "expanded" else None
    if op in INPLACE_UNARY:
        expect = unary_reference(op, dest, dtype)
        rtype = expect.dtype
    else:
        other = case["other"] if case["operand"] == "independent" else view(before, case["operand"])
        odt = case.get("other_dtype", dtype)
        rtype = result_type(("tensor", dtype, 2), ("tensor", odt, other.ndim))
        expect, skip = binary_reference(op, dest, other, rtype)
        if skip:
            return None, skip
    if expect.value is None:
        return expect, None
    rtype = expect.dtype  # div and the like compute integers in floating point
    if not _category_ok(rtype, dtype):
        return Expect.error(TypeError), None
    after = x.copy()
    view(after, case["dest"])[...] = to_dtype_values(np.asarray(expect.value, dtype=np.float64)
                                                     if is_float(dtype) else expect.value, dtype)
    errors = expect.errors + ((TypeError,) if rtype != dtype and category(rtype) == category(dtype) else ())
    return Expect(after, dtype, errors=errors, rtol=expect.rtol, atol=expect.atol), None


@given(inplace_cases())
@FUZZ_SETTINGS
def prop_inplace_ops(case):
    overlap = PAIRS[(case["dest"], case["operand"])]
    what = describe(**case)
    log_case(what)
    if overlap == "expanded":
        assume(not pending("write_to_expanded"))
        expect = Expect.error(RuntimeError, TypeError)  # TypeError: a result of a higher category comes first
    else:
        if overlap == "partial":
            assume(not pending("inplace_partial_overlap"))
        expect, skip = _expected_inplace(case)
        assume(skip is None or not pending(skip))
    op, dtype = case["op"], case["dtype"]
    x = make_tensor(case["x"], dtype)
    dest = x[0:1].expand(*x.shape) if case["dest"] == "expanded" else view(x, case["dest"])
    if op in INPLACE_UNARY:
        run = lambda: getattr(dest, op + "_")()  # noqa: E731
    else:
        other = (make_tensor(case["other"], case["other_dtype"]) if case["operand"] == "independent"
                 else view(x, case["operand"]))
        run = lambda: getattr(dest, op + "_")(other)  # noqa: E731

    def run_and_read():
        result = run()
        assert result is dest, f"{what}: {op}_ returned a new tensor, not its destination"
        return x

    check(run_and_read, expect, what)


# --- out= ----------------------------------------------------------------------------------------

OUT_KINDS = ["fresh", "strided", "transposed", "alias_input", "partial_input", "expanded", "wrong_shape"]


@st.composite
def out_cases(draw):
    dtype = draw(st.sampled_from(WRITE_DTYPES))
    op = draw(st.sampled_from(["add", "mul", "sub", "maximum", "div", "neg", "exp", "abs"]))
    n, m = draw(st.integers(2, 4)), draw(st.integers(2, 4))
    kind = draw(st.sampled_from(OUT_KINDS))
    if kind == "transposed":
        m = n
    out_dtype = dtype if draw(st.booleans()) else draw(st.sampled_from(WRITE_DTYPES))
    if kind in ("alias_input", "partial_input"):
        out_dtype = dtype
    return {"op": op, "dtype": dtype, "a": draw(arrays(dtype, (n + 1, m))), "b": draw(arrays(dtype, (m,))),
            "out_kind": kind, "out_dtype": out_dtype}


@given(out_cases())
@FUZZ_SETTINGS
def prop_out_argument(case):
    op, dtype, kind, out_dtype = case["op"], case["dtype"], case["out_kind"], case["out_dtype"]
    what = describe(**case)
    log_case(what)
    if kind == "expanded":
        assume(not pending("write_to_expanded"))
    if kind == "partial_input":
        assume(not pending("inplace_partial_overlap"))
    buf = case["a"]  # rows 1.. are the input `a`; partial_input writes to rows ..n-1, overlapping it
    a_np = buf[1:]
    unary = op in ("neg", "exp", "abs")
    if unary:
        expect = unary_reference(op, a_np, dtype)
        rtype = expect.dtype
        if rtype and is_float(rtype) and is_float(out_dtype) and expect.value is not None:
            unrounded = unary_reference(op, a_np, dtype, unrounded=True)  # see the binary case below
            expect.alternative = to_dtype_values(np.asarray(unrounded.value, dtype=np.float64), out_dtype)
    else:
        rtype = result_type(("tensor", dtype, 2), ("tensor", dtype, 1))
        expect, skip = binary_reference(op, a_np, case["b"], rtype)
        assume(skip is None or not pending(skip))
        rtype = expect.dtype or rtype
        if is_float(rtype) and is_float(out_dtype) and expect.value is not None:
            # Computing straight into out= (no rounding to the result dtype on the way) is fine too.
            unrounded, _ = binary_reference(op, a_np, case["b"], rtype, unrounded=True)
            expect.alternative = to_dtype_values(np.asarray(unrounded.value, dtype=np.float64), out_dtype)
    t = make_tensor(buf, dtype)
    a = t[1:]
    out = {"fresh": lambda: hy.zeros(*a_np.shape, dtype=hy_dtype(out_dtype)),
           "strided": lambda: hy.zeros(a_np.shape[0], 2 * a_np.shape[1], dtype=hy_dtype(out_dtype))[:, ::2],
           "transposed": lambda: hy.zeros(*a_np.shape[::-1], dtype=hy_dtype(out_dtype)).T,
           "alias_input": lambda: a,
           "partial_input": lambda: t[:-1],
           "expanded": lambda: hy.zeros(1, a_np.shape[1], dtype=hy_dtype(out_dtype)).expand(*a_np.shape),
           "wrong_shape": lambda: hy.zeros(a_np.shape[0] + 1, a_np.shape[1], dtype=hy_dtype(out_dtype))}[kind]()
    if kind == "wrong_shape":
        expect = Expect.error(ValueError, TypeError)
    elif kind == "expanded":
        expect = Expect.error(RuntimeError, TypeError)
    elif expect.value is not None:
        if not _category_ok(rtype, out_dtype):
            expect = Expect.error(TypeError)
        else:
            value = to_dtype_values(np.asarray(expect.value, dtype=np.float64) if is_float(out_dtype)
                                    else expect.value, out_dtype)
            errors = expect.errors + ((TypeError,) if rtype != out_dtype else ())
            expect = Expect(value, out_dtype, errors=errors, rtol=expect.rtol, atol=expect.atol,
                            alternative=expect.alternative)
    b = make_tensor(case["b"], dtype)

    def run():
        result = getattr(hy, op)(a, out=out) if unary else getattr(hy, op)(a, b, out=out)
        assert result is out, f"{what}: returned a new tensor, not out"
        return out

    check(run, expect, what)


PROPERTIES = {"inplace_ops": prop_inplace_ops, "out_argument": prop_out_argument}
