"""Properties over creating tensors and indexing them: hy.tensor / as_tensor of Python lists and of
NumPy arrays of odd dtypes, byte orders and strides, zeros/full/arange/linspace, from_numpy sharing
memory, and NumPy-style basic and advanced getitem/setitem (negative steps included). Each case
must match NumPy or raise an allowed Python exception; run by test_fuzz_ops.py."""
import warnings

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import hyflow as hy
from fuzz_support import (ALLOWED_ERRORS, DTYPES, FUZZ_SETTINGS, LAYOUTS, Expect, check, describe, hy_dtype,
                          is_float, log_case, make_tensor, np_storage_dtype, pending, to_dtype_values, to_numpy)

HY_NUMPY_DTYPES = {"bool", "int32", "int64", "float16", "float32", "float64", "complex64", "complex128"}
INT64 = np.iinfo(np.int64)

# --- creation ------------------------------------------------------------------------------------

PY_NUMBERS = st.one_of(st.booleans(), st.integers(-10, 10), st.sampled_from([2**31, -2**31 - 1, 2**63 - 1, -2**63]),
                       st.sampled_from([2**63, 2**64 - 1, -2**63 - 1]), st.floats(allow_nan=True, allow_infinity=True))


def _nested(draw, shape, elements):
    if not shape:
        return draw(elements)
    return [_nested(draw, shape[1:], elements) for _ in range(shape[0])]


