"""Matrix decompositions and solvers (csrc/ops/table/linalg_decomp.yaml) against numpy.linalg.

The samples are well-conditioned (a dominant diagonal), so float32 agrees to a few 1e-5 and finite differences
are stable. Rows whose outputs are unique only up to signs (eigh's and svd's vectors) test the values-only
form (compute_v/compute_uv=False) here; their gradients, and cholesky's and eigh's (which read one triangle
of a symmetric input), are gradchecked through gauge-invariant functions in test_autograd_ops.py (EXTRA) and
tests/python/test_linalg_autograd.py. hy.linalg's functions are compared with torch.linalg in test_linalg.py.
"""
import numpy as np

from . import OpInfo, Sample, rand_array

FLOATS = ("float32", "float64")
TOL = {"float32": (2e-4, 2e-4), "float64": (1e-9, 1e-9)}


def _square(rng, dtype, *batch_and_n):
    """Random square matrices with a dominant diagonal (condition number O(1))."""
    *batch, n = batch_and_n
    a = rand_array(rng, tuple(batch) + (n, n), dtype, -1.0, 1.0)
    return (a + np.eye(n, dtype=a.dtype) * (n + 1)).astype(a.dtype)


def _spd(rng, dtype, *batch_and_n):
    a = _square(rng, dtype, *batch_and_n)
    return (a @ np.swapaxes(a, -1, -2)).astype(a.dtype)


def square_samples(dtype, rng):
    yield Sample((_square(rng, dtype, 3),), desc="3x3")
    yield Sample((_square(rng, dtype, 2, 4),), desc="batched 2 x 4x4")
    yield Sample((_square(rng, dtype, 1),), desc="1x1")
    yield Sample((np.swapaxes(_square(rng, dtype, 5), 0, 1),), desc="transposed (non-contiguous)")
    yield Sample((_square(rng, dtype, 2, 3, 6),), desc="batch of 2x3")
    yield Sample((_square(rng, dtype, 0, 3),), desc="empty batch")
    yield Sample((_square(rng, dtype, 0),), desc="0x0")
    yield Sample((_square(rng, dtype, 40),), desc="40x40")


def solve_samples(dtype, rng):
    b = lambda *s: rand_array(rng, s, dtype, -1.0, 1.0)  # noqa: E731
    yield Sample((_square(rng, dtype, 3), b(3, 2)), desc="3x3, 2 right-hand sides")
    yield Sample((_square(rng, dtype, 2, 4), b(2, 4, 1)), desc="batched")
    yield Sample((_square(rng, dtype, 4), b(3, 4, 2)), desc="A broadcast over B's batch")
    yield Sample((_square(rng, dtype, 2, 1, 3), b(4, 3, 2)), desc="both batches broadcast")
    yield Sample((_square(rng, dtype, 1), b(1, 3)), desc="1x1")
    yield Sample((_square(rng, dtype, 3), np.swapaxes(b(2, 3), 0, 1)), desc="non-contiguous B")
    yield Sample((_square(rng, dtype, 3), b(3, 0)), desc="no right-hand sides")
    yield Sample((_square(rng, dtype, 0, 3), b(0, 3, 2)), desc="empty batch")


def triangular_samples(dtype, rng):
    b = lambda *s: rand_array(rng, s, dtype, -1.0, 1.0)  # noqa: E731
    yield Sample((_square(rng, dtype, 3), b(3, 2)), {"upper": True}, desc="upper, left")
    yield Sample((_square(rng, dtype, 3), b(3, 2)), {"upper": False}, desc="lower, left")
    yield Sample((_square(rng, dtype, 3), b(2, 3)), {"upper": True, "left": False}, desc="upper, right")
    yield Sample((_square(rng, dtype, 2, 3), b(2, 3)), {"upper": False, "left": False}, desc="lower, right")
    yield Sample((_square(rng, dtype, 4), b(4, 1)), {"upper": True, "unitriangular": True}, desc="unit diagonal")
    yield Sample((_square(rng, dtype, 2, 1, 3), b(3, 3, 2)), {"upper": False}, desc="batch broadcast")
    yield Sample((_square(rng, dtype, 0, 3), b(0, 3, 2)), {"upper": True}, desc="empty batch")


def spd_samples(dtype, rng):
    yield Sample((_spd(rng, dtype, 3),), desc="3x3")
    yield Sample((_spd(rng, dtype, 2, 4),), {"upper": True}, desc="batched, upper")
    yield Sample((_spd(rng, dtype, 1),), desc="1x1")
    yield Sample((_spd(rng, dtype, 0, 2),), desc="empty batch")
    yield Sample((_spd(rng, dtype, 30),), desc="30x30")


def rect_samples(dtype, rng):
    a = lambda *s: rand_array(rng, s, dtype, -1.0, 1.0)  # noqa: E731
    yield Sample((a(4, 3),), desc="tall")
    yield Sample((a(3, 5),), desc="wide")
    yield Sample((a(2, 3, 3),), desc="batched square")
    yield Sample((np.swapaxes(a(3, 4), 0, 1),), desc="transposed")
    yield Sample((a(1, 1),), desc="1x1")
    yield Sample((a(0, 3, 2),), desc="empty batch")


