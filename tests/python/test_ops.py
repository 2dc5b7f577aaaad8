"""Table-driven op tests: every OpInfo in tests/python/opinfo/ x every dtype it lists, against NumPy.

Also checks, for each sample, the result dtype against the op table's dtype_rule, and the out= and
in-place variants when the op table declares them.
"""
import importlib
import pkgutil

import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import assert_close, default_tolerances

import opinfo
from opinfo import np_dtype

OPS = []
for mod in pkgutil.iter_modules(opinfo.__path__):
    OPS.extend(importlib.import_module(f"opinfo.{mod.name}").OPS)

CASES = [pytest.param(info, dt, id=f"{info.name}-{dt}") for info in OPS for dt in info.dtypes]


def to_hy(x, dtype):
    if isinstance(x, np.ndarray):
        if dtype == "bfloat16" and x.dtype == np.float32:
            return hy.from_numpy(x).to(hy.bfloat16)
        return hy.from_numpy(x)
    if isinstance(x, list) and x and isinstance(x[0], np.ndarray):
        return [to_hy(v, dtype) for v in x]
    return x


def to_ref(x, dtype):
    if isinstance(x, np.ndarray) and dtype in ("float16", "bfloat16"):
        return x.astype(np.float32)
    if isinstance(x, list) and x and isinstance(x[0], np.ndarray):
        return [to_ref(v, dtype) for v in x]
    return x


def expected_dtype(rule, args):
    tensors = [a for a in args if isinstance(a, hy.Tensor)]
    tensors += [t for a in args if isinstance(a, list) for t in a if isinstance(t, hy.Tensor)]
    numbers = [a for a in args if isinstance(a, (bool, int, float)) and not isinstance(a, hy.Tensor)]
    if not tensors:
        return None
    dt = tensors[0].dtype
    for t in tensors[1:]:
        dt = hy.promote_types(dt, t.dtype)
    cat = lambda d: 0 if d == hy.bool else (3 if d.is_complex else (2 if d.is_floating_point else 1))  # noqa: E731
    for n in numbers:
        kind = 0 if isinstance(n, bool) else (2 if isinstance(n, float) else 1)
        if kind > cat(dt):
            dt = hy.float32 if kind == 2 else hy.int64
    if rule == "promote":
        return dt
    if rule == "promote_float":
        return dt if dt.is_floating_point or dt.is_complex else hy.float32
    if rule == "same":
        return tensors[0].dtype
    if rule == "bool":
        return hy.bool
    if rule == "int64":
        return hy.int64
    return None


def results(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


@pytest.mark.parametrize("info,dtype", CASES)
def test_op_matches_numpy(info, dtype):
    rng = np.random.default_rng(1234)
    schema = hy.ops.schema(info.name)
    rule = schema.get("dtype_rule")
    fn = getattr(hy.ops, info.name)
    for sample in info.samples(dtype, rng):
        args = [to_hy(a, dtype) for a in sample.args]
        ref_args = [to_ref(a, dtype) for a in sample.args]
        with np.errstate(all="ignore"):
            expected = results(info.ref(*ref_args, **sample.kwargs))
        actual = results(fn(*args, **sample.kwargs))
        assert len(actual) == len(expected), f"{info.name}: {len(actual)} results, reference has {len(expected)}"
        for a, e in zip(actual, expected):
            e = np.asarray(e)
            if isinstance(a, hy.Tensor):
                rtol, atol = (info.tol or {}).get(dtype, default_tolerances(a.dtype))
                if a.dtype.name in ("bool", "int32", "int64") and e.dtype.kind == "f":
                    e = e.astype(np.float64)
                if a.dtype in (hy.float16, hy.bfloat16) and e.dtype.kind == "f":
                    # The reference ran in float32: round it to the result's precision (overflow included).
                    e = hy.tensor(e.astype(np.float32)).to(a.dtype).to(hy.float32).numpy()
                assert_close(a, e, rtol=rtol, atol=atol, msg=f"{info.name} {sample.desc}")
        if info.check_dtype_rule and isinstance(actual[0], hy.Tensor):
            want = expected_dtype(rule, args)
            if want is not None:
                assert actual[0].dtype == want, f"{info.name}: dtype {actual[0].dtype}, rule '{rule}' says {want}"


COMPLEX_CASES = [pytest.param(info, dt, id=f"{info.name}-{dt}") for info in OPS for dt in info.dtypes
                 if dt.startswith("complex")]


def _to_torch(x, torch):
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.array(x))  # a contiguous copy that keeps 0-d arrays 0-d
    if isinstance(x, list) and x and isinstance(x[0], np.ndarray):
        return [_to_torch(v, torch) for v in x]
    if isinstance(x, hy.dtype):
        return getattr(torch, x.name)
    return x


@pytest.mark.parametrize("info,dtype", COMPLEX_CASES)
def test_complex_rows_match_torch(info, dtype):
    """The complex rows against torch too (same op name, same arguments): NumPy and torch differ on some
    complex conventions, and hyflow follows torch's."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(99)
    fn, tfn = getattr(hy.ops, info.name), getattr(torch, info.name)
    for sample in info.samples(dtype, rng):
        actual = results(fn(*[to_hy(a, dtype) for a in sample.args], **sample.kwargs))
        targs = [_to_torch(a, torch) for a in sample.args]
        tkwargs = {k: _to_torch(v, torch) for k, v in sample.kwargs.items()}
        if "keepdim" in tkwargs and tkwargs.get("dim") is None:  # torch spells "all dims" as a list of them
            tkwargs.pop("dim", None)
            if targs[0].ndim:
                tkwargs["dim"] = list(range(targs[0].ndim))
            else:
                tkwargs.pop("keepdim")
        expected = results(tfn(*targs, **tkwargs))
        assert len(actual) == len(expected), f"{info.name}: {len(actual)} results, torch has {len(expected)}"
        for a, e in zip(actual, expected):
            assert a.dtype.name == str(e.dtype).replace("torch.", ""), f"{info.name} {sample.desc}: {a.dtype} vs {e.dtype}"
            rtol, atol = (info.tol or {}).get(dtype, default_tolerances(a.dtype))
            assert_close(a, e.numpy(), rtol=rtol, atol=atol, msg=f"{info.name} {sample.desc} (torch)")


def _out_variants():
    for info in OPS:
        s = hy.ops.schema(info.name)
        if any(a["name"] == "out" for a in s["args"]):
            yield pytest.param(info, id=info.name)


@pytest.mark.parametrize("info", list(_out_variants()))
def test_out_and_inplace_variants(info):
    dtype = "float32" if "float32" in info.dtypes else info.dtypes[-1]
    rng = np.random.default_rng(7)
    fn = getattr(hy.ops, info.name)
    variants = hy.ops.schema(info.name)["variants"].split(",")
    for sample in info.samples(dtype, rng):
        args = [to_hy(a, dtype) for a in sample.args]
        expected = fn(*args, **sample.kwargs)
        if not isinstance(expected, hy.Tensor):
            continue
        out = hy.empty(expected.shape, dtype=expected.dtype)
        r = fn(*args, out=out, **sample.kwargs)
        assert r is out
        assert_close(out, expected, equal_nan=True)
        first = args[0]
        if ("inplace" in variants and isinstance(first, hy.Tensor) and first.shape == expected.shape
                and first.dtype == expected.dtype):
            target = first.clone()
            v = target._version
            r = getattr(target, info.name + "_")(*args[1:], **sample.kwargs)
            assert r is target and target._version > v
            assert_close(target, expected, equal_nan=True)
