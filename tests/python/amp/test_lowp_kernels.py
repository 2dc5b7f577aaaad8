"""Low-precision products (csrc/kernels/cpu/gemm_lowp.h): bf16/fp16 matmul, mm, bmm, addmm, linear and conv2d
against float64 references, on the default path (hyflow's own AMX / AVX512-BF16 kernel where the CPU has
one, else oneDNN), on oneDNN (HYFLOW_LOWP_GEMM=onednn) and on the float32 fallback
(HYFLOW_LOWP_GEMM=fallback), so every machine tests the fallback and the others where they exist.
test_bf16_gemm.py covers each of our kernels over more shapes.

The reference is the float64 product of the rounded inputs; a correct kernel differs from it by one
rounding of the result to the 16-bit type (relative 2**-8 for bf16, 2**-11 for fp16) plus float32
accumulation error (bounded by a few float32 ulps of sum |a||b|).
"""
import numpy as np
import pytest

import hyflow as hy
import hyflow.nn.functional as F

LIB = hy.build_info()["lowp_gemm"]
PATHS = ["default",
         pytest.param("onednn", marks=pytest.mark.skipif(LIB is None, reason="built without oneDNN (HYFLOW_ONEDNN)")),
         "fallback"]
DTYPES = [hy.bfloat16, hy.float16]
ROUNDING = {hy.bfloat16: 2.0 ** -8, hy.float16: 2.0 ** -11}


@pytest.fixture(params=PATHS)
def path(request, monkeypatch):
    if request.param == "default":
        monkeypatch.delenv("HYFLOW_LOWP_GEMM", raising=False)
    else:
        monkeypatch.setenv("HYFLOW_LOWP_GEMM", request.param)
    return request.param


def low(shape, dtype, seed=0):
    return hy.randn(*shape, generator=hy.Generator(seed=seed)).to(dtype)


def f64(t):
    return t.to(hy.float64).numpy()


def assert_close_to_product(got, ref, absref, dtype):
    """|got - ref| within one rounding of ref plus float32 accumulation error."""
    assert got.dtype == dtype
    g = f64(got)
    bound = ROUNDING[dtype] * np.abs(ref) + 1e-5 * absref + 1e-30
    assert g.shape == ref.shape
    bad = ~(np.abs(g - ref) <= bound)
    assert not bad.any(), f"{bad.sum()} of {bad.size} elements off; worst {np.abs(g - ref)[bad].max()}"


