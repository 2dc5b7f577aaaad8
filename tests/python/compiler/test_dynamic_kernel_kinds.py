"""The kernel kinds of full/leading-dim reductions, softmax row ops and GEMM epilogues under symbolic sizes
(hy.compile(dynamic=True)) and mode="max-autotune": one compile serves every size and results match eager.
All of them take symbolic sizes: a full reduction's block count and a leading-dim reduction's column-block
count are run-time values, while the blocks and the order of the additions still depend on the sizes only
(bit-identical to the kernel generated for fixed sizes, at any thread count)."""
import numpy as np
import pytest

import hyflow as hy
import hyflow.nn.functional as F
from hyflow import nn


def t(*shape, seed=0, dtype=hy.float32):
    return hy.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float64)).to(dtype)


def close(a, b, rtol=1e-5, atol=1e-5):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HYFLOW_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("HYFLOW_CODEGEN", raising=False)


def _kernels(f):
    (entry,) = f.entries()
    gk = entry.kernels
    assert gk is not None and gk.error is None, gk and gk.error
    return gk


def _compiled_kinds(gk):
    return sorted(p.kind for p in gk.plans if p.spec is not None)


def test_gemm_epilogue_with_symbolic_batch():
    def fn(x, w, b, r):
        return F.linear(x, w, b).relu() * 0.5 + r
    w, b = t(24, 16, seed=1), t(24, seed=2)
    f = hy.compile(fn, dynamic=True)
    for n in (8, 13, 40, 3):
        x, r = t(n, 16, seed=n), t(n, 24, seed=n + 1)
        close(f(x, w, b, r), fn(x, w, b, r))
    assert f.compiles == 1
    gk = _kernels(f)
    (plan,) = [p for p in gk.plans if p.kind == "gemm-epilogue"]
    assert plan.gemm.op == "addmm" and plan.spec.sizes.dynamic      # the epilogue takes run-time sizes


def test_softmax_op_fuses_with_symbolic_rows_and_row_length():
    def fn(x):
        return hy.softmax(x * 0.5, -1) * 2.0
    f = hy.compile(fn, dynamic=True)
    for shape in ((6, 33), (11, 7), (4, 100)):
        x = t(*shape, seed=shape[0])
        close(f(x), fn(x), rtol=1e-5, atol=1e-6)
    assert f.compiles == 1
    gk = _kernels(f)
    assert _compiled_kinds(gk) == ["row-reduction"]
    assert all(p.spec.sizes.dynamic for p in gk.plans if p.spec is not None)


@pytest.mark.parametrize("op", ["sum", "mean", "amax"])
def test_symbolic_leading_dim_reduction_is_one_kernel_and_matches_eager(op):
    # Row counts and column counts that change per call (below, at and above one block of 256 columns),
    # with the full-shape intermediate stored on the way.
    def fn(a, b):
        d = (a - b) * (a + b)
        return getattr(d, op)(0), d
    f = hy.compile(fn, dynamic=True)
    for n, c in ((9, 12), (30, 256), (5, 257), (40, 700)):
        a, b = t(n, c, seed=n), t(n, c, seed=n + 1)
        for got, want in zip(f(a, b), fn(a, b)):
            close(got, want, rtol=1e-5, atol=1e-5)
    assert f.compiles == 1
    gk = _kernels(f)
    assert _compiled_kinds(gk) == ["column-reduction"]
    assert all(p.spec.sizes.dynamic for p in gk.plans if p.spec is not None)


def test_symbolic_leading_dim_reduction_of_a_transpose_equals_the_fixed_size_kernel():
    # Symbolic strides (a transpose inside the function); the symbolic kernel adds each column's rows in
    # the same order as the kernel generated for these sizes: identical bits, at any thread count.
    def fn(x):
        return (x.t() * 1.5 - 0.25).sum(0)
    x = t(700, 48, seed=4)
    fixed = hy.compile(fn, dynamic=False)
    fixed(x)                # the first call traces (and runs eagerly); the second runs the kernel
    want = fixed(x)
    before = hy.get_num_threads()
    try:
        for threads in (1, 2, 3):
            hy.set_num_threads(threads)
            f = hy.compile(fn, dynamic=True)
            f(t(33, 48, seed=5))
            assert bool((f(x) == want).all().item())
            assert f.compiles == 1
            assert _compiled_kinds(_kernels(f)) == ["column-reduction"]
            assert _kernels(f).plans[0].spec.sizes.dynamic
    finally:
        hy.set_num_threads(before)
    close(want, fn(x), rtol=1e-4, atol=1e-4)


def test_fixed_sizes_in_a_dynamic_function_keep_full_reductions_generated():
    # dynamic=None: the static first entry has a full-reduction kernel; after the size changes, the
    # symbolic entry has one too (with run-time sizes). Both agree with eager.
    def fn(a, b):
        return ((a - b) ** 2).mean()
    f = hy.compile(fn)
    a, b = t(64, 8), t(64, 8, seed=1)
    f(a, b)
    close(f(a, b), fn(a, b))
    assert _compiled_kinds(f.entries()[0].kernels) == ["full-reduction"]
    for n in (65, 17):
        a, b = t(n, 8, seed=n), t(n, 8, seed=n + 1)
        close(f(a, b), fn(a, b))
    assert f.compiles == 2
    assert _compiled_kinds(f.entries()[-1].kernels) == ["full-reduction"]
    assert f.entries()[-1].kernels.plans[0].spec.sizes.dynamic


