"""A 2-D shallow-water model on a doubly periodic Arakawa C-grid, written with hyflow tensor ops.

    dh/dt = -div(h u)
    du/dt = +q V  - dB/dx + D_u            q = (f + zeta) / h,  B = g h + |u|^2 / 2
    dv/dt = -q U  - dB/dy + D_v            (vector-invariant form, Sadourny's energy-conserving scheme)

D = (D_u, D_v) is the dissipation: harmonic viscosity nu * lap(u) plus linear and quadratic bottom drag.
It is what the ML surrogate (surrogate.py) learns to predict, so `step` can take it from outside.

Grid layout (arrays are indexed [i, j], axis 0 = x, axis 1 = y, all of shape (nx, ny)):
    h[i, j]  cell centre (i + 1/2, j + 1/2)
    u[i, j]  west face   (i,       j + 1/2)     between h[i-1, j] and h[i, j]
    v[i, j]  south face  (i + 1/2, j)           between h[i, j-1] and h[i, j]
    zeta, q  south-west corner (i, j)
Mass is updated in flux form, h += -dt * (divergence of face fluxes): on a periodic grid every flux leaves
one cell and enters its neighbour, so the total mass changes only by round-off (docs/climate_example.md).

Time stepping: the dissipation ("physics") is evaluated once per step from the state at the start of the
step and held over the three stages of an SSP-RK3 integration of the dynamics. GCMs split physics from
dynamics this way; here it also makes the exact and the surrogate runs the same algorithm, with only the
source of the dissipation tendency differing.
"""
from __future__ import annotations

import dataclasses
import math

import hyflow as hy


@dataclasses.dataclass(frozen=True)
class Params:
    """Physical and numerical parameters (nondimensional units)."""

    nx: int = 64
    ny: int = 64
    lx: float = 2 * math.pi      # domain size along x
    ly: float = 2 * math.pi      # domain size along y
    g: float = 4.0               # gravity (reduced: wave speed 2, Froude number ~0.75)
    depth: float = 1.0           # mean layer depth H
    f: float = 2.0               # Coriolis parameter (f-plane)
    nu: float = 1e-3             # harmonic viscosity on momentum
    drag_linear: float = 0.005   # linear bottom drag rate r
    drag_quadratic: float = 0.01  # quadratic drag coefficient c_d (tendency -c_d |u| u / h)
    cfl: float = 0.4             # target Courant number (gravity waves + flow)
    dt: float | None = None      # time step; None until `with_stable_dt` picks one
    dtype: hy.dtype = hy.float64

    def __post_init__(self):
        if not (isinstance(self.nx, int) and isinstance(self.ny, int)) or self.nx < 3 or self.ny < 3:
            raise ValueError(f"Params: nx and ny must be integers >= 3, got nx={self.nx}, ny={self.ny}")
        for name in ("lx", "ly", "g", "depth"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"Params: {name} must be positive and finite, got {value}")
        for name in ("nu", "drag_linear", "drag_quadratic"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"Params: {name} must be >= 0, got {getattr(self, name)}")
        if not 0 < self.cfl <= 1:
            raise ValueError(f"Params: cfl must be in (0, 1], got {self.cfl}")
        if self.dt is not None and not (self.dt > 0 and math.isfinite(self.dt)):
            raise ValueError(f"Params: dt must be positive and finite, got {self.dt}")

    @property
    def dx(self) -> float:
        return self.lx / self.nx

    @property
    def dy(self) -> float:
        return self.ly / self.ny

    @property
    def cell_area(self) -> float:
        return self.dx * self.dy

    def replace(self, **changes) -> "Params":
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass
class State:
    """Prognostic fields on the C-grid (see the module docstring) and the model time."""

    h: hy.Tensor
    u: hy.Tensor
    v: hy.Tensor
    t: float = 0.0

    def fields(self):
        return self.h, self.u, self.v

    def clone(self) -> "State":
        return State(self.h.clone(), self.u.clone(), self.v.clone(), self.t)

    def as_dict(self) -> dict:
        """{"h", "u", "v", "t"}: plain data, which workflow channels can checkpoint and send between ranks."""
        return {"h": self.h, "u": self.u, "v": self.v, "t": self.t}

    @staticmethod
    def from_dict(data: dict) -> "State":
        return State(data["h"], data["u"], data["v"], data["t"])


