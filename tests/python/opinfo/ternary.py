"""Ternary elementwise ops (csrc/ops/table/ternary.yaml): where, clamp, clamp_tensor."""
import numpy as np

from . import ALL, NUMERIC, OpInfo, Sample, rand_array


def mask(rng, shape, noncontig=False):
    return rand_array(rng, shape, "bool", noncontig=noncontig)


def where_samples(dtype, rng):
    arr = lambda s, nc=False: rand_array(rng, s, dtype, noncontig=nc)  # noqa: E731
    yield Sample((mask(rng, (3, 4)), arr((3, 4)), arr((3, 4))), desc="same shape")
    yield Sample((mask(rng, (4, 6), True), arr((4, 6), True), arr((4, 6), True)), desc="non-contiguous")
    yield Sample((mask(rng, (3, 1)), arr((2, 1, 4)), arr((4,))), desc="broadcast all three")
    yield Sample((mask(rng, (5,)), arr((5,)), arr(())), desc="0-d other")
    yield Sample((mask(rng, ()), arr(()), arr(())), desc="all 0-d")
    yield Sample((mask(rng, (0, 3)), arr((0, 3)), arr((3,))), desc="empty")
    yield Sample((mask(rng, (50000,)), arr((50000,)), arr((50000,))), desc="large (parallel)")
    yield Sample((mask(rng, (300, 200), True), arr((300, 200), True), arr((200,))), desc="large strided")
    yield Sample((mask(rng, (6,)), arr((6,)), 0.5), desc="python float other")
    if dtype != "bool":
        yield Sample((mask(rng, (6,)), 3, arr((6,))), desc="python int self")


def ref_where(c, x, y):
    return np.where(np.asarray(c).astype(bool), x, y)


def clamp_samples(dtype, rng):
    arr = lambda s, nc=False: rand_array(rng, s, dtype, noncontig=nc)  # noqa: E731
    lo, hi = (-2, 3) if dtype in ("int32", "int64") else (-2.5, 1.5)
    yield Sample((arr((3, 4)), lo, hi), desc="both bounds")
    yield Sample((arr((4, 6), True), lo, hi), desc="non-contiguous")
    yield Sample((arr((7,)), lo, None), desc="min only")
    yield Sample((arr((7,)), None, hi), desc="max only")
    yield Sample((arr((7,)), hi, lo), desc="min > max gives max")
    yield Sample((arr(()), lo, hi), desc="0-d")
    yield Sample((arr((0, 3)), lo, hi), desc="empty")
    yield Sample((arr((50000,)), lo, hi), desc="large (parallel)")
    yield Sample((arr((250, 200), True), lo, None), desc="large strided, min only")
    yield Sample((arr((5,)), -1.5, 2.5), desc="float bounds (int inputs promote)")


def ref_clamp(x, lo=None, hi=None):
    r = x
    if lo is not None:
        r = np.maximum(r, lo)
    if hi is not None:
        r = np.minimum(r, hi)
    return r


def clamp_tensor_samples(dtype, rng):
    arr = lambda s, nc=False, lo=-5.0, hi=5.0: rand_array(rng, s, dtype, lo, hi, nc)  # noqa: E731
    yield Sample((arr((3, 4)), arr((3, 4), lo=-3, hi=0), arr((3, 4), lo=0, hi=3)), desc="same shape")
    yield Sample((arr((4, 6), True), arr((4, 6), True, -3, 0), arr((6,), lo=0, hi=3)), desc="non-contiguous")
    yield Sample((arr((2, 3, 4)), arr((3, 1), lo=-3, hi=0), None), desc="broadcast min only")
    yield Sample((arr((4,)), None, arr((3, 1), lo=0, hi=3)), desc="max only, result broadcasts")
    yield Sample((arr((5,)), arr(()), arr(())), desc="0-d bounds (min > max possible)")
    yield Sample((arr((0, 3)), arr((3,)), arr((3,))), desc="empty")
    yield Sample((arr((50000,)), arr((50000,), lo=-3, hi=0), arr(())), desc="large (parallel)")
    yield Sample((arr((6,)), -1, arr((6,), lo=0, hi=3)), desc="python number bound")


OPS = [
    OpInfo("where", ref_where, where_samples, ALL),
    OpInfo("clamp", ref_clamp, clamp_samples, NUMERIC),
    OpInfo("clamp_tensor", ref_clamp, clamp_tensor_samples, NUMERIC),
]
