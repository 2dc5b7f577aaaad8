"""addmm with a bias vector (nn.Linear on 2-D input) on cuBLASLt's bias epilogue (csrc/cuda/cublas/gemm_lt.cpp,
docs/cuda.md "matmul / mm / bmm / addmm"): Lt on, Lt off (plain cuBLAS) and the CPU agree for the three
dtypes, transposed and misaligned operands, odd and empty sizes, gradients and side streams; the cases Lt
does not take stay on plain cuBLAS; the switch and the algorithm cache do what they say. Skipped without a
GPU (conftest.py) and in builds without cuBLAS."""
import contextlib

import numpy as np
import pytest

import hyflow as hy
import hyflow.nn.functional as F
from hyflow import _C

pytestmark = pytest.mark.skipif(not hy.build_info()["cublas"], reason="hyflow was built without cuBLAS")

DTYPES = (hy.float32, hy.float16, hy.bfloat16)
# Inputs are scaled so each output is O(1): the bound is the output's rounding plus float32 accumulation.
TOL = {hy.float32: 1e-4, hy.float16: 4e-3, hy.bfloat16: 3e-2}


def stats():
    return _C._cuda_cublaslt_stats(0)


@contextlib.contextmanager
def lt(allow):
    before = hy.backends.cuda.matmul.allow_cublaslt
    hy.backends.cuda.matmul.allow_cublaslt = allow
    try:
        yield
    finally:
        hy.backends.cuda.matmul.allow_cublaslt = before


