"""Finite-difference stencils (csrc/ops/table/stencil.yaml) against NumPy references.

Periodic references use np.roll; dirichlet/neumann ones pad with ghost cells (np.pad 'constant' /
'edge') and take shifted slices, so they follow docs/stencils.md independently of the kernel's
row-based edge handling.
"""
import numpy as np

from . import OpInfo, Sample, rand_array

FLOAT_STENCIL = ("float16", "bfloat16", "float32", "float64")
BOUNDARIES = ("periodic", "dirichlet", "neumann")
# float32 results sum terms of size ~|u|/h^2 in another order than the reference.
TOL = {"float32": (1e-5, 5e-4)}


def _grid(u, grid_dims, dx, dy, dz, component_dim=False):
    nd = u.ndim - (1 if component_dim else 0) if grid_dims == -1 else grid_dims
    h = [dx, dy if dy >= 0 else dx, dz if dz >= 0 else dx][:nd]
    axes = list(range(u.ndim - nd, u.ndim))
    return nd, h, axes


def _shifts(u, axis, boundary, value):
    """(u at i-1, u at i+1) along axis with the ghost-cell rule of `boundary`."""
    if boundary == "periodic":
        return np.roll(u, 1, axis=axis), np.roll(u, -1, axis=axis)
    pad = [(0, 0)] * u.ndim
    pad[axis] = (1, 1)
    if boundary == "dirichlet":
        p = np.pad(u, pad, mode="constant", constant_values=value)
    else:
        p = np.pad(u, pad, mode="edge")
    n = u.shape[axis]
    return np.take(p, np.arange(0, n), axis=axis), np.take(p, np.arange(2, n + 2), axis=axis)


def ref_laplacian(u, grid_dims=-1, dx=1.0, dy=-1.0, dz=-1.0, boundary="periodic", value=0.0):
    u = u.astype(np.float64)
    nd, h, axes = _grid(u, grid_dims, dx, dy, dz)
    out = np.zeros_like(u)
    for hk, ax in zip(h, axes):
        lo, hi = _shifts(u, ax, boundary, value)
        out += (lo + hi - 2 * u) / hk**2
    return out


def ref_gradient(u, grid_dims=-1, dx=1.0, dy=-1.0, dz=-1.0, boundary="periodic", value=0.0):
    u = u.astype(np.float64)
    nd, h, axes = _grid(u, grid_dims, dx, dy, dz)
    comps = []
    for hk, ax in zip(h, axes):
        lo, hi = _shifts(u, ax, boundary, value)
        comps.append((hi - lo) / (2 * hk))
    return np.stack(comps, axis=u.ndim - nd)


def ref_divergence(v, grid_dims=-1, dx=1.0, dy=-1.0, dz=-1.0, boundary="periodic", value=0.0):
    v = v.astype(np.float64)
    nd, h, axes = _grid(v, grid_dims, dx, dy, dz, component_dim=True)
    cdim = v.ndim - nd - 1
    out = 0
    for k, (hk, ax) in enumerate(zip(h, axes)):
        comp = np.take(v, k, axis=cdim)
        lo, hi = _shifts(comp, ax - 1, boundary, value)
        out = out + (hi - lo) / (2 * hk)
    return out


def stencil_samples(component_dim=False):
    """Grids of 1-3 dims under every boundary, batched, non-contiguous, minimal, large and empty."""
    def gen(dtype, rng):
        def arr(grid, batch=(), nc=False):
            comp = (len(grid),) if component_dim else ()
            return rand_array(rng, tuple(batch) + comp + tuple(grid), dtype, noncontig=nc)
        for bc in BOUNDARIES:
            kw = {"boundary": bc, "value": 1.5} if bc == "dirichlet" else {"boundary": bc}
            yield Sample((arr((16,)),), dict(kw), desc=f"1-D {bc}")
            yield Sample((arr((6, 7)),), dict(kw, dx=0.5, dy=2.0), desc=f"2-D {bc}")
            yield Sample((arr((4, 5, 6)),), dict(kw, dx=0.5, dy=1.0, dz=2.0), desc=f"3-D {bc}")
            yield Sample((arr((5, 4), batch=(3,)),), dict(kw, grid_dims=2, dx=0.5), desc=f"batched 2-D {bc}")
            yield Sample((arr((3, 4, 5), batch=(2,)),), dict(kw, grid_dims=3, dx=2.0),
                         desc=f"batched 3-D (dy=dz=dx) {bc}")
            yield Sample((arr((5, 8), nc=True),), dict(kw, dx=0.5), desc=f"non-contiguous 2-D {bc}")
            yield Sample((arr((3, 3, 3)),), dict(kw), desc=f"3 points per axis {bc}")
        yield Sample((arr((9,), batch=(2, 3)),), {"grid_dims": 1, "boundary": "neumann"}, desc="batched 1-D")
        yield Sample((np.swapaxes(arr((7, 6)), -1, -2),), {"dx": 0.5, "boundary": "dirichlet", "value": -2.0},
                     desc="transposed view")
        yield Sample((arr((4, 5), batch=(0,)),), {"grid_dims": 2}, desc="empty batch")
        yield Sample((arr((200, 300)),), {"dx": 0.5, "boundary": "neumann"}, desc="large (parallel)")
        yield Sample((arr((20, 30, 40)),), {"boundary": "periodic"}, desc="large 3-D (parallel)")
        yield Sample((arr((70001,)),), {"boundary": "periodic"}, desc="long 1-D (rows cut into segments)")
        yield Sample((arr((3, 40000)),), {"boundary": "dirichlet", "value": 0.5}, desc="long rows 2-D")
    return gen


OPS = [
    OpInfo("laplacian", ref_laplacian, stencil_samples(), FLOAT_STENCIL, tol=TOL),
    OpInfo("gradient", ref_gradient, stencil_samples(), FLOAT_STENCIL, tol=TOL),
    OpInfo("divergence", ref_divergence, stencil_samples(component_dim=True), FLOAT_STENCIL, tol=TOL),
]
