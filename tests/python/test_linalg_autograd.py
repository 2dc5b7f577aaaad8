"""Gradients of hy.linalg (csrc/autograd/linalg_backward.cpp): gradcheck and gradgradcheck in float64, and the
same gradients as torch.linalg, including its conventions (symmetric gradients of eigh/cholesky, the ignored
extra columns of svd(full_matrices=True), the errors of qr's non-differentiable modes)."""
import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.skipif(not hy.build_info()["lapack"], reason="this build has no LAPACK")


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _leaf(a):
    return hy.tensor(a).requires_grad_(True)


def _well(*shape, seed=0):
    a = _rand(*shape, seed=seed)
    return a + np.eye(shape[-1]) * shape[-1]


def _sym(x):
    return x + x.mT


def _both(fn, *inputs):
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


# --- gradcheck / gradgradcheck ---

def test_inv_det_slogdet():
    a = _leaf(_well(2, 3, 3))
    _both(hy.linalg.inv, a)
    _both(hy.linalg.det, a)
    _both(lambda x: hy.linalg.slogdet(x).logabsdet, a)
    _both(lambda x: hy.linalg.slogdet(x).logabsdet, _leaf(-_well(3, 3, seed=1)))  # negative determinant


def test_det_of_a_singular_matrix_has_the_cofactor_gradient():
    a = hy.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=hy.float64).requires_grad_(True)
    (g,) = hy.autograd.grad(hy.linalg.det(a), a)
    np.testing.assert_allclose(g.numpy(), [[4.0, -2.0], [-2.0, 1.0]], atol=1e-12)  # adj(A)^T
    # torch 2.13 returns zeros for these (and fails its own gradcheck); the derivative of det is the cofactor matrix.
    for m in (np.diag([0.0, 2.0, 3.0]), np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])):
        assert gradcheck(hy.linalg.det, (_leaf(m),))


def test_solve_and_solve_triangular():
    A, B = _leaf(_well(2, 3, 3)), _leaf(_rand(2, 3, 2, seed=1))
    _both(hy.linalg.solve, A, B)
    _both(lambda a, b: hy.linalg.solve(a, b, left=False), A, _leaf(_rand(2, 2, 3, seed=1)))
    _both(hy.linalg.solve, _leaf(_well(3, 3)), _leaf(_rand(4, 3, 1, seed=2)))  # A broadcast over B's batch
    _both(hy.linalg.solve, _leaf(_well(3, 3)), _leaf(_rand(3, seed=3)))       # a vector right-hand side
    for upper in (True, False):
        for left in (True, False):
            for unit in (True, False):
                b = _leaf(_rand(3, 2, seed=4) if left else _rand(2, 3, seed=4))
                _both(lambda a, b: hy.linalg.solve_triangular(a, b, upper=upper, left=left, unitriangular=unit),
                      _leaf(_well(3, 3, seed=5)), b)


def test_cholesky():
    a = _leaf(_rand(2, 3, 3))
    eye = hy.eye(3, dtype=hy.float64)
    _both(lambda x: hy.linalg.cholesky(x @ x.mT + eye * 3), a)
    _both(lambda x: hy.linalg.cholesky(x @ x.mT + eye * 3, upper=True), a)


@pytest.mark.parametrize("shape,mode", [((4, 3), "reduced"), ((3, 3), "complete"), ((3, 5), "reduced"),
                                        ((3, 5), "complete"), ((2, 4, 2), "reduced")])
def test_qr(shape, mode):
    _both(lambda x: tuple(hy.linalg.qr(x, mode=mode)), _leaf(_rand(*shape)))


def test_eigh_and_eigvalsh():
    a = _leaf(_rand(2, 4, 4))

    def invariant(x):  # functions of the eigenvectors that do not depend on their signs
        L, V = hy.linalg.eigh(_sym(x))
        return L, V * V, V @ ((L / 4).exp().unsqueeze(-1) * V.mT)
    _both(invariant, a)
    _both(lambda x: hy.linalg.eigvalsh(_sym(x)), a)
    _both(lambda x: hy.linalg.eigh(_sym(x), UPLO="U").eigenvalues, a)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (3, 3), (2, 3, 2)])
def test_svd_and_svdvals(shape):
    a = _leaf(_rand(*shape))

    def invariant(x):
        U, S, Vh = hy.linalg.svd(x, full_matrices=False)
        return S, U * U, Vh * Vh, (U * S.sqrt().unsqueeze(-2)) @ Vh
    _both(invariant, a)
    _both(hy.linalg.svdvals, a)
    k = min(shape[-2:])

    def full(x):  # full_matrices=True: only the first k columns of U / rows of Vh are determined by x
        U, S, Vh = hy.linalg.svd(x, full_matrices=True)
        return U[..., :k] * U[..., :k], Vh[..., :k, :] * Vh[..., :k, :]
    _both(full, a)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3)])
def test_pinv_and_lstsq(shape):
    a = _leaf(_rand(*shape))
    _both(hy.linalg.pinv, a)
    b = _leaf(_rand(*shape[:-1], 2, seed=1))
    for driver in ("gelsd", "gels"):
        _both(lambda x, y: hy.linalg.lstsq(x, y, driver=driver).solution, a, b)


