"""hy.linalg's decompositions and solvers on CUDA (cuSOLVER and cuBLAS's trsm, csrc/cuda/cusolver/) against the
CPU kernels (docs/linalg.md): every op in float32 and float64, batched, broadcast, empty batches, 0x0 matrices,
non-contiguous inputs and every mode; singular and non-positive-definite matrices (LinAlgError with the CPU's
message), non-finite input, the CPU's argument errors, gradients through the device against the CPU's, and the
current stream. Outputs unique only up to signs (eigh's and svd's vectors) are compared as bases. Skipped
without a GPU (conftest.py); in a build without cuSOLVER only the last test runs (its error message)."""
import math

import numpy as np
import pytest

import hyflow as hy

HAS_CUSOLVER = hy.build_info()["cusolver"]
needs_cusolver = pytest.mark.skipif(not HAS_CUSOLVER, reason="hyflow was built without cuSOLVER")
DTYPES = (hy.float32, hy.float64)
TOL = {hy.float32: 2e-4, hy.float64: 1e-10}


def rand(shape, dtype, seed=0, low=-1.0, high=1.0):
    return hy.from_numpy(np.random.default_rng(seed).uniform(low, high, shape)).to(dtype)


def square(shape, dtype, seed=0):
    """Well-conditioned square matrices (a dominant diagonal)."""
    n = shape[-1]
    return rand(shape, dtype, seed) + hy.eye(n, dtype=dtype) * (n + 1)


def spd(shape, dtype, seed=0):
    a = square(shape, dtype, seed)
    return a @ a.mT


def on_cuda(t):
    assert t.device == "cuda:0", t.device


def close(got, want, dtype=None, scale=None):
    """got (CUDA) equals want (CPU) in device, dtype, shape and values, relative to the values' scale."""
    on_cuda(got)
    assert got.dtype == want.dtype and tuple(got.shape) == tuple(want.shape), (got.dtype, got.shape, want.shape)
    g, w = got.cpu().numpy(), want.numpy()
    if not w.size:
        return
    s = scale if scale is not None else max(float(np.nanmax(np.abs(w))), 1.0)
    np.testing.assert_allclose(g, w, rtol=0, atol=TOL.get(dtype or want.dtype, 0.0) * s, equal_nan=True)


def same_basis(got, want, dtype):
    """Columns of got equal columns of want up to sign (distinct eigen/singular values)."""
    g, w = got.cpu().numpy(), want.numpy()
    if not w.size:
        return
    dots = np.abs(np.einsum("...ij,...ij->...j", g, w))
    np.testing.assert_allclose(dots, np.ones_like(dots), atol=TOL[dtype] * 100)


def noncontig(t):
    """The same values, every other element of a larger tensor (a strided view)."""
    big = hy.zeros(*t.shape[:-1], 2 * t.shape[-1], dtype=t.dtype)
    big[..., ::2] = t
    return big[..., ::2]


# ---- inverse, determinants, solves ----

SQUARE_SHAPES = [(3, 3), (1, 1), (2, 4, 4), (2, 3, 5, 5), (0, 3, 3), (0, 0), (2, 0, 0), (40, 40)]


@needs_cusolver
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SQUARE_SHAPES)
def test_inv_det_slogdet(dtype, shape):
    A = square(shape, dtype, seed=len(shape))
    close(hy.linalg.inv(A.cuda()), hy.linalg.inv(A))
    det = hy.linalg.det(A)
    close(hy.linalg.det(A.cuda()), det, scale=max(float(det.abs().amax()) if det.numel() else 1.0, 1.0))
    sign, logabs = hy.linalg.slogdet(A)
    gs, gl = hy.linalg.slogdet(A.cuda())
    close(gs, sign)
    close(gl, logabs)


