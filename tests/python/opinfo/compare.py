"""isclose (csrc/ops/table/compare.yaml) against np.isclose, the same formula (|a - b| <= atol + rtol * |b|)."""
import numpy as np

from . import ALL, INT, OpInfo, Sample, rand_array


def _near(rng, a, dtype):
    """b equal to a, far from it, or within a clear margin inside the default tolerances."""
    if dtype == "bool":
        return rng.integers(0, 2, size=a.shape).astype(bool)
    if dtype in INT:
        return (a + rng.integers(0, 3, size=a.shape)).astype(a.dtype)
    pick = rng.integers(0, 3, size=a.shape)
    b = np.where(pick == 0, a, np.where(pick == 1, a * (1 + 1e-7), a + 0.5))
    return b.astype(a.dtype)


def isclose_samples(dtype, rng):
    a = rand_array(rng, (4, 5), dtype)
    yield Sample((a, _near(rng, a, dtype)), desc="default tolerances")
    yield Sample((a, _near(rng, a, dtype)), {"rtol": 0.0, "atol": 0.75}, desc="atol only")
    yield Sample((a, _near(rng, a, dtype)), {"rtol": 0.3, "atol": 0.0}, desc="rtol only")
    row = rand_array(rng, (5,), dtype)
    yield Sample((a, row), {"atol": 2.0}, desc="broadcast")
    nc = rand_array(rng, (4, 6), dtype, noncontig=True)
    yield Sample((nc, _near(rng, nc, dtype)), desc="non-contiguous")
    yield Sample((rand_array(rng, (0, 3), dtype), rand_array(rng, (0, 3), dtype)), desc="empty")
    if dtype not in ("bool",) + INT:
        x = np.array([np.nan, np.nan, 1.0, np.inf, np.inf, -np.inf, 1.0], dtype=a.dtype)
        y = np.array([np.nan, 1.0, np.nan, np.inf, -np.inf, -np.inf, np.inf], dtype=a.dtype)
        yield Sample((x, y), desc="nan and inf")
        yield Sample((x, y), {"equal_nan": True}, desc="nan and inf, equal_nan")


def ref_isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    if a.dtype.kind != "f":  # integers and bools compare in float64
        a, b = a.astype(np.float64), b.astype(np.float64)
    return np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


OPS = [OpInfo("isclose", ref_isclose, isclose_samples, ALL)]