# ---- neighbour access on the periodic grid: west(a)[i, j] = a[i-1, j], east(a)[i, j] = a[i+1, j], ...

def _west(a):
    return hy.roll(a, 1, 0)


def _east(a):
    return hy.roll(a, -1, 0)


def _south(a):
    return hy.roll(a, 1, 1)


def _north(a):
    return hy.roll(a, -1, 1)


# ---- tendencies

def dynamics_tendency(state: State, params: Params):
    """Adiabatic, inviscid tendencies (dh, du, dv): mass flux divergence, vorticity flux, Bernoulli gradient."""
    h, u, v = state.fields()
    dx, dy = params.dx, params.dy
    h_west, h_south = _west(h), _south(h)

    mass_flux_x = 0.5 * (h + h_west) * u          # U at u points
    mass_flux_y = 0.5 * (h + h_south) * v         # V at v points
    dh = -((_east(mass_flux_x) - mass_flux_x) / dx + (_north(mass_flux_y) - mass_flux_y) / dy)

    vorticity = (v - _west(v)) / dx - (u - _south(u)) / dy
    h_corner = 0.25 * (h + h_west + h_south + _west(h_south))
    potential_vorticity = (vorticity + params.f) / h_corner

    # Sadourny (1975) energy-conserving form: average the flux to the corner, multiply by q there,
    # then average the product to the velocity point.
    q_flux_y = potential_vorticity * (0.5 * (mass_flux_y + _west(mass_flux_y)))
    q_flux_x = potential_vorticity * (0.5 * (mass_flux_x + _south(mass_flux_x)))
    u_sq, v_sq = u * u, v * v
    bernoulli = params.g * h + 0.25 * (u_sq + _east(u_sq) + v_sq + _north(v_sq))
    du = 0.5 * (q_flux_y + _north(q_flux_y)) - (bernoulli - _west(bernoulli)) / dx
    dv = -0.5 * (q_flux_x + _east(q_flux_x)) - (bernoulli - _south(bernoulli)) / dy
    return dh, du, dv


def dissipation_tendency(state: State, params: Params):
    """The momentum dissipation (du, dv): nu * lap(u) - r u - c_d |u| u / h, the term the surrogate learns.

    Each component at a velocity point depends only on the 3x3 neighbourhood of cells around it.
    """
    h, u, v = state.fields()
    v_at_u = 0.25 * (v + _west(v) + _north(v) + _west(_north(v)))
    u_at_v = 0.25 * (u + _east(u) + _south(u) + _east(_south(u)))
    h_at_u = 0.5 * (h + _west(h))
    h_at_v = 0.5 * (h + _south(h))
    speed_u = (u * u + v_at_u * v_at_u).sqrt()
    speed_v = (v * v + u_at_v * u_at_v).sqrt()
    du = params.nu * hy.laplacian(u, dx=params.dx, dy=params.dy)
    dv = params.nu * hy.laplacian(v, dx=params.dx, dy=params.dy)
    du = du - params.drag_linear * u - params.drag_quadratic * speed_u * u / h_at_u
    dv = dv - params.drag_linear * v - params.drag_quadratic * speed_v * v / h_at_v
    return du, dv


# ---- time stepping

