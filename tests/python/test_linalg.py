"""hy.linalg against torch.linalg: values on random, batched, broadcast and edge inputs (1x1, empty batch, 0x0,
singular, rank-deficient), torch's argument conventions, and the errors bad inputs raise (docs/linalg.md).
Gradients are in test_linalg_autograd.py, norms and products in test_linalg_norms.py."""
import numpy as np
import pytest

import hyflow as hy

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.skipif(not hy.build_info()["lapack"], reason="this build has no LAPACK")

DTYPES = [np.float32, np.float64]


def _tol(dtype):
    return (2e-4, 2e-4) if dtype == np.float32 else (1e-10, 1e-10)


def _close(got, want, dtype, scale=1.0):
    rtol, atol = _tol(dtype)
    got = got.numpy() if isinstance(got, hy.Tensor) else np.asarray(got)
    want = want.detach().numpy() if isinstance(want, torch.Tensor) else np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale)


def _rand(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _well(shape, dtype, seed=0):
    """Square matrices with a dominant diagonal."""
    a = _rand(shape, dtype, seed)
    return (a + np.eye(shape[-1], dtype=dtype) * (2 * shape[-1])).astype(dtype)


def _spd(shape, dtype, seed=0):
    a = _rand(shape, dtype, seed)
    return (a @ np.swapaxes(a, -1, -2) + np.eye(shape[-1]) * shape[-1]).astype(dtype)


def _pair(a):
    return hy.tensor(a), torch.from_numpy(np.array(a))


SQUARE_SHAPES = [(3, 3), (1, 1), (2, 4, 4), (2, 3, 5, 5), (0, 3, 3), (0, 0), (64, 64)]


@pytest.mark.parametrize("shape", SQUARE_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_inv_det_slogdet_match_torch(shape, dtype):
    h, t = _pair(_well(shape, dtype))
    _close(hy.linalg.inv(h), torch.linalg.inv(t), dtype)
    scale = float(np.abs(torch.linalg.det(t).numpy()).max(initial=1.0))
    _close(hy.linalg.det(h), torch.linalg.det(t), dtype, scale)
    s, ld = hy.linalg.slogdet(h)
    ts, tld = torch.linalg.slogdet(t)
    _close(s, ts, dtype)
    _close(ld, tld, dtype, 10.0)
    assert hy.linalg.slogdet(h)._fields == ("sign", "logabsdet")
    assert s.dtype == h.dtype and ld.dtype == h.dtype


def test_det_and_slogdet_of_singular_and_negative_matrices():
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    assert hy.linalg.det(hy.tensor(a)).item() == 0.0
    s, ld = hy.linalg.slogdet(hy.tensor(a))
    assert s.item() == 0.0 and ld.item() == -np.inf
    p = np.array([[0.0, 1.0], [1.0, 0.0]])  # a permutation: det -1
    assert hy.linalg.det(hy.tensor(p)).item() == -1.0
    s, ld = hy.linalg.slogdet(hy.tensor(-2 * np.eye(3)))
    assert s.item() == -1.0 and abs(ld.item() - 3 * np.log(2)) < 1e-12
    res = hy.linalg.slogdet(hy.tensor(p))
    assert res.sign.item() == -1.0 and res.logabsdet.item() == 0.0


def test_noncontiguous_and_strided_inputs():
    a = _well((4, 6, 6), np.float64)
    h = hy.tensor(a).transpose(-1, -2)[::2]          # strided batch, transposed matrices
    t = torch.from_numpy(a).transpose(-1, -2)[::2]
    _close(hy.linalg.inv(h), torch.linalg.inv(t), np.float64)
    _close(hy.linalg.det(h), torch.linalg.det(t), np.float64, 1e4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_solve_matches_torch(dtype):
    cases = [((3, 3), (3, 2)), ((3, 3), (3,)), ((2, 4, 4), (2, 4)), ((2, 4, 4), (2, 4, 3)), ((4, 4), (5, 4, 2)),
             ((2, 1, 3, 3), (4, 3, 1)), ((1, 1), (1, 1)), ((0, 3, 3), (0, 3, 2)), ((3, 3), (3, 0))]
    for sa, sb in cases:
        A, tA = _pair(_well(sa, dtype))
        B, tB = _pair(_rand(sb, dtype, 1))
        _close(hy.linalg.solve(A, B), torch.linalg.solve(tA, tB), dtype)
        if not (len(sb) == 1 or (len(sb) == len(sa) - 1 and sb == sa[:-1])):  # X A = B with B (*, k, n)
            _close(hy.linalg.solve(A, B.mT, left=False), torch.linalg.solve(tA, tB.mT, left=False), dtype)
        else:  # torch refuses a vector B with left=False
            with pytest.raises(ValueError, match="XA = B"):
                hy.linalg.solve(A, B, left=False)


@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unit", [True, False])
def test_solve_triangular_matches_torch(upper, left, unit):
    A, tA = _pair(_well((2, 4, 4), np.float64))
    B, tB = _pair(_rand((2, 4, 3) if left else (2, 3, 4), np.float64, 2))
    _close(hy.linalg.solve_triangular(A, B, upper=upper, left=left, unitriangular=unit),
           torch.linalg.solve_triangular(tA, tB, upper=upper, left=left, unitriangular=unit), np.float64)


@pytest.mark.parametrize("shape", [(3, 3), (1, 1), (2, 5, 5), (0, 2, 2), (0, 0), (50, 50)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cholesky_matches_torch(shape, dtype):
    h, t = _pair(_spd(shape, dtype))
    _close(hy.linalg.cholesky(h), torch.linalg.cholesky(t), dtype, 10.0)
    _close(hy.linalg.cholesky(h, upper=True), torch.linalg.cholesky(t, upper=True), dtype, 10.0)


def test_cholesky_reads_one_triangle():
    a = _spd((4, 4), np.float64)
    junk_upper = np.tril(a) + np.triu(np.full((4, 4), 7.0), 1)
    np.testing.assert_allclose(hy.linalg.cholesky(hy.tensor(junk_upper)).numpy(), np.linalg.cholesky(a))
    junk_lower = np.triu(a) + np.tril(np.full((4, 4), 7.0), -1)
    np.testing.assert_allclose(hy.linalg.cholesky(hy.tensor(junk_lower), upper=True).numpy(),
                               np.linalg.cholesky(a).T)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 6, 2), (1, 1), (0, 3, 2), (4, 0), (0, 4)])
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_qr_matches_torch(shape, mode, dtype):
    h, t = _pair(_rand(shape, dtype))
    Q, R = hy.linalg.qr(h, mode=mode)
    tQ, tR = torch.linalg.qr(t, mode=mode)
    assert tuple(Q.shape) == tuple(tQ.shape) and tuple(R.shape) == tuple(tR.shape)
    # Householder QR is unique once the signs of R's diagonal are fixed; LAPACK fixes them the same way in both.
    _close(R, tR, dtype, 10.0)
    if mode != "r":
        _close(Q, tQ, dtype, 10.0)
        k = min(shape[-2], shape[-1])
        if Q.numel():
            np.testing.assert_allclose((Q.mT @ Q).numpy(), np.broadcast_to(np.eye(Q.shape[-1]), (Q.mT @ Q).shape),
                                       atol=1e-4 if dtype == np.float32 else 1e-12)
            np.testing.assert_allclose((Q[..., :k] @ R[..., :k, :]).numpy(), h.numpy(), atol=1e-4 if
                                       dtype == np.float32 else 1e-12)


def _fix_signs(V, ref):
    """V's columns flipped to agree in sign with ref's (eigenvectors/singular vectors are unique up to sign)."""
    s = np.sign(np.sum(V * ref, axis=-2, keepdims=True))
    s[s == 0] = 1
    return V * s


@pytest.mark.parametrize("shape", [(4, 4), (1, 1), (3, 5, 5), (0, 3, 3), (0, 0), (60, 60)])
@pytest.mark.parametrize("uplo", ["L", "U"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_eigh_and_eigvalsh_match_torch(shape, uplo, dtype):
    a = _rand(shape, dtype)  # not symmetric: only the UPLO triangle may be read
    h, t = _pair(a)
    L, V = hy.linalg.eigh(h, UPLO=uplo)
    tL, tV = torch.linalg.eigh(t, UPLO=uplo)
    _close(L, tL, dtype, 10.0)
    _close(_fix_signs(V.numpy(), tV.numpy()), tV, dtype, 100.0)
    _close(hy.linalg.eigvalsh(h, UPLO=uplo), torch.linalg.eigvalsh(t, UPLO=uplo), dtype, 10.0)
    res = hy.linalg.eigh(h)
    assert res.eigenvalues.shape == L.shape and res.eigenvectors.shape == V.shape


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 6, 4), (1, 1), (0, 3, 2), (3, 0), (0, 0), (40, 30)])
@pytest.mark.parametrize("full", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_svd_and_svdvals_match_torch(shape, full, dtype):
    h, t = _pair(_rand(shape, dtype))
    U, S, Vh = hy.linalg.svd(h, full_matrices=full)
    tU, tS, tVh = torch.linalg.svd(t, full_matrices=full)
    assert tuple(U.shape) == tuple(tU.shape) and tuple(Vh.shape) == tuple(tVh.shape)
    _close(S, tS, dtype, 10.0)
    _close(hy.linalg.svdvals(h), torch.linalg.svdvals(t), dtype, 10.0)
    k = S.shape[-1]
    if k:
        _close(_fix_signs(U.numpy()[..., :k], tU.numpy()[..., :k]), tU[..., :k], dtype, 100.0)
        rec = (U[..., :k] * S.unsqueeze(-2)) @ Vh[..., :k, :]
        np.testing.assert_allclose(rec.numpy(), h.numpy(), atol=1e-4 if dtype == np.float32 else 1e-12)
    if full:
        for M in (U, Vh):
            eye = np.broadcast_to(np.eye(M.shape[-1]), M.shape)
            np.testing.assert_allclose((M.mT @ M).numpy(), eye, atol=1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4), (0, 3, 2), (3, 0)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_pinv_matches_torch(shape, dtype):
    h, t = _pair(_rand(shape, dtype))
    _close(hy.linalg.pinv(h), torch.linalg.pinv(t), dtype, 10.0)
    _close(hy.linalg.pinv(h, atol=0.5), torch.linalg.pinv(t, atol=0.5), dtype, 10.0)
    _close(hy.linalg.pinv(h, rtol=0.3), torch.linalg.pinv(t, rtol=0.3), dtype, 10.0)
    _close(hy.linalg.pinv(h, 0.3), torch.linalg.pinv(t, 0.3), dtype, 10.0)  # rcond, torch's old positional


def test_pinv_of_rank_deficient_and_hermitian_matrices():
    a = _rand((5, 2), np.float64) @ _rand((2, 4), np.float64, 1)  # rank 2
    h, t = _pair(a)
    _close(hy.linalg.pinv(h), torch.linalg.pinv(t), np.float64, 10.0)
    s = _rand((4, 4), np.float64)
    s = s + s.T
    h, t = _pair(s)
    _close(hy.linalg.pinv(h, hermitian=True), torch.linalg.pinv(t, hermitian=True), np.float64, 10.0)


@pytest.mark.parametrize("driver", [None, "gels", "gelsy", "gelsd", "gelss"])
@pytest.mark.parametrize("shape", [((6, 3), (6, 2)), ((6, 3), (6,)), ((3, 5), (3, 2)), ((2, 5, 3), (2, 5, 4))])
def test_lstsq_matches_torch(driver, shape):
    sa, sb = shape
    A, tA = _pair(_rand(sa, np.float64))
    B, tB = _pair(_rand(sb, np.float64, 1))
    got = hy.linalg.lstsq(A, B, driver=driver)
    want = torch.linalg.lstsq(tA, tB, driver=driver)
    _close(got.solution, want.solution, np.float64, 10.0)
    for name in ("residuals", "rank", "singular_values"):
        g, w = getattr(got, name), getattr(want, name)
        assert tuple(g.shape) == tuple(w.shape), (name, tuple(g.shape), tuple(w.shape))
        assert g.dtype.name == str(w.dtype).replace("torch.", ""), name
        _close(g, w, np.float64, 10.0)


def test_lstsq_rank_deficient_gives_the_minimum_norm_solution():
    a = _rand((6, 2), np.float64) @ _rand((2, 4), np.float64, 1)
    b = _rand((6, 3), np.float64, 2)
    got = hy.linalg.lstsq(hy.tensor(a), hy.tensor(b), driver="gelsd")
    want = torch.linalg.lstsq(torch.from_numpy(a), torch.from_numpy(b), driver="gelsd")
    _close(got.solution, want.solution, np.float64, 100.0)
    assert got.rank.item() == 2 == want.rank.item()
    _close(hy.linalg.lstsq(hy.tensor(a), hy.tensor(b)).solution, np.linalg.lstsq(a, b, rcond=None)[0],
           np.float64, 100.0)



class _CountingOps:
    """hy.linalg's op namespace, counting the factorizations lstsq asks for (pinv and eigh factor too)."""

    def __init__(self, ops):
        self._ops, self.factorizations = ops, []

    def __getattr__(self, name):
        op = getattr(self._ops, name)
        if name not in ("linalg_svd", "linalg_pinv", "linalg_eigh"):
            return op

        def counted(*args, **kwargs):
            self.factorizations.append(name)
            return op(*args, **kwargs)
        return counted


@pytest.mark.parametrize("driver", [None, "gelsy", "gelsd", "gelss"])
def test_lstsq_factors_the_matrix_once(driver, monkeypatch):
    """The solution, rank and singular values come from one SVD of A (lstsq took up to three: pinv's,
    matrix_rank's and svdvals'), and still equal torch's, rank-deficient and batched too."""
    from hyflow.linalg import _decompositions
    counting = _CountingOps(_decompositions.ops)
    monkeypatch.setattr(_decompositions, "ops", counting)
    a = _rand((3, 6, 2), np.float64) @ _rand((3, 2, 4), np.float64, 1)   # rank 2 of 4
    a[1] = _rand((6, 4), np.float64, 3)                                   # full rank
    b = _rand((3, 6, 3), np.float64, 2)
    got = hy.linalg.lstsq(hy.tensor(a), hy.tensor(b), driver=driver)
    assert counting.factorizations == ["linalg_svd"]
    want = torch.linalg.lstsq(torch.from_numpy(a), torch.from_numpy(b), driver=driver)
    _close(got.solution, want.solution, np.float64, 100.0)
    assert got.rank.tolist() == want.rank.tolist() == [2, 4, 2]
    assert tuple(got.singular_values.shape) == tuple(want.singular_values.shape)
    _close(got.singular_values, want.singular_values, np.float64, 10.0)
    assert got.residuals.numel() == want.residuals.numel() == 0   # rank-deficient: torch reports none
    with pytest.raises(ValueError, match="rcond must be non-negative"):
        hy.linalg.lstsq(hy.tensor(a), hy.tensor(b), -1.0, driver=driver)
    with hy.no_grad():   # an rcond above a matrix's smaller singular values drops them, as torch's
        rc = 0.5
        _close(hy.linalg.lstsq(hy.tensor(a[1]), hy.tensor(b[1]), rc, driver=driver).solution,
               torch.linalg.lstsq(torch.from_numpy(a[1]), torch.from_numpy(b[1]), rc, driver="gelsd").solution,
               np.float64, 100.0)


def test_matrix_rank_and_cond_match_torch():
    a = _rand((3, 5, 2), np.float64) @ _rand((3, 2, 4), np.float64, 1)
    h, t = _pair(a)
    assert hy.linalg.matrix_rank(h).tolist() == torch.linalg.matrix_rank(t).tolist() == [2, 2, 2]
    assert hy.linalg.matrix_rank(h, atol=1e9).tolist() == [0, 0, 0]
    s = a[0] @ a[0].T
    hs, ts = _pair(s)
    assert hy.linalg.matrix_rank(hs, hermitian=True).item() == torch.linalg.matrix_rank(ts, hermitian=True).item()
    w, tw = _pair(_well((2, 4, 4), np.float64))
    for p in (None, 2, -2, "fro", "nuc", np.inf, -np.inf, 1, -1):
        _close(hy.linalg.cond(w, p), torch.linalg.cond(tw, p), np.float64, 10.0)


# --- errors ---

def test_singular_matrices_raise_linalg_error():
    z = hy.zeros(3, 3, dtype=hy.float64)
    with pytest.raises(hy.linalg.LinAlgError, match=r"linalg.inv: The diagonal element 1 is zero.*singular"):
        hy.linalg.inv(z)
    batch = hy.stack([hy.eye(3, dtype=hy.float64), z])
    with pytest.raises(hy.linalg.LinAlgError, match=r"\(Batch element 1\)"):
        hy.linalg.inv(batch)
    with pytest.raises(hy.linalg.LinAlgError, match="linalg.solve: The solver failed because the input matrix is "
                                                   "singular"):
        hy.linalg.solve(z, hy.ones(3, dtype=hy.float64))
    with pytest.raises(RuntimeError):  # LinAlgError is a RuntimeError, as torch's
        hy.linalg.matrix_power(z, -1)
    assert issubclass(hy.linalg.LinAlgError, RuntimeError)
    assert hy.linalg.LinAlgError.__module__ == "hyflow.linalg"


def test_cholesky_of_a_matrix_that_is_not_positive_definite():
    with pytest.raises(hy.linalg.LinAlgError, match=r"not positive-definite \(the leading minor of order 1"):
        hy.linalg.cholesky(-hy.eye(3))
    a = hy.stack([hy.eye(2), hy.tensor([[1.0, 2.0], [2.0, 1.0]])])
    with pytest.raises(hy.linalg.LinAlgError, match=r"\(Batch element 1\).*leading minor of order 2"):
        hy.linalg.cholesky(a)
    with pytest.raises(hy.linalg.LinAlgError, match="leading minor of order 2"):  # NaN, as torch
        hy.linalg.cholesky(hy.tensor([[1.0, 0.0], [0.0, float("nan")]]))
    assert hy.linalg.cholesky(hy.tensor([[1.0, float("nan")], [0.0, 4.0]])).tolist() == [[1.0, 0.0], [0.0, 2.0]]


@pytest.mark.parametrize("fn", [hy.linalg.inv, hy.linalg.det, hy.linalg.slogdet, hy.linalg.cholesky,
                                hy.linalg.eigh, hy.linalg.eigvalsh, lambda a: hy.linalg.matrix_power(a, 2),
                                lambda a: hy.linalg.solve(a, hy.ones(3, 1))])
def test_non_square_matrices_raise_value_error_naming_the_argument(fn):
    with pytest.raises(ValueError, match="A must be batches of square matrices, but they are 3 by 4 matrices"):
        fn(hy.ones(3, 4))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fn(hy.ones(3))


@pytest.mark.parametrize("fn", [hy.linalg.inv, hy.linalg.det, hy.linalg.qr, hy.linalg.svd, hy.linalg.pinv,
                                hy.linalg.cholesky, hy.linalg.eigh])
def test_unsupported_dtypes_raise_type_error(fn):
    with pytest.raises(TypeError, match="float32 or float64"):
        fn(hy.ones(3, 3, dtype=hy.int64))
    with pytest.raises(TypeError, match="float"):
        fn(hy.ones(3, 3, dtype=hy.float16))
    with pytest.raises(TypeError, match="complex"):
        fn(hy.complex(hy.ones(3, 3), hy.ones(3, 3)))


def test_bad_arguments():
    a = hy.ones(3, 3)
    with pytest.raises(ValueError, match="mode must be 'reduced', 'complete' or 'r'"):
        hy.linalg.qr(a, mode="foo")
    with pytest.raises(ValueError, match="UPLO must be 'L' or 'U'"):
        hy.linalg.eigh(a, UPLO="X")
    with pytest.raises(RuntimeError, match="same dtype"):
        hy.linalg.solve(hy.eye(3), hy.ones(3, 2, dtype=hy.float64))
    with pytest.raises(ValueError, match=r"incompatible shapes of A and B for the equation AX = B \(3x3 and 4x2\)"):
        hy.linalg.solve(hy.eye(3), hy.ones(4, 2))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        hy.linalg.solve(hy.eye(3).expand(2, 3, 3), hy.ones(3, 3, 1))
    with pytest.raises(ValueError, match="XA = B"):
        hy.linalg.solve_triangular(hy.eye(3), hy.ones(3, 2), upper=True, left=False)
    with pytest.raises(TypeError, match="upper"):
        hy.linalg.solve_triangular(hy.eye(3), hy.ones(3, 2))  # upper is required, as in torch
    with pytest.raises(ValueError, match="driver"):
        hy.linalg.svd(a, driver="gesvdj")
    with pytest.raises(ValueError, match="driver must be one of"):
        hy.linalg.lstsq(a, a, driver="nope")
    with pytest.raises(ValueError, match="same number of rows"):
        hy.linalg.lstsq(hy.ones(5, 3), hy.ones(4, 2))
    with pytest.raises(ValueError, match="atol must be non-negative"):
        hy.linalg.pinv(a, atol=-1.0)
    with pytest.raises(TypeError, match="must be a hyflow Tensor"):
        hy.linalg.inv([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(hy.linalg.LinAlgError, match=r"\(Batch element 1\).*non-finite"):
        hy.linalg.svd(hy.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, float("nan")], [0.0, 1.0]]]))


