"""Native code generation for fusion groups (python/hyflow/compiler/codegen, csrc/compiler/kernel_launch):
fused chains against eager, dtype/NaN/wrap semantics, the disk cache (hit, corrupt, foreign, concurrent),
fallbacks, thread counts and the launcher's argument checks."""
import json
import multiprocessing
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import hyflow as hy
from hyflow.compiler import CompileWarning
from hyflow.compiler import api as compiler_api
from hyflow.compiler.codegen import toolchain
from hyflow.testing import assert_close

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    # One cache folder for this module (compiles are shared between its tests, not with the user's cache).
    root = tmp_path_factory.getbasetemp() / "hyflow-codegen-cache"
    monkeypatch.setenv("HYFLOW_CACHE_DIR", str(root))
    monkeypatch.delenv("HYFLOW_CODEGEN", raising=False)
    monkeypatch.delenv("CXX", raising=False)


def _kernels(compiled):
    entry = compiled.entries()[-1]
    return entry.kernels


def _native_ran(compiled):
    gk = _kernels(compiled)
    return gk is not None and gk.error is None and bool(gk.kernels)


def _np(t):
    return t.detach().numpy()


# ---- fused chains of random elementwise ops vs eager ---------------------------------------------------
UNARY = {
    "float": ["neg", "abs", "relu", "sigmoid", "tanh", "exp", "square", "sqrt_abs", "sign", "floor", "gelu",
              "silu", "erf", "clamp", "reciprocal_safe", "round2", "isnan_where", "softplus"],
    "int": ["neg", "abs", "relu", "square", "sign", "clamp", "bitwise_not"],
}
BINARY = {
    "float": ["add", "sub", "mul", "div", "maximum", "minimum", "atan2", "where_gt", "pow_abs", "floor_divide",
              "remainder", "add_alpha"],
    "int": ["add", "sub", "mul", "maximum", "minimum", "where_gt", "bitwise_and", "bitwise_xor", "add_alpha"],
}


# Float ops whose eager kernel is Eigen's packet math while generated code calls libm (they agree within
# the op tolerance, not bit for bit), and ops that turn a last-bit difference into a jump (sign(-1e-9)):
# a chain never applies a jump after an inexact op, or the comparison would test the jump, not the code.
INEXACT = {"sigmoid", "tanh", "exp", "gelu", "silu", "erf", "softplus"}
JUMPS = {"sign", "floor", "round2", "floor_divide", "remainder", "where_gt"}


def _unary(name, x):
    return {
        "neg": lambda: -x, "abs": lambda: x.abs(), "relu": lambda: hy.relu(x), "sigmoid": lambda: hy.sigmoid(x),
        "tanh": lambda: hy.tanh(x), "exp": lambda: hy.exp(x.clamp(-20, 20)), "square": lambda: hy.square(x),
        "sqrt_abs": lambda: hy.sqrt(x.abs()), "sign": lambda: hy.sign(x), "floor": lambda: hy.floor(x),
        "gelu": lambda: hy.gelu(x, approximate="tanh"), "silu": lambda: hy.silu(x), "erf": lambda: hy.erf(x),
        "clamp": lambda: x.clamp(-2, 3), "reciprocal_safe": lambda: hy.reciprocal(x.abs() + 1),
        "round2": lambda: hy.round(x, decimals=2), "isnan_where": lambda: hy.where(hy.isnan(x), x, x * 2),
        "softplus": lambda: hy.softplus(x, beta=2.0), "bitwise_not": lambda: hy.bitwise_not(x),
    }[name]()


def _binary(name, x, y):
    return {
        "add": lambda: x + y, "sub": lambda: x - y, "mul": lambda: x * y, "div": lambda: x / (y.abs() + 1),
        "maximum": lambda: hy.maximum(x, y), "minimum": lambda: hy.minimum(x, y),
        "atan2": lambda: hy.atan2(x, y), "where_gt": lambda: hy.where(x > y, x, y),
        "pow_abs": lambda: hy.pow(x.abs(), y.clamp(-2, 2)), "floor_divide": lambda: hy.floor_divide(x, y),
        "remainder": lambda: hy.remainder(x, y), "bitwise_and": lambda: hy.bitwise_and(x, y),
        "bitwise_xor": lambda: hy.bitwise_xor(x, y), "add_alpha": lambda: hy.add(x, y, alpha=3),
    }[name]()


