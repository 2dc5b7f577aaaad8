"""Matrix products (csrc/ops/table/linalg.yaml) against np.matmul and friends."""
import numpy as np

from . import ALL, OpInfo, Sample, rand_array

DTYPES = ("int32", "int64", "float16", "bfloat16", "float32", "float64")
# Products sum k terms: float32 differs from NumPy's summation order by a few ulps of the terms, and the
# 16-bit types round the float32 result once.
TOL = {"float16": (2e-3, 1e-2), "bfloat16": (1.6e-2, 5e-2), "float32": (1e-5, 1e-3), "float64": (1e-10, 1e-10)}


def _arr(rng, dtype, shape, nc=False):
    return rand_array(rng, shape, dtype, -3, 3, nc)


def matmul_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    yield Sample((a(7), a(7)), desc="1-D . 1-D")
    yield Sample((a(3, 4), a(4, 5)), desc="2-D @ 2-D")
    yield Sample((a(4), a(4, 5)), desc="1-D @ 2-D")
    yield Sample((a(3, 4), a(4)), desc="2-D @ 1-D")
    yield Sample((a(4), a(2, 4, 5)), desc="1-D @ 3-D")
    yield Sample((a(2, 3, 4), a(4)), desc="3-D @ 1-D")
    yield Sample((a(2, 3, 4), a(2, 4, 5)), desc="batched")
    yield Sample((a(2, 1, 3, 4), a(5, 4, 6)), desc="batch broadcast")
    yield Sample((a(3, 4), a(2, 4, 5)), desc="2-D @ batched")
    yield Sample((a(5, 3).T, a(5, 4)), desc="transposed lhs")
    yield Sample((a(3, 5), a(4, 5).T), desc="transposed rhs")
    yield Sample((a(2, 5, 3).transpose(0, 2, 1), a(2, 4, 5).transpose(0, 2, 1)), desc="batched transposed")
    yield Sample((_arr(rng, dtype, (3, 4), True), _arr(rng, dtype, (4, 5), True)), desc="non-contiguous")
    yield Sample((a(6, 8)[::2, 1:5], a(4, 6)[:, ::2]), desc="sliced (ld > cols)")
    yield Sample((a(0, 3), a(3, 4)), desc="empty m")
    yield Sample((a(3, 0), a(0, 4)), desc="empty k")
    yield Sample((a(130, 70), a(70, 90)), desc="large (row-parallel)")
    yield Sample((a(20, 70), a(70, 300)), desc="large (column-parallel)")
    yield Sample((a(3, 40, 50), a(3, 50, 60)), desc="odd batch (parallel)")


def mm_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    yield Sample((a(3, 4), a(4, 5)))
    yield Sample((a(5, 3).T, a(5, 4)), desc="transposed")
    yield Sample((_arr(rng, dtype, (3, 4), True), a(4, 2)), desc="non-contiguous")
    yield Sample((a(1, 4), a(4, 1)), desc="1x1 result")
    yield Sample((a(0, 4), a(4, 3)), desc="empty")
    yield Sample((a(100, 80), a(80, 120)), desc="large")


def bmm_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    yield Sample((a(2, 3, 4), a(2, 4, 5)))
    yield Sample((a(3, 4, 5).transpose(0, 2, 1), a(3, 4, 2)), desc="transposed")
    yield Sample((a(0, 3, 4), a(0, 4, 5)), desc="empty batch")
    yield Sample((a(5, 30, 40), a(5, 40, 20)), desc="parallel batch")


def mv_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    yield Sample((a(3, 4), a(4)))
    yield Sample((a(4, 3).T, _arr(rng, dtype, (4,), True)), desc="transposed, strided vec")
    yield Sample((a(300, 200), a(200)), desc="large")


def dot_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    yield Sample((a(5), a(5)))
    yield Sample((_arr(rng, dtype, (6,), True), a(6)), desc="strided")
    yield Sample((a(0), a(0)), desc="empty")


def outer_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    yield Sample((a(3), a(4)))
    yield Sample((_arr(rng, dtype, (5,), True), a(0)), desc="strided, empty")


def addmm_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    floats = dtype not in ("int32", "int64")
    yield Sample((a(3, 5), a(3, 4), a(4, 5)))
    yield Sample((a(5), a(3, 4), a(4, 5)), {"beta": 2, "alpha": 3}, desc="broadcast row, int coefficients")
    yield Sample((a(3, 1), a(4, 3).T, a(4, 5)), {"beta": 0}, desc="column self, beta=0")
    if floats:
        yield Sample((a(3, 5), a(3, 4), a(4, 5)), {"beta": 0.5, "alpha": -1.5}, desc="float coefficients")
    yield Sample((a(64, 96), a(64, 80), a(80, 96)), {"alpha": 2}, desc="large")


def ref_addmm(s, m1, m2, beta=1, alpha=1):
    prod = np.matmul(m1, m2)
    return prod * alpha if beta == 0 else beta * s + alpha * prod


def ref_dot(a, b):
    return np.asarray(np.dot(a, b))


OPS = [
    OpInfo("matmul", np.matmul, matmul_samples, DTYPES, tol=TOL),
    OpInfo("mm", np.matmul, mm_samples, DTYPES, tol=TOL),
    OpInfo("bmm", np.matmul, bmm_samples, DTYPES, tol=TOL),
    OpInfo("mv", np.matmul, mv_samples, DTYPES, tol=TOL),
    OpInfo("dot", ref_dot, dot_samples, DTYPES, tol=TOL),
    OpInfo("outer", np.outer, outer_samples, ALL, tol=TOL),
    OpInfo("addmm", ref_addmm, addmm_samples, DTYPES, tol=TOL),
]
