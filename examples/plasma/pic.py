"""A 1D-1V electrostatic particle-in-cell (PIC) model of electrons on a neutralising ion background, in hyflow ops.

Normalised units: time in 1/omega_p, length in Debye lengths of a unit thermal speed, electron charge -1,
mass 1, mean density 1. On the periodic domain [0, L):

    dx_p/dt = v_p,   dv_p/dt = -E(x_p)          (q/m = -1)
    dE/dx   = rho = 1 - n_e                      (Gauss's law; the ions are a uniform background of density 1)

One step (leapfrog, positions at whole steps, velocities at half steps):

    n_e  = deposit_cic(x^n, w) / dx              cloud-in-cell charge assignment to n_cells nodes
    E^n  = irfft(-i rfft(1 - n_e) / k)           spectral Poisson solve, the k = 0 (mean) mode removed
    v^{n+1/2} = v^{n-1/2} - dt interp_cic(E^n, x^n)
    x^{n+1}   = x^n + dt v^{n+1/2}   (mod L)

Every particle carries weight w = L / N (so the mean density is 1). Deposit and interpolation use the same
linear weights, and the spectral Green's function is odd, so the particles exert no net force on themselves
and the total momentum is conserved up to round-off (docs/plasma_example.md, "Conservation").
"""
from __future__ import annotations

import dataclasses
import math

import hyflow as hy


@dataclasses.dataclass(frozen=True)
class Params:
    """Grid, particles and time step of a run."""

    n_cells: int = 64
    length: float = 4 * math.pi   # domain length L; the fundamental mode is k = 2 pi / L
    n_particles: int = 2 ** 17
    dt: float = 0.1

    def __post_init__(self):
        for name in ("n_cells", "n_particles"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"Params: {name} must be an int, got {type(value).__name__}")
        if self.n_cells < 4 or self.n_cells % 2:
            raise ValueError(f"Params: n_cells must be an even integer >= 4, got {self.n_cells}")
        if self.n_particles < 2:
            raise ValueError(f"Params: n_particles must be >= 2, got {self.n_particles}")
        for name in ("length", "dt"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"Params: {name} must be positive and finite, got {value}")

    @property
    def dx(self) -> float:
        return self.length / self.n_cells

    @property
    def k_fundamental(self) -> float:
        return 2 * math.pi / self.length

    @property
    def weight(self) -> float:
        """Each particle's share of the electrons: the mean density is n_particles * weight / length = 1."""
        return self.length / self.n_particles

    def replace(self, **changes) -> "Params":
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass
class Particles:
    """Positions x^n in [0, L) and velocities v^{n-1/2} (leapfrog: half a step behind), float64 (N,)."""

    x: hy.Tensor
    v: hy.Tensor

    def as_dict(self) -> dict:
        return {"x": self.x, "v": self.v}

    @classmethod
    def from_dict(cls, d: dict) -> "Particles":
        return cls(d["x"], d["v"])


# ---- quiet start

def bit_reversed_fractions(index: hy.Tensor, bits: int) -> hy.Tensor:
    """(reverse of the low `bits` bits of index + 1/2) / 2^bits: a permutation of the 2^bits midpoints of
    [0, 1) in which consecutive indices land far apart (the base-2 van der Corput order)."""
    index = index.to(hy.float64)
    result = hy.zeros(index.shape, dtype=hy.float64)
    scale = 0.5
    for _ in range(bits):
        result = result + hy.remainder(index, 2.0) * scale
        index = hy.floor(index / 2.0)
        scale /= 2
    return result + 0.5 ** (bits + 1)


def erfinv(z: hy.Tensor) -> hy.Tensor:
    """The inverse error function for |z| < 1: Winitzki's approximation refined by Newton steps on erf.

    hyflow has erf but no erfinv; three Newton steps from a 2e-3 start reach float64 round-off."""
    a = 0.147
    log_term = hy.log(1 - z * z)
    first = 2 / (math.pi * a) + log_term / 2
    y = hy.sign(z) * hy.sqrt(hy.sqrt(first * first - log_term / a) - first)
    for _ in range(3):
        y = y - (hy.erf(y) - z) / (2 / math.sqrt(math.pi) * hy.exp(-y * y))
    return y