def test_eigh_of_non_finite_input_is_nan_as_torch():
    nan = float("nan")
    L, V = hy.linalg.eigh(hy.tensor([[1.0, 0.0], [float("inf"), 1.0]]))
    assert np.isnan(L.numpy()).all() and np.isnan(V.numpy()).all()
    L, V = hy.linalg.eigh(hy.tensor([[[2.0, nan], [0.0, 1.0]], [[nan, 0.0], [0.0, 1.0]]]))  # NaN only where read
    np.testing.assert_allclose(L.numpy()[0], [1.0, 2.0])
    assert np.isnan(L.numpy()[1]).all()


def test_results_are_independent_of_the_thread_count():
    a = hy.tensor(_well((64, 8, 8), np.float64))
    old = hy.get_num_threads()
    try:
        hy.set_num_threads(1)
        one = [hy.linalg.inv(a), hy.linalg.svdvals(a), hy.linalg.eigvalsh(a)]
        hy.set_num_threads(max(2, old))
        many = [hy.linalg.inv(a), hy.linalg.svdvals(a), hy.linalg.eigvalsh(a)]
    finally:
        hy.set_num_threads(old)
    for x, y in zip(one, many):
        assert np.array_equal(x.numpy(), y.numpy())


def test_autocast_computes_low_precision_inputs_in_float32():
    a = hy.tensor(_well((3, 3), np.float32)).to(hy.bfloat16)
    with hy.autocast("cpu", dtype=hy.bfloat16):
        r = hy.linalg.inv(a)
    assert r.dtype == hy.float32


