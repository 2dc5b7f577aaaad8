"""Shared pieces of the property-based fuzz tests: hypothesis settings, value and layout strategies,
NumPy references at hyflow's compute precision, the "allowed exception or correct result" oracle and
the case log that makes a crash name its input.

The properties (fuzz_props_*.py) run in a child interpreter started by test_fuzz_ops.py, so a crash
(SIGSEGV, SIGFPE, abort) fails one test and shows the case that caused it instead of killing pytest.
"""
import os

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import hyflow as hy

from fuzz_pending import pending  # noqa: F401  (re-exported for the property modules)

# Fixed seed and a bounded number of examples, so the suite is reproducible and fast; set
# HYFLOW_FUZZ_EXAMPLES=5000 to search harder locally, HYFLOW_FUZZ_RANDOM=1 for a fresh seed each run.
EXAMPLES = int(os.environ.get("HYFLOW_FUZZ_EXAMPLES", "150"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=os.environ.get("HYFLOW_FUZZ_RANDOM", "") != "1",
    database=None,
    deadline=None,  # timing is not correctness; the sanitizer build is several times slower
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

# What hyflow may raise for input it refuses; anything else (or a crash) is a bug.
ALLOWED_ERRORS = (ValueError, TypeError, IndexError, RuntimeError, OverflowError, NotImplementedError)

DTYPES = ["bool", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
FLOAT_DTYPES = ["float16", "bfloat16", "float32", "float64"]
INT_DTYPES = ["int32", "int64"]


def hy_dtype(name):
    return getattr(hy, name)


def is_float(name):
    return name in FLOAT_DTYPES


def category(name):
    """bool < integer < floating, the order type promotion lifts along."""
    return 0 if name == "bool" else (2 if is_float(name) else 1)


# --- the case log ------------------------------------------------------------------------------

_case_file = None


def log_case(text):
    """Record the example about to run, so the parent can name it if this process dies. One small
    write per example, rewritten in place; the OS keeps it even when the process is killed."""
    global _case_file
    path = os.environ.get("HYFLOW_FUZZ_CASE_FILE")
    if not path:
        return
    if _case_file is None:
        _case_file = open(path, "w")
    _case_file.seek(0)
    _case_file.write(text)
    _case_file.truncate()
    _case_file.flush()


# --- values ------------------------------------------------------------------------------------

def _float_edges(name):
    big = {"float16": 65504.0, "bfloat16": 3.3895313892515355e38, "float32": 3.4028234663852886e38,
           "float64": 1.7976931348623157e308}[name]
    tiny = {"float16": 6.0e-8, "bfloat16": 9.2e-41, "float32": 1.4e-45, "float64": 5e-324}[name]
    return [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 7.0, float("inf"), float("-inf"), float("nan"), big, -big, tiny]


INT_EDGES = {
    "int32": [0, 1, -1, 2, -2, 3, 7, -7, 2**31 - 1, -2**31, -2**31 + 1],
    "int64": [0, 1, -1, 2, -2, 3, 7, -7, 2**63 - 1, -2**63, -2**63 + 1, 2**31, -2**31 - 1],
}


def elements(name, *, edges=True, moderate=False):
    """Element strategy for dtype `name` (bfloat16 values are drawn as float32 and rounded later).
    moderate=True keeps magnitudes small (for reductions, whose order of summation differs)."""
    if name == "bool":
        return st.booleans()
    if name in INT_EDGES:
        small = st.integers(-9, 9) if moderate else st.integers(-100, 100)
        return st.one_of(small, st.sampled_from(INT_EDGES[name])) if edges and not moderate else small
    width = {"float16": 16, "float64": 64}.get(name, 32)
    finite = st.floats(-8.0 if moderate else -100.0, 8.0 if moderate else 100.0, width=width)
    if not edges:
        return finite
    specials = [0.0, -0.0, float("inf"), float("-inf"), float("nan"), 0.5, -2.5]
    return st.one_of(finite, st.sampled_from(specials if moderate else _float_edges(name)))


def np_storage_dtype(name):
    """The NumPy dtype that holds a hyflow dtype's values (float32 for bfloat16)."""
    return np.float32 if name == "bfloat16" else np.dtype(name)


def round_bf16(a):
    """float32 values rounded to bfloat16 (round to nearest even), kept as float32."""
    a = np.asarray(a, dtype=np.float32)
    u = a.view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000).astype(np.uint32).view(np.float32)
    return np.where(np.isnan(a), np.float32("nan"), r).astype(np.float32)


def to_dtype_values(a, name):
    """NumPy array `a` rounded to the values hyflow dtype `name` can hold (in its storage dtype)."""
    if name == "bfloat16":
        return round_bf16(np.asarray(a, dtype=np.float32))
    with np.errstate(all="ignore"):
        return np.asarray(a).astype(np_storage_dtype(name))


def compute_dtype(name):
    """The NumPy dtype hyflow's kernels compute `name` in: float32 for half types (docs/tensors.md)."""
    return np.float64 if name == "float64" else (np.float32 if is_float(name) else np.dtype(name))


@st.composite
def arrays(draw, name, shape, **kw):
    a = draw(hnp.arrays(np_storage_dtype(name), shape, elements=elements(name, **kw)))
    return to_dtype_values(a, name)


# --- layouts -----------------------------------------------------------------------------------

LAYOUTS = ["contiguous", "transposed", "strided", "offset"]


def make_tensor(a, name, layout="contiguous"):
    """A hyflow tensor of dtype `name` with the values of NumPy array `a`, laid out in memory as
    `layout` says (the values are the same whatever the layout)."""
    a = np.asarray(a)
    if layout == "transposed" and a.ndim >= 2:
        return make_tensor(np.ascontiguousarray(a.T), name).T  # strides reversed
    if layout == "strided" and a.ndim >= 1:
        t = hy.zeros(*(a.shape + (2,)), dtype=hy_dtype(name))
        v = t.select(-1, 1)  # every other element of a bigger buffer
        v.copy_(make_tensor(a, name))
        return v
    if layout == "offset":
        flat = hy.zeros(a.size + 3, dtype=hy_dtype(name))
        v = flat[3:].reshape(a.shape)  # a view that starts inside its storage
        v.copy_(make_tensor(a, name))
        return v
    if name == "bfloat16":
        return hy.tensor(np.asarray(a, dtype=np.float32)).to(hy.bfloat16)
    return hy.tensor(np.asarray(a, dtype=np.dtype(name)), dtype=hy_dtype(name))


def to_numpy(t):
    """A hyflow tensor's values as a NumPy array (float32 for bfloat16), detached from its memory."""
    if t.dtype == hy.bfloat16:
        t = t.to(hy.float32)
    return np.array(t.contiguous().numpy(), copy=True)


# --- the oracle --------------------------------------------------------------------------------

class Expect:
    """What a case must do: produce `value` (of dtype `dtype`, within tolerance), raise one of
    `errors`, or (when both are given) either."""

    def __init__(self, value=None, dtype=None, errors=(), rtol=None, atol=None, any_value=False, alternative=None):
        self.value, self.dtype, self.errors, self.rtol, self.atol = value, dtype, tuple(errors), rtol, atol
        self.any_value = any_value
        self.alternative = alternative  # another acceptable value (a rounding choice the docs leave open)

    @staticmethod
    def error(*types):
        return Expect(errors=types or ALLOWED_ERRORS)

    @staticmethod
    def unspecified():
        """Behaviour the docs leave open (e.g. rounding float ranges into integers): any tensor or an
        allowed exception, as long as it does not crash."""
        return Expect(errors=ALLOWED_ERRORS, any_value=True)


def check(run, expect, what):
    """Run `run()` and compare its outcome with `expect`; raise AssertionError naming `what`.
    Returns the result (or None when it raised as allowed)."""
    try:
        got = run()
    except ALLOWED_ERRORS as e:
        if expect.errors and isinstance(e, expect.errors):
            return None
        raise AssertionError(f"{what}: raised {type(e).__name__}: {e}; expected "
                             f"{'a result' if expect.value is not None else expect.errors}") from e
    if expect.any_value:
        assert isinstance(got, hy.Tensor), f"{what}: returned {type(got).__name__}, expected a tensor"
        return got
    if expect.value is None:
        raise AssertionError(f"{what}: returned {got!r}; expected one of {[t.__name__ for t in expect.errors]}")
    if expect.alternative is not None:
        try:
            assert_values(got, Expect(expect.alternative, expect.dtype, rtol=expect.rtol, atol=expect.atol), what)
            return got
        except AssertionError:
            pass
    assert_values(got, expect, what)
    return got


def assert_values(got, expect, what):
    assert isinstance(got, hy.Tensor), f"{what}: returned {type(got).__name__}, expected a tensor"
    if expect.dtype is not None:
        assert got.dtype == hy_dtype(expect.dtype), f"{what}: dtype {got.dtype}, expected {expect.dtype}"
    a, e = to_numpy(got), np.asarray(expect.value)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, expected {e.shape}"
    name = expect.dtype or got.dtype.name
    if not is_float(name):
        ok = a == e
        if a.dtype.kind == "c":  # complex values are copied exactly; NaN parts compare as NaN
            ok |= np.isnan(a) & np.isnan(e)
    else:
        rtol, atol = default_tolerance(name)
        rtol = rtol if expect.rtol is None else expect.rtol
        atol = atol if expect.atol is None else expect.atol
        a64, e64 = a.astype(np.float64), e.astype(np.float64)
        with np.errstate(all="ignore"):
            ok = np.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=True)
            # isclose treats inf as close to inf of the same sign only; make sure of that.
            ok &= (np.isinf(a64) == np.isinf(e64)) | np.isnan(e64)
    if not np.all(ok):
        bad = np.argwhere(~np.asarray(ok))
        i = tuple(bad[0])
        raise AssertionError(f"{what}: wrong values at {len(bad)} of {a.size} positions; first at {i}: "
                             f"got {a[i]!r}, expected {e[i]!r}")


def default_tolerance(name):
    # Half types are exact up to one rounding of a float32 result; a couple of ulps elsewhere.
    return {"float16": (1e-3, 1e-5), "bfloat16": (8e-3, 1e-5), "float32": (4e-6, 1e-6),
            "float64": (1e-12, 1e-300)}[name]


def describe(**parts):
    """A short, reproducible description of a case for the case log and failure messages."""
    out = []
    for k, v in parts.items():
        if isinstance(v, np.ndarray):
            v = f"np.array({v.tolist()!r}, dtype={v.dtype.name!r})"
        out.append(f"{k}={v}")
    return ", ".join(out)