def _make(rng, shape, dtype, layout):
    """A tensor of ``shape`` in ``layout``: contiguous, transposed (a permuted view) or sliced (strided)."""
    if layout == "transposed" and len(shape) == 2:
        base = _make(rng, shape[::-1], dtype, "contiguous")
        return base.t()
    if layout == "sliced":
        big = _make(rng, tuple(n * 2 for n in shape), dtype, "contiguous")
        return big[tuple(slice(None, None, 2) for _ in shape)] if len(shape) > 1 else big[::2]
    if dtype in ("float32", "float64"):
        a = rng.standard_normal(shape) * 3
    else:
        a = rng.integers(-50, 50, size=shape)
    return hy.tensor(np.asarray(a, dtype=dtype))


CHAIN_CASES = [(seed, dt, layout) for seed in range(8) for dt in ("float32", "float64", "int32", "int64")
               for layout in ("contiguous", "broadcast", "transposed", "sliced")]


@pytest.mark.parametrize("seed,dtype,layout", CHAIN_CASES, ids=[f"{s}-{d}-{l}" for s, d, l in CHAIN_CASES])
def test_fused_chain_matches_eager(seed, dtype, layout):
    rng = np.random.default_rng(seed)
    kind = "float" if dtype.startswith("float") else "int"
    length = int(rng.integers(2, 7))
    steps, inexact = [], False
    while len(steps) < length:
        step = ("u", str(rng.choice(UNARY[kind]))) if rng.random() < 0.5 else ("b", str(rng.choice(BINARY[kind])))
        if inexact and step[1] in JUMPS:
            continue
        inexact |= step[1] in INEXACT
        steps.append(step)

    def chain(x, y):
        v = x
        for k, name in steps:
            v = _unary(name, v) if k == "u" else _binary(name, v, y)
        return v

    shape = (33, 40)
    x = _make(rng, shape, dtype, "contiguous" if layout == "broadcast" else layout)
    y = _make(rng, (40,) if layout == "broadcast" else shape, dtype, layout if layout != "broadcast" else "contiguous")
    if kind == "int":
        y = hy.where(y == 0, hy.ones_like(y), y)  # integer floor_divide/remainder by zero raise eagerly
    expected = chain(x, y)
    compiled = hy.compile(chain)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        traced = compiled(x, y)
        got = compiled(x, y)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert _native_ran(compiled), f"{steps}: {_kernels(compiled).report()}"
    if kind == "float":
        tol = 2e-5 if dtype == "float32" else 1e-12
        assert_close(got, _np(expected), rtol=tol, atol=tol, msg=str(steps))
    else:
        np.testing.assert_array_equal(_np(got), _np(expected), err_msg=str(steps))
    np.testing.assert_array_equal(_np(traced), _np(expected))


def test_group_outputs_and_mixed_dtypes():
    def f(x, i, b):
        s = x * 2.5 + i           # int32 promoted into float32
        c = (s > 1) & b           # bool logic
        return hy.where(c, s, -s), c, i + 7   # three materialized outputs of one group

    x = hy.randn(100, 7)
    i = hy.tensor(np.arange(700, dtype=np.int32).reshape(100, 7))
    b = hy.tensor(np.random.default_rng(0).random((100, 7)) > 0.5)
    compiled = hy.compile(f)
    compiled(x, i, b)
    got = compiled(x, i, b)
    exp = f(x, i, b)
    assert _native_ran(compiled)
    for g, e in zip(got, exp):
        assert g.dtype == e.dtype
        np.testing.assert_array_equal(_np(g), _np(e))


