"""hy.compiler.set_fallback_policy("measured"): a new entry's first calls time compiled against eager and
keep the faster, so a compiled function is never slower than its eager self (docs/compiler.md, "Never
slower than eager"). The suite's default is "never" (tests/python/conftest.py); these tests switch it on."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import hyflow as hy
from hyflow.compiler import api

ROUNDS = api._Trial.ROUNDS


@pytest.fixture
def measured():
    before = hy.compiler.fallback_policy
    hy.compiler.set_fallback_policy("measured")
    yield
    hy.compiler.set_fallback_policy(before)


class SlowProgram:
    """Stands for a compiled program that is slower than eager (2 ms per run)."""

    def __init__(self, program):
        self.program = program

    def run(self, *args):
        time.sleep(0.002)
        return self.program.run(*args)


def python_heavy(x):
    # Python work eager pays on every call and a compiled replay never does.
    acc = 0
    for i in range(20000):
        acc += i
    return (x * 2 + 1).exp()


def test_policy_values():
    with pytest.raises(ValueError, match="policy must be 'measured' or 'never'"):
        hy.compiler.set_fallback_policy("sometimes")
    assert hy.compiler.fallback_policy == "never"   # the suite's setting


def test_faster_compiled_code_is_kept(measured):
    calls = []

    def fn(x):
        calls.append(1)
        return python_heavy(x)

    f = hy.compile(fn)
    x = hy.randn(8)
    for _ in range(2 + 2 * ROUNDS + 5):
        np.testing.assert_allclose(f(x).numpy(), fn(x).numpy(), rtol=1e-6)
    calls_after = len(calls)
    (entry,) = f.entries()
    assert entry.trial is None and entry.program is not None
    assert entry.measured.startswith("runs compiled:"), entry.measured
    f(x)
    assert len(calls) == calls_after + 0 + 0   # compiled: the Python function is not run
    # the trace (1) + ROUNDS eager trial runs, plus the reference fn(x) of every loop iteration
    assert calls_after == 1 + ROUNDS + (2 + 2 * ROUNDS + 5)
    assert "runs compiled" in hy.compiler.explain(f, x).format()


def test_slower_compiled_code_falls_back_to_eager(measured):
    calls = []

    def fn(x):
        calls.append(1)
        return x * 2 + 1

    f = hy.compile(fn)
    x = hy.randn(8)
    f(x)                                   # traces
    (entry,) = f.entries()
    assert entry.trial is not None
    entry.program = SlowProgram(entry.program)
    for _ in range(1 + 2 * ROUNDS):
        np.testing.assert_allclose(f(x).numpy(), (x * 2 + 1).numpy(), rtol=1e-6)
    assert entry.trial is None and entry.program is None
    assert "measured no faster than eager" in entry.eager_reason
    assert entry.measured.startswith("runs eagerly:")
    assert f._all_eager
    n = len(calls)
    for _ in range(10):
        np.testing.assert_allclose(f(x).numpy(), (x * 2 + 1).numpy(), rtol=1e-6)
    assert len(calls) == n + 10            # eager: the Python function runs, no guard in front of it
    assert "runs eagerly" in hy.compiler.explain(f, x).format()


def test_all_eager_function_still_compiles_new_signatures(measured):
    f = hy.compile(lambda x: x * 2 + 1)
    x = hy.randn(8)
    f(x)
    (entry,) = f.entries()
    entry.program = SlowProgram(entry.program)
    for _ in range(1 + 2 * ROUNDS):
        f(x)
    assert f._all_eager and f.compiles == 1
    y = hy.randn(3, 5)                     # a new signature: seen within 64 calls, traced and measured
    for _ in range(64):
        np.testing.assert_allclose(f(y).numpy(), (y * 2 + 1).numpy(), rtol=1e-6)
    assert f.compiles == 2 and not f._all_eager
    assert f.entries()[-1].trial is not None or f.entries()[-1].measured is not None


def test_graph_break_signature_skips_the_guard(measured):
    def fn(x):
        if x.sum().item() > 0:             # data-dependent control flow: a graph break
            return x * 2
        return x * 3

    f = hy.compile(fn)
    x = hy.randn(16)
    for _ in range(5):
        np.testing.assert_allclose(f(x).numpy(), fn(x).numpy(), rtol=1e-6)
    assert f._all_eager and f.entries()[0].eager_reason.startswith("graph break")
    f.reset()
    assert not f._all_eager


def test_compiled_backward_node_is_not_trialed(measured, compiled_backward_always):
    w = hy.randn(8, requires_grad=True)
    f = hy.compile(lambda x: ((x * w).tanh() * 2).sum())
    f(hy.randn(8))
    (entry,) = f.entries()
    assert entry.autograd is not None and entry.trial is None


def test_symbolic_entries_are_not_trialed(measured):
    f = hy.compile(lambda x: (x * 2 + 1).exp(), dynamic=True)
    f(hy.randn(8))
    f(hy.randn(9))
    assert all(e.trial is None for e in f.entries())


def test_never_policy_runs_compiled_code():
    calls = []

    def fn(x):
        calls.append(1)
        return x + 1

    f = hy.compile(fn)
    x = hy.randn(4)
    for _ in range(20):
        f(x)
    assert len(calls) == 1 and f.entries()[0].trial is None and f.entries()[0].measured is None


def test_environment_variable_sets_the_policy():
    code = "import hyflow as hy; print(hy.compiler.fallback_policy)"
    for value, expect in (("never", "never"), ("measured", "measured")):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                             env=dict(os.environ, HYFLOW_COMPILE_FALLBACK=value))
        assert out.returncode == 0 and out.stdout.strip() == expect, out.stderr
    out = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ, HYFLOW_COMPILE_FALLBACK="sometimes"))
    assert out.returncode == 0 and out.stdout.strip() == "measured"
    assert "HYFLOW_COMPILE_FALLBACK='sometimes'" in out.stderr
