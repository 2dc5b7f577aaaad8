"""hyflow's own bf16 GEMM kernels (csrc/kernels/cpu/gemm_bf16.h): AMX tiles and AVX512-BF16, each forced
with HYFLOW_LOWP_GEMM, against float64 references over shapes that hit every edge of the packing (tails
of the 16/32 tiles, k across the 512-k passes, m and n across the 256 blocks), every operand layout, the
batch paths, thread counts, and a refused AMX permission. A CPU without a kernel skips its cases; the
float32 path and oneDNN are covered by test_lowp_kernels.py.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import hyflow as hy

from test_lowp_kernels import assert_close_to_product, f64, low

FEATURES = set(hy.build_info()["cpu_lowp_features"])
KERNELS = ["amx_bf16", "avx512_bf16"]


def kernel_in_use():
    return hy.build_info()["lowp_gemm_kernel"]


@pytest.fixture(params=KERNELS)
def kernel(request, monkeypatch):
    """Forces one kernel (the default picks AMX where it can); skips where this CPU lacks it."""
    if request.param == "amx_bf16":
        monkeypatch.delenv("HYFLOW_LOWP_GEMM", raising=False)
    else:
        monkeypatch.setenv("HYFLOW_LOWP_GEMM", "avx512_bf16")
    if kernel_in_use() != request.param:
        pytest.skip(f"this CPU (or Linux) gives no {request.param} kernel (in use: {kernel_in_use()})")
    return request.param


def check_mm(a, b):
    ref, absref = f64(a) @ f64(b), np.abs(f64(a)) @ np.abs(f64(b))
    assert_close_to_product(a @ b, ref, absref, hy.bfloat16)


# (m, k, n): 1s, tile tails (15, 17, 31, 33), k across a 512-k pass (513, 1030), m/n across 256 blocks.
SHAPES = [(1, 1, 1), (1, 40, 1), (1, 77, 300), (300, 77, 1), (5, 1, 9), (15, 31, 17), (16, 32, 16),
          (17, 33, 31), (32, 64, 32), (33, 65, 47), (64, 513, 48), (100, 1030, 36), (257, 40, 300),
          (300, 96, 520)]


@pytest.mark.parametrize("m,k,n", SHAPES)
def test_shapes_match_float64_reference(kernel, m, k, n):
    check_mm(low((m, k), hy.bfloat16), low((k, n), hy.bfloat16, seed=1))


@pytest.mark.parametrize("ta,tb", [(False, True), (True, False), (True, True)])
@pytest.mark.parametrize("m,k,n", [(17, 33, 31), (64, 513, 48), (257, 40, 300)])
def test_transposed_operands(kernel, ta, tb, m, k, n):
    a = low((k, m), hy.bfloat16).T if ta else low((m, k), hy.bfloat16)
    b = low((n, k), hy.bfloat16, seed=1).T if tb else low((k, n), hy.bfloat16, seed=1)
    check_mm(a, b)


# Skinny products (a linear layer with 2 outputs, its backward with 2 inputs, the weight gradient of a
# 2-output layer): the AVX-512 kernel skips padding rows, a padding B strip and the zero pairs of the last
# k tile; the packing reads nothing past m or n (strips of the padding are zeros, not loads).
@pytest.mark.parametrize("ta,tb", [(False, False), (False, True), (True, False), (True, True)])
@pytest.mark.parametrize("m,k,n", [(2, 700, 32), (700, 2, 32), (700, 27, 2), (300, 32, 17), (9, 1, 40),
                                   (1, 33, 1), (40, 3, 16), (3, 35, 3)])
def test_skinny_products(kernel, ta, tb, m, k, n):
    a = low((k, m), hy.bfloat16).T if ta else low((m, k), hy.bfloat16)
    b = low((n, k), hy.bfloat16, seed=1).T if tb else low((k, n), hy.bfloat16, seed=1)
    check_mm(a, b)


def test_strided_operands_read_in_place(kernel):
    # Leading dimensions larger than the rows, an odd column offset (unaligned rows), both transposed.
    a = low((40, 90), hy.bfloat16)[::2, 3:70]  # (20, 67), ld 180
    b = low((67, 101), hy.bfloat16, seed=1)[:, 1:36]  # (67, 35), ld 101
    check_mm(a, b)
    check_mm(b.T, a.T)
    c = low((3, 50, 20), hy.bfloat16, seed=2)[1, ::3]  # (17, 20), row stride 60
    check_mm(c, low((20, 9), hy.bfloat16, seed=3))


@pytest.mark.parametrize("batch,m,k,n", [(24, 9, 13, 11), (3, 300, 70, 260), (2, 64, 600, 40)])
def test_batched_products(kernel, batch, m, k, n):
    # Many small products go one per thread, few large ones are split inside: both paths.
    a, b = low((batch, m, k), hy.bfloat16), low((batch, k, n), hy.bfloat16, seed=1)
    ref = np.matmul(f64(a), f64(b))
    assert_close_to_product(hy.bmm(a, b), ref, np.matmul(np.abs(f64(a)), np.abs(f64(b))), hy.bfloat16)
    w = low((k, n), hy.bfloat16, seed=2)  # broadcast over the batch
    assert_close_to_product(a @ w, np.matmul(f64(a), f64(w)), np.matmul(np.abs(f64(a)), np.abs(f64(w))),
                            hy.bfloat16)
    p = low((k, batch, m), hy.bfloat16, seed=3).permute(1, 2, 0)  # batched and transposed
    assert_close_to_product(p @ b, np.matmul(f64(p), f64(b)), np.matmul(np.abs(f64(p)), np.abs(f64(b))),
                            hy.bfloat16)


def test_addmm_and_linear_accumulate_in_float32(kernel):
    a, b, bias = low((70, 45), hy.bfloat16), low((45, 33), hy.bfloat16, seed=1), low((33,), hy.bfloat16, seed=2)
    got = hy.addmm(bias, a, b, beta=0.5, alpha=-2.0)
    ref = 0.5 * f64(bias) - 2.0 * (f64(a) @ f64(b))
    absref = 0.5 * np.abs(f64(bias)) + 2.0 * (np.abs(f64(a)) @ np.abs(f64(b)))
    assert_close_to_product(got, np.broadcast_to(ref, (70, 33)), np.broadcast_to(absref, (70, 33)), hy.bfloat16)


def test_nan_inf_and_rounding(kernel):
    a_np = f64(low((40, 50), hy.bfloat16))
    a_np[0, 7], a_np[1, 49], a_np[2, 0], a_np[2, 1] = np.nan, np.inf, np.inf, -np.inf
    a = hy.tensor(a_np).to(hy.bfloat16)
    got = f64(a @ hy.ones(50, 37).to(hy.bfloat16))
    assert np.isnan(got[0]).all() and np.isposinf(got[1]).all() and np.isnan(got[2]).all()
    assert np.isfinite(got[3:]).all()
    # One rounding, half to even, from the float32 accumulator (see test_lowp_kernels.py).
    t = hy.tensor([[1.0, 2.0 ** -8], [1.0, 3 * 2.0 ** -8]]).to(hy.bfloat16)
    assert f64(t @ hy.ones(2, 1).to(hy.bfloat16)).ravel().tolist() == [1.0, 1.0 + 2.0 ** -6]


def test_same_bits_on_any_thread_count(kernel):
    # Each output element is summed by one thread in one k order whatever the split: bit-identical.
    a, b = low((300, 700), hy.bfloat16), low((700, 260), hy.bfloat16, seed=1)
    x, y = low((12, 40, 30), hy.bfloat16, seed=2), low((12, 30, 20), hy.bfloat16, seed=3)
    before = hy.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            hy.set_num_threads(n)
            results.append((f64(a @ b), f64(x @ y)))
    finally:
        hy.set_num_threads(before)
    for r in results[1:]:
        np.testing.assert_array_equal(r[0], results[0][0])
        np.testing.assert_array_equal(r[1], results[0][1])


def test_kernels_agree_with_the_float32_path(monkeypatch):
    a, b = low((130, 257), hy.bfloat16), low((257, 66), hy.bfloat16, seed=1)
    monkeypatch.setenv("HYFLOW_LOWP_GEMM", "fallback")
    assert hy.build_info()["lowp_gemm_active"] is False
    want = f64(a @ b)
    for setting in (None, "avx512_bf16"):
        if setting is None:
            monkeypatch.delenv("HYFLOW_LOWP_GEMM")
        else:
            monkeypatch.setenv("HYFLOW_LOWP_GEMM", setting)
        got = f64(a @ b)
        # Both sum float32 products of the same bf16 values: at most one bf16 rounding step apart.
        np.testing.assert_allclose(got, want, rtol=2.0 ** -7, atol=1e-3)


def test_build_info_names_the_kernel(monkeypatch):
    monkeypatch.delenv("HYFLOW_LOWP_GEMM", raising=False)
    info = hy.build_info()
    assert info["lowp_gemm_kernel"] in ("amx_bf16", "avx512_bf16", "onednn", None)
    if {"amx_bf16", "amx_tile"} <= FEATURES and sys.platform.startswith("linux"):
        assert info["lowp_gemm_kernel"] == "amx_bf16"
    elif "avx512_bf16" in FEATURES:
        assert info["lowp_gemm_kernel"] == "avx512_bf16"
    assert info["lowp_gemm_active"] == (info["lowp_gemm_kernel"] is not None)
    monkeypatch.setenv("HYFLOW_LOWP_GEMM", "onednn")
    assert hy.build_info()["lowp_gemm_kernel"] == ("onednn" if info["lowp_gemm"] else None)
    monkeypatch.setenv("HYFLOW_LOWP_GEMM", "fallback")
    assert hy.build_info()["lowp_gemm_kernel"] is None and hy.build_info()["lowp_gemm_active"] is False


def test_refused_amx_permission_falls_back_without_crashing():
    # The permission is asked once per process, so the refusal is simulated in a fresh one.
    code = ("import numpy as np, hyflow as hy\n"
            "a = hy.randn(70, 90).to(hy.bfloat16); b = hy.randn(90, 40).to(hy.bfloat16)\n"
            "ref = a.to(hy.float64).numpy() @ b.to(hy.float64).numpy()\n"
            "got = (a @ b).to(hy.float64).numpy()\n"
            "assert np.allclose(got, ref, rtol=2**-7, atol=0.05), abs(got - ref).max()\n"
            "print(hy.build_info()['lowp_gemm_kernel'])\n")
    env = dict(os.environ, HYFLOW_AMX_PERMISSION="deny")
    env.pop("HYFLOW_LOWP_GEMM", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    expected = ("avx512_bf16" if "avx512_bf16" in FEATURES else None, "onednn" if hy.build_info()["lowp_gemm"] else None)
    assert out.stdout.strip() in {str(e) for e in expected}
    assert out.stdout.strip() != "amx_bf16"