@needs_cusolver
@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_and_negative_determinants(dtype):
    A = square((3, 4, 4), dtype, seed=3)
    A[1] = -A[1]  # an odd row count: negated determinant
    A[2] = A[2][[1, 0, 2, 3]]  # one row swap
    for X in (A.mT, noncontig(A)):
        close(hy.linalg.inv(X.cuda()), hy.linalg.inv(X))
        close(hy.linalg.det(X.cuda()), hy.linalg.det(X), scale=float(hy.linalg.det(X).abs().amax()))
        s, l = hy.linalg.slogdet(X.cuda())
        close(s, hy.linalg.slogdet(X)[0])
        close(l, hy.linalg.slogdet(X)[1])
    # The input is never overwritten by the factorization, not even one whose transpose is dense (the
    # column-major layout cuSOLVER factors in place).
    X = A.cuda().mT.contiguous().mT
    keep = X.cpu()
    for fn in (hy.linalg.inv, hy.linalg.det, hy.linalg.svdvals, hy.linalg.eigvalsh):
        fn(X)
        close(X, keep)
    P = X @ X.mT
    keep_p = P.cpu()
    hy.linalg.cholesky(P.mT)
    close(P, keep_p)
    for mode in ("reduced", "r"):
        hy.linalg.qr(X, mode=mode)
        close(X, keep)


@needs_cusolver
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("a_shape,b_shape", [((3, 3), (3, 2)), ((2, 4, 4), (2, 4, 1)), ((4, 4), (3, 4, 2)),
                                             ((2, 1, 3, 3), (4, 3, 2)), ((1, 1), (1, 3)), ((3, 3), (3, 0)),
                                             ((0, 3, 3), (0, 3, 2)), ((0, 0), (0, 2))])
def test_solve(dtype, a_shape, b_shape):
    A, B = square(a_shape, dtype, seed=1), rand(b_shape, dtype, seed=2)
    close(hy.ops.linalg_solve(A.cuda(), B.cuda()), hy.ops.linalg_solve(A, B))
    if A.numel() and B.numel():
        close(hy.ops.linalg_solve(A.mT.cuda(), noncontig(B).cuda()), hy.ops.linalg_solve(A.mT, noncontig(B)))


@needs_cusolver
@pytest.mark.parametrize("dtype", DTYPES)
def test_solve_vector_and_right_forms(dtype):
    A, b = square((2, 4, 4), dtype, seed=4), rand((2, 4), dtype, seed=5)
    close(hy.linalg.solve(A.cuda(), b.cuda()), hy.linalg.solve(A, b))
    B = rand((2, 3, 4), dtype, seed=6)
    close(hy.linalg.solve(A.cuda(), B.cuda(), left=False), hy.linalg.solve(A, B, left=False))


@needs_cusolver
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unitriangular", [True, False])
def test_solve_triangular(dtype, upper, left, unitriangular):
    A = square((2, 1, 4, 4), dtype, seed=7)
    B = rand((2, 3, 4, 2) if left else (2, 3, 2, 4), dtype, seed=8)
    kw = dict(upper=upper, left=left, unitriangular=unitriangular)
    close(hy.linalg.solve_triangular(A.cuda(), B.cuda(), **kw), hy.linalg.solve_triangular(A, B, **kw))
    # Transposed and strided operands, A broadcast over B's batch.
    close(hy.linalg.solve_triangular(A.mT.cuda(), noncontig(B).cuda(), **kw),
          hy.linalg.solve_triangular(A.mT, noncontig(B), **kw))
    close(hy.linalg.solve_triangular(A[0, 0].cuda(), B.cuda(), **kw), hy.linalg.solve_triangular(A[0, 0], B, **kw))


@needs_cusolver
@pytest.mark.parametrize("dtype", DTYPES)
def test_solve_triangular_empty_and_zero_diagonal(dtype):
    A, B = square((0, 3, 3), dtype), rand((0, 3, 2), dtype)
    close(hy.linalg.solve_triangular(A.cuda(), B.cuda(), upper=True), hy.linalg.solve_triangular(A, B, upper=True))
    close(hy.linalg.solve_triangular(hy.zeros(0, 0, dtype=dtype).cuda(), hy.zeros(0, 2, dtype=dtype).cuda(),
                                     upper=True), hy.zeros(0, 2, dtype=dtype))
    # No singularity check, as on the CPU: a zero pivot gives inf/nan, never an exception.
    Z = hy.triu(square((3, 3), dtype))
    Z[1, 1] = 0
    got = hy.linalg.solve_triangular(Z.cuda(), hy.ones(3, 1, dtype=dtype).cuda(), upper=True).cpu()
    assert not bool(hy.isfinite(got).all())


# ---- factorizations ----

