"""Helpers shared by the fusion test files (row reductions, row ops, full reductions): a private kernel cache,
the compiled-vs-eager call, the plans of one kernel kind, random tensors in several layouts."""
import warnings

import numpy as np
import pytest

import hyflow as hy
from hyflow.compiler import CompileWarning


def private_cache_fixture(name):
    """An autouse fixture giving the module its own HYFLOW_CACHE_DIR with codegen on and the default compiler."""
    @pytest.fixture(autouse=True)
    def _private_cache(tmp_path_factory, monkeypatch):
        monkeypatch.setenv("HYFLOW_CACHE_DIR", str(tmp_path_factory.getbasetemp() / name))
        monkeypatch.delenv("HYFLOW_CODEGEN", raising=False)
        monkeypatch.delenv("CXX", raising=False)
    return _private_cache


def plans_of(compiled, kind):
    """The last compiled entry's plans of one kind ("row-reduction", "full-reduction", ...); its codegen must
    have succeeded."""
    gk = compiled.entries()[-1].kernels
    assert gk is not None and gk.error is None, gk and gk.error
    return [p for p in gk.plans if p.kind == kind]


def run_compiled_and_eager(fn, *args):
    """fn compiled and eager on args: (compiled result, eager result, compiled fn). The second compiled call
    is the cached entry's replay; any CompileWarning (a fallback) fails the test."""
    expected = fn(*args)
    compiled = hy.compile(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        compiled(*args)
        got = compiled(*args)
    return got, expected, compiled


def random_tensor(rng, shape, dtype, layout="contiguous", scale=1.0):
    """Normal values times scale, contiguous, transposed (a permuted view) or sliced (every other element)."""
    if layout == "transposed":
        return random_tensor(rng, shape[::-1], dtype, scale=scale).permute(*reversed(range(len(shape))))
    if layout == "sliced":
        big = random_tensor(rng, tuple(n * 2 for n in shape), dtype, scale=scale)
        return big[tuple(slice(None, None, 2) for _ in shape)]
    return hy.tensor(np.asarray(rng.standard_normal(shape) * scale, dtype=dtype))
