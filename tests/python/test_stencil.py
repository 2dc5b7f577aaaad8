"""Stencil properties the NumPy comparisons in opinfo/stencil.py don't cover: order of accuracy,
conservation, the adjoint identities the op table's backward formulas rely on, aliasing, and the
argument checks (docs/stencils.md)."""
import numpy as np
import pytest

import hyflow as hy
from hyflow.testing import assert_close

from opinfo.stencil import ref_laplacian

BOUNDARIES = ["periodic", "dirichlet", "neumann"]


def t(a):
    return hy.from_numpy(np.ascontiguousarray(a))


def npy(x):
    return x.numpy()


def periodic_mesh(*ns):
    """Cell coordinates of an n0 x n1 x ... grid on [0, 2 pi)^d and the spacing of each axis."""
    hs = [2 * np.pi / n for n in ns]
    return np.meshgrid(*[np.arange(n) * h for n, h in zip(ns, hs)], indexing="ij"), hs


# ---- order of accuracy --------------------------------------------------------------------------------

def test_laplacian_converges_at_second_order_2d():
    errors = []
    for n in (16, 32, 64, 128):
        (x, y), (hx, hy_) = periodic_mesh(n, n + n // 2)   # different spacing on each axis
        u = np.sin(2 * x) * np.sin(3 * y)
        lap = npy(hy.laplacian(t(u), dx=hx, dy=hy_))
        errors.append(np.abs(lap + 13 * u).max())
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.all((ratios > 3.8) & (ratios < 4.2)), ratios


def test_laplacian_converges_at_second_order_3d():
    errors = []
    for n in (8, 16, 32):
        (x, y, z), (h, _, _) = periodic_mesh(n, n, n)
        u = np.sin(x) * np.cos(2 * y) * np.sin(z)
        lap = npy(hy.laplacian(t(u), dx=h))
        errors.append(np.abs(lap + 6 * u).max())
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.all((ratios > 3.7) & (ratios < 4.3)), ratios


def test_gradient_and_divergence_converge_at_second_order():
    grad_err, div_err = [], []
    for n in (32, 64, 128, 256):
        (x, y), (h, _) = periodic_mesh(n, n)
        u = np.sin(2 * x) * np.sin(3 * y)
        exact = np.stack([2 * np.cos(2 * x) * np.sin(3 * y), 3 * np.sin(2 * x) * np.cos(3 * y)])
        grad_err.append(np.abs(npy(hy.gradient(t(u), dx=h)) - exact).max())
        div_err.append(np.abs(npy(hy.divergence(t(exact), dx=h)) + 13 * u).max())
    for err in (grad_err, div_err):
        ratios = np.array(err[:-1]) / np.array(err[1:])
        assert np.all((ratios > 3.8) & (ratios < 4.2)), ratios


# ---- conservation and structure -----------------------------------------------------------------------

@pytest.mark.parametrize("shape,grid_dims", [((1000,), 1), ((96, 80), 2), ((24, 20, 28), 3), ((3, 40, 50), 2)])
@pytest.mark.parametrize("boundary", ["neumann", "periodic"])
def test_laplacian_conserves_the_sum(shape, grid_dims, boundary):
    # Neumann ghosts make every face flux between a cell and its ghost zero, so the sum telescopes to 0.
    u = np.random.default_rng(0).uniform(-1, 1, shape) + 3.0
    lap = npy(hy.laplacian(t(u), grid_dims=grid_dims, dx=0.37, dy=0.91, dz=-1.0, boundary=boundary)
              if grid_dims >= 2 else hy.laplacian(t(u), dx=0.37, boundary=boundary))
    grid_axes = tuple(range(u.ndim - grid_dims, u.ndim))
    total = np.abs(lap.sum(axis=grid_axes))
    scale = np.abs(lap).sum(axis=grid_axes)
    assert np.all(total <= 1e-12 * scale), (total, scale)


def test_neumann_time_stepping_keeps_the_mass():
    # Explicit diffusion u += dt * lap(u) for many steps: the total stays put to round-off.
    u = np.random.default_rng(1).uniform(0, 1, (64, 64))
    x = t(u)
    mass0 = u.sum()
    for _ in range(200):
        x = hy.add(x, hy.laplacian(x, boundary="neumann"), alpha=0.2)
    assert abs(npy(x).sum() - mass0) <= 1e-12 * mass0
    assert npy(x).std() < u.std()  # it did diffuse


def test_divergence_of_gradient_is_the_wide_laplacian():
    u = np.random.default_rng(2).normal(size=(2, 12, 10, 14))
    h = (0.5, 1.5, 0.75)
    got = npy(hy.divergence(hy.gradient(t(u), 3, *h), 3, *h))
    want = sum((np.roll(u, 2, a) + np.roll(u, -2, a) - 2 * u) / (4 * hk**2) for a, hk in zip((1, 2, 3), h))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_gradient_component_order_follows_the_axes():
    # u = 2 x + 3 y - z on a grid whose axes are (x, y, z) with spacings (dx, dy, dz).
    dx, dy, dz = 0.5, 0.25, 2.0
    x, y, z = np.meshgrid(np.arange(5) * dx, np.arange(6) * dy, np.arange(7) * dz, indexing="ij")
    g = npy(hy.gradient(t(2 * x + 3 * y - z), dx=dx, dy=dy, dz=dz, boundary="neumann"))
    assert g.shape == (3, 5, 6, 7)
    inner = (slice(1, -1),) * 3
    np.testing.assert_allclose(g[0][inner], 2.0)
    np.testing.assert_allclose(g[1][inner], 3.0)
    np.testing.assert_allclose(g[2][inner], -1.0)


def test_dirichlet_ghost_is_value():
    # u = 0 inside, value 1 in the ghosts: only the end points feel the wall, with weight 1/h^2.
    lap = npy(hy.laplacian(hy.zeros(5, dtype=hy.float64), dx=0.5, boundary="dirichlet", value=1.0))
    np.testing.assert_allclose(lap, [4.0, 0, 0, 0, 4.0])
    g = npy(hy.gradient(hy.zeros(5, dtype=hy.float64), dx=0.5, boundary="dirichlet", value=1.0))
    np.testing.assert_allclose(g, [[-1.0, 0, 0, 0, 1.0]])


def test_value_enters_affinely():
    u = np.random.default_rng(3).normal(size=(6, 7))
    for op in (hy.laplacian, hy.gradient):
        with_value = npy(op(t(u), boundary="dirichlet", value=2.5))
        zero_ghosts = npy(op(t(u), boundary="dirichlet"))
        only_value = npy(op(t(np.zeros_like(u)), boundary="dirichlet", value=2.5))
        np.testing.assert_allclose(with_value, zero_ghosts + only_value, atol=1e-12)


# ---- adjoints: what the op table's backward formulas compute ------------------------------------------

def gradient_adjoint(g, h, boundary):
    if boundary == "neumann":
        return npy(hy.divergence(g, -1, *h, boundary="neumann")) - 2 * npy(hy.divergence(g, -1, *h, boundary="dirichlet"))
    return -npy(hy.divergence(g, -1, *h, boundary=boundary))


def divergence_adjoint(g, h, boundary):
    if boundary == "neumann":
        return npy(hy.gradient(g, -1, *h, boundary="neumann")) - 2 * npy(hy.gradient(g, -1, *h, boundary="dirichlet"))
    return -npy(hy.gradient(g, -1, *h, boundary=boundary))


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("shape", [(9,), (6, 8), (4, 5, 6)])
def test_backward_formulas_are_adjoints(boundary, shape):
    rng = np.random.default_rng(4)
    nd = len(shape)
    h = (0.5, 1.25, 2.0)[:nd]
    u, w = rng.normal(size=shape), rng.normal(size=shape)
    vec_u, vec_w = rng.normal(size=(nd,) + shape), rng.normal(size=(nd,) + shape)
    # <L u, w> = <u, L w>
    lu = npy(hy.laplacian(t(u), -1, *h, boundary=boundary))
    lw = npy(hy.laplacian(t(w), -1, *h, boundary=boundary))
    assert np.isclose((lu * w).sum(), (u * lw).sum(), rtol=1e-12, atol=1e-12)
    # <grad u, G> = <u, grad^T G>
    gu = npy(hy.gradient(t(u), -1, *h, boundary=boundary))
    assert np.isclose((gu * vec_w).sum(), (u * gradient_adjoint(t(vec_w), h, boundary)).sum(), rtol=1e-12, atol=1e-12)
    # <div V, w> = <V, div^T w>
    dv = npy(hy.divergence(t(vec_u), -1, *h, boundary=boundary))
    assert np.isclose((dv * w).sum(), (vec_u * divergence_adjoint(t(w), h, boundary)).sum(), rtol=1e-12, atol=1e-12)


# ---- dtypes, out=, aliasing, threads ------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [hy.float16, hy.bfloat16, hy.float32, hy.float64])
def test_result_dtype_follows_the_input(dtype):
    x = hy.ones(3, 4, dtype=dtype)
    assert hy.laplacian(x).dtype == dtype
    assert hy.gradient(x).dtype == dtype and hy.gradient(x).shape == (2, 3, 4)
    assert hy.divergence(hy.ones(2, 3, 4, dtype=dtype)).dtype == dtype


def test_out_may_alias_the_input():
    u = np.random.default_rng(5).normal(size=(8, 9))
    want = ref_laplacian(u, boundary="neumann")
    x = t(u.copy())
    r = hy.laplacian(x, boundary="neumann", out=x)
    assert r is x
    np.testing.assert_allclose(npy(x), want, atol=1e-12)


def test_out_of_another_float_dtype_and_layout():
    u = np.random.default_rng(6).normal(size=(6, 5)).astype(np.float32)
    out = hy.zeros(2, 5, 6, dtype=hy.float64).transpose(1, 2)
    r = hy.gradient(t(u), out=out)
    assert r is out
    assert_close(out, npy(hy.gradient(t(u))).astype(np.float64), rtol=0, atol=0)


def test_same_result_on_one_and_many_threads():
    u = t(np.random.default_rng(7).normal(size=(4, 300, 200)))
    before = hy.get_num_threads()
    try:
        hy.set_num_threads(1)
        one = npy(hy.laplacian(u, grid_dims=2, boundary="dirichlet", value=0.5))
        hy.set_num_threads(max(2, before))
        many = npy(hy.laplacian(u, grid_dims=2, boundary="dirichlet", value=0.5))
    finally:
        hy.set_num_threads(before)
    np.testing.assert_array_equal(one, many)


# ---- bad input ----------------------------------------------------------------------------------------

X = hy.zeros(5, 6, dtype=hy.float64)


@pytest.mark.parametrize("call,exc,words", [
    (lambda: hy.laplacian(hy.zeros(5, 6, dtype=hy.int64)), TypeError, ["laplacian", "u", "int64"]),
    (lambda: hy.gradient(hy.zeros(5, 6, dtype=hy.int32)), TypeError, ["gradient", "int32"]),
    (lambda: hy.divergence(hy.zeros(2, 5, 6, dtype=hy.bool)), TypeError, ["divergence", "v", "bool"]),
    (lambda: hy.laplacian(X, boundary="reflect"), ValueError, ["'reflect'", "periodic", "dirichlet", "neumann"]),
    (lambda: hy.gradient(X, boundary="Periodic"), ValueError, ["gradient", "boundary"]),
    (lambda: hy.laplacian(X, dx=0.0), ValueError, ["laplacian", "dx"]),
    (lambda: hy.laplacian(X, dx=-1.0), ValueError, ["dx"]),
    (lambda: hy.laplacian(X, dx=float("nan")), ValueError, ["dx"]),
    (lambda: hy.laplacian(X, dy=0.0), ValueError, ["dy"]),
    (lambda: hy.laplacian(X, dx=float("inf")), ValueError, ["dx"]),
    (lambda: hy.laplacian(X, grid_dims=1, dy=2.0), ValueError, ["dy", "grid_dims=1"]),
    (lambda: hy.laplacian(X, dz=2.0), ValueError, ["dz"]),
    (lambda: hy.laplacian(hy.zeros(2, 6, dtype=hy.float64)), ValueError, ["at least 3", "(2, 6)"]),
    (lambda: hy.gradient(hy.zeros(4, 1, dtype=hy.float64)), ValueError, ["gradient", "at least 3"]),
    (lambda: hy.laplacian(hy.zeros(0, dtype=hy.float64)), ValueError, ["at least 3"]),
    (lambda: hy.laplacian(hy.zeros(3, 3, 3, 3, dtype=hy.float64)), ValueError, ["grid_dims", "(3, 3, 3, 3)"]),
    (lambda: hy.laplacian(hy.tensor(1.0)), ValueError, ["grid_dims"]),
    (lambda: hy.laplacian(X, grid_dims=4), ValueError, ["grid_dims", "4"]),
    (lambda: hy.laplacian(X, grid_dims=0), ValueError, ["grid_dims"]),
    (lambda: hy.laplacian(X, grid_dims=3), ValueError, ["grid_dims=3", "(5, 6)"]),
    (lambda: hy.divergence(hy.zeros(3, 5, 6, dtype=hy.float64)), ValueError, ["divergence", "components", "3"]),
    (lambda: hy.divergence(hy.zeros(5, 6, dtype=hy.float64), grid_dims=2), ValueError, ["divergence", "grid_dims=2"]),
    (lambda: hy.laplacian(X, out=hy.zeros(6, 5, dtype=hy.float64)), ValueError, ["laplacian", "out"]),
    (lambda: hy.gradient(X, out=hy.zeros(5, 6, dtype=hy.float64)), ValueError, ["gradient", "out"]),
    (lambda: hy.laplacian(X, out=hy.zeros(5, 6, dtype=hy.int64)), TypeError, ["laplacian", "int64"]),
])
def test_bad_input_raises(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value), (w, str(info.value))
