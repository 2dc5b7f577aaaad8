"""Matrix products beyond the OpInfo table: operators, error messages, GEMM layout paths (transposed,
strided, broadcast, matrix-vector), accumulation precision and thread-count independence."""
import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import assert_close


def rnd(*shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).uniform(-2, 2, size=shape).astype(dtype)


# --- operators -------------------------------------------------------------------------------------

def test_matmul_operator_and_method():
    a, b = rnd(3, 4), rnd(4, 2, seed=1)
    ha, hb = hy.from_numpy(a), hy.from_numpy(b)
    assert_close(ha @ hb, a @ b)
    assert_close(ha.matmul(hb), a @ b)
    assert_close(ha.mm(hb), a @ b)


def test_rmatmul_is_called_for_tensor_rhs():
    a, b = hy.from_numpy(rnd(2, 3)), hy.from_numpy(rnd(3, 2, seed=1))
    assert_close(b.__rmatmul__(a), a.numpy() @ b.numpy())


@pytest.mark.parametrize("other", [2, 2.5, "x", None])
def test_matmul_operator_rejects_non_tensors(other):
    t = hy.ones(2, 2)
    with pytest.raises(TypeError):
        t @ other
    with pytest.raises(TypeError):
        other @ t


# --- bad input -------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn,a,b", [
    (hy.matmul, (2, 3), (4, 5)),
    (hy.matmul, (3,), (4,)),
    (hy.matmul, (2, 3), (4,)),
    (hy.mm, (2, 3), (4, 5)),
    (hy.bmm, (2, 2, 3), (2, 4, 5)),
    (hy.mv, (2, 3), (4,)),
    (hy.dot, (3,), (4,)),
])
def test_shape_mismatch_names_both_shapes(fn, a, b):
    with pytest.raises(ValueError) as e:
        fn(hy.ones(*a), hy.ones(*b))
    msg = str(e.value)
    assert str(tuple(a)) in msg and str(tuple(b)) in msg, msg


def test_batch_broadcast_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 2, 3\).*\(3, 3, 5\)"):
        hy.matmul(hy.ones(2, 2, 3), hy.ones(3, 3, 5))


@pytest.mark.parametrize("fn,a,b", [
    (hy.mm, (2, 3, 1), (3, 1)), (hy.mm, (3,), (3, 2)), (hy.bmm, (2, 3), (3, 2)), (hy.mv, (2, 3), (3, 1)),
    (hy.dot, (1, 3), (3,)), (hy.outer, (2, 2), (3,)),
])
def test_rank_errors(fn, a, b):
    with pytest.raises(ValueError, match="-D tensor"):
        fn(hy.ones(*a), hy.ones(*b))


def test_bmm_does_not_broadcast():
    with pytest.raises(ValueError, match="batch"):
        hy.bmm(hy.ones(2, 3, 4), hy.ones(1, 4, 5))


def test_zero_dim_operands_raise():
    with pytest.raises(ValueError, match="at least 1 dim"):
        hy.matmul(hy.tensor(2.0), hy.ones(3))


@pytest.mark.parametrize("fn,shapes", [(hy.matmul, [(2, 2), (2, 2)]), (hy.mm, [(2, 2), (2, 2)]),
                                       (hy.bmm, [(1, 2, 2), (1, 2, 2)]), (hy.mv, [(2, 2), (2,)]),
                                       (hy.dot, [(2,), (2,)])])
def test_bool_is_rejected(fn, shapes):
    with pytest.raises(TypeError, match="bool"):
        fn(hy.ones(*shapes[0], dtype=hy.bool), hy.ones(*shapes[1], dtype=hy.bool))
    with pytest.raises(TypeError, match="bool"):
        fn(hy.ones(*shapes[0], dtype=hy.bool), hy.ones(*shapes[1]))


def test_addmm_errors():
    with pytest.raises(ValueError, match=r"\(4,\).*\(2, 3\)"):
        hy.addmm(hy.ones(4), hy.ones(2, 5), hy.ones(5, 3))
    with pytest.raises(TypeError, match="alpha"):
        hy.addmm(hy.ones(2, 2, dtype=hy.int64), hy.ones(2, 2, dtype=hy.int64), hy.ones(2, 2, dtype=hy.int64),
                 alpha=0.5)


# --- semantics -------------------------------------------------------------------------------------

def test_result_shapes_follow_numpy():
    for a, b in [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((5, 1, 2, 3), (4, 3, 2)), ((3,), (6, 3, 2)),
                 ((6, 2, 3), (3,)), ((1, 0, 3), (2, 3, 4))]:
        assert hy.matmul(hy.ones(*a), hy.ones(*b)).shape == np.matmul(np.ones(a), np.ones(b)).shape


