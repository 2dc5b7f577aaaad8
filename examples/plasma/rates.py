"""Linear theory and the fits that measure rates from a run's diagnostics (plain Python on scalar histories).

Landau damping of a Maxwellian (v_th = 1), k = 0.5: the least-damped root of the kinetic dispersion relation
is omega = 1.4156 - 0.1533 i (a standard textbook value, e.g. Canosa 1973; Sonnendruecker's and many PIC
benchmarks). The field energy ~ |E|^2 then oscillates at 2 omega_r under an envelope exp(2 gamma t), so its
successive peaks are pi / omega_r apart and their logarithm falls with slope 2 gamma.

Two-stream instability of two cold beams at +-v0, each of plasma frequency^2 a = 1/2 (total 1):

    1 = a / (omega - k v0)^2 + a / (omega + k v0)^2
    =>  omega^2 = K + a +- sqrt(a^2 + 4 a K),   K = (k v0)^2

The minus root is negative (unstable) for K < 2a, with growth rate gamma = sqrt(sqrt(a^2 + 4 a K) - K - a);
the fastest growth, sqrt(a) / 2, is at K = 3a / 4. For v0 = 1, k = 0.5: gamma = 0.34063, and the next mode
of the box, k = 1, is exactly marginal (K = 2a), so only the fundamental grows.
"""
from __future__ import annotations

import math

LANDAU_K = 0.5
LANDAU_GAMMA = -0.1533
LANDAU_OMEGA = 1.4156


def two_stream_growth_rate(k: float, beam_speed: float, beam_plasma_frequency_sq: float = 0.5) -> float:
    """Growth rate of the cold symmetric two-beam instability (0 when the mode is stable)."""
    a = beam_plasma_frequency_sq
    big_k = (k * beam_speed) ** 2
    omega_sq = big_k + a - math.sqrt(a * a + 4 * a * big_k)
    return math.sqrt(-omega_sq) if omega_sq < 0 else 0.0


def linear_fit(xs, ys) -> tuple:
    """Least-squares (slope, intercept) of ys against xs."""
    n = len(xs)
    if n < 2 or len(ys) != n:
        raise ValueError(f"linear_fit: need >= 2 points of matching length, got {len(xs)} and {len(ys)}")
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        raise ValueError("linear_fit: all xs are equal")
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return slope, my - slope * mx


def log_peaks(times, values, t_min: float = -math.inf, t_max: float = math.inf, min_separation: float = 0.0
              ) -> tuple:
    """Local maxima of log(values) in [t_min, t_max], each refined by a parabola through it and its two
    neighbours (the true peak lies between samples): returns (peak times, peak log-values).

    A maximum closer than min_separation to a higher one is dropped: near the noise floor a peak can
    split into two wiggles a few samples apart."""
    if len(times) != len(values):
        raise ValueError("log_peaks: times and values differ in length")
    logs = [math.log(v) if v > 0 else -math.inf for v in values]
    peak_t, peak_y = [], []
    for i in range(1, len(logs) - 1):
        if not t_min <= times[i] <= t_max:
            continue
        a, b, c = logs[i - 1], logs[i], logs[i + 1]
        if b > a and b >= c and math.isfinite(a) and math.isfinite(c):
            curvature = a - 2 * b + c
            offset = 0.5 * (a - c) / curvature if curvature < 0 else 0.0   # in samples, |offset| <= 1/2
            h = times[i + 1] - times[i]
            peak_t.append(times[i] + offset * h)
            peak_y.append(b - 0.25 * (a - c) * offset)
    keep = [i for i in range(len(peak_t))
            if not any(abs(peak_t[j] - peak_t[i]) < min_separation and peak_y[j] > peak_y[i]
                       for j in range(len(peak_t)) if j != i)]
    return [peak_t[i] for i in keep], [peak_y[i] for i in keep]


def fit_damping(times, field_energy, t_min: float, t_max: float, min_separation: float = 1.0) -> dict:
    """Damping rate and frequency of a damped oscillation from its field energy's peaks in [t_min, t_max].

    gamma = (slope of log W at the peaks) / 2; omega = pi / (slope of peak time against peak number).
    min_separation (log_peaks) must stay below the peak spacing pi / omega (2.2 for Landau at k = 0.5)."""
    peak_t, peak_y = log_peaks(times, field_energy, t_min, t_max, min_separation)
    if len(peak_t) < 3:
        raise ValueError(f"fit_damping: found {len(peak_t)} peaks in [{t_min}, {t_max}], need >= 3")
    slope, intercept = linear_fit(peak_t, peak_y)
    spacing, _ = linear_fit(list(range(len(peak_t))), peak_t)
    return {"gamma": slope / 2, "omega": math.pi / spacing, "intercept": intercept,
            "peak_times": peak_t, "peak_log_energy": peak_y}


def fit_growth(times, amplitude, low: float = 1e-3, high: float = 1e-1) -> dict:
    """Exponential growth rate of a mode amplitude over its linear phase.

    The window is chosen from the data: from the first time the amplitude exceeds `low` x its maximum
    (the decaying and oscillating roots the seed also excites have died out by then) to the first time it
    exceeds `high` x its maximum (before the beams are trapped and the mode saturates); gamma is the
    slope of log(amplitude) there."""
    if len(times) != len(amplitude) or len(times) < 3:
        raise ValueError("fit_growth: need >= 3 samples of matching length")
    peak = max(amplitude)
    start = next(i for i, a in enumerate(amplitude) if a >= low * peak)
    stop = next(i for i, a in enumerate(amplitude) if a >= high * peak)
    if stop - start < 3:
        raise ValueError(f"fit_growth: the linear phase has {stop - start} samples (from t = {times[start]} to "
                         f"{times[stop]}); start from a smaller perturbation")
    xs = list(times[start:stop + 1])
    slope, intercept = linear_fit(xs, [math.log(a) for a in amplitude[start:stop + 1]])
    return {"gamma": slope, "intercept": intercept, "t_start": xs[0], "t_stop": xs[-1]}