def test_torch_top_level_and_method_spellings():
    a = _well((2, 3, 3), np.float64)
    a[1] *= -1  # a negative determinant: logdet is NaN there
    h, t = _pair(a)
    _close(hy.det(h), torch.det(t), np.float64, 1e3)
    _close(h.det(), t.det(), np.float64, 1e3)
    _close(hy.inverse(h), torch.inverse(t), np.float64)
    _close(h.inverse(), t.inverse(), np.float64)
    _close(hy.logdet(h), torch.logdet(t), np.float64, 10.0)
    _close(h.logdet(), t.logdet(), np.float64, 10.0)
    assert hy.logdet(hy.zeros(2, 2, dtype=hy.float64)).item() == -np.inf == torch.logdet(torch.zeros(2, 2)).item()
    s, ld = h.slogdet()
    ts, tld = torch.slogdet(t)
    _close(s, ts, np.float64)
    _close(ld, tld, np.float64, 10.0)
    f, tf = _pair(_rand((4, 3), np.float64))
    _close(hy.pinverse(f), torch.pinverse(tf), np.float64, 10.0)
    r, tr = _pair(_rand((4, 2), np.float64) @ _rand((2, 3), np.float64, 1))  # rank 2: rcond drops the third
    _close(r.pinverse(rcond=1e-3), tr.pinverse(rcond=1e-3), np.float64, 10.0)
    _close(hy.matrix_power(h, 3), torch.matrix_power(t, 3), np.float64, 1e3)
    _close(h.matrix_power(-1), t.matrix_power(-1), np.float64)