def rand(shape, dtype, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return hy.from_numpy(rng.standard_normal(shape) * scale).to(dtype)


def close(got, want, dtype):
    """got (CUDA, `dtype`) matches want (a CPU float64 reference) within the dtype's bound."""
    assert got.device == "cuda:0" and got.dtype == dtype and tuple(got.shape) == tuple(want.shape)
    g, w = got.cpu().to(hy.float64).numpy(), want.numpy()
    if w.size:
        err = float(np.abs(g - w).max())
        assert err <= TOL[dtype] * max(1.0, float(np.abs(w).max())), f"max error {err:.3g}"


def reference(bias, x, w_t, beta=1.0, alpha=1.0):
    """beta * bias + alpha * x @ w_t on the CPU in float64, from the very values the GPU got."""
    d = hy.float64
    return beta * bias.cpu().to(d) + alpha * (x.cpu().to(d) @ w_t.cpu().to(d))


def run_both(bias, x, w_t, **kw):
    """addmm with Lt on and off: (lt result, plain result, Lt calls made, fallbacks made)."""
    s0 = stats()
    with lt(True):
        on = hy.addmm(bias, x, w_t, **kw)
    s1 = stats()
    with lt(False):
        off = hy.addmm(bias, x, w_t, **kw)
    s2 = stats()
    assert (s2["lt_calls"], s2["fallbacks"]) == (s1["lt_calls"], s1["fallbacks"]), "Lt used while switched off"
    return on, off, s1["lt_calls"] - s0["lt_calls"], s1["fallbacks"] - s0["fallbacks"]


def test_switch_defaults_on():
    assert hy.backends.cuda.matmul.allow_cublaslt is True
    with pytest.raises(TypeError, match="bool"):
        hy.backends.cuda.matmul.allow_cublaslt = 1


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("m,k,n", [(64, 64, 64), (1, 1, 1), (3, 17, 1000), (17, 1000, 3), (1000, 3, 17),
                                   (1, 1000, 17), (17, 1, 1000), (1000, 17, 1)])
def test_linear_bias_lt_on_off_and_cpu(dtype, m, k, n):
    x = rand((m, k), dtype, seed=1).cuda()
    w = rand((n, k), dtype, scale=k ** -0.5, seed=2).cuda()  # nn.Linear's weight: used as w.T (op T)
    b = rand((n,), dtype, seed=3).cuda()
    on, off, calls, fallbacks = run_both(b, x, w.T)
    assert calls + fallbacks == 1  # the bias case always asks Lt
    if (m, k, n) == (64, 64, 64):
        assert calls == 1, "cuBLASLt found no algorithm for an aligned 64^3 product"
    want = reference(b, x, w.T)
    close(on, want, dtype)
    close(off, want, dtype)
    close(F.linear(x, w, b), want, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_operand_layouts(dtype):
    m, k, n = 33, 40, 24
    x = rand((m, k), dtype, seed=4).cuda()
    w = rand((k, n), dtype, scale=k ** -0.5, seed=5).cuda()
    b = rand((n,), dtype, seed=6).cuda()
    layouts = {
        "dense": (x, w),                                                 # op N, op N
        "transposed": (x.T.contiguous().T, w.T.contiguous().T),          # op T, op T
        "strided": (rand((m, 2 * k), dtype, seed=7).cuda()[:, ::2],      # dense copies first
                    rand((2 * k, n), dtype, scale=k ** -0.5, seed=8).cuda()[::2]),
    }
    for name, (a, bm) in layouts.items():
        on, off, calls, fallbacks = run_both(b, a, bm)
        assert calls + fallbacks == 1, name
        want = reference(b, a, bm)
        close(on, want, dtype)
        close(off, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_misaligned_pointers(dtype):
    # Views at an element's offset: the heuristic is told each pointer's alignment (2 or 4 bytes here).
    m, k, n = 16, 24, 40
    flat_x = rand((m * k + 1,), dtype, seed=9).cuda()
    flat_w = rand((n * k + 1,), dtype, scale=k ** -0.5, seed=10).cuda()
    x, w = flat_x[1:].reshape(m, k), flat_w[1:].reshape(n, k)
    b = rand((n + 1,), dtype, seed=11).cuda()[1:]
    on, off, calls, fallbacks = run_both(b, x, w.T)
    assert (calls, fallbacks) == (0, 1)  # a misaligned bias is left to plain cuBLAS (gemm_lt.cpp)
    want = reference(b, x, w.T)
    close(on, want, dtype)
    close(off, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_cases_lt_does_not_take(dtype):
    m, k, n = 8, 16, 12
    x, w = rand((m, k), dtype, seed=12).cuda(), rand((k, n), dtype, scale=k ** -0.5, seed=13).cuda()
    cases = {
        "full bias": (rand((m, n), dtype, seed=14).cuda(), {}),
        "column bias": (rand((m, 1), dtype, seed=15).cuda(), {}),
        "one-element bias": (rand((1,), dtype, seed=16).cuda(), {}),
        "strided bias": (rand((2 * n,), dtype, seed=17).cuda()[::2], {}),
        "alpha": (rand((n,), dtype, seed=18).cuda(), {"alpha": 2.0}),
        "beta": (rand((n,), dtype, seed=19).cuda(), {"beta": 0.5}),
    }
    for name, (bias, kw) in cases.items():
        on, off, calls, fallbacks = run_both(bias, x, w, **kw)
        assert (calls, fallbacks) == (0, 0), name
        want = reference(bias, x, w, **kw)
        close(on, want, dtype)
        close(off, want, dtype)
    # The [1, n] row is a bias vector too.
    row = rand((1, n), dtype, seed=20).cuda()
    on, off, calls, fallbacks = run_both(row, x, w)
    assert calls + fallbacks == 1
    close(on, reference(row, x, w), dtype)


def test_float64_stays_on_plain_cublas():
    x, w, b = (rand(s, hy.float64, seed=i).cuda() for i, s in enumerate([(5, 7), (7, 3), (3,)]))
    on, off, calls, fallbacks = run_both(b, x, w)
    assert (calls, fallbacks) == (0, 0)
    np.testing.assert_allclose(on.cpu().numpy(), reference(b, x, w).numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("m,k,n", [(0, 5, 3), (4, 5, 0), (4, 0, 3), (0, 0, 0)])
def test_empty_dims(dtype, m, k, n):
    x, w, b = rand((m, k), dtype).cuda(), rand((k, n), dtype).cuda(), rand((n,), dtype).cuda()
    on, off, calls, fallbacks = run_both(b, x, w)
    assert (calls, fallbacks) == (0, 0)  # nothing to multiply: no GEMM at all
    want = reference(b, x, w)  # k == 0: the bias broadcast
    close(on, want, dtype)
    close(off, want, dtype)


@pytest.mark.parametrize("dtype", (hy.float32, hy.bfloat16), ids=str)
@pytest.mark.parametrize("allow", (True, False))
def test_linear_gradients(dtype, allow):
    hy.manual_seed(0)
    cpu = hy.nn.Linear(17, 5).to(dtype)
    gpu = hy.nn.Linear(17, 5).to(dtype)
    gpu.load_state_dict(cpu.state_dict())
    gpu = gpu.cuda()
    x = rand((9, 17), dtype, seed=21)
    g = rand((9, 5), dtype, seed=22)
    xc = x.clone().requires_grad_(True)
    xg = x.cuda().requires_grad_(True)
    with lt(allow):
        before = stats()["lt_calls"] + stats()["fallbacks"]
        (gpu(xg) * g.cuda()).sum().backward()
        assert stats()["lt_calls"] + stats()["fallbacks"] - before == (1 if allow else 0)
    (cpu(xc) * g).sum().backward()
    tol = 1e-4 if dtype == hy.float32 else 3e-2
    for got, want in [(xg.grad, xc.grad), (gpu.weight.grad, cpu.weight.grad), (gpu.bias.grad, cpu.bias.grad)]:
        np.testing.assert_allclose(got.cpu().to(hy.float64).numpy(), want.to(hy.float64).numpy(), rtol=tol, atol=tol)


def test_side_stream_and_algorithm_cache():
    _C._cuda_clear_cublaslt_cache(0)
    assert stats()["cached"] == 0
    x, w = rand((128, 256), hy.float32).cuda(), rand((256, 64), hy.float32, 1 / 16).cuda()
    b = rand((64,), hy.float32).cuda()
    side = hy.cuda.Stream()
    side.wait_stream(hy.cuda.current_stream())
    with lt(True), hy.cuda.stream(side):
        first = hy.addmm(b, x, w)
        calls = stats()["lt_calls"]
        second = hy.addmm(b, x, w)  # the same key: the cached algorithm, no new entry
    side.synchronize()
    assert stats()["cached"] == 1 and stats()["lt_calls"] == calls + 1
    want = reference(b, x, w)
    close(first, want, hy.float32)
    close(second, want, hy.float32)
    hy.addmm(b, x, w.T.contiguous().T)  # another layout: another key
    assert stats()["cached"] == 2
    _C._cuda_clear_cublaslt_cache(0)
    assert stats()["cached"] == 0