def test_pinv_hermitian():
    _both(lambda x: hy.linalg.pinv(_sym(x), hermitian=True), _leaf(_rand(3, 3)))


def test_norms_and_products():
    a = _leaf(_rand(2, 3, 4))
    for ord in ("fro", "nuc", 2, -2, 1, -1, np.inf, -np.inf):
        _both(lambda x: hy.linalg.matrix_norm(x, ord), a)
    for ord in (2, 1, 3.5, np.inf):
        _both(lambda x: hy.linalg.vector_norm(x, ord, dim=-1), a)
    _both(lambda x: hy.linalg.matrix_power(x, 3), _leaf(_well(3, 3)))
    _both(lambda x: hy.linalg.matrix_power(x, -2), _leaf(_well(3, 3)))
    _both(lambda x, y: hy.linalg.cross(x, y), _leaf(_rand(4, 3)), _leaf(_rand(4, 3, seed=1)))
    _both(lambda x, y: hy.linalg.multi_dot([x, y, y.mT]), _leaf(_rand(2, 3)), _leaf(_rand(3, 4)))


# --- the same gradients as torch ---

def _torch_grads(fn, arrays):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    outs = out if isinstance(out, tuple) else (out,)
    total = sum((o * torch.from_numpy(np.random.default_rng(i).standard_normal(tuple(o.shape)))).sum()
                for i, o in enumerate(outs))
    return [g.numpy() for g in torch.autograd.grad(total, ts)]


def _hy_grads(fn, arrays):
    hs = [hy.tensor(a).requires_grad_(True) for a in arrays]
    out = fn(*hs)
    outs = out if isinstance(out, tuple) else (out,)
    total = None
    for i, o in enumerate(outs):
        term = (o * hy.tensor(np.random.default_rng(i).standard_normal(tuple(o.shape)))).sum()
        total = term if total is None else total + term
    return [g.numpy() for g in hy.autograd.grad(total, hs)]


CASES = {
    "eigh": (lambda lib, x: lib.linalg.eigh(x).eigenvalues, [_rand(4, 4)]),  # non-symmetric: symmetric gradient
    "eigh_vectors": (lambda lib, x: (lambda r: r.eigenvectors * r.eigenvectors)(lib.linalg.eigh(x + x.mT)),
                     [_rand(3, 3)]),
    "cholesky": (lambda lib, x: lib.linalg.cholesky(x), [_rand(3, 3) @ _rand(3, 3).T + 3 * np.eye(3)]),
    "cholesky_upper": (lambda lib, x: lib.linalg.cholesky(x, upper=True),
                       [_rand(3, 3) @ _rand(3, 3).T + 3 * np.eye(3)]),
    "svd_full_tall": (lambda lib, x: (lambda r: (r.S, r.U * r.U))(lib.linalg.svd(x)), [_rand(4, 3)]),
    "svd_full_wide": (lambda lib, x: (lambda r: (r.S, r.Vh * r.Vh))(lib.linalg.svd(x)), [_rand(2, 5)]),
    "qr_wide": (lambda lib, x: tuple(lib.linalg.qr(x)), [_rand(3, 5)]),
    "pinv_rank_deficient": (lambda lib, x: lib.linalg.pinv(x), [_rand(4, 2) @ _rand(2, 3)]),
    "solve_broadcast": (lambda lib, a, b: lib.linalg.solve(a, b), [_well(2, 1, 3, 3), _rand(4, 3, 2)]),
    "lstsq_gelsd": (lambda lib, a, b: lib.linalg.lstsq(a, b, driver="gelsd").solution, [_rand(5, 3), _rand(5, 2)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_gradients_match_torch(name):
    fn, arrays = CASES[name]
    for got, want in zip(_hy_grads(lambda *x: fn(hy, *x), arrays), _torch_grads(lambda *x: fn(torch, *x), arrays)):
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


# --- what is not differentiable ---

def test_non_differentiable_modes_raise():
    a = _leaf(_rand(4, 3))
    with pytest.raises(RuntimeError, match="mode='complete' and nrows > ncols"):
        hy.linalg.qr(a, mode="complete").Q.sum().backward()
    with pytest.raises(RuntimeError, match="mode='r'"):
        hy.linalg.qr(a, mode="r").R.sum().backward()
    with pytest.raises(RuntimeError, match="compute_uv=False"):
        hy.ops.linalg_svd(a, False, False)[1].sum().backward()
    with pytest.raises(RuntimeError, match="compute_v=False"):
        hy.ops.linalg_eigh(_leaf(_rand(3, 3)), "L", False)[0].sum().backward()


def test_values_only_forms_skip_the_vectors_without_grad():
    a = hy.tensor(_rand(4, 4))
    assert hy.linalg.svdvals(a).shape == (4,) and hy.linalg.eigvalsh(a).shape == (4,)
    U, S, Vh = hy.ops.linalg_svd(a, False, False)
    assert U.shape == (0,) and Vh.shape == (0,)
