"""GEMM epilogues (codegen/gemm_epilogue.py, csrc/compiler/gemm_epilogue.h): mm / matmul / addmm with the
compiled elementwise group that reads their product, as one launch. Compiled vs eager (the product is
eager's bit for bit; the epilogue computes the same scalar expressions), dtypes, layouts, the product
read elsewhere, what stays separate, the compiled backward (MLP training), the launcher's checks,
explain."""
import warnings

import numpy as np
import pytest

import hyflow as hy
import hyflow.nn as nn
import hyflow.nn.functional as F
from hyflow import _C
from hyflow.compiler import CompileWarning
from hyflow.testing import assert_close


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    root = tmp_path_factory.getbasetemp() / "hyflow-gemm-epilogue-cache"
    monkeypatch.setenv("HYFLOW_CACHE_DIR", str(root))
    monkeypatch.delenv("HYFLOW_CODEGEN", raising=False)
    monkeypatch.delenv("CXX", raising=False)


def _epilogues(gk):
    assert gk is not None and gk.error is None, gk and gk.error
    return [p for p in gk.plans if p.kind == "gemm-epilogue"]


def _run(fn, *args):
    expected = fn(*args)
    compiled = hy.compile(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        compiled(*args)
        got = compiled(*args)
    return got, expected, compiled


def _tensor(rng, shape, dtype, transposed=False):
    if transposed:
        return _tensor(rng, shape[::-1], dtype).t()
    return hy.tensor(np.asarray(rng.standard_normal(shape), dtype=dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transposed", [False, True])
def test_epilogues_match_eager(dtype, transposed):
    rng = np.random.default_rng(4)
    x = _tensor(rng, (33, 70), dtype, transposed)
    w = _tensor(rng, (50, 70), dtype)
    b = _tensor(rng, (50,), dtype)
    r = _tensor(rng, (33, 50), dtype)
    cases = [
        (lambda x, w, b, r: F.linear(x, w, b).relu(), ["addmm", "relu"]),
        (lambda x, w, b, r: hy.sigmoid(x @ w.t() + b) * r, ["matmul", "add", "sigmoid", "mul"]),
        (lambda x, w, b, r: hy.mm(x, w.t()).tanh() * 0.5 + r, ["mm", "tanh", "mul", "add"]),
        (lambda x, w, b, r: F.gelu(hy.addmm(b, x, w.t(), beta=0.5, alpha=2.0) + r), ["addmm", "add", "gelu"]),
    ]
    for fn, ops in cases:
        got, expected, compiled = _run(fn, x, w, b, r)
        plans = _epilogues(compiled.entries()[-1].kernels)
        assert len(plans) == 1 and plans[0].ops == ops, [(p.ops, p.reason) for p in plans]
        assert got.dtype == expected.dtype and tuple(got.shape) == tuple(expected.shape)
        assert_close(got, expected)


def test_product_bit_exact_and_read_elsewhere():
    # The product is eager's (same kernel, same BLAS); it is also returned, so it is kept as a value.
    def fn(x, w):
        p = x @ w
        return p, (p * 3 - 1).relu()

    x, w = hy.randn(64, 100), hy.randn(100, 40)
    got, expected, compiled = _run(fn, x, w)
    assert _epilogues(compiled.entries()[-1].kernels)
    assert_close(got[0], expected[0], rtol=0, atol=0)
    assert_close(got[1], expected[1], rtol=0, atol=0)


def test_what_stays_separate():
    # Integer products (no BLAS), batched matmul (a 3-d product), a product whose reader sits between
    # the GEMM and the group, and a GEMM without an elementwise consumer are not attached.
    xi = hy.tensor(np.arange(12, dtype=np.int64).reshape(3, 4))
    wi = hy.tensor(np.arange(8, dtype=np.int64).reshape(4, 2))
    xb, wb = hy.randn(2, 3, 4), hy.randn(4, 5)
    x, w = hy.randn(6, 4), hy.randn(4, 5)

    def reader_between(x, w):
        p = x @ w
        s = p.sum(0)              # a reduction over a leading dim: eager, reads p before the group
        return (p * 2).relu(), s

    for fn, args in [(lambda x, w: (x @ w) * 2 + 1, (xi, wi)), (lambda x, w: (x @ w).relu() * 2, (xb, wb)),
                     (lambda x, w: x @ w, (x, w))]:
        got, expected, compiled = _run(fn, *args)
        gk = compiled.entries()[-1].kernels
        assert gk is None or not _epilogues(gk)
        assert_close(got, expected)
    got, expected, compiled = _run(reader_between, x, w)
    assert_close(got[0], expected[0])
    assert_close(got[1], expected[1])


@pytest.mark.usefixtures("compiled_backward_always")
def test_mlp_training_with_epilogues_matches_eager():
    # Forward: addmm -> relu per layer as one launch; the backward's mm -> relu-gradient products too.
    hy.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 5))
    x, y = hy.randn(16, 20), hy.tensor(np.arange(16) % 5)
    compiled = hy.compile(model)
    loss = F.cross_entropy(compiled(x), y)
    loss.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    expected = F.cross_entropy(model(x), y)
    expected.backward()
    assert_close(loss, expected)
    for g, p in zip(grads, model.parameters()):
        assert_close(g, p.grad)
    text = str(hy.compiler.explain(compiled, x))
    assert "gemm-epilogue: addmm -> relu: kernel" in text


def test_launcher_checks_its_arguments():
    def fn(x, w):
        return (x @ w).relu()

    x, w = hy.randn(4, 3), hy.randn(3, 5)
    compiled = hy.compile(fn)
    compiled(x, w)
    gk = compiled.entries()[-1].kernels
    (plan, launcher), = gk.kernels.values()
    out = hy.empty([4, 5])
    product = launcher.run([x, w], [out])
    assert_close(product, x @ w, rtol=0, atol=0)
    assert_close(out, (x @ w).relu(), rtol=0, atol=0)
    with pytest.raises(ValueError, match="gemm_args must hold 2"):
        launcher.run([x], [out])
    with pytest.raises(ValueError, match="operands must hold 1"):
        launcher.run([x, w], [])
    with pytest.raises(ValueError, match="sizes"):   # a product of another shape: the epilogue refuses it
        launcher.run([hy.randn(5, 3), w], [out])
    with pytest.raises(ValueError, match="cannot be multiplied"):
        launcher.run([x, hy.randn(4, 5)], [out])
    fk = _C._compiler.FusedKernel(1, 4, [hy.float32], [[4]], [[1]], [], 1)
    with pytest.raises(ValueError, match="op must be"):
        _C._compiler.GemmEpilogue("bmm", 1, 1, fk, 0)
    with pytest.raises(ValueError, match="slot"):
        _C._compiler.GemmEpilogue("mm", 1, 1, fk, 3)