def step(state: State, params: Params, momentum_tendency=None, forcing=None) -> State:
    """Advance one SSP-RK3 step of length params.dt.

    momentum_tendency: optional (du, dv) used instead of `dissipation_tendency(state, params)` (for
    example a surrogate's prediction). forcing: optional external momentum source (fu, fv), e.g.
    `wind_forcing`. Both are held fixed over the step's three stages. Only momentum changes with them,
    so mass conservation does not depend on them.
    """
    if params.dt is None:
        raise ValueError("step: params.dt is None; pick one with with_stable_dt(params, state)")
    dt = params.dt
    if momentum_tendency is None:
        momentum_tendency = dissipation_tendency(state, params)
    phys_u, phys_v = _check_pair(momentum_tendency, state, "momentum_tendency")
    if forcing is not None:
        force_u, force_v = _check_pair(forcing, state, "forcing")
        phys_u, phys_v = phys_u + force_u, phys_v + force_v

    def euler(s: State) -> tuple:
        dh, du, dv = dynamics_tendency(s, params)
        return s.h + dt * dh, s.u + dt * (du + phys_u), s.v + dt * (dv + phys_v)

    def blend(old: State, new: tuple, weight_new: float) -> State:
        # old + w (new - old) rather than (1 - w) old + w new: the two rounded weights of the latter
        # need not sum to exactly 1 (1/3 + 2/3 is 1 + 5.6e-17 in float64), a bias that would make
        # the total mass drift by that much every step.
        return State(*(a + weight_new * (b - a) for a, b in zip(old.fields(), new)), old.t)

    stage1 = State(*euler(state), state.t)
    stage2 = blend(state, euler(stage1), 0.25)
    stage3 = blend(state, euler(stage2), 2.0 / 3.0)
    stage3.t = state.t + dt
    return stage3


def _check_pair(pair, state: State, what: str):
    try:
        a, b = pair
    except (TypeError, ValueError):
        raise TypeError(f"step: {what} must be a pair (du, dv) of tensors, got {type(pair).__name__}") from None
    grid = tuple(state.u.shape)
    if not (isinstance(a, hy.Tensor) and isinstance(b, hy.Tensor)):
        raise TypeError(f"step: {what} must be a pair (du, dv) of tensors")
    if tuple(a.shape) != grid or tuple(b.shape) != grid:
        raise ValueError(f"step: {what} shapes {tuple(a.shape)}, {tuple(b.shape)} do not match the grid {grid}")
    return a, b


def max_courant(state: State, params: Params, dt: float | None = None) -> float:
    """Advective-plus-gravity-wave Courant number (c + |u|) dt / dx, maximised over the grid."""
    dt = params.dt if dt is None else dt
    wave_speed = math.sqrt(params.g * max(state.h.max().item(), 0.0))
    flow_speed = max(state.u.abs().max().item(), state.v.abs().max().item())
    return (wave_speed + flow_speed) * dt / min(params.dx, params.dy)


def viscous_number(params: Params, dt: float | None = None) -> float:
    """nu dt (1/dx^2 + 1/dy^2); the held-over-the-step viscosity is stable below 1/2."""
    dt = params.dt if dt is None else dt
    return params.nu * dt * (1 / params.dx ** 2 + 1 / params.dy ** 2)


def with_stable_dt(params: Params, state: State) -> Params:
    """Params with dt chosen so the Courant number is params.cfl and the viscous number <= 1/4."""
    unit = max_courant(state, params, dt=1.0)
    dt = params.cfl / unit
    if params.nu > 0:
        dt = min(dt, 0.25 / viscous_number(params, dt=1.0))
    return params.replace(dt=dt)


def check_cfl(state: State, params: Params, limit: float = 1.0) -> float:
    """The current Courant number; raises FloatingPointError once it passes `limit` (the run is unstable)."""
    courant = max_courant(state, params)
    if not courant <= limit:
        raise FloatingPointError(f"check_cfl: Courant number {courant:.3g} exceeds {limit} at t={state.t:.4g}")
    return courant


# ---- diagnostics

def total_mass(state: State, params: Params) -> float:
    return state.h.sum().item() * params.cell_area


def total_energy(state: State, params: Params) -> float:
    """Kinetic plus available potential energy, sum of (h |u|^2 / 2 + g (h - H)^2 / 2) * cell area."""
    h, u, v = state.fields()
    u_sq, v_sq = u * u, v * v
    kinetic = 0.25 * (u_sq + _east(u_sq) + v_sq + _north(v_sq))
    anomaly = h - params.depth
    density = h * kinetic + 0.5 * params.g * anomaly * anomaly
    return density.sum().item() * params.cell_area