@pytest.mark.parametrize("fn,shapes,names", [
    (hy.matmul, [(2, 2), (2, 2)], "self and other"), (hy.mm, [(2, 2), (2, 2)], "self and mat2"),
    (hy.bmm, [(1, 2, 2), (1, 2, 2)], "self and mat2"), (hy.mv, [(2, 2), (2,)], "self and vec"),
    (hy.dot, [(2,), (2,)], "self and other"), (hy.matmul, [(3,), (2, 3, 4)], "self and other")])
def test_mixed_dtypes_raise_like_torch(fn, shapes, names):
    # These used to promote silently (int32 @ float32 -> float32, a float64 batch through float32 weights).
    for da, db in [(hy.int32, hy.float32), (hy.float64, hy.float32), (hy.float16, hy.float64), (hy.int32, hy.int64)]:
        with pytest.raises(RuntimeError, match=f"expected {names} to have the same dtype, but got: "
                                               f"{da.name} != {db.name}"):
            fn(hy.ones(*shapes[0], dtype=da), hy.ones(*shapes[1], dtype=db))
    assert fn(hy.ones(*shapes[0], dtype=hy.int64), hy.ones(*shapes[1], dtype=hy.int64)).dtype == hy.int64


def test_addmm_and_matmul_operator_mixed_dtypes_raise():
    f32 = hy.ones(2, 2)
    with pytest.raises(RuntimeError, match="addmm: expected mat1 and self to have the same dtype"):
        hy.addmm(hy.ones(2, dtype=hy.float64), f32, f32)
    with pytest.raises(RuntimeError, match="addmm: expected mat1 and mat2"):
        hy.addmm(hy.ones(2), f32, hy.ones(2, 2, dtype=hy.float64))
    with pytest.raises(RuntimeError, match="int32 != float32"):
        hy.ones(2, 2, dtype=hy.int32) @ f32
    assert hy.outer(hy.ones(2, dtype=hy.int32), hy.ones(3)).dtype == hy.float32  # elementwise: promotes


def test_mixed_dtype_errors_match_torch():
    torch = pytest.importorskip("torch")
    for da, db in [("int32", "float32"), ("float64", "float32")]:
        for lib in (torch, hy):
            with pytest.raises(RuntimeError, match="same dtype"):
                lib.ones(2, 3, dtype=getattr(lib, da)) @ lib.ones(3, 2, dtype=getattr(lib, db))


@pytest.mark.parametrize("dtype", [hy.float16, hy.bfloat16])
def test_low_precision_accumulates_in_float32(dtype):
    # 3072 ones: a 16-bit accumulator would stall at 2048 (float16) or 256 (bfloat16).
    r = hy.ones(1, 3072, dtype=dtype) @ hy.ones(3072, 1, dtype=dtype)
    assert r.dtype == dtype and r.item() == 3072


def test_int64_is_exact_and_wraps_like_numpy():
    rng = np.random.default_rng(3)
    a = rng.integers(-2**40, 2**40, size=(5, 7), dtype=np.int64)
    b = rng.integers(-2**40, 2**40, size=(7, 3), dtype=np.int64)
    with np.errstate(over="ignore"):
        expected = a @ b
    assert np.array_equal((hy.from_numpy(a) @ hy.from_numpy(b)).numpy(), expected)
    assert np.array_equal((hy.from_numpy(a) @ hy.from_numpy(np.ascontiguousarray(b.T)).T).numpy(), expected)


def test_addmm_beta_zero_ignores_nan_in_self():
    s = hy.full([2, 2], float("nan"))
    r = hy.addmm(s, hy.ones(2, 3), hy.ones(3, 2), beta=0, alpha=2)
    assert r.tolist() == [[6.0, 6.0], [6.0, 6.0]]


def test_dot_returns_0d():
    r = hy.dot(hy.arange(0, 4).float(), hy.ones(4))
    assert r.shape == () and r.item() == 6.0


# --- GEMM layout paths ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("m,n,k", [(37, 5, 19), (1, 40, 33), (40, 1, 33), (1, 1, 50), (70, 300, 64)])
def test_transposed_layouts(dtype, ta, tb, m, n, k):
    rng = np.random.default_rng(m * 1000 + n)
    a = rng.integers(-4, 5, size=(m, k)).astype(dtype)
    b = rng.integers(-4, 5, size=(k, n)).astype(dtype)
    ha = hy.from_numpy(np.ascontiguousarray(a.T)).T if ta else hy.from_numpy(a)
    hb = hy.from_numpy(np.ascontiguousarray(b.T)).T if tb else hy.from_numpy(b)
    assert ha.is_contiguous() != ta or m == 1 or k == 1
    r = (ha @ hb).numpy()
    assert np.array_equal(r, a @ b)  # small integers: exact in every dtype


