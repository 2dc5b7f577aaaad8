"""csrc/kernels/fast_math.h, the vectorizable exp/expm1/log/log1p/tanh/sigmoid of generated code: accuracy
against libm (NumPy) over the whole float range with inf/nan/denormal/overflow edges, through real
compiled kernels; and a check that loops calling them vectorize with the toolchain's flags."""
import os
import platform
import subprocess
import warnings

import numpy as np
import pytest

import hyflow as hy
from hyflow.compiler import CompileWarning
from hyflow.compiler.codegen import toolchain


@pytest.fixture(autouse=True)
def _codegen_all(tmp_path_factory, monkeypatch):
    # Single transcendental ops stay eager by default (their eager kernel is vectorized): force codegen.
    monkeypatch.setenv("HYFLOW_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "hyflow-fastmath-cache"))
    monkeypatch.setenv("HYFLOW_CODEGEN", "all")
    monkeypatch.delenv("CXX", raising=False)


EDGES = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e-40, 5e-324, 1e-310, 88.72, 88.73, 89.0,
         -87.3, -103.9, -104.0, -110.0, 709.78, 709.79, -745.1, -745.2, 19.9, 20.0, -20.0, 1.0, -1.0,
         1e-30, -1e-30, 1e-8, -1e-8, 0.3465, -0.3466, 3.4e38, -3.4e38, 1.7e308, -1.7e308, -1.0 + 1e-7]


def _inputs(dtype, n=200_000, seed=0):
    rng = np.random.default_rng(seed)
    ibits = np.dtype({"float32": np.uint32, "float64": np.uint64}[dtype])
    raw = rng.integers(0, np.iinfo(ibits).max, n, dtype=ibits, endpoint=True).view(dtype)  # every exponent
    with np.errstate(over="ignore"):
        edges = np.array(EDGES, dtype=np.float64).astype(dtype)
    return np.concatenate([raw, edges, rng.uniform(-120, 120, n).astype(dtype), rng.uniform(-3, 3, n).astype(dtype),
                           rng.uniform(-1e-3, 1e-3, n).astype(dtype)])


def _sigmoid(x):
    e = np.exp(-np.abs(x))   # no overflow of exp(-x) where the result is a denormal number
    return np.where(x < 0, e / (1.0 + e), 1.0 / (1.0 + e))


FUNCS = {"exp": (hy.exp, np.exp), "expm1": (hy.expm1, np.expm1), "log": (hy.log, np.log),
         "log1p": (hy.log1p, np.log1p), "tanh": (hy.tanh, np.tanh), "sigmoid": (hy.sigmoid, _sigmoid)}
CASES = [(f, dt) for f in FUNCS for dt in ("float32", "float64")]


@pytest.mark.parametrize("name,dtype", CASES, ids=[f"{f}-{d}" for f, d in CASES])
def test_matches_libm_over_the_whole_range(name, dtype):
    op, ref = FUNCS[name]
    x = _inputs(dtype)
    compiled = hy.compile(lambda t: op(t))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        compiled(hy.tensor(x))                 # the tracing call runs eagerly (Eigen's functors)
        got = compiled(hy.tensor(x)).numpy()   # this one runs the generated kernel
    gk = compiled.entries()[-1].kernels
    assert gk.kernels and "hy::gen::" in gk.source, gk.report()
    with np.errstate(all="ignore"):
        expected = ref(x.astype(np.float64)).astype(dtype)   # correctly rounded, up to the last bit
    # Special values exactly: NaN where libm gives NaN, the same infinities and zeros (signs included).
    assert np.array_equal(np.isnan(got), np.isnan(expected)), x[np.isnan(got) != np.isnan(expected)][:5]
    special = (np.isinf(expected) | (expected == 0))
    assert np.array_equal(got[special], expected[special]), (x[special][got[special] != expected[special]][:5])
    assert np.array_equal(np.signbit(got[special]), np.signbit(expected[special]))
    # Everything else: a few ulp, far inside the tolerance eager's Eigen functors have against libm
    # (docs/design.md: 2e-6 relative for float, 1e-13 for double); denormal results get an absolute slack.
    finfo = np.finfo(dtype)
    ok = np.isfinite(expected) & (expected != 0)
    rtol = 2e-6 if dtype == "float32" else 1e-13
    err = np.abs(got[ok].astype(np.float64) - expected[ok].astype(np.float64))
    bound = rtol * np.abs(expected[ok].astype(np.float64)) + 4 * finfo.smallest_subnormal
    bad = err > bound
    assert not bad.any(), list(zip(x[ok][bad][:5], got[ok][bad][:5], expected[ok][bad][:5]))
    # Much tighter than the tolerance in practice: at most 4 ulp away from the correctly rounded result.
    normal = np.abs(expected[ok]) >= finfo.tiny
    ulps = err[normal] / np.spacing(np.abs(expected[ok][normal])).astype(np.float64)
    assert ulps.max() <= 4, ulps.max()


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 ISA flags")
def test_loops_calling_them_vectorize(tmp_path):
    try:
        cxx = toolchain.compiler_command()
    except toolchain.ToolchainError as e:
        pytest.skip(str(e))
    if "g++" not in os.path.basename(os.path.realpath(cxx)) and "c++" not in os.path.basename(cxx):
        pytest.skip("-fopt-info-vec is GCC's")
    funcs = ["exp", "expm1", "log", "log1p", "tanh", "sigmoid"]
    src = ['#include <cstdint>', '#include "fast_math.h"']
    for t in ("float", "double"):
        for f in funcs:
            src.append(f'extern "C" void k_{f}_{t}(int64_t n, const {t}* __restrict a, {t}* __restrict b) {{\n'
                       f'  for (int64_t j = 0; j < n; ++j) b[j] = hy::gen::{f}(a[j]);\n}}')
    path = tmp_path / "v.cpp"
    path.write_text("\n".join(src) + "\n")
    flags = [f for f in toolchain.compile_flags("avx2") if f != "-w"]
    out = subprocess.run([cxx] + flags + ["-fopt-info-vec-optimized", "-I", toolchain.HEADER_DIR, str(path), "-o",
                                          str(tmp_path / "v.so")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    vectorized = {int(line.split(":")[1]) for line in out.stderr.splitlines() if "loop vectorized" in line}
    lines = [i + 1 for i, line in enumerate(path.read_text().splitlines()) if "for (int64_t j" in line]
    assert len(lines) == 12 and set(lines) <= vectorized, (sorted(vectorized), out.stderr[:2000])