def relative_vorticity(state: State, params: Params) -> hy.Tensor:
    """zeta = dv/dx - du/dy at the cell corners."""
    return (state.v - _west(state.v)) / params.dx - (state.u - _south(state.u)) / params.dy


def cell_speed(state: State) -> hy.Tensor:
    """|u| at the cell centres, from the mean squares of the two faces on each axis."""
    u_sq, v_sq = state.u * state.u, state.v * state.v
    return (0.5 * (u_sq + _east(u_sq) + v_sq + _north(v_sq))).sqrt()


def is_finite(state: State) -> bool:
    return all(bool(hy.isfinite(a).all().item()) for a in state.fields())


# ---- initial condition

def _cell_coordinates(n: int, length: float, staggered: bool, dtype) -> hy.Tensor:
    """1-D coordinates of the n faces (staggered=True) or cell centres along one axis."""
    offset = 0.0 if staggered else 0.5
    return (hy.arange(n, dtype=dtype) + offset) * (length / n)


JET_SPEED = 1.5
JET_WIDTH = 0.3


def _sech_squared(z):
    e = hy.exp(-2.0 * z.abs())          # sech^2 z = 4 e / (1 + e)^2 with e = exp(-2|z|): no overflow
    return 4.0 * e / (1.0 + e) ** 2


def jet_profile(params: Params, width: float = JET_WIDTH) -> hy.Tensor:
    """(ny,) zonal velocity shape of the double jet at the u points' y (j + 1/2): +1 at Ly/4, -1 at 3Ly/4."""
    y = _cell_coordinates(params.ny, params.ly, staggered=False, dtype=params.dtype)
    return _sech_squared((y - params.ly / 4) / width) - _sech_squared((y - 3 * params.ly / 4) / width)


def double_jet(params: Params, seed: int = 0, jet_speed: float = JET_SPEED, width: float = JET_WIDTH,
               noise: float = 0.05) -> State:
    """Two opposite zonal jets in geostrophic balance plus a seeded height perturbation.

    The jets at y = Ly/4 and 3 Ly/4 are barotropically unstable: the perturbation grows into
    rolling vortices within about a thousand steps at 64 x 64. The balanced height is
    h = H - (f/g) * integral of u dy; the two opposite jets integrate to zero over the period, so h is
    periodic.
    """
    dtype = params.dtype
    y = _cell_coordinates(params.ny, params.ly, staggered=False, dtype=dtype)   # h and u share this y
    jet = jet_speed * jet_profile(params, width)
    stream = jet_speed * width * (hy.tanh((y - params.ly / 4) / width) - hy.tanh((y - 3 * params.ly / 4) / width))
    height = -(params.f / params.g) * stream
    height = height - height.mean()

    ones_x = hy.ones(params.nx, 1, dtype=dtype)
    u = ones_x * jet.reshape(1, params.ny)
    h = params.depth + ones_x * height.reshape(1, params.ny)
    v = hy.zeros(params.nx, params.ny, dtype=dtype)
    h = h + noise * params.depth * _random_large_scale_field(params, seed)
    return State(h, u, v, 0.0)


@dataclasses.dataclass(frozen=True)
class WindForcing:
    """A zonal wind-stress body force along the jets with a seasonal cycle:

        fu(y, t) = amplitude * (1 + seasonal * sin(2 pi t / period)) * jet_profile(y),   fv = 0.

    It feeds the jets the energy the dissipation takes, so a long run reaches a statistically steady,
    forced-dissipative state instead of decaying. It depends on time only, not on the flow.
    """

    amplitude: float = 0.04
    seasonal: float = 0.5
    period: float = 10.0

    def __post_init__(self):
        if not self.amplitude >= 0 or not self.period > 0 or not self.seasonal >= 0:
            raise ValueError(f"WindForcing: need amplitude >= 0, seasonal >= 0, period > 0, got {self}")

    def pattern(self, params: Params):
        """The time-independent part (fu, fv) for the grid of `params`."""
        fu = hy.ones(params.nx, 1, dtype=params.dtype) * jet_profile(params).reshape(1, params.ny)
        return fu * self.amplitude, hy.zeros(params.nx, params.ny, dtype=params.dtype)

    def factor(self, t: float) -> float:
        return 1.0 + self.seasonal * math.sin(2 * math.pi * t / self.period)

    def at(self, params: Params, t: float):
        fu, fv = self.pattern(params)
        return fu * self.factor(t), fv