def qr_samples(dtype, rng):
    for s in rect_samples(dtype, rng):
        yield s
    a = lambda *s: rand_array(rng, s, dtype, -1.0, 1.0)  # noqa: E731
    yield Sample((a(5, 3), "complete"), desc="tall, complete")
    yield Sample((a(3, 5), "complete"), desc="wide, complete")
    yield Sample((a(2, 5, 3), "r"), desc="mode r")
    yield Sample((a(4, 0), "complete"), desc="no columns, complete")


def eigvals_samples(dtype, rng):
    yield Sample((_spd(rng, dtype, 3) - 10, "L", False), desc="lower")
    yield Sample((_square(rng, dtype, 2, 4), "U", False), desc="upper triangle of a non-symmetric matrix")
    yield Sample((_spd(rng, dtype, 1), "L", False), desc="1x1")
    yield Sample((_spd(rng, dtype, 0, 3), "L", False), desc="empty batch")


def svdvals_samples(dtype, rng):
    for s in rect_samples(dtype, rng):
        yield Sample(s.args + (False, False), desc=s.desc)


def pinv_samples(dtype, rng):
    for s in rect_samples(dtype, rng):
        yield s
    a = rand_array(rng, (4, 3), dtype, -1.0, 1.0)
    yield Sample((a,), {"atol": 0.5}, desc="atol drops small singular values")
    yield Sample((_spd(rng, dtype, 3),), {"hermitian": True}, desc="hermitian")


def _triangle(a, upper):
    return np.triu(a) if upper else np.tril(a)


def ref_solve_triangular(A, B, upper, left=True, unitriangular=False):
    T = _triangle(A, upper)
    if unitriangular:
        T = T - T * np.eye(A.shape[-1]) + np.eye(A.shape[-1])
    if left:
        return np.linalg.solve(T, B).astype(A.dtype)
    return np.swapaxes(np.linalg.solve(np.swapaxes(T, -1, -2), np.swapaxes(B, -1, -2)), -1, -2).astype(A.dtype)


def ref_cholesky(A, upper=False):
    if A.size == 0:
        return A.copy()
    L = np.linalg.cholesky(A)
    return np.swapaxes(L, -1, -2).copy() if upper else L


def ref_slogdet(A):
    s, l = np.linalg.slogdet(A)
    return s.astype(A.dtype), l.astype(A.dtype)


def ref_qr(A, mode="reduced"):
    if mode == "r":
        return np.zeros((0,), A.dtype), np.linalg.qr(A, mode="r").astype(A.dtype)
    q, r = np.linalg.qr(A, mode=mode)
    return q.astype(A.dtype), r.astype(A.dtype)


def ref_eigvalsh(A, UPLO, compute_v):
    return np.linalg.eigvalsh(A, UPLO=UPLO).astype(A.dtype), np.zeros((0,), A.dtype)


def ref_svdvals(A, full_matrices, compute_uv):
    z = np.zeros((0,), A.dtype)
    return z, np.linalg.svd(A, compute_uv=False).astype(A.dtype), z


def ref_pinv(A, atol=None, rtol=None, hermitian=False):
    m, n = A.shape[-2:]
    if A.size == 0:
        return np.zeros(A.shape[:-2] + (n, m), A.dtype)
    eps = np.finfo(A.dtype).eps
    if rtol is None:
        rtol = 0.0 if atol else eps * max(m, n)
    u, s, vh = np.linalg.svd(A.astype(np.float64), full_matrices=False)
    tol = np.maximum(atol or 0.0, rtol * s.max(axis=-1, keepdims=True))
    inv = np.where(s > tol, 1.0 / np.where(s > tol, s, 1.0), 0.0)
    return (np.swapaxes(vh, -1, -2) * inv[..., None, :] @ np.swapaxes(u, -1, -2)).astype(A.dtype)


def _det(A):
    return np.linalg.det(A).astype(A.dtype)


OPS = [
    OpInfo("linalg_inv", lambda A: np.linalg.inv(A).astype(A.dtype), square_samples, FLOATS, tol=TOL),
    OpInfo("linalg_det", _det, square_samples, FLOATS, tol=TOL),
    OpInfo("linalg_slogdet", ref_slogdet, square_samples, FLOATS, tol=TOL),
    OpInfo("linalg_solve", lambda A, B: np.linalg.solve(A, B).astype(A.dtype), solve_samples, FLOATS, tol=TOL),
    OpInfo("linalg_solve_triangular", ref_solve_triangular, triangular_samples, FLOATS, tol=TOL),
    OpInfo("linalg_cholesky", ref_cholesky, spd_samples, FLOATS, tol=TOL, grad=False),
    OpInfo("linalg_qr", ref_qr, qr_samples, FLOATS, tol=TOL,
           grad_filter=lambda s: len(s.args) == 1 or s.args[1] != "r"),
    OpInfo("linalg_eigh", ref_eigvalsh, eigvals_samples, FLOATS, tol=TOL, grad=False),
    OpInfo("linalg_svd", ref_svdvals, svdvals_samples, FLOATS, tol=TOL, grad=False),
    OpInfo("linalg_pinv", ref_pinv, pinv_samples, FLOATS, tol=TOL,
           grad_filter=lambda s: not s.kwargs.get("hermitian")),
]