@needs_cusolver
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 3), (1, 1), (2, 4, 4), (0, 2, 2), (0, 0), (30, 30)])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky(dtype, shape, upper):
    A = spd(shape, dtype, seed=9)
    close(hy.linalg.cholesky(A.cuda(), upper=upper), hy.linalg.cholesky(A, upper=upper))
    # Only one triangle is read: garbage in the other changes nothing.
    if A.numel():
        ones = hy.ones(*shape, dtype=dtype)
        junk = A + (hy.triu(ones, 1) if not upper else hy.tril(ones, -1))
        close(hy.linalg.cholesky(junk.cuda(), upper=upper), hy.linalg.cholesky(A, upper=upper))
        close(hy.linalg.cholesky(A.mT.cuda(), upper=upper), hy.linalg.cholesky(A.mT, upper=upper))


QR_SHAPES = [(4, 3), (3, 5), (2, 3, 3), (1, 1), (0, 3, 2), (4, 0), (0, 4), (2, 6, 4), (30, 20)]


@needs_cusolver
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", QR_SHAPES)
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
def test_qr(dtype, shape, mode):
    A = rand(shape, dtype, seed=10)
    # geqrf's reflectors follow LAPACK's convention on both devices: Q and R agree, not only up to signs.
    for X in (A, A.mT.contiguous().mT if A.dim() >= 2 else A):
        Q, R = hy.linalg.qr(X, mode=mode)
        gQ, gR = hy.linalg.qr(X.cuda(), mode=mode)
        close(gQ, Q)
        close(gR, R)


@needs_cusolver
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (1, 1), (3, 5, 5), (0, 3, 3), (0, 0), (25, 25)])
@pytest.mark.parametrize("UPLO", ["L", "U"])
def test_eigh(dtype, shape, UPLO):
    A = rand(shape, dtype, seed=11)
    w, V = hy.linalg.eigh(A, UPLO=UPLO)  # reads one triangle of a non-symmetric matrix
    gw, gV = hy.linalg.eigh(A.cuda(), UPLO=UPLO)
    close(gw, w)
    on_cuda(gV)
    assert tuple(gV.shape) == tuple(V.shape)
    same_basis(gV, V, dtype)
    close(hy.linalg.eigvalsh(A.cuda(), UPLO=UPLO), w)
    gw2, gV2 = hy.ops.linalg_eigh(A.cuda(), UPLO, False)
    close(gw2, w)
    assert gV2.numel() == 0
    if A.numel():
        sym = hy.tril(A) + hy.tril(A, -1).mT if UPLO == "L" else hy.triu(A) + hy.triu(A, 1).mT
        close((gV * gw.unsqueeze(-2)) @ gV.mT, sym)


@needs_cusolver
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3), (1, 1), (0, 3, 2), (4, 0), (2, 7, 4), (2, 4, 7),
                                   (30, 20)])
@pytest.mark.parametrize("full_matrices", [True, False])
def test_svd(dtype, shape, full_matrices):
    A = rand(shape, dtype, seed=12)
    U, S, Vh = hy.linalg.svd(A, full_matrices=full_matrices)
    gU, gS, gVh = hy.linalg.svd(A.cuda(), full_matrices=full_matrices)
    close(gS, S)
    for g, w in ((gU, U), (gVh, Vh)):
        on_cuda(g)
        assert tuple(g.shape) == tuple(w.shape) and g.dtype == w.dtype
    k = min(shape[-2], shape[-1])
    if A.numel():
        same_basis(gU[..., :k], U[..., :k], dtype)
        same_basis(gVh[..., :k, :].mT, Vh[..., :k, :].mT, dtype)
        close((gU[..., :k] * gS.unsqueeze(-2)) @ gVh[..., :k, :], A)
        eye_u = hy.eye(gU.shape[-1], dtype=dtype).expand(*gU.shape[:-2], gU.shape[-1], gU.shape[-1])
        close(gU.mT @ gU, eye_u.contiguous())  # orthonormal, completion included
        eye_v = hy.eye(gVh.shape[-2], dtype=dtype).expand(*gVh.shape[:-2], gVh.shape[-2], gVh.shape[-2])
        close(gVh @ gVh.mT, eye_v.contiguous())
    else:  # an empty batch, or no singular values: U and Vh identities (full) or empty, as on the CPU
        close(gU, U)
        close(gVh, Vh)
    close(hy.linalg.svdvals(A.cuda()), S)
    close(hy.linalg.svdvals(A.mT.cuda()), hy.linalg.svdvals(A.mT))