SHAPES = [(7, 13, 5), (1, 64, 33), (33, 1, 17), (1, 1, 1), (65, 129, 31), (128, 256, 64)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,k,n", SHAPES)
def test_mm_matches_float64_reference(path, dtype, m, k, n):
    a, b = low((m, k), dtype), low((k, n), dtype, seed=1)
    ref, absref = f64(a) @ f64(b), np.abs(f64(a)) @ np.abs(f64(b))
    assert_close_to_product(hy.mm(a, b), ref, absref, dtype)
    assert_close_to_product(a @ b, ref, absref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_transposed_and_sliced_operands(path, dtype):
    a, w = low((9, 20), dtype), low((11, 20), dtype, seed=1)  # linear's weight layout: mm(a, w.T)
    assert_close_to_product(hy.mm(a, w.T), f64(a) @ f64(w).T, np.abs(f64(a)) @ np.abs(f64(w)).T, dtype)
    at = low((20, 9), dtype, seed=2).T
    assert_close_to_product(at @ w.T, f64(at) @ f64(w).T, np.abs(f64(at)) @ np.abs(f64(w)).T, dtype)
    s = low((12, 30), dtype, seed=3)[::2, 5:25]  # row stride 60 > cols: ld > cols
    assert_close_to_product(s @ w.T, f64(s) @ f64(w).T, np.abs(f64(s)) @ np.abs(f64(w)).T, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bmm_and_broadcast_batches(path, dtype):
    a, b = low((3, 5, 7), dtype), low((3, 7, 4), dtype, seed=1)
    ref = np.matmul(f64(a), f64(b))
    assert_close_to_product(hy.bmm(a, b), ref, np.matmul(np.abs(f64(a)), np.abs(f64(b))), dtype)
    w = low((7, 6), dtype, seed=2)  # one matrix broadcast over the batch (batch stride 0)
    assert_close_to_product(a @ w, np.matmul(f64(a), f64(w)), np.matmul(np.abs(f64(a)), np.abs(f64(w))), dtype)
    # Batch dims permuted: matrices lie at offsets that follow no single stride.
    x = low((2, 3, 5, 7), dtype, seed=3).permute(1, 0, 2, 3)
    y = low((3, 2, 7, 4), dtype, seed=4)
    assert_close_to_product(x @ y, np.matmul(f64(x), f64(y)), np.matmul(np.abs(f64(x)), np.abs(f64(y))), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta,alpha", [(1.0, 1.0), (0.5, 2.0), (0.0, -1.5)])
def test_addmm_beta_alpha_and_bias(path, dtype, beta, alpha):
    a, b = low((6, 10), dtype), low((10, 5), dtype, seed=1)
    for bias in (low((6, 5), dtype, seed=2), low((5,), dtype, seed=3)):
        got = hy.addmm(bias, a, b, beta=beta, alpha=alpha)
        ref = beta * f64(bias) + alpha * (f64(a) @ f64(b))
        absref = abs(beta) * np.abs(f64(bias)) + abs(alpha) * (np.abs(f64(a)) @ np.abs(f64(b)))
        assert_close_to_product(got, np.broadcast_to(ref, (6, 5)), np.broadcast_to(absref, (6, 5)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta,alpha", [(1.0, 1.0), (-0.5, 2.0)])
def test_addmm_bias_shapes_and_layouts(path, dtype, beta, alpha):
    # A per-column bias is added in the bf16 kernel's epilogue (no float32 copy of C): a (n,) or (1, n)
    # bias, and across the 16/32-column tails; a strided bias or a full (m, n) one takes the general path.
    a, b = low((70, 45), dtype), low((45, 37), dtype, seed=1)
    wide = low((37, 2), dtype, seed=5)
    for bias in (low((37,), dtype, seed=2), low((1, 37), dtype, seed=3), wide[:, 0], low((70, 37), dtype, seed=4)):
        got = hy.addmm(bias, a, b, beta=beta, alpha=alpha)
        ref = beta * f64(bias) + alpha * (f64(a) @ f64(b))
        absref = abs(beta) * np.abs(f64(bias)) + abs(alpha) * (np.abs(f64(a)) @ np.abs(f64(b)))
        assert_close_to_product(got, np.broadcast_to(ref, (70, 37)), np.broadcast_to(absref, (70, 37)), dtype)
    # linear (x @ w.T + bias), as autocast runs it
    x, w, bias = low((33, 27), dtype), low((2, 27), dtype, seed=6), low((2,), dtype, seed=7)
    ref = f64(x) @ f64(w).T + f64(bias)
    absref = np.abs(f64(x)) @ np.abs(f64(w)).T + np.abs(f64(bias))
    assert_close_to_product(hy.nn.functional.linear(x, w, bias), ref, absref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_addmm_beta_zero_ignores_nan_in_self(path, dtype):
    a, b = low((3, 4), dtype), low((4, 2), dtype, seed=1)
    nan_self = hy.full([3, 2], float("nan"), dtype=dtype)
    got = f64(hy.addmm(nan_self, a, b, beta=0))
    assert np.isfinite(got).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_matches_reference(path, dtype):
    x, w, bias = low((8, 20), dtype), low((12, 20), dtype, seed=1), low((12,), dtype, seed=2)
    got = F.linear(x, w, bias)
    ref = f64(x) @ f64(w).T + f64(bias)
    assert_close_to_product(got, ref, np.abs(f64(x)) @ np.abs(f64(w)).T + np.abs(f64(bias)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_matches_reference(path, dtype):
    torch = pytest.importorskip("torch")
    x, w, bias = low((2, 3, 9, 7), dtype), low((4, 3, 3, 3), dtype, seed=1), low((4,), dtype, seed=2)
    got = F.conv2d(x, w, bias, stride=1, padding=1)
    t = lambda v: torch.from_numpy(f64(v))  # noqa: E731
    ref = torch.nn.functional.conv2d(t(x), t(w), t(bias), padding=1).numpy()
    product = torch.nn.functional.conv2d(t(x), t(w), None, padding=1).numpy()
    absref = torch.nn.functional.conv2d(t(x).abs(), t(w).abs(), t(bias).abs(), padding=1).numpy()
    # conv2d rounds twice with a bias (the product, then product + bias): one more rounding of the product.
    assert_close_to_product(got, ref, absref + ROUNDING[dtype] / 1e-5 * np.abs(product), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_size_products(path, dtype):
    assert hy.mm(low((0, 3), dtype), low((3, 4), dtype)).shape == (0, 4)
    z = hy.mm(low((2, 0), dtype), low((0, 4), dtype))  # k = 0: an empty sum is 0
    assert z.dtype == dtype and (f64(z) == 0).all()
    assert hy.bmm(low((0, 2, 3), dtype), low((0, 3, 4), dtype)).shape == (0, 2, 4)


def test_bf16_result_rounds_half_to_even(path):
    # 1 + 2**-8 lies halfway between the bf16 neighbours 1 and 1 + 2**-7 (mantissa 0, even): 1.
    # 1 + 3 * 2**-8 lies halfway between 1 + 2**-7 (odd) and 1 + 2**-6 (even): 1 + 2**-6.
    # Truncation or round-half-up get one of the two wrong.
    a = hy.tensor([[1.0, 2.0 ** -8], [1.0, 3 * 2.0 ** -8]]).to(hy.bfloat16)
    b = hy.ones(2, 1).to(hy.bfloat16)
    got = f64(a @ b).ravel()
    assert got.tolist() == [1.0, 1.0 + 2.0 ** -6]


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_and_inf_propagate(path, dtype):
    a = low((3, 4), dtype)
    a_np = f64(a)
    a_np[0, 1] = np.nan
    a_np[1, 2] = np.inf
    a = hy.tensor(a_np).to(dtype)
    b = hy.ones(4, 2).to(dtype)
    got = f64(a @ b)
    assert np.isnan(got[0]).all()
    assert np.isposinf(got[1]).all()
    assert np.isfinite(got[2]).all()


def test_build_info_reports_the_low_precision_backend(path):
    info = hy.build_info()
    assert isinstance(info["cpu_lowp_features"], list)
    assert set(info["cpu_lowp_features"]) <= {"avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile"}
    if LIB is None:
        assert info["lowp_gemm_isa"] is None
    else:
        assert LIB.startswith("onednn ")
        assert info["lowp_gemm_isa"]
    assert info["lowp_gemm_active"] == (info["lowp_gemm_kernel"] is not None)
    if path == "fallback":
        assert info["lowp_gemm_kernel"] is None
    elif path == "onednn":
        assert info["lowp_gemm_kernel"] == "onednn"


def test_same_product_after_the_thread_count_changes(path):
    # The library's plans are cached per thread count; a plan made for one count must not serve another.
    a, b = low((96, 200), hy.bfloat16), low((200, 72), hy.bfloat16, seed=1)
    before = hy.get_num_threads()
    try:
        results = []
        for n in (1, 2, 1):
            hy.set_num_threads(n)
            results.append(f64(a @ b))
    finally:
        hy.set_num_threads(before)
    ref = f64(a) @ f64(b)
    for r in results:
        assert_close_to_product(hy.tensor(r).to(hy.bfloat16), ref, np.abs(f64(a)) @ np.abs(f64(b)), hy.bfloat16)


# Elementwise binary ops on two 16-bit operands read and write them in place (binary_row_widen); the
# values must be bit-identical to computing in float32 and rounding once.
BINARY = [hy.add, hy.sub, hy.mul, hy.div, hy.maximum, hy.minimum, hy.atan2, hy.pow]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", BINARY, ids=lambda f: f.__name__)
def test_elementwise_binary_equals_float32_rounded_once(dtype, op):
    a = low((70, 33), dtype)
    b = low((70, 33), dtype, seed=1).abs() if op is hy.pow else low((70, 33), dtype, seed=1)
    a_np = f64(a)
    a_np[0, :3] = [np.nan, np.inf, -np.inf]
    a = hy.tensor(a_np).to(dtype)
    if op is hy.pow:
        a = a.abs()
    want = op(a.float(), b.float()).to(dtype)
    for x, y, w in ((a, b, want), (a.T, b.T, want.T), (a[::2, 1:], b[::2, 1:], want[::2, 1:]),
                    (a, b[:1], op(a.float(), b[:1].float()).to(dtype))):
        got = op(x, y)
        assert got.dtype == dtype
        np.testing.assert_array_equal(f64(got), f64(w))  # 16-bit -> float64 is exact; NaN == NaN here


@pytest.mark.parametrize("dtype", DTYPES)
def test_elementwise_comparisons_and_out(dtype):
    a, b = low((40, 9), dtype), low((40, 9), dtype, seed=1)
    np.testing.assert_array_equal((a < b).numpy(), (a.float() < b.float()).numpy())
    np.testing.assert_array_equal(hy.eq(a, a).numpy(), np.ones((40, 9), bool))
    out = hy.empty(40, 9, dtype=dtype)
    hy.add(a, b, out=out)
    np.testing.assert_array_equal(f64(out), f64((a.float() + b.float()).to(dtype)))


def test_import_leaves_omp_wait_policy_as_it_found_it():
    # hyflow sets OMP_WAIT_POLICY=PASSIVE only while its libgomp loads (python/hyflow/__init__.py).
    import os
    import subprocess
    import sys
    code = "import os, hyflow; print(os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == "None"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == "ACTIVE"


@pytest.mark.parametrize("setting", [None, "onednn"])
def test_library_product_releases_the_gil(monkeypatch, setting):
    # As tests/python/workflow/test_engine_gil.py: with a long switch interval the main thread is never
    # preempted between bytecodes, so the counter can only move while a call has released the GIL.
    import sys
    import threading
    import time
    if setting is None:
        monkeypatch.delenv("HYFLOW_LOWP_GEMM", raising=False)
    else:
        monkeypatch.setenv("HYFLOW_LOWP_GEMM", setting)
    if hy.build_info()["lowp_gemm_kernel"] is None:
        pytest.skip("bf16 products take the float32 path here")
    a = low((1024, 1024), hy.bfloat16)
    a @ a  # make the oneDNN primitive (or our packing buffers) outside the measured calls
    counter, stop, moved = [0], threading.Event(), []

    def loop():
        deadline = time.perf_counter() + 10.0  # a safety net only
        while not stop.is_set() and time.perf_counter() < deadline:
            counter[0] += 1
            if counter[0] % 2000 == 0:
                time.sleep(5e-5)  # let the main thread have the GIL back

    old = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    t = threading.Thread(target=loop)
    t.start()
    try:
        for _ in range(20):
            before = counter[0]
            a @ a
            moved.append(counter[0] - before)
    finally:
        stop.set()
        t.join()
        sys.setswitchinterval(old)
    assert any(n > 0 for n in moved), f"no other Python thread ran during a bf16 product: {moved}"
