"""A NumPy port of examples/climate/shallow_water.py: the same C-grid, the same SSP-RK3 step, the same
expressions in the same order, float64 throughout. The file-based and in-process baselines run it.

It imports neither hyflow nor the example, so the file-coupled ML process can use it on its own; the
parameters travel as a plain dict (`params_from_example` makes one from the example's Params).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class Params:
    nx: int
    ny: int
    dx: float
    dy: float
    g: float
    depth: float
    f: float
    nu: float
    drag_linear: float
    drag_quadratic: float
    dt: float

    @property
    def cell_area(self) -> float:
        return self.dx * self.dy


def params_from_example(example_params) -> Params:
    """The example's shallow_water.Params (with dt picked) as this module's Params."""
    p = example_params
    return Params(nx=p.nx, ny=p.ny, dx=p.dx, dy=p.dy, g=p.g, depth=p.depth, f=p.f, nu=p.nu,
                  drag_linear=p.drag_linear, drag_quadratic=p.drag_quadratic, dt=p.dt)


# neighbour access on the periodic grid, as in the example: west(a)[i, j] = a[i-1, j], ...
def _west(a):
    return np.roll(a, 1, 0)


def _east(a):
    return np.roll(a, -1, 0)


def _south(a):
    return np.roll(a, 1, 1)


def _north(a):
    return np.roll(a, -1, 1)


def _laplacian(a, dx, dy):
    """The 5-point periodic Laplacian (hy.laplacian's discretisation)."""
    return (_west(a) - 2 * a + _east(a)) / (dx * dx) + (_south(a) - 2 * a + _north(a)) / (dy * dy)


def dynamics_tendency(h, u, v, params: Params):
    dx, dy = params.dx, params.dy
    h_west, h_south = _west(h), _south(h)

    mass_flux_x = 0.5 * (h + h_west) * u
    mass_flux_y = 0.5 * (h + h_south) * v
    dh = -((_east(mass_flux_x) - mass_flux_x) / dx + (_north(mass_flux_y) - mass_flux_y) / dy)

    vorticity = (v - _west(v)) / dx - (u - _south(u)) / dy
    h_corner = 0.25 * (h + h_west + h_south + _west(h_south))
    potential_vorticity = (vorticity + params.f) / h_corner

    q_flux_y = potential_vorticity * (0.5 * (mass_flux_y + _west(mass_flux_y)))
    q_flux_x = potential_vorticity * (0.5 * (mass_flux_x + _south(mass_flux_x)))
    u_sq, v_sq = u * u, v * v
    bernoulli = params.g * h + 0.25 * (u_sq + _east(u_sq) + v_sq + _north(v_sq))
    du = 0.5 * (q_flux_y + _north(q_flux_y)) - (bernoulli - _west(bernoulli)) / dx
    dv = -0.5 * (q_flux_x + _east(q_flux_x)) - (bernoulli - _south(bernoulli)) / dy
    return dh, du, dv


def dissipation_tendency(h, u, v, params: Params):
    """nu * lap(u) - r u - c_d |u| u / h at the velocity points: what the surrogate learns."""
    v_at_u = 0.25 * (v + _west(v) + _north(v) + _west(_north(v)))
    u_at_v = 0.25 * (u + _east(u) + _south(u) + _east(_south(u)))
    h_at_u = 0.5 * (h + _west(h))
    h_at_v = 0.5 * (h + _south(h))
    speed_u = np.sqrt(u * u + v_at_u * v_at_u)
    speed_v = np.sqrt(v * v + u_at_v * u_at_v)
    du = params.nu * _laplacian(u, params.dx, params.dy)
    dv = params.nu * _laplacian(v, params.dx, params.dy)
    du = du - params.drag_linear * u - params.drag_quadratic * speed_u * u / h_at_u
    dv = dv - params.drag_linear * v - params.drag_quadratic * speed_v * v / h_at_v
    return du, dv


def step(h, u, v, params: Params, momentum_tendency=None, forcing=None):
    """One SSP-RK3 step with the dissipation (or `momentum_tendency`) and `forcing` held over its stages."""
    dt = params.dt
    if momentum_tendency is None:
        momentum_tendency = dissipation_tendency(h, u, v, params)
    phys_u, phys_v = momentum_tendency
    if forcing is not None:
        phys_u, phys_v = phys_u + forcing[0], phys_v + forcing[1]

    def euler(fields):
        dh, du, dv = dynamics_tendency(*fields, params)
        return fields[0] + dt * dh, fields[1] + dt * (du + phys_u), fields[2] + dt * (dv + phys_v)

    def blend(old, new, weight_new):
        return tuple(a + weight_new * (b - a) for a, b in zip(old, new))

    start = (h, u, v)
    stage1 = euler(start)
    stage2 = blend(start, euler(stage1), 0.25)
    return blend(start, euler(stage2), 2.0 / 3.0)


# ---- diagnostics (the example's diagnostics task)

def total_mass(h, params: Params) -> float:
    return float(h.sum()) * params.cell_area


def total_energy(h, u, v, params: Params) -> float:
    u_sq, v_sq = u * u, v * v
    kinetic = 0.25 * (u_sq + _east(u_sq) + v_sq + _north(v_sq))
    anomaly = h - params.depth
    density = h * kinetic + 0.5 * params.g * anomaly * anomaly
    return float(density.sum()) * params.cell_area


def max_courant(h, u, v, params: Params) -> float:
    wave_speed = math.sqrt(params.g * max(float(h.max()), 0.0))
    flow_speed = max(float(np.abs(u).max()), float(np.abs(v).max()))
    return (wave_speed + flow_speed) * params.dt / min(params.dx, params.dy)


def is_finite(h, u, v) -> bool:
    return all(bool(np.isfinite(a).all()) for a in (h, u, v))


def diagnostics(history: dict, step_index: int, t: float, h, u, v, params: Params) -> None:
    """The example's diagnostics_body: raise on NaN or Courant > 1, record mass, energy, Courant."""
    if not is_finite(h, u, v):
        raise FloatingPointError(f"diagnostics: the model state holds NaN or inf after step {step_index}")
    courant = max_courant(h, u, v, params)
    if not courant <= 1.0:
        raise FloatingPointError(f"diagnostics: Courant number {courant:.3g} exceeds 1 at t={t:.4g}")
    history.setdefault("step", []).append(step_index)
    history.setdefault("time", []).append(t)
    history.setdefault("mass", []).append(total_mass(h, params))
    history.setdefault("energy", []).append(total_energy(h, u, v, params))
    history.setdefault("courant", []).append(courant)