def maxwellian_quantiles(u: hy.Tensor, v_thermal: float) -> hy.Tensor:
    """Velocities at the quantiles u in (0, 1) of a Maxwellian of thermal speed v_thermal (the inverse CDF)."""
    return v_thermal * math.sqrt(2.0) * erfinv(2 * u - 1)


def perturbed_positions(n: int, length: float, amplitude: float, k: float, shift: float = 0.5) -> hy.Tensor:
    """n positions with density proportional to 1 + amplitude * cos(k x) on [0, length), without noise.

    Evenly spaced x0 = (i + shift) length / n are mapped through the inverse of the cumulative density
    F(x) = x + (amplitude / k) sin(k x) (Newton's method; F is monotonic for |amplitude| < 1)."""
    if not abs(amplitude) < 1:
        raise ValueError(f"perturbed_positions: amplitude must be in (-1, 1), got {amplitude}")
    x0 = (hy.arange(n, dtype=hy.float64) + shift) * (length / n)
    x = x0
    for _ in range(8):
        x = x - (x + (amplitude / k) * hy.sin(k * x) - x0) / (1 + amplitude * hy.cos(k * x))
    return hy.remainder(x, length)


def landau_start(params: Params, amplitude: float = 0.01, v_thermal: float = 1.0, beam_size: int = 4) -> Particles:
    """A Maxwellian plasma with the density perturbation amplitude * cos(k x), k the fundamental mode.

    Quiet start: the N particles carry N / beam_size distinct velocities, the Maxwellian's quantiles at the
    midpoints of N / beam_size equal bins (N / beam_size must be a power of two). Particle p sits at
    (p + 1/2) L / N (then displaced by the perturbation) and gets quantile bit_reverse(p mod levels), so each
    velocity is carried by a "beam" of beam_size particles evenly spaced L / beam_size apart. Such a beam
    has no Fourier component in the modes below beam_size at any time, so the k = 0.5 mode stays free of
    the sampling noise that a random (or an unstructured) start carries into every mode once the
    velocities have phase-mixed. Many levels (small beams) resolve the resonant tail (v ~ omega / k ~ 2.8)
    finely, which keeps the multi-beam instability of a quiet start out of the run; recurrence comes back
    only at t ~ 2 pi / (k dv) for the level spacing dv (~ 1e5 / omega_p for 2^15 levels)."""
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"landau_start: beam_size must be a positive integer, got {beam_size!r}")
    levels = params.n_particles // beam_size
    if levels * beam_size != params.n_particles or levels < 2 or levels & (levels - 1):
        raise ValueError(f"landau_start: n_particles / beam_size must be a power of two >= 2, got "
                         f"{params.n_particles} / {beam_size}")
    x = perturbed_positions(params.n_particles, params.length, amplitude, params.k_fundamental)
    level = hy.remainder(hy.arange(params.n_particles, dtype=hy.float64), float(levels))
    v = maxwellian_quantiles(bit_reversed_fractions(level, levels.bit_length() - 1), v_thermal)
    return Particles(x, v)


def two_stream_start(params: Params, beam_speed: float = 1.0, amplitude: float = 1e-4) -> Particles:
    """Two cold counter-streaming beams at +beam_speed and -beam_speed, half the particles each, both
    with the density perturbation amplitude * cos(k x) that seeds the fundamental mode."""
    half = params.n_particles // 2
    if 2 * half != params.n_particles:
        raise ValueError(f"two_stream_start: n_particles must be even, got {params.n_particles}")
    x = perturbed_positions(half, params.length, amplitude, params.k_fundamental)
    ones = hy.ones(half, dtype=hy.float64)
    return Particles(hy.cat([x, x.clone()]), hy.cat([beam_speed * ones, -beam_speed * ones]))