@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin"])
def test_symbolic_full_reduction_is_one_kernel_and_matches_eager(op):
    # One compile serves every size (a block count and a tail that change per call, sizes below, at and
    # above one block of 4096), with the full-shape intermediate stored on the way.
    def fn(a, b):
        d = (a - b) * (a + b)
        return getattr(d, op)(), d
    f = hy.compile(fn, dynamic=True)
    for n in (9, 30, 5, 4096 // 12, 4096 // 12 + 1, 3001):
        a, b = t(n, 12, seed=n), t(n, 12, seed=n + 1)
        for got, want in zip(f(a, b), fn(a, b)):
            close(got, want, rtol=1e-5, atol=1e-5)
    assert f.compiles == 1
    gk = _kernels(f)
    assert _compiled_kinds(gk) == ["full-reduction"]
    assert all(p.spec.sizes.dynamic for p in gk.plans if p.spec is not None)


def test_symbolic_full_reduction_equals_the_fixed_size_kernel_bit_for_bit_at_any_thread_count():
    # The block size is a constant, so a symbolic kernel cuts N into the same blocks and combines their
    # partials in the same tree as a kernel generated for that N: identical bits, at any thread count.
    def fn(a):
        return (a * 1.5 + 0.25).sum()
    a = t(700, 130, seed=3)
    fixed = hy.compile(fn, dynamic=False)
    fixed(a)                # the first call traces (and runs eagerly); the second runs the kernel
    want = fixed(a).item()
    assert not _kernels(fixed).plans[0].spec.sizes.dynamic
    before = hy.get_num_threads()
    try:
        for threads in (1, 2, 3):
            hy.set_num_threads(threads)
            f = hy.compile(fn, dynamic=True)
            f(t(33, 130, seed=4))    # traces with another size; the call below runs the symbolic kernel
            assert f(a).item() == want
            assert f.compiles == 1
            assert _kernels(f).plans[0].spec.sizes.dynamic
    finally:
        hy.set_num_threads(before)


def test_symbolic_full_reduction_of_transposed_and_broadcast_operands():
    # A transposed operand (symbolic strides) and a row broadcast against a symbolic batch.
    def fn(x, r):
        return ((x.t() - r) ** 2).mean()
    f = hy.compile(fn, dynamic=True)
    for n in (6, 50, 333):
        x, r = t(16, n, seed=n), t(16, seed=n + 1)
        close(f(x, r), fn(x, r))
    assert f.compiles == 1
    assert _compiled_kinds(_kernels(f)) == ["full-reduction"]


@pytest.mark.usefixtures("compiled_backward_always")
def test_training_with_symbolic_batch_uses_epilogues_in_the_backward():
    model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 4))
    compiled = hy.compile(model, dynamic=True)
    for n in (16, 9, 33):
        x = t(n, 12, seed=n)
        compiled(x).square().mean().backward()
        got = [p.grad.clone() for p in model.parameters()]
        model.zero_grad()
        model(x).square().mean().backward()
        for g, p in zip(got, model.parameters()):
            close(g, p.grad)
        model.zero_grad()
    assert compiled._compiled.compiles == 1
    (entry,) = compiled._compiled.entries()
    backward = entry.autograd.backward_kernels
    assert "gemm-epilogue" in _compiled_kinds(backward)
    # The hidden layer's bias gradient (sum(0) of the relu gradient) fuses into the epilogue with the
    # symbolic batch; the output layer's lone sum(0) runs eagerly (its eager kernel is as fast).
    assert any(p.kind == "gemm-epilogue" and p.ops[-1] == "sum" and p.spec is not None for p in backward.plans)


def test_max_autotune_with_new_kernel_kinds():
    # A full reduction, a leading-dim reduction and a GEMM epilogue in one function: the tuned launchers
    # (reductions) and the untuned one (the epilogue) give the default mode's results.
    def fn(x, w, b):
        y = F.linear(x, w, b).relu() * 2.0
        d = (x * 3.0 - 1.0).abs()
        return y, (d * d).mean(), (d + 1.0).sum(0)
    x, w, b = t(300, 64), t(40, 64, seed=1), t(40, seed=2)
    tuned, plain = hy.compile(fn, mode="max-autotune"), hy.compile(fn)
    tuned(x, w, b)
    plain(x, w, b)
    kinds = _compiled_kinds(tuned.entries()[0].kernels)
    assert kinds == ["column-reduction", "full-reduction", "gemm-epilogue"], kinds
    for _ in range(2):          # the first replay tunes, the second runs the tuned launchers
        for p, q, r in zip(tuned(x, w, b), plain(x, w, b), fn(x, w, b)):
            assert bool((p == q).all().item())
            close(p, r, rtol=1e-4, atol=1e-4)
