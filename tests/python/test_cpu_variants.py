"""CPU variants of the hot kernels (docs/design.md, "CPU variants"): build_info reports them, the
HYFLOW_CPU_CAPABILITY environment variable picks a lower one, and every variant computes what the
baseline computes. Each variant runs in its own subprocess, since the choice is made once, at import.

Run as a script, this file is the subprocess side: `--dump FILE` evaluates every sample of the hot
op families' OpInfo entries and saves the results.
"""
import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import default_tolerances

HERE = os.path.dirname(os.path.abspath(__file__))
# OpInfo modules of the op-table families that have ISA variants (cmake/cpu_variants.cmake).
HOT_FAMILIES = ("unary", "binary", "ternary", "reduce", "stencil", "conv")
KNOWN = ("default", "avx2", "avx512")


def _run(capability, args, timeout=600, extra_env=None):
    env = dict(os.environ, **(extra_env or {}))
    if capability is None:
        env.pop("HYFLOW_CPU_CAPABILITY", None)
    else:
        env["HYFLOW_CPU_CAPABILITY"] = capability
    return subprocess.run([sys.executable] + args, cwd=HERE, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _runnable_variants():
    """Compiled variants this CPU can run: those up to the one chosen without a cap."""
    info = hy.build_info()
    best = KNOWN.index(info["cpu_capability"])
    return [v for v in info["cpu_variants"] if KNOWN.index(v) <= best]


def test_build_info_reports_the_cpu_target():
    info = hy.build_info()
    assert info["cpu_variants"][0] == "default"
    assert set(info["cpu_variants"]) <= set(KNOWN)
    assert info["cpu_capability"] in info["cpu_variants"]
    assert hy.backends.cpu.get_cpu_capability() == info["cpu_capability"]
    if info["cpu_baseline"] == "native":
        assert info["cpu_variants"] == ["default"] and "-march=native" in info["arch_flags"]
    elif info["cpu_baseline"].startswith("x86-64"):
        assert info["arch_flags"] == "-march=" + info["cpu_baseline"]


def test_no_cap_picks_the_best_variant_the_cpu_runs():
    # Without HYFLOW_CPU_CAPABILITY a process runs the highest runnable variant.
    r = _run(None, ["-c", "import hyflow as hy; print(hy.backends.cpu.get_cpu_capability())"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == _runnable_variants()[-1]


@pytest.mark.parametrize("capability", KNOWN)
def test_capability_caps_the_variant(capability):
    # The cap is honoured exactly when runnable; a cap above what the CPU/build has gives the best there is.
    r = _run(capability.upper() if capability == "avx2" else capability,
             ["-c", "import hyflow as hy; print(hy.build_info()['cpu_capability'])"])
    assert r.returncode == 0, r.stderr
    runnable = _runnable_variants()
    expected = max((v for v in runnable if KNOWN.index(v) <= KNOWN.index(capability)), key=KNOWN.index)
    assert r.stdout.strip() == expected


def test_unknown_capability_fails_the_import_naming_the_variable():
    r = _run("avx3", ["-c", "import hyflow"])
    assert r.returncode != 0
    assert "HYFLOW_CPU_CAPABILITY='avx3' is not a CPU variant" in r.stderr
    assert "Segmentation" not in r.stderr and "Traceback" in r.stderr


def test_missing_variant_library_fails_the_import_with_a_way_out(tmp_path):
    # A broken install (the chosen variant's library deleted) must say what is missing and how to run
    # anyway, not crash or silently run something else.
    best = _runnable_variants()[-1]
    if best == "default":
        pytest.skip("no CPU variant runs on this build/CPU")
    pkg = os.path.dirname(hy._C.__file__)
    for name in os.listdir(pkg):
        if name.endswith(".so") and name != f"libhyflow_cpu_{best}.so":
            shutil.copy(os.path.join(pkg, name), tmp_path / name)
    # LD_LIBRARY_PATH wins over a build tree's RUNPATH, so _C loads the copied libhyflow_core.so.
    env_dir = {"HYFLOW_BUILD_DIR": str(tmp_path), "LD_LIBRARY_PATH": str(tmp_path)}
    r = _run(None, ["-c", "import hyflow"], extra_env=env_dir)
    assert r.returncode != 0
    assert f"cannot load the {best} CPU kernels" in r.stderr and "HYFLOW_CPU_CAPABILITY=default" in r.stderr
    r = _run("default", ["-c", "import hyflow as hy; print(hy.exp(hy.zeros(2)).tolist())"], extra_env=env_dir)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[1.0, 1.0]"


def _hot_op_test_selection():
    """A pytest -k expression selecting test_ops.py's cases of every op of the hot families (a few
    other ops whose names contain one of theirs come along) and the softmax/sum/var extra tests."""
    import importlib
    names = sorted({info.name for family in HOT_FAMILIES for info in importlib.import_module(f"opinfo.{family}").OPS})
    return f"(test_op_matches_numpy and ({' or '.join(names)})) or softmax or sum or var"


@pytest.mark.parametrize("capability", KNOWN)
def test_hot_op_tests_pass_under_each_variant(capability):
    if capability not in _runnable_variants():
        pytest.skip(f"the {capability} variant is not compiled or not supported by this CPU")
    r = _run(capability, ["-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "test_ops.py", "test_reduce_extra.py",
                          "-k", _hot_op_test_selection()])
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and " failed" not in r.stdout


@pytest.mark.parametrize("capability", KNOWN)
def test_fft_tests_pass_under_each_variant(capability):
    # fft.cpp is a variant source: its AVX-512 builds move lanes with in-register transposes and
    # permutes (csrc/kernels/cpu/fft_lane_io.h), the others with plain loops; all must agree with NumPy.
    if capability not in _runnable_variants():
        pytest.skip(f"the {capability} variant is not compiled or not supported by this CPU")
    r = _run(capability, ["-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "test_fft.py"])
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and " failed" not in r.stdout


def test_silu_at_infinities_is_the_same_on_every_variant():
    # Regression: silu was x * logistic(x), and Eigen's SSE/AVX2 logistic(-inf) is a denormal, not 0, so
    # silu(-inf) was -inf with the default and avx2 kernels but nan (PyTorch's value) with avx512.
    code = ("import hyflow as hy; x = hy.tensor([float('-inf'), float('inf'), -1000.0, 0.0]); "
            "print([repr(v) for v in hy.silu(x).tolist() + hy.silu(x.double()).tolist()])")
    for v in _runnable_variants():
        r = _run(v, ["-c", code])
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == str(["nan", "inf", "-0.0", "0.0"] * 2), f"{v}: {r.stdout}"


def _dump(path):
    """Evaluate every sample of the hot families' OpInfos and pickle {key: result arrays}."""
    import importlib
    from opinfo import np_dtype  # noqa: F401 (the package also sets up dtype helpers)
    out = {"capability": hy.backends.cpu.get_cpu_capability()}
    for family in HOT_FAMILIES:
        for info in importlib.import_module(f"opinfo.{family}").OPS:
            fn = getattr(hy.ops, info.name)
            for dtype in info.dtypes:
                rng = np.random.default_rng(99)
                for i, sample in enumerate(info.samples(dtype, rng)):
                    args = [_to_hy(a, dtype) for a in sample.args]
                    key = (family, info.name, dtype, i)
                    try:
                        res = fn(*args, **sample.kwargs)
                    except Exception as e:  # an error must be the same error in every variant
                        out[key] = ("raised", type(e).__name__)
                        continue
                    res = list(res) if isinstance(res, (tuple, list)) else [res]
                    out[key] = [_to_np(r) for r in res]
    with open(path, "wb") as f:
        pickle.dump(out, f)


def _to_hy(x, dtype):
    if isinstance(x, np.ndarray):
        t = hy.from_numpy(x)
        return t.to(hy.bfloat16) if dtype == "bfloat16" and x.dtype == np.float32 else t
    if isinstance(x, list) and x and isinstance(x[0], np.ndarray):
        return [_to_hy(v, dtype) for v in x]
    return x


def _to_np(r):
    if isinstance(r, hy.Tensor):
        dt = r.dtype.name
        return dt, (r.to(hy.float32) if r.dtype == hy.bfloat16 else r).contiguous().numpy().copy()
    return "value", r


def test_variants_compute_what_the_baseline_computes(tmp_path):
    runnable = _runnable_variants()
    if len(runnable) < 2:
        pytest.skip("only the baseline kernels run on this build/CPU")
    dumps = {}
    for v in runnable:
        path = tmp_path / f"{v}.pkl"
        r = _run(v, [os.path.abspath(__file__), "--dump", str(path)])
        assert r.returncode == 0, r.stderr[-3000:]
        with open(path, "rb") as f:
            dumps[v] = pickle.load(f)
        assert dumps[v]["capability"] == v
    base = dumps["default"]
    assert len(base) > 200  # the dump really covers the hot families
    for v in runnable[1:]:
        other = dumps[v]
        assert other.keys() == base.keys()
        for key, want in base.items():
            if key == "capability":
                continue
            got = other[key]
            if isinstance(want, tuple):  # both raised the same exception type
                assert got == want, f"{v} {key}: {got} vs baseline {want}"
                continue
            assert len(got) == len(want), f"{v} {key}"
            for (gd, g), (wd, w) in zip(got, want):
                assert gd == wd, f"{v} {key}: dtype {gd} vs baseline {wd}"
                if gd == "value":
                    assert g == w, f"{v} {key}"
                    continue
                rtol, atol = default_tolerances(getattr(hy, gd))
                rtol, atol = max(rtol, 1e-5), max(atol, 1e-6)
                if key[0] in ("reduce", "stencil") and g.dtype.kind == "f":
                    # A different vector width sums in another order: the error scales with the
                    # magnitude of the terms, which cancellation can make far larger than the result.
                    finite = np.abs(w[np.isfinite(w)])
                    atol *= max(1.0, float(finite.max()) if finite.size else 1.0)
                np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, equal_nan=True,
                                           err_msg=f"variant {v} vs baseline, {key}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--dump":
        sys.path.insert(0, HERE)
        _dump(sys.argv[2])
    else:
        sys.exit("usage: test_cpu_variants.py --dump FILE")
