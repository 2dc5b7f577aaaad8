"""Particle-grid transfers (csrc/ops/table/particle.yaml) against NumPy references: cloud-in-cell deposit
and interpolation (np.add.at on the two nodes of each particle), and torch's index_add."""
import numpy as np

from . import OpInfo, Sample, rand_array

# float32 kernels split weights in float32; the references compute in float64.
TOL = {"float32": (1e-5, 1e-4)}


def _nodes(x, n, dx, periodic):
    g = x.astype(np.float64) / dx
    if periodic:
        g = np.mod(g, n)
    i = np.floor(g).astype(np.int64)
    if not periodic:
        i = np.minimum(i, n - 2)
    f = g - i
    j = (i + 1) % n if periodic else i + 1
    return i, j, f


def ref_deposit_cic(positions, weights, n_cells, dx=1.0, periodic=True):
    i, j, f = _nodes(positions, n_cells, dx, periodic)
    out = np.zeros(n_cells)
    np.add.at(out, i, (1 - f) * weights)
    np.add.at(out, j, f * weights)
    return out.astype(positions.dtype)


def ref_interp_cic(field, positions, dx=1.0, periodic=True):
    i, j, f = _nodes(positions, field.size, dx, periodic)
    return ((1 - f) * field[i] + f * field[j]).astype(field.dtype)


def _arr(rng, dtype, shape, nc=False):
    return rand_array(rng, shape, dtype, -5, 5, nc)


def _idx(rng, high, shape):
    return rng.integers(0, high, size=shape).astype(np.int64)


def deposit_samples(dtype, rng):
    p = lambda n, lo, hi, nc=False: rand_array(rng, (n,), dtype, lo, hi, nc)  # noqa: E731
    yield Sample((p(200, -8, 16), p(200, 0, 2), 8), desc="periodic, positions wrap")
    yield Sample((p(50, 0, 3.5), p(50, -1, 1), 8, 0.5, False), desc="non-periodic, dx=0.5")
    yield Sample((p(64, 0, 10, True), p(64, 0, 1, True), 11), desc="non-contiguous")
    yield Sample((p(0, 0, 1), p(0, 0, 1), 4), desc="no particles")


def interp_samples(dtype, rng):
    p = lambda n, lo, hi, nc=False: rand_array(rng, (n,), dtype, lo, hi, nc)  # noqa: E731
    yield Sample((p(8, -1, 1), p(100, -8, 16)), desc="periodic, positions wrap")
    yield Sample((p(8, -1, 1), p(40, 0, 1.75)), {"dx": 0.25, "periodic": False}, desc="non-periodic, dx=0.25")
    yield Sample((p(9, -1, 1, True), p(30, 0, 9, True)), desc="non-contiguous")
    yield Sample((p(5, -1, 1), p(0, 0, 1)), desc="no particles")


def index_add_samples(dtype, rng):
    a = lambda *s: _arr(rng, dtype, s)  # noqa: E731
    yield Sample((a(5, 3), 0, _idx(rng, 5, (7,)), a(7, 3)), desc="rows, repeated")
    yield Sample((a(3, 6), 1, _idx(rng, 6, (4,)).astype(np.int32), a(3, 4)), {"alpha": 2}, desc="columns, alpha")
    yield Sample((_arr(rng, dtype, (2, 5, 3), True), -2, _idx(rng, 5, (3,)), a(2, 3, 3)), desc="non-contiguous")
    yield Sample((a(5,), 0, _idx(rng, 5, (0,)), a(0,)), desc="empty index")


def ref_index_add(x, dim, index, source, alpha=1):
    out = x.copy()
    moved = np.moveaxis(out, dim, 0)
    np.add.at(moved, index.astype(np.int64), np.moveaxis(source, dim, 0) * alpha)
    return out


# deposit/interp: first derivatives are gradchecked in test_particles.py (their second ones are not
# implemented, which the OpInfo gradgradcheck would need).
OPS = [
    OpInfo("deposit_cic", ref_deposit_cic, deposit_samples, ("float32", "float64"), tol=TOL, grad=False),
    OpInfo("interp_cic", ref_interp_cic, interp_samples, ("float32", "float64"), tol=TOL, grad=False),
    OpInfo("index_add", ref_index_add, index_add_samples, ("int32", "int64", "float32", "float64"), tol=TOL),
]
