"""The differential test: every OpInfo sample (tests/python/opinfo) run through ``hy.compile`` of a one-op
function and compared with eager — same dtype, same shape, values equal (integers, bools) or within the
op's tolerance (floating point). The first call traces, the second
replays the optimized graph; both must equal eager. With ``HYFLOW_CODEGEN=all`` every lowerable
elementwise op (also single ones eager already vectorizes) runs as a generated native kernel for the first
NATIVE_SAMPLES samples of each case (each one is a C++ compile; the disk cache makes reruns fast), and for
elementwise ops the test checks that the native path ran for at least one of them.
"""
import importlib
import pkgutil

import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import assert_close, default_tolerances

import opinfo
from test_ops import to_hy

OPS = []
for _mod in pkgutil.iter_modules(opinfo.__path__):
    OPS.extend(importlib.import_module(f"opinfo.{_mod.name}").OPS)

NATIVE_DTYPES = ("float32", "float64")

# Elementwise ops whose samples never reach generated code, and why (they run eagerly between groups).
NOT_NATIVE = {
    "outer": "its shape rule is not elementwise broadcasting",
    "contiguous": "samples are contiguous: it returns its input",
}


# Native kernels for the first samples of each case (each is a compile, ~0.3 s); the rest replay.
NATIVE_SAMPLES = 2


CASES = [pytest.param(info, dt, id=f"{info.name}-{dt}") for info in OPS for dt in info.dtypes]


def _flat(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def _same(actual, expected, what, tol):
    assert type(actual) is type(expected) or (isinstance(actual, hy.Tensor) and isinstance(expected, hy.Tensor)), what
    if not isinstance(expected, hy.Tensor):
        assert actual == expected, what
        return
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    a, e = actual.detach(), expected.detach()
    if not a.dtype.is_floating_point:
        np.testing.assert_array_equal(a.numpy(), e.numpy(), err_msg=what)
        return
    # Within the op's tolerance, not bitwise: a few kernels (log_softmax) are not bitwise reproducible even
    # between two eager calls (memory alignment picks the vector path).
    rtol, atol = tol.get(str(a.dtype).replace("hyflow.", ""), default_tolerances(a.dtype))
    assert_close(a.to(hy.float64), e.to(hy.float64).numpy(), rtol=rtol, atol=atol, msg=what)


@pytest.mark.parametrize("info,dtype", CASES)
def test_compiled_single_op_matches_eager(info, dtype, monkeypatch):
    rng = np.random.default_rng(1234)
    fn = getattr(hy.ops, info.name)
    native = 0
    for i, sample in enumerate(info.samples(dtype, rng)):
        monkeypatch.setenv("HYFLOW_CODEGEN", "all" if i < NATIVE_SAMPLES else "off")
        args = [to_hy(a, dtype) for a in sample.args]
        kwargs = dict(sample.kwargs)
        try:
            expected = _flat(fn(*args, **kwargs))
        except (ValueError, TypeError, IndexError, RuntimeError, NotImplementedError) as err:
            # A sample that must raise eagerly must raise the same way compiled.
            compiled = hy.compile(lambda *a: fn(*a, **kwargs))
            with pytest.raises(type(err)):
                compiled(*args)
            continue
        compiled = hy.compile(lambda *a: fn(*a, **kwargs))
        traced = _flat(compiled(*args))
        replayed = _flat(compiled(*args))
        assert compiled.entries()[0].program is not None, f"{info.name}: no graph ({compiled.entries()[0].eager_reason})"
        assert len(traced) == len(expected) == len(replayed)
        for a, b, e in zip(traced, replayed, expected):
            _same(a, e, f"{info.name} {sample.desc} (traced call)", info.tol or {})
            _same(b, e, f"{info.name} {sample.desc} (replayed call)", info.tol or {})
        kernels = compiled.entries()[0].kernels
        native += bool(kernels is not None and kernels.kernels)
    if hy.ops.metadata(info.name).get("lowering") == "elementwise" and dtype in NATIVE_DTYPES \
            and info.name not in NOT_NATIVE:
        assert native, f"{info.name} ({dtype}): no sample ran as native code"