def test_sliced_and_broadcast_operands():
    a, b = rnd(4, 10, 12), rnd(12, 6, seed=1)
    ha = hy.from_numpy(a)[:, 1:8:2, 2:9]  # leading dim larger than the columns, stepped rows
    hb = hy.from_numpy(b)[:7]
    assert_close(ha @ hb, a[:, 1:8:2, 2:9] @ b[:7])
    e = hy.from_numpy(rnd(3, 5, seed=2)).expand(4, 3, 5)  # stride-0 batch dim
    assert_close(e @ hy.from_numpy(rnd(4, 5, 2, seed=3)), np.broadcast_to(rnd(3, 5, seed=2), (4, 3, 5)) @
                 rnd(4, 5, 2, seed=3))
    col = hy.from_numpy(rnd(3, 1, seed=4)).expand(3, 4)  # stride-0 column: copied before the GEMM
    assert_close(col @ hy.ones(4, 2, dtype=hy.float64), np.broadcast_to(rnd(3, 1, seed=4), (3, 4)) @ np.ones((4, 2)))


def test_results_do_not_depend_on_thread_count():
    a, b = hy.from_numpy(rnd(257, 190, dtype=np.float32)), hy.from_numpy(rnd(190, 129, dtype=np.float32, seed=1))
    c, d = hy.from_numpy(rnd(3, 64, 64, dtype=np.float32)), hy.from_numpy(rnd(3, 64, 64, dtype=np.float32, seed=2))
    old = hy.get_num_threads()
    try:
        hy.set_num_threads(1)
        one = [(a @ b).numpy(), (c @ d).numpy(), (a.T @ a).numpy()]
        hy.set_num_threads(2)
        two = [(a @ b).numpy(), (c @ d).numpy(), (a.T @ a).numpy()]
    finally:
        hy.set_num_threads(old)
    for x, y in zip(one, two):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-4)


def test_large_matmul_matches_numpy():
    a, b = rnd(300, 257, dtype=np.float32), rnd(257, 311, dtype=np.float32, seed=1)
    np.testing.assert_allclose((hy.from_numpy(a) @ hy.from_numpy(b)).numpy(), a.astype(np.float64) @ b,
                               rtol=1e-4, atol=1e-3)


# --- float32 GEMM library: oneDNN's sgemm vs the BLAS fallback -----------------------------------

@pytest.mark.parametrize("case", ["plain", "a_T", "b_T", "batched", "broadcast", "strided", "conv"])
def test_float32_gemm_onednn_and_blas_paths_agree(monkeypatch, case):
    # float32 products go to oneDNN's sgemm in a build with it (5x the system OpenBLAS here);
    # HYFLOW_SGEMM=blas takes the BLAS path. Both must give the float64 answer to float32 rounding, for
    # every operand layout gemm_batched hands over.
    import hyflow.nn.functional as F
    a, b = rnd(4, 70, 33, dtype=np.float32), rnd(4, 33, 50, dtype=np.float32, seed=1)
    x, w = rnd(3, 5, 12, 12, dtype=np.float32, seed=2), rnd(7, 5, 3, 3, dtype=np.float32, seed=3)

    def run():
        ha, hb = hy.tensor(a), hy.tensor(b)
        if case == "plain":
            return hy.matmul(ha[0], hb[0]), a[0].astype(np.float64) @ b[0]
        if case == "a_T":
            return hy.matmul(ha[0].T.contiguous().T, hb[0]), a[0].astype(np.float64) @ b[0]
        if case == "b_T":
            return hy.matmul(ha[0], hb[0].T.contiguous().T), a[0].astype(np.float64) @ b[0]
        if case == "batched":
            return hy.matmul(ha, hb), a.astype(np.float64) @ b
        if case == "broadcast":
            return hy.matmul(ha, hb[0]), a.astype(np.float64) @ b[0]
        if case == "strided":
            return hy.matmul(ha[:, ::2, :], hb[:, :, ::3]), a[:, ::2, :].astype(np.float64) @ b[:, :, ::3]
        hx, hw = hy.tensor(x).requires_grad_(), hy.tensor(w).requires_grad_()
        out = F.conv2d(hx, hw, padding=1)
        out.sum().backward()
        return hy.cat([out.flatten(), hx.grad.flatten(), hw.grad.flatten()]), None

    results = {}
    for path in ("default", "blas"):
        if path == "blas":
            monkeypatch.setenv("HYFLOW_SGEMM", "blas")
        got, want = run()
        results[path] = got.detach().numpy()
        if want is not None:
            np.testing.assert_allclose(results[path], want, rtol=1e-4, atol=1e-4)
    assert hy.build_info()["gemm_f32"] in ("blas", "eigen")  # HYFLOW_SGEMM=blas is still set
    np.testing.assert_allclose(results["default"], results["blas"], rtol=1e-4, atol=1e-4)


def test_build_info_names_the_float32_gemm_library(monkeypatch):
    info = hy.build_info()
    if info["lowp_gemm"]:  # a build with oneDNN runs float32 products on it by default
        assert info["gemm_f32"] == "onednn"
    else:
        assert info["gemm_f32"] in ("blas", "eigen")
    monkeypatch.setenv("HYFLOW_SGEMM", "blas")
    assert hy.build_info()["gemm_f32"] in ("blas", "eigen")