# ---- semantics equal eager ---------------------------------------------------------------------------
def test_integer_wrap_equals_eager():
    def f(x, y):
        return (x + y) * y - x

    x = hy.tensor(np.array([2**31 - 1, -2**31, 5, 7], dtype=np.int32))
    y = hy.tensor(np.array([1, -1, 2**30, -3], dtype=np.int32))
    compiled = hy.compile(f)
    compiled(x, y)
    np.testing.assert_array_equal(_np(compiled(x, y)), _np(f(x, y)))
    assert _native_ran(compiled)


def test_integer_division_by_zero_raises_like_eager():
    def f(x, y):
        return (x + 1) // y

    x = hy.tensor(np.array([1, 2, 3], dtype=np.int64))
    good = hy.tensor(np.array([1, 2, 3], dtype=np.int64))
    bad = hy.tensor(np.array([1, 0, 3], dtype=np.int64))
    compiled = hy.compile(f)
    np.testing.assert_array_equal(_np(compiled(x, good)), _np(f(x, good)))
    np.testing.assert_array_equal(_np(compiled(x, good)), _np(f(x, good)))
    with pytest.raises(ValueError, match="division by zero"):
        f(x, bad)
    with pytest.raises(ValueError, match="division by zero"):
        compiled(x, bad)


def test_float_division_by_zero_and_nan_rules_equal_eager():
    def f(x, y):
        q = x / y
        return hy.maximum(q, y), hy.minimum(q, x).clamp(-1, 1), hy.floor_divide(x, y), hy.remainder(x, y)

    nan, inf = float("nan"), float("inf")
    x = hy.tensor(np.array([1.0, -1.0, 0.0, nan, inf, -0.0, 5.0], dtype=np.float32))
    y = hy.tensor(np.array([0.0, 0.0, 0.0, 1.0, 2.0, -0.0, -2.0], dtype=np.float32))
    compiled = hy.compile(f)
    compiled(x, y)
    for g, e in zip(compiled(x, y), f(x, y)):
        np.testing.assert_array_equal(_np(g), _np(e))  # NaN == NaN and signed zeros, bit for bit in value
        np.testing.assert_array_equal(np.signbit(_np(g)), np.signbit(_np(e)))
    assert _native_ran(compiled)


# ---- when codegen does not run -------------------------------------------------------------------------
def test_requires_grad_group_compiles_with_its_backward():
    # Autograd records the region as one node (test_compiled_backward.py): its forward group is native.
    def f(x):
        return (x * 2 + 1).tanh()

    x = hy.randn(16, requires_grad=True)
    compiled = hy.compile(f)
    compiled(x)
    y = compiled(x)
    assert _kernels(compiled).kernels and compiled.entries()[0].autograd is not None
    y.sum().backward()
    x2 = x.detach().clone().requires_grad_(True)
    f(x2).sum().backward()
    assert_close(x.grad, _np(x2.grad), rtol=1e-6, atol=1e-6)
    with hy.no_grad():
        compiled(x)
        assert _native_ran(compiled)