# ---- the field

class PoissonSolver:
    """E from rho on the periodic grid: E_k = -i rho_k / k (dE/dx = rho), the mean (k = 0) mode removed.

    The Nyquist mode is dropped too: for a real rho its E_k is imaginary, which a real field cannot hold.
    The multiplier is odd in x (E of a point charge is a sawtooth antisymmetric about the charge), which is
    what makes the scheme momentum-conserving."""

    def __init__(self, params: Params):
        self.n = params.n_cells
        k = hy.fft.rfftfreq(self.n, d=params.dx, dtype=hy.float64) * (2 * math.pi)
        inverse_k = hy.zeros_like(k)
        inverse_k[1:-1] = 1.0 / k[1:-1]
        self.multiplier = hy.complex(hy.zeros_like(k), -inverse_k)   # -i / k

    def __call__(self, rho: hy.Tensor) -> hy.Tensor:
        return hy.fft.irfft(hy.fft.rfft(rho) * self.multiplier, n=self.n)


def charge_density(positions: hy.Tensor, params: Params) -> hy.Tensor:
    """rho = 1 - n_e on the n_cells nodes x_j = j dx, from the electrons at `positions`."""
    if tuple(positions.shape) != (params.n_particles,):
        raise ValueError(f"charge_density: positions must have shape ({params.n_particles},), "
                         f"got {tuple(positions.shape)}")
    weights = hy.full((params.n_particles,), params.weight, dtype=hy.float64)
    return 1.0 - hy.deposit_cic(positions, weights, params.n_cells, params.dx) / params.dx


def push(particles: Particles, field: hy.Tensor, params: Params) -> Particles:
    """One leapfrog step in the grid field E^n: v^{n+1/2} = v^{n-1/2} - dt E(x^n), x^{n+1} = x^n + dt v^{n+1/2}."""
    if tuple(field.shape) != (params.n_cells,):
        raise ValueError(f"push: field must have shape ({params.n_cells},), got {tuple(field.shape)}")
    v = particles.v - params.dt * hy.interp_cic(field, particles.x, params.dx)
    x = hy.remainder(particles.x + params.dt * v, params.length)
    return Particles(x, v)


def half_step_back(particles: Particles, field: hy.Tensor, params: Params) -> Particles:
    """Turn velocities at t = 0 into the leapfrog's v^{-1/2} = v^0 + (dt / 2) E(x^0)."""
    return Particles(particles.x, particles.v + 0.5 * params.dt * hy.interp_cic(field, particles.x, params.dx))


# ---- diagnostics

def field_energy(field: hy.Tensor, params: Params) -> float:
    """sum E^2 / 2 dx."""
    return 0.5 * params.dx * (field * field).sum().item()


def kinetic_energy(v_before: hy.Tensor, v_after: hy.Tensor, params: Params) -> float:
    """Kinetic energy at the whole step between two half-step velocities: the mean of their kinetic energies."""
    return 0.25 * params.weight * ((v_before * v_before).sum().item() + (v_after * v_after).sum().item())


def momentum(v: hy.Tensor, params: Params) -> float:
    return params.weight * v.sum().item()


def momentum_scale(v: hy.Tensor, params: Params) -> float:
    """sum w |v|: what momentum drift is measured against (the total momentum itself may be ~0)."""
    return params.weight * v.abs().sum().item()


def mode_amplitude(field: hy.Tensor, mode: int = 1) -> float:
    """|E| of Fourier mode `mode` (the amplitude of its cosine): 2 |rfft(E)[mode]| / n."""
    spectrum = hy.fft.rfft(field)
    return 2.0 * hy.abs(spectrum[mode]).item() / field.shape[0]


def is_finite(particles: Particles) -> bool:
    return bool(hy.isfinite(particles.x).all().item() and hy.isfinite(particles.v).all().item())