@st.composite
def creation_cases(draw):
    kind = draw(st.sampled_from(["tensor_list", "tensor_array", "as_tensor", "full", "zeros", "arange", "linspace"]))
    dtype = draw(st.one_of(st.none(), st.sampled_from(DTYPES)))
    case = {"kind": kind, "dtype": dtype}
    if kind == "tensor_list":
        case["data"] = _nested(draw, draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3)), PY_NUMBERS)
    elif kind in ("tensor_array", "as_tensor"):
        np_dtype = draw(st.sampled_from(["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                                         "uint64", "float16", "float32", "float64", ">f4", ">i8", "complex64"]))
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
        a = draw(hnp.arrays(np.dtype(np_dtype), shape))
        view = draw(st.sampled_from(["as_is", "transposed", "step2", "reversed"]))
        if a.ndim and view == "transposed":
            a = a.T
        elif a.ndim and view == "step2":
            a = a[::2]
        elif a.ndim and view == "reversed":
            a = a[::-1]
        case.update(data=a, view=view)
    elif kind in ("full", "zeros"):
        case["size"] = tuple(draw(st.lists(st.integers(-1, 4), max_size=3)))
        if kind == "full":
            case["value"] = draw(PY_NUMBERS)
    elif kind == "arange":
        num = st.one_of(st.integers(-20, 20), st.floats(-20, 20), st.sampled_from([float("nan"), float("inf")]))
        step = st.one_of(st.integers(-5, 5), st.floats(0.01, 5), st.floats(-5, -0.01), st.just(0.0))
        case.update(start=draw(num), end=draw(num), step=draw(step))
    else:
        num = st.one_of(st.integers(-100, 100), st.floats(-1e6, 1e6))
        case.update(start=draw(num), end=draw(num), steps=draw(st.integers(-1, 7)))
    return case


def _fits(name, values):
    """Whether every value converts to dtype `name` exactly or by the usual truncation of floats."""
    v = np.asarray(values, dtype=object).ravel()
    if name == "bool" or is_float(name):
        return True
    info = np.iinfo(np.dtype(name))
    return all(isinstance(x, (bool, int)) and info.min <= x <= info.max or
               isinstance(x, float) and np.isfinite(x) and info.min <= x <= info.max for x in v)


def creation_expect(case):
    """(Expect, pending defect or None) for one creation case."""
    kind, dtype = case["kind"], case["dtype"]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "tensor_list":
            return _list_expect(case["data"], dtype)
        if kind in ("tensor_array", "as_tensor"):
            return _array_expect(case["data"], dtype)
        if kind == "zeros":
            if any(s < 0 for s in case["size"]):
                return Expect.error(ValueError), None
            name = dtype or "float32"
            return Expect(np.zeros(case["size"], dtype=np_storage_dtype(name)), name), None
        if kind == "full":
            return _full_expect(case["size"], case["value"], dtype)
        if kind == "arange":
            return _arange_expect(case["start"], case["end"], case["step"], dtype)
        return _linspace_expect(case["start"], case["end"], case["steps"], dtype)


def _flat(data):
    return [x for sub in data for x in _flat(sub)] if isinstance(data, list) else [data]


def _list_expect(data, dtype):
    values = _flat(data)
    ints = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    inferred = ("float32" if not values or any(isinstance(v, float) for v in values) else
                "int64" if ints else "bool")
    name = dtype or inferred
    if any(not INT64.min <= v <= INT64.max for v in ints):
        if is_float(name):  # a float dtype holds it (rounded), or the big int is refused
            ref = to_dtype_values(np.array(data, dtype=object).astype(np.float64), name)
            return Expect(ref, name, errors=(ValueError, OverflowError, TypeError)), "uint64_conversion"
        return Expect.error(ValueError, OverflowError, TypeError), "uint64_conversion"
    if not _fits(name, values):
        return Expect.error(ValueError, OverflowError, TypeError), "int_fill_out_of_range"
    ref = np.array(data, dtype=np.float64 if is_float(name) else object)
    ref = to_dtype_values(ref.astype(np.float64) if is_float(name) else ref.astype(np_storage_dtype(name)), name)
    # A float beyond the dtype's range becomes inf, as PyTorch does, or raises.
    return Expect(ref, name, errors=(ValueError, OverflowError) if is_float(name) else ()), None


def _array_expect(a, dtype):
    if a.dtype.kind == "c":  # complex arrays keep their dtype; a real dtype= would drop the imaginary parts
        if dtype is not None or not a.dtype.isnative:
            return Expect.error(TypeError), None
        return Expect(a.copy(), a.dtype.name), None
    if a.dtype.kind not in "biuf":
        return Expect.error(TypeError), None
    native = a.dtype.name in HY_NUMPY_DTYPES and a.dtype.isnative
    if dtype is not None:
        name = dtype
    elif native:
        name = a.dtype.name
    else:
        name = {"b": "bool", "i": "int64", "u": "int64"}.get(a.dtype.kind) or f"float{8 * a.dtype.itemsize}"
    # Other NumPy dtypes and byte orders are converted exactly, or refused with a TypeError.
    errors = () if native else (TypeError,)
    values = a.tolist()
    if a.dtype.kind == "u" and a.size and int(a.max()) > INT64.max and not is_float(name):
        return Expect.error(ValueError, OverflowError, TypeError), "uint64_conversion"
    if not _fits(name, values):
        if a.dtype.kind == "f":
            return Expect.unspecified(), None  # an out-of-range float array cast to int: NumPy's is undefined too
        return Expect(a.astype(np_storage_dtype(name)), name, errors=(ValueError, OverflowError, TypeError)), None
    ref = to_dtype_values(a.astype(np.float64) if is_float(name) else a.astype(np_storage_dtype(name)), name)
    return Expect(ref, name, errors=errors + ((ValueError, OverflowError) if is_float(name) else ())), None


def _full_expect(size, value, dtype):
    if any(s < 0 for s in size):
        return Expect.error(ValueError), None
    if isinstance(value, int) and not isinstance(value, bool) and not INT64.min <= value <= INT64.max:
        return Expect.error(ValueError, OverflowError, TypeError), None
    name = dtype or ("bool" if isinstance(value, bool) else "int64" if isinstance(value, int) else "float32")
    if not _fits(name, [value]):
        return Expect.error(ValueError, OverflowError, TypeError), "int_fill_out_of_range"
    v = np.full(size, value, dtype=np.float64 if is_float(name) else object)
    ref = to_dtype_values(v if is_float(name) else v.astype(np_storage_dtype(name)), name)
    return Expect(ref, name, errors=(ValueError, OverflowError) if is_float(name) else ()), None


def _arange_expect(start, end, step, dtype):
    if not all(np.isfinite([start, end, step])) or step == 0:
        return Expect.error(ValueError), None
    name = dtype or ("int64" if all(isinstance(v, int) for v in (start, end, step)) else "float32")
    n = int(np.ceil((end - start) / step))
    if n <= 0:  # NumPy gives an empty array; PyTorch refuses a step of the wrong sign
        return Expect(np.zeros(0, dtype=np_storage_dtype(name)), name, errors=(ValueError,)), None
    if name == "bool" or (not is_float(name) and not all(isinstance(v, int) for v in (start, end, step))):
        return Expect.unspecified(), None  # rounding rules of float ranges into ints and bools
    ref = start + np.arange(n, dtype=np.float64) * step
    rtol = {"float16": 1e-3, "bfloat16": 8e-3}.get(name, 1e-6)
    return Expect(to_dtype_values(ref, name), name, rtol=rtol, atol=rtol * (abs(start) + abs(step) * n)), None


def _linspace_expect(start, end, steps, dtype):
    if steps < 0:
        return Expect.error(ValueError), None
    if steps == 1 and pending("linspace_one_step") and start != end:
        return None, "linspace_one_step"
    name = dtype or "float32"
    ref = np.linspace(float(start), float(end), steps)
    if not is_float(name):  # points computed in floating point, then truncated: off-by-one is a rounding choice
        return Expect.unspecified(), None
    span = abs(float(start)) + abs(float(end))
    rtol = {"float16": 1e-3, "bfloat16": 8e-3}.get(name, 1e-6)
    return Expect(to_dtype_values(ref, name), name, rtol=rtol, atol=rtol * span), None


def creation_call(case):
    kind, dtype = case["kind"], case["dtype"]
    kw = {} if dtype is None else {"dtype": hy_dtype(dtype)}
    if kind == "tensor_list":
        return hy.tensor(case["data"], **kw)
    if kind == "tensor_array":
        return hy.tensor(case["data"], **kw)
    if kind == "as_tensor":
        return hy.as_tensor(case["data"], **kw)
    if kind == "zeros":
        return hy.zeros(*case["size"], **kw) if case["size"] else hy.zeros((), **kw)
    if kind == "full":
        return hy.full(case["size"], case["value"], **kw)
    if kind == "arange":
        return hy.arange(case["start"], case["end"], case["step"], **kw)
    return hy.linspace(case["start"], case["end"], case["steps"], **kw)


@given(creation_cases())
@FUZZ_SETTINGS
def prop_creation(case):
    what = describe(**case)
    log_case(what)
    expect, defect = creation_expect(case)
    assume(defect is None or not pending(defect))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "overflow in cast" to inf is the answer
        check(lambda: creation_call(case), expect, what)


# --- from_numpy ----------------------------------------------------------------------------------

@st.composite
def from_numpy_cases(draw):
    np_dtype = draw(st.sampled_from(["bool", "int32", "int64", "float16", "float32", "float64", "int8", "uint8",
                                     "uint64", ">f8", "complex128", "bool_bytes"]))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
    if np_dtype == "bool_bytes":  # bools whose bytes are not 0/1, as a uint8 view can make them
        a = draw(hnp.arrays(np.uint8, shape)).view(np.bool_)
    else:
        a = draw(hnp.arrays(np.dtype(np_dtype), shape))
    view = draw(st.sampled_from(["as_is", "transposed", "step2", "reversed", "readonly"]))
    if a.ndim and view == "transposed":
        a = a.T
    elif a.ndim and view == "step2":
        a = a[::2]
    elif a.ndim and view == "reversed":
        a = a[::-1]
    elif view == "readonly":
        a.setflags(write=False)
    return {"np_dtype": np_dtype, "view": view, "a": a}


@given(from_numpy_cases())
@FUZZ_SETTINGS
def prop_from_numpy(case):
    a = case["a"]
    what = describe(np_dtype=case["np_dtype"], view=case["view"], shape=a.shape, strides=a.strides,
                    bytes=a.view(np.uint8).tolist() if a.dtype == np.bool_ else a.tolist())
    log_case(what)
    odd_bools = a.dtype == np.bool_ and a.size and a.view(np.uint8).max() > 1
    assume(not (odd_bools and pending("bool_bytes_not_0_1")))
    supported = a.dtype.name in HY_NUMPY_DTYPES and a.dtype.isnative
    # Bools whose bytes are not 0/1 may be refused (hy.tensor normalises them) or read as "byte != 0".
    refusable = not supported or any(s < 0 for s in a.strides) or not a.flags.writeable or odd_bools
    try:
        t = hy.from_numpy(a)
    except ALLOWED_ERRORS as e:
        assert refusable, f"{what}: raised {type(e).__name__}: {e}"
        assert isinstance(e, (TypeError, ValueError)), f"{what}: raised {type(e).__name__}: {e}"
        return
    assert not refusable, f"{what}: accepted an array it cannot share"
    truth = a.view(np.uint8) != 0 if a.dtype == np.bool_ else None
    assert t.shape == a.shape and t.dtype.name == a.dtype.name, f"{what}: got {t.shape} {t.dtype}"
    if a.dtype == np.bool_:
        # Whatever the bytes, a bool tensor is consistent: truth is "byte != 0" everywhere.
        assert np.array_equal(to_numpy(t).view(np.uint8) != 0, truth), what
        assert int(t.sum()) == int(np.count_nonzero(truth)), f"{what}: sum {int(t.sum())}"
        assert bool(t.all()) == bool(truth.all()) and bool(t.any()) == bool(truth.any()), what
        assert np.array_equal(to_numpy(t.logical_not()), ~truth), what
        return
    assert np.array_equal(to_numpy(t), a, equal_nan=a.dtype.kind in "fc"), what
    t.fill_(1)  # shared memory: a write through the tensor shows in the array
    assert np.all(a == 1), f"{what}: the tensor does not share the array's memory"


# --- indexing ------------------------------------------------------------------------------------

INDEX_DTYPES = ["int32", "int64", "float16", "float32", "float64", "bool"]


@st.composite
def index_items(draw):
    kind = draw(st.sampled_from(["int", "int", "slice", "slice", "none", "ellipsis", "list", "mask", "tensor",
                                 "tensor0d"]))
    if kind == "int":
        return draw(st.integers(-6, 6))
    if kind == "slice":
        bound = st.one_of(st.none(), st.integers(-7, 7))
        return slice(draw(bound), draw(bound), draw(st.sampled_from([None, 1, 2, 3, -1, -2])))
    if kind == "none":
        return None
    if kind == "ellipsis":
        return Ellipsis
    if kind == "list":
        return draw(st.lists(st.integers(-6, 6), max_size=4))
    if kind == "mask":
        return draw(hnp.arrays(np.bool_, draw(st.integers(0, 5))))
    if kind == "tensor":
        return hy.tensor(draw(hnp.arrays(np.int64, draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=3)),
                                         elements=st.integers(-5, 5))))
    return hy.tensor(draw(st.integers(-5, 5)))


@st.composite
def index_cases(draw):
    dtype = draw(st.sampled_from(INDEX_DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
    a = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    a = np.asarray(a % 2 == 1) if dtype == "bool" else a.astype(np_storage_dtype(dtype))
    items = draw(st.lists(index_items(), max_size=5))
    index = items[0] if len(items) == 1 and draw(st.booleans()) else tuple(items)
    return {"dtype": dtype, "a": a, "layout": draw(st.sampled_from(LAYOUTS)), "index": index}


def _to_numpy_index(index):
    if isinstance(index, tuple):
        return tuple(_to_numpy_index(i) for i in index)
    if isinstance(index, hy.Tensor):
        return to_numpy(index) if index.ndim else int(index.item())
    return index


def _has_negative_step(index):
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, slice) and i.step is not None and i.step < 0 for i in items)


def _numpy_outcome(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a NumPy deprecation is not a behaviour to copy
            return fn(), None
    except (IndexError, ValueError, TypeError) as e:
        return None, e
    except Warning as e:
        return None, e


def _index_expect(value, error, index, dtype):
    if error is not None:
        if isinstance(error, Warning):
            return None
        return Expect.error(IndexError, ValueError, TypeError)
    # Negative slice steps are documented as unsupported (ValueError); everything else must work, but
    # for NumPy's quirk of accepting an empty boolean mask whatever the dim's size (PyTorch refuses).
    errors = (ValueError,) if _has_negative_step(index) else ()
    if _has_empty_mask(index):
        errors += (IndexError,)
    return Expect(np.asarray(value), dtype, errors=errors)


def _has_empty_mask(index):
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray) and i.dtype == np.bool_ and i.size == 0 for i in items)