@needs_cusolver
@pytest.mark.parametrize("dtype", DTYPES)
def test_svd_empty_matrices_give_identities(dtype):
    for shape, full in (((4, 0), True), ((0, 3), True), ((2, 4, 0), False), ((0, 2, 2), True)):
        A = hy.zeros(*shape, dtype=dtype)
        for g, w in zip(hy.linalg.svd(A.cuda(), full_matrices=full), hy.linalg.svd(A, full_matrices=full)):
            close(g, w)


@needs_cusolver
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3), (1, 1), (0, 3, 2), (4, 0)])
def test_pinv(dtype, shape):
    A = rand(shape, dtype, seed=13)
    close(hy.linalg.pinv(A.cuda()), hy.linalg.pinv(A))
    close(hy.linalg.pinv(A.cuda(), atol=0.5), hy.linalg.pinv(A, atol=0.5))
    close(hy.linalg.pinv(A.cuda(), rtol=0.3), hy.linalg.pinv(A, rtol=0.3))
    if shape[-1] == shape[-2]:
        S = spd(shape, dtype, seed=14)
        close(hy.linalg.pinv(S.cuda(), hermitian=True), hy.linalg.pinv(S, hermitian=True),
              scale=float(hy.linalg.pinv(S, hermitian=True).abs().amax()))


@needs_cusolver
def test_compositions_stay_on_the_device():
    A = square((2, 4, 4), hy.float64, seed=15)
    B = rand((2, 4, 2), hy.float64, seed=16)
    close(hy.linalg.matrix_rank(A.cuda()), hy.linalg.matrix_rank(A))
    close(hy.linalg.matrix_power(A.cuda(), -2), hy.linalg.matrix_power(A, -2))
    close(hy.linalg.matrix_power(A.cuda(), 0), hy.linalg.matrix_power(A, 0))
    close(hy.linalg.cond(A.cuda()), hy.linalg.cond(A))
    close(hy.linalg.matrix_norm(A.cuda(), ord=2), hy.linalg.matrix_norm(A, ord=2))
    close(hy.linalg.matrix_norm(A.cuda(), ord="nuc"), hy.linalg.matrix_norm(A, ord="nuc"))
    for driver in ("gels", "gelsy", "gelsd"):
        got, want = hy.linalg.lstsq(A.cuda(), B.cuda(), driver=driver), hy.linalg.lstsq(A, B, driver=driver)
        for g, w in zip(got, want):
            close(g, w)


# ---- failures: LinAlgError with the CPU's message, the CPU's argument errors ----

def same_error(fn, *args, **kwargs):
    """fn raises the same exception type and message on the CPU and on CUDA."""
    with pytest.raises(Exception) as cpu:
        fn(*args, **kwargs)
    cuda_args = [a.cuda() if isinstance(a, hy.Tensor) else a for a in args]
    with pytest.raises(type(cpu.value)) as gpu:
        fn(*cuda_args, **kwargs)
    assert str(gpu.value) == str(cpu.value)
    return gpu.value


@needs_cusolver
@pytest.mark.parametrize("dtype", DTYPES)
def test_singular_and_not_positive_definite(dtype):
    Z = hy.zeros(3, 3, dtype=dtype)
    assert isinstance(same_error(hy.linalg.inv, Z), hy.linalg.LinAlgError)
    singular = hy.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=dtype)
    batch = hy.stack([hy.eye(2, dtype=dtype), singular])
    e = same_error(hy.linalg.inv, batch)
    assert "(Batch element 1)" in str(e)
    same_error(hy.linalg.solve, batch, hy.ones(2, 2, 1, dtype=dtype))
    not_pd = spd((2, 3, 3), dtype)
    not_pd[1, 2, 2] = -1.0
    e = same_error(hy.linalg.cholesky, not_pd)
    assert "leading minor of order 3" in str(e) and "(Batch element 1)" in str(e)
    same_error(hy.linalg.cholesky, -hy.eye(2, dtype=dtype), upper=True)
    nan = spd((3, 3), dtype)
    nan[1, 1] = math.nan
    same_error(hy.linalg.cholesky, nan)  # a NaN pivot is a failure at its order, as on the CPU
    bad = rand((2, 3, 2), dtype)
    bad[1, 0, 0] = math.inf
    same_error(hy.linalg.svd, bad)
    same_error(hy.linalg.svdvals, bad)
    same_error(hy.linalg.pinv, bad)