def _random_large_scale_field(params: Params, seed: int, modes: int = 4) -> hy.Tensor:
    """Sum of the Fourier modes 1..modes in x and y with seeded random amplitudes and phases, max |.| = 1.

    Built from whole wavenumbers, so the same seed gives the same pattern at every resolution.
    """
    dtype = params.dtype
    generator = hy.Generator(seed=seed)
    amplitudes = hy.randn(modes, modes, generator=generator).to(dtype)
    phases = (2 * math.pi) * hy.rand(modes, modes, 2, generator=generator).to(dtype)
    x = _cell_coordinates(params.nx, params.lx, staggered=False, dtype=dtype).reshape(params.nx, 1)
    y = _cell_coordinates(params.ny, params.ly, staggered=False, dtype=dtype).reshape(1, params.ny)
    field = hy.zeros(params.nx, params.ny, dtype=dtype)
    for m in range(modes):
        for n in range(modes):
            wave_x = hy.cos((m + 1) * (2 * math.pi / params.lx) * x + phases[m, n, 0].item())
            wave_y = hy.cos((n + 1) * (2 * math.pi / params.ly) * y + phases[m, n, 1].item())
            field = field + amplitudes[m, n].item() * wave_x * wave_y
    return field / field.abs().max()


def initial_state(params: Params, seed: int = 0) -> State:
    """The example's initial condition (the double jet)."""
    return double_jet(params, seed=seed)


# ---- analytic check: a linear inertia-gravity wave

def gravity_wave_error(n: int, amplitude: float = 1e-6, periods: float = 1.0, f: float = 2.0) -> float:
    """Run a small-amplitude inertia-gravity wave along x for `periods` periods on an n x 4 grid.

    Linear theory: h = H + a cos(kx - wt), u = (w a / (H k)) cos(kx - wt), v = (f/w) U sin(kx - wt),
    w^2 = f^2 + g H k^2. Returns max|h - h_exact| / a. The C-grid's spatial error is O(dx^2) and RK3's
    O(dt^3) with dt ~ dx, so the error falls ~4x per doubling of n (the tests check the order).
    """
    if n < 4:
        raise ValueError(f"gravity_wave_error: n must be >= 4, got {n}")
    params = Params(nx=n, ny=4, f=f, nu=0.0, drag_linear=0.0, drag_quadratic=0.0, cfl=0.2)
    k = 2 * math.pi / params.lx
    omega = math.sqrt(f * f + params.g * params.depth * k * k)
    flow = omega * amplitude / (params.depth * k)
    x_h = _cell_coordinates(n, params.lx, staggered=False, dtype=params.dtype).reshape(n, 1)
    x_u = _cell_coordinates(n, params.lx, staggered=True, dtype=params.dtype).reshape(n, 1)
    ones_y = hy.ones(1, params.ny, dtype=params.dtype)

    def exact(t):
        h = params.depth + amplitude * hy.cos(k * x_h - omega * t) * ones_y
        u = flow * hy.cos(k * x_u - omega * t) * ones_y
        v = (f / omega) * flow * hy.sin(k * x_h - omega * t) * ones_y
        return State(h, u, v, t)

    state = exact(0.0)
    t_end = periods * 2 * math.pi / omega
    params = with_stable_dt(params, state)
    n_steps = math.ceil(t_end / params.dt)
    params = params.replace(dt=t_end / n_steps)
    for _ in range(n_steps):
        state = step(state, params)
    return (state.h - exact(t_end).h).abs().max().item() / amplitude