@given(index_cases())
@FUZZ_SETTINGS
def prop_getitem(case):
    a, dtype, index = case["a"], case["dtype"], case["index"]
    what = describe(**case)
    log_case(what)
    value, error = _numpy_outcome(lambda: a[_to_numpy_index(index)])
    expect = _index_expect(value, error, index, dtype)
    assume(expect is not None)
    t = make_tensor(a, dtype, case["layout"])
    check(lambda: t[index], expect, what)


@given(index_cases(), st.data())
@FUZZ_SETTINGS
def prop_setitem(case, data):
    a, dtype, index = case["a"], case["dtype"], case["index"]
    target, error = _numpy_outcome(lambda: a[_to_numpy_index(index)])
    assume(error is None and not isinstance(error, Warning))
    shape = np.shape(target)
    form = data.draw(st.sampled_from(["scalar", "same", "broadcast", "wrong"]))
    if form == "scalar":
        value = data.draw(st.sampled_from([True, False]) if dtype == "bool" else st.integers(-3, 3))
    else:
        vshape = {"same": shape, "broadcast": tuple(1 if data.draw(st.booleans()) else s for s in shape)[
            data.draw(st.integers(0, len(shape))):], "wrong": shape + (2,) if shape else (3,)}[form]
        value = data.draw(hnp.arrays(np_storage_dtype(dtype), vshape, elements=st.integers(-3, 3)
                                     if dtype != "bool" else st.booleans()))
        value = to_dtype_values(value, dtype)
    what = describe(**case, value=value)
    log_case(what)
    ref = a.copy()
    _, error = _numpy_outcome(lambda: ref.__setitem__(_to_numpy_index(index), value))
    expect = _index_expect(ref, error, index, dtype)
    assume(expect is not None)
    t = make_tensor(a, dtype, case["layout"])
    v = value if form == "scalar" else make_tensor(value, dtype)

    def run():
        t[index] = v
        return t

    check(run, expect, what)


PROPERTIES = {"creation": prop_creation, "from_numpy": prop_from_numpy, "getitem": prop_getitem,
              "setitem": prop_setitem}