@needs_cusolver
@pytest.mark.parametrize("dtype", DTYPES)
def test_singular_determinants_and_non_finite_eigh(dtype):
    singular = hy.stack([hy.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=dtype), hy.zeros(2, 2, dtype=dtype)])
    close(hy.linalg.det(singular.cuda()), hy.zeros(2, dtype=dtype))
    s, l = hy.linalg.slogdet(singular.cuda())
    close(s, hy.zeros(2, dtype=dtype))
    assert l.cpu().tolist() == [-math.inf, -math.inf]
    A = spd((2, 3, 3), dtype)
    A[0, 2, 0] = math.nan  # in the lower triangle: matrix 0 gives NaNs, matrix 1 is computed
    w, V = hy.linalg.eigh(A)
    gw, gV = hy.linalg.eigh(A.cuda())
    close(gw, w)
    assert bool(hy.isnan(gV[0].cpu()).all()) and not bool(hy.isnan(gV[1].cpu()).any())
    gw, _ = hy.linalg.eigh(A.cuda(), UPLO="U")  # the NaN is outside the triangle read
    close(gw, hy.linalg.eigh(A, UPLO="U")[0])


@needs_cusolver
def test_argument_errors_match_the_cpu():
    i = hy.ones(3, 3, dtype=hy.int64)
    h = hy.ones(3, 3, dtype=hy.float16)
    for fn in (hy.ops.linalg_inv, hy.ops.linalg_det, hy.ops.linalg_cholesky, hy.ops.linalg_svd, hy.ops.linalg_pinv):
        same_error(fn, i)
        same_error(fn, h)
        same_error(fn, hy.ones(3, dtype=hy.float32))
    for fn in (hy.ops.linalg_inv, hy.ops.linalg_slogdet, hy.ops.linalg_cholesky, hy.ops.linalg_eigh):
        same_error(fn, hy.ones(2, 3))
    same_error(hy.ops.linalg_solve, hy.eye(3), hy.ones(3, 2, dtype=hy.float64))
    same_error(hy.ops.linalg_solve, hy.eye(3), hy.ones(4, 2))
    same_error(hy.ops.linalg_solve, hy.ones(2, 3, 3), hy.ones(4, 3, 2))
    same_error(hy.ops.linalg_solve_triangular, hy.eye(3), hy.ones(2, 2), upper=True)
    same_error(hy.ops.linalg_solve_triangular, hy.eye(3), hy.ones(2, 2), upper=True, left=False)
    same_error(hy.ops.linalg_qr, hy.ones(3, 2), "full")
    same_error(hy.ops.linalg_eigh, hy.eye(2), "X")
    same_error(hy.ops.linalg_pinv, hy.ones(3, 2), -1.0)
    same_error(hy.ops.linalg_pinv, hy.ones(3, 2), None, -1.0)
    same_error(hy.ops.linalg_pinv, hy.ones(3, 2), None, None, True)  # hermitian needs square
    with pytest.raises(RuntimeError, match="cpu and cuda:0|cuda:0 and cpu"):
        hy.linalg.solve(hy.eye(3).cuda(), hy.ones(3, 1))


# ---- gradients through the device ----

def grads(fn, *inputs, device):
    xs = [x.detach().to(device).requires_grad_(True) for x in inputs]
    fn(*xs).backward()
    return [x.grad for x in xs]