def test_no_compiler_falls_back_with_one_warning(monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    compiler_api._codegen_warned.clear()

    def f(x):
        return x * 3 + 1

    def g(x):
        return (x - 1) * 2

    x = hy.randn(10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cf, cg = hy.compile(f), hy.compile(g)
        for _ in range(2):
            np.testing.assert_array_equal(_np(cf(x)), _np(f(x)))
            np.testing.assert_array_equal(_np(cg(x)), _np(g(x)))
    msgs = [str(w.message) for w in caught if issubclass(w.category, CompileWarning)]
    assert len(msgs) == 1, msgs
    assert "/nonexistent/c++" in msgs[0] and "no C++ compiler" in msgs[0]
    assert _kernels(cf).error is not None and not _kernels(cf).kernels


def test_compile_error_falls_back(monkeypatch):
    compiler_api._codegen_warned.clear()
    monkeypatch.setattr(toolchain, "compile_flags", lambda capability=None: ["-O3", "-shared", "-fPIC",
                                                                              "--no-such-flag-hyflow"])

    def f(x):
        return x * 5 - 2

    x = hy.randn(10)
    cf = hy.compile(f)
    with pytest.warns(CompileWarning, match="C\\+\\+ compiler failed"):
        cf(x)
    np.testing.assert_array_equal(_np(cf(x)), _np(f(x)))


def test_hyflow_compile_0_and_codegen_off(monkeypatch):
    def f(x):
        return x * 2 + 1

    x = hy.randn(8)
    monkeypatch.setenv("HYFLOW_CODEGEN", "off")
    cf = hy.compile(f)
    cf(x)
    np.testing.assert_array_equal(_np(cf(x)), _np(f(x)))
    assert _kernels(cf).kernels == {} and _kernels(cf).plans == []
    monkeypatch.setenv("HYFLOW_COMPILE", "0")
    cg = hy.compile(f)
    np.testing.assert_array_equal(_np(cg(x)), _np(f(x)))
    assert cg.entries() == []


def test_single_vectorized_op_stays_eager_unless_all(monkeypatch):
    def f(x):
        return hy.exp(x)

    x = hy.randn(8)
    cf = hy.compile(f)
    cf(x)
    assert not _kernels(cf).kernels
    assert "already vectorized" in _kernels(cf).plans[0].reason
    monkeypatch.setenv("HYFLOW_CODEGEN", "all")
    cg = hy.compile(f)
    cg(x)
    assert _native_ran(cg)
    assert_close(cg(x), _np(f(x)), rtol=2e-6, atol=1e-7)


# ---- threads ------------------------------------------------------------------------------------------
def test_threads_give_identical_results():
    def f(x, y):
        return hy.where(x > 0, x * y + 1, (y - x).abs()).clamp(-3, 3)

    rng = np.random.default_rng(3)
    x = hy.tensor(rng.standard_normal((300, 700)).astype(np.float32))   # > the grain: runs on the pool
    y = hy.tensor(rng.standard_normal((700, 300)).astype(np.float32)).t()  # strided
    before = hy.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            hy.set_num_threads(n)
            cf = hy.compile(f)
            cf(x, y)
            results.append(_np(cf(x, y)))
            assert _native_ran(cf)
    finally:
        hy.set_num_threads(before)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    np.testing.assert_array_equal(results[0], _np(f(x, y)))


# ---- streaming stores for outputs larger than the last-level cache ------------------------------------
@pytest.fixture
def _small_stream_threshold(monkeypatch):
    # Streaming stores start at the L3's size; a small threshold exercises them on small tensors.
    from hyflow.compiler.codegen import kernel_source
    monkeypatch.setattr(kernel_source, "STREAM_BYTES", 4096)
    return kernel_source


def _two_outputs(x, y):
    a = x * y + 1.0
    return a, (a - y).abs().clamp(0.0, 4.0) * 0.25 + x


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_streamed_outputs_match_eager_at_every_offset_and_length(_small_stream_threshold, dtype):
    # Outputs of a kernel moving more than STREAM_BYTES are written in blocks through streaming stores:
    # unaligned heads and tails of each thread's range, views starting mid-line, and lengths that are not
    # a multiple of the block must still give eager's values in every element.
    rng = np.random.default_rng(5)
    before = hy.get_num_threads()
    try:
        for threads in (1, 2):
            hy.set_num_threads(threads)
            for n, offset in ((5000, 0), (4099, 3), (70001, 1)):
                x = hy.tensor((rng.standard_normal(n + offset) * 10).astype(dtype))[offset:]
                y = hy.tensor((rng.standard_normal(n) * 10).astype(dtype))
                cf = hy.compile(_two_outputs)
                got = cf(x, y)
                assert "hy::gen::stream_copy" in _kernels(cf).source
                for g, want in zip(got, _two_outputs(x, y)):
                    np.testing.assert_array_equal(_np(g), _np(want))
    finally:
        hy.set_num_threads(before)


def test_small_kernel_keeps_plain_stores():
    # Below the last-level cache's size the output stays in cache for its next reader: no streaming.
    cf = hy.compile(_two_outputs)
    x, y = hy.randn(1000), hy.randn(1000)
    cf(x, y)
    assert "stream_copy" not in _kernels(cf).source


def test_streaming_chosen_per_call_under_symbolic_sizes(_small_stream_threshold):
    # With a symbolic size, the kernel carries both loops and picks one from this call's size.
    cf = hy.compile(_two_outputs, dynamic=True)
    for n in (7, 100, 3000, 20000):
        x, y = hy.randn(n), hy.randn(n)
        for g, want in zip(cf(x, y), _two_outputs(x, y)):
            np.testing.assert_array_equal(_np(g), _np(want))
    src = _kernels(cf).source
    assert "stream_copy" in src and "meta[" in src


# ---- the launcher checks its arguments -----------------------------------------------------------------
def _one_kernel():
    def f(x):
        return x * 2 + 1

    cf = hy.compile(f)
    x = hy.randn(4, 5)
    cf(x)
    (plan, kernel), = _kernels(cf).kernels.values()
    return kernel, x


def test_launcher_rejects_bad_operands():
    kernel, x = _one_kernel()
    out = hy.empty([4, 5])
    kernel.run([x, out])
    np.testing.assert_array_equal(_np(out), _np(x * 2 + 1))
    with pytest.raises(ValueError, match="operands must hold 2"):
        kernel.run([x])
    with pytest.raises(TypeError, match="dtype float32"):
        kernel.run([x.to(hy.float64), out])
    with pytest.raises(ValueError, match="sizes"):
        kernel.run([hy.randn(5, 4), out])
    with pytest.raises(ValueError, match="strides"):
        kernel.run([hy.randn(5, 4).t(), out])
    with pytest.raises(TypeError):
        kernel.run([x, None])
    from hyflow import _C
    with pytest.raises(ValueError, match="address"):
        _C._compiler.FusedKernel(0, 4, [hy.float32], [[4]], [[1]], [], 1)
    with pytest.raises(ValueError, match="one entry per operand"):
        _C._compiler.FusedKernel(1, 4, [hy.float32], [[4], [4]], [[1]], [], 1)
    with pytest.raises(ValueError, match="numel"):
        _C._compiler.FusedKernel(1, -1, [hy.float32], [[4]], [[1]], [], 1)


# ---- the disk cache ---------------------------------------------------------------------------------
_CACHE_SCRIPT = r"""
import json, sys
import hyflow as hy
from hyflow.compiler.codegen import toolchain
def f(x, y):
    return hy.where(x > y, x - y, y * 3) + 1
cf = hy.compile(f)
x, y = hy.ones(50), hy.full([50], 2.0)
out = cf(x, y)
ok = bool(((out - f(x, y)).abs().sum() == 0).item())
gk = cf.entries()[0].kernels
print(json.dumps({"cache": gk.cache, "error": gk.error, "ok": ok, "path": gk.module.path if gk.module else None}))
"""


def _run_cache_script(cache_root):
    env = dict(os.environ, HYFLOW_CACHE_DIR=str(cache_root))
    out = subprocess.run([sys.executable, "-c", _CACHE_SCRIPT], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_disk_cache_hit_in_second_process_and_corrupt_file_rebuilt(tmp_path):
    first = _run_cache_script(tmp_path)
    assert first == {"cache": "miss", "error": None, "ok": True, "path": first["path"]}
    second = _run_cache_script(tmp_path)
    assert second["cache"] == "hit" and second["ok"]
    # A truncated library (a crash while copying, a full disk) is rebuilt, never loaded.
    with open(first["path"], "r+b") as f:
        f.truncate(100)
    third = _run_cache_script(tmp_path)
    assert third["cache"] == "rebuilt" and third["ok"]
    # A foreign file with a forged sidecar that matches it: the symbol is missing, so it is rebuilt too.
    other = tmp_path / "other.cpp"
    other.write_text('extern "C" int something_else() { return 1; }\n')
    subprocess.run(["c++", "-shared", "-fPIC", str(other), "-o", first["path"]], check=True)
    meta_path = first["path"][:-3] + ".json"
    meta = json.load(open(meta_path))
    meta["size"] = os.path.getsize(first["path"])
    meta["sha256"] = toolchain._sha256_file(first["path"])
    json.dump(meta, open(meta_path, "w"))
    fourth = _run_cache_script(tmp_path)
    assert fourth["cache"] == "rebuilt" and fourth["ok"]
    assert _run_cache_script(tmp_path)["cache"] == "hit"


def test_two_processes_compiling_at_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = pool.map(_run_cache_script, [tmp_path, tmp_path])
    assert all(r["ok"] and r["error"] is None for r in results), results
    assert {r["cache"] for r in results} <= {"miss", "hit", "rebuilt"}
    assert _run_cache_script(tmp_path)["cache"] == "hit"
    assert not [p for p in os.listdir(results[0]["path"].rsplit("/", 1)[0]) if p.startswith(".tmp-")]


def test_explain_shows_source_and_cache():
    def f(x):
        return (x + 1) * (x - 1)

    ex = hy.compiler.explain(f, hy.randn(6))
    text = str(ex)
    assert "native kernels (1" in text and "generated source:" in text and 'extern "C"' in text
    assert ex.kernels.cache in ("hit", "miss")
    assert "codegen" in ex.timings


# ---- scheduling: where a group runs ---------------------------------------------------------------------
def test_group_interleaved_with_roll_runs_as_one_kernel_in_a_functional_graph():
    def f(h, u):
        a = h * 2 + u                  # group member
        r = hy.roll(a, 1, 0)           # outside node reading a member's value ...
        return (a - 1) * 3 + r         # ... read by later members of the same group

    h, u = hy.randn(16, 8), hy.randn(16, 8)
    cf = hy.compile(f)
    cf(h, u)
    got = cf(h, u)
    np.testing.assert_array_equal(_np(got), _np(f(h, u)))
    plans = _kernels(cf).plans
    assert any(p.spec is not None and len(p.nodes) >= 4 for p in plans), _kernels(cf).report()


def test_group_interleaved_with_a_write_is_not_reordered():
    def f(x, buf):
        a = x * 2
        buf.add_(a)                    # writes memory: the graph keeps its order
        return (a + 1) * buf

    x = hy.randn(10)
    expected = f(x, hy.ones(10))
    cf = hy.compile(f)
    cf(x, hy.ones(10))
    got = cf(x, hy.ones(10))
    np.testing.assert_array_equal(_np(got), _np(expected))
    reasons = [p.reason or "" for p in _kernels(cf).plans]
    assert any("not reordered" in r for r in reasons), reasons


def test_topological_order_refuses_mutually_dependent_groups():
    from hyflow.compiler import capture
    from hyflow.compiler.codegen.schedule import topological_order

    def f(x):
        a1 = x + 1
        b1 = a1 * 2
        b2 = x * 3
        a2 = b2 - 1
        return b1, a2

    x = hy.randn(8)
    g = capture.trace(f, (x,), {}, input_leaves=[x]).graph
    a1, b1, b2, a2 = g.nodes

    class Group:
        def __init__(self, *nodes):
            self.nodes = list(nodes)

    # A = {a1, a2}, B = {b1, b2}: A feeds B (a1 -> b1) and B feeds A (b2 -> a2): no order runs each as one step.
    assert topological_order(g, [Group(a1, a2), Group(b1, b2)]) is None
    one = topological_order(g, [Group(a1, a2)])
    assert [k for k, _ in one].count("group") == 1 and len(one) == 3
    kinds = [(k, x.op if k == "node" else None) for k, x in one]
    assert kinds.index(("node", "mul")) < kinds.index(("group", None))  # b2 runs before the group needing it