@needs_cusolver
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,fn,make", [
    ("inv", lambda A: (hy.linalg.inv(A) * hy.linalg.inv(A)).sum(), lambda d: [square((2, 3, 3), d)]),
    ("det", lambda A: hy.linalg.det(A).sum(), lambda d: [square((2, 3, 3), d)]),
    ("det of a singular matrix", lambda A: hy.linalg.det(A).sum(),
     lambda d: [hy.tensor([[1.0, 2.0, 0.5], [2.0, 4.0, 1.0], [0.3, -1.0, 2.0]], dtype=d)]),
    ("slogdet", lambda A: hy.linalg.slogdet(A)[1].sum(), lambda d: [square((2, 3, 3), d)]),
    ("solve", lambda A, B: (hy.linalg.solve(A, B) ** 2).sum(), lambda d: [square((2, 3, 3), d), rand((3, 2), d)]),
    ("solve_triangular", lambda A, B: (hy.linalg.solve_triangular(A, B, upper=True) ** 2).sum(),
     lambda d: [square((2, 3, 3), d), rand((2, 3, 2), d)]),
    ("solve_triangular right unit", lambda A, B: (hy.linalg.solve_triangular(
        A, B, upper=False, left=False, unitriangular=True) ** 2).sum(), lambda d: [square((3, 3), d), rand((2, 3), d)]),
    ("cholesky", lambda A: (hy.linalg.cholesky(A) ** 2).sum(), lambda d: [spd((2, 3, 3), d)]),
    ("cholesky upper", lambda A: hy.linalg.cholesky(A, upper=True).sum(), lambda d: [spd((3, 3), d)]),
    ("qr", lambda A: sum(t.sum() for t in hy.linalg.qr(A)), lambda d: [rand((2, 4, 3), d)]),
    ("qr wide", lambda A: sum((t ** 2).sum() * 0.5 + t.sum() for t in hy.linalg.qr(A)), lambda d: [rand((3, 5), d)]),
    ("eigvalsh", lambda A: (hy.linalg.eigvalsh(A) ** 2).sum(), lambda d: [spd((2, 4, 4), d)]),
    ("eigh vectors", lambda A: (hy.linalg.eigh(A)[1] ** 2 * hy.arange(4, dtype=A.dtype, device=A.device)).sum(),
     lambda d: [spd((2, 4, 4), d)]),
    ("svdvals", lambda A: hy.linalg.svdvals(A).sum(), lambda d: [rand((2, 4, 3), d)]),
    ("svd vectors", lambda A: sum(
        (U[..., :, :1] @ Vh[..., :1, :]).sum() for U, S, Vh in [hy.linalg.svd(A, full_matrices=False)]),
     lambda d: [rand((3, 5), d)]),
    ("pinv", lambda A: (hy.linalg.pinv(A) ** 2).sum(), lambda d: [rand((2, 4, 3), d)]),
    ("pinv hermitian", lambda A: hy.linalg.pinv(A + A.mT, hermitian=True).sum(), lambda d: [spd((3, 3), d)]),
])
def test_gradients_match_the_cpu(dtype, name, fn, make):
    inputs = make(dtype)
    want = grads(fn, *inputs, device="cpu")
    got = grads(fn, *inputs, device="cuda")
    for g, w in zip(got, want):
        close(g, w, scale=max(float(w.abs().amax()), 1.0) * (10 if dtype == hy.float32 else 1))


@needs_cusolver
def test_second_order_gradient_on_the_device():
    A = square((3, 3), hy.float64, seed=17)
    out = []
    for dev in ("cpu", "cuda"):
        x = A.detach().to(dev).requires_grad_(True)
        (g,) = hy.autograd.grad(hy.linalg.det(x), x, create_graph=True)
        (gg,) = hy.autograd.grad(g.sum(), x)
        out.append(gg)
    close(out[1], out[0])


# ---- streams ----

@needs_cusolver
def test_runs_on_the_current_stream():
    A = square((8, 32, 32), hy.float64, seed=18)
    want = hy.linalg.inv(A)
    s = hy.cuda.Stream()
    x = A.cuda()
    s.wait_stream(hy.cuda.current_stream())
    with hy.cuda.stream(s):
        got = hy.linalg.inv(x)
        L = hy.linalg.cholesky(x @ x.mT)
        Q, R = hy.linalg.qr(x)
    s.synchronize()
    close(got, want)
    close(L, hy.linalg.cholesky(A @ A.mT))
    close(Q @ R, A)


# ---- a build without cuSOLVER ----

@pytest.mark.skipif(HAS_CUSOLVER, reason="only for a CUDA build without cuSOLVER")
def test_without_cusolver_the_ops_say_why():
    for fn, args in ((hy.linalg.inv, (hy.eye(3),)), (hy.linalg.svdvals, (hy.ones(3, 2),)),
                     (hy.linalg.solve_triangular, (hy.eye(3), hy.ones(3, 1)))):
        kw = {"upper": True} if fn is hy.linalg.solve_triangular else {}
        with pytest.raises(NotImplementedError, match=r"has no CUDA kernel yet \(built without cuSOLVER"):
            fn(*[a.cuda() for a in args], **kw)
